package service

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// RecordInput is a set of answers, keyed by question id.
type RecordInput struct {
	Answers map[string]json.RawMessage `json:"answers"`
}

// CreateRecord collects data with a form: the answers are checked against
// its questions, and the acting account needs a role that edits data
// (dataManager or above).
func (s *Service) CreateRecord(ctx context.Context, c Caller, formID string, in RecordInput) (*canopy.Record, error) {
	return writeWork(ctx, s, c, func(o *op) (*canopy.Record, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.EditData)
		if err != nil {
			return nil, err
		}
		var v canopy.Validator
		canopy.ValidateAnswers(&v, f.Questions, in.Answers)
		if err := v.Err(); err != nil {
			return nil, err
		}
		return o.collect(f, in.Answers, c.Actor.ID, "")
	})
}

// collect saves a record of f that the acting account collected, with
// answers already checked, and charges its upload credit to the acting
// account's payer in the same transaction (rule 8, docs/rules.md): without
// the credit there is no record. via names the field channel ("sms",
// "web") that brought it, if any.
func (o *op) collect(f *canopy.Form, answers map[string]json.RawMessage, createdBy, via string) (*canopy.Record, error) {
	r := &canopy.Record{
		ID: o.s.ids.New(canopy.PrefixRecord), FormID: f.ID, AccountID: o.acting.ID, Answers: dropNulls(answers),
		Version: 1, CreatedBy: createdBy, CreatedAt: o.now, UpdatedAt: o.now,
	}
	if err := o.tx.InsertRecord(o.ctx, r); err != nil {
		return nil, err
	}
	if _, _, err := o.charge(o.acting, Usage{Type: canopy.CreditUpload, Quantity: 1, Ref: "record:" + r.ID, Key: "record:" + r.ID, Fresh: true}); err != nil {
		return nil, err
	}
	details := map[string]string{"formId": f.ID, "accountId": o.acting.ID}
	if via != "" {
		details["via"] = via
	}
	o.audit(f.OwnerID, "record.created", "record", r.ID, details)
	return r, nil
}

// dropNulls returns the answers to store: without the null ones, each in
// the compact form the store writes (json.Marshal's), so that answers read
// back compare equal to the same answers sent again (and a PATCH that
// repeats them changes nothing), whatever spacing the client used.
func dropNulls(a map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(a))
	for k, v := range a {
		if string(v) == "null" {
			continue
		}
		if c, err := json.Marshal(v); err == nil {
			v = c
		}
		out[k] = v
	}
	return out
}

// recordFor loads a record of a form the viewer may act on with action.
func (s *Service) recordFor(ctx context.Context, tx store.Tx, viewer canopy.Path, formID, recordID string, action canopy.Action) (*canopy.Form, *canopy.Record, error) {
	f, _, err := s.formFor(ctx, tx, viewer, formID, action)
	if err != nil {
		return nil, nil, err
	}
	r, err := tx.GetRecord(ctx, recordID)
	if isNotFound(err) || (err == nil && r.FormID != f.ID) {
		return nil, nil, canopy.NotFound("record")
	}
	return f, r, err
}

// GetRecord returns one record; viewers and above read data.
func (s *Service) GetRecord(ctx context.Context, c Caller, formID, recordID string) (*canopy.Record, error) {
	var out *canopy.Record
	err := s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		_, out, err = s.recordFor(ctx, tx, acting.Path, formID, recordID, canopy.ViewData)
		return err
	})
	return out, err
}

// RecordQuery narrows a record listing to those created in [From, To).
type RecordQuery struct {
	From, To time.Time
}

// ListRecords lists a form's records, oldest first.
func (s *Service) ListRecords(ctx context.Context, c Caller, formID string, q RecordQuery, pr PageRequest) (Page[*canopy.Record], error) {
	kind := cursorKind(c, "records", formID, q.From.String(), q.To.String())
	after, err := s.decodeIDCursor(kind, canopy.PrefixRecord, pr.Cursor)
	if err != nil {
		return Page[*canopy.Record]{}, err
	}
	var rows []*canopy.Record
	err = s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		if _, _, err := s.formFor(ctx, tx, acting.Path, formID, canopy.ViewData); err != nil {
			return err
		}
		rows, err = tx.ListRecords(ctx, formID, q.From, q.To, store.Page{After: after, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.Record]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(r *canopy.Record) string { return r.ID }), nil
}

// UpdateRecord changes some answers (a null answer removes it); the result
// must still satisfy the form. dataManagers and above may; with ifMatch the
// record's version must match (else 412).
func (s *Service) UpdateRecord(ctx context.Context, c Caller, formID, recordID string, in RecordInput, ifMatch *int) (*canopy.Record, error) {
	return writeWork(ctx, s, c, func(o *op) (*canopy.Record, error) {
		f, r, err := s.recordFor(ctx, o.tx, o.acting.Path, formID, recordID, canopy.EditData)
		if err != nil {
			return nil, err
		}
		if ifMatch != nil && *ifMatch != r.Version {
			return nil, errStale
		}
		merged := make(map[string]json.RawMessage, len(r.Answers)+len(in.Answers))
		for k, v := range r.Answers {
			merged[k] = v
		}
		for k, v := range in.Answers {
			merged[k] = v
		}
		var v canopy.Validator
		canopy.ValidateAnswers(&v, f.Questions, merged)
		if err := v.Err(); err != nil {
			return nil, err
		}
		answers := dropNulls(merged)
		if maps.EqualFunc(answers, r.Answers, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) }) {
			return r, nil // nothing changed: no new version to invalidate others' If-Match
		}
		from := r.Version
		r.Answers, r.Version, r.UpdatedAt = answers, from+1, o.now
		if err := o.tx.UpdateRecord(ctx, r, from); isNotFound(err) {
			return nil, errStale
		} else if err != nil {
			return nil, err
		}
		o.audit(f.OwnerID, "record.updated", "record", r.ID, map[string]string{"formId": f.ID})
		return r, nil
	})
}

// DeleteRecord removes a record; dataManagers and above may.
func (s *Service) DeleteRecord(ctx context.Context, c Caller, formID, recordID string) error {
	_, err := writeWork(ctx, s, c, func(o *op) (struct{}, error) {
		f, r, err := s.recordFor(ctx, o.tx, o.acting.Path, formID, recordID, canopy.EditData)
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.DeleteRecord(ctx, r.ID); err != nil {
			return struct{}{}, err
		}
		o.audit(f.OwnerID, "record.deleted", "record", r.ID, map[string]string{"formId": f.ID})
		return struct{}{}, nil
	})
	return err
}
