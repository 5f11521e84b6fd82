package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Web links (the Sharing tab's "Mobile App or Website"): a public, revocable link
// /f/{token} to a form, which anyone who has it may fill in; each
// submission is a record, checked and paid for as one made through the
// API, by the payer of the account that made the link (rule 8
// (docs/rules.md)).

// CodeLinkClosed answers a submission through a link that is revoked,
// expired, full, or whose account can no longer collect.
const CodeLinkClosed = "link-closed"

// LinkInput makes a web link; both limits are optional.
type LinkInput struct {
	ExpiresAt      *time.Time `json:"expiresAt"`
	MaxSubmissions *int       `json:"maxSubmissions"`
}

// LinkView is a link as the accounts that collect with its form see it.
type LinkView struct {
	*canopy.FormLink
	URL   string           `json:"url"`
	State canopy.LinkState `json:"state"`
}

func (s *Service) linkView(l *canopy.FormLink, now time.Time) *LinkView {
	return &LinkView{FormLink: l, URL: s.cfg.PublicURL + canopy.WebFormPage(l.Token), State: l.StateAt(now)}
}

// CreateLink makes a public web link to a form. The acting account needs a
// role that edits the form's data; its payer pays for the records the
// link collects. Errors: 403, 404, 422.
func (s *Service) CreateLink(ctx context.Context, c Caller, formID string, in LinkInput) (*LinkView, error) {
	var v canopy.Validator
	now := s.now()
	if in.ExpiresAt != nil {
		v.Check(in.ExpiresAt.After(now), "expiresAt", "in-the-past", "must be in the future")
	}
	if in.MaxSubmissions != nil {
		v.Check(*in.MaxSubmissions >= 1 && *in.MaxSubmissions <= canopy.MaxLinkSubmissions, "maxSubmissions", "out-of-range",
			"must be a whole number from 1 to %d", canopy.MaxLinkSubmissions)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	token, err := canopy.NewSecret(canopy.LinkTokenPrefix)
	if err != nil {
		return nil, fmt.Errorf("link token: %w", err)
	}
	return writeWork(ctx, s, c, func(o *op) (*LinkView, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.EditData)
		if err != nil {
			return nil, err
		}
		l := &canopy.FormLink{ID: s.ids.New(canopy.PrefixFormLink), FormID: f.ID, AccountID: o.acting.ID, Token: token,
			MaxSubmissions: in.MaxSubmissions, CreatedAt: o.now}
		if in.ExpiresAt != nil {
			at := canopy.Timestamp(*in.ExpiresAt)
			l.ExpiresAt = &at
		}
		if err := o.tx.InsertFormLink(ctx, l); err != nil {
			return nil, err
		}
		o.audit(f.OwnerID, "form.linkCreated", "formLink", l.ID, map[string]string{"formId": f.ID, "accountId": o.acting.ID})
		return s.linkView(l, o.now), nil
	})
}

// ListLinks lists a form's links, oldest first, revoked ones included; a
// role that edits the form's data may.
func (s *Service) ListLinks(ctx context.Context, c Caller, formID string, pr PageRequest) (Page[*LinkView], error) {
	kind := cursorKind(c, "links", formID)
	after, err := s.decodeIDCursor(kind, canopy.PrefixFormLink, pr.Cursor)
	if err != nil {
		return Page[*LinkView]{}, err
	}
	var rows []*canopy.FormLink
	err = s.readForm(ctx, c, formID, canopy.EditData, func(tx store.Tx, f *canopy.Form) error {
		var err error
		rows, err = tx.ListFormLinks(ctx, f.ID, store.Page{After: after, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*LinkView]{}, err
	}
	now := s.now()
	views := make([]*LinkView, len(rows))
	for i, l := range rows {
		views[i] = s.linkView(l, now)
	}
	return paginate(s, views, pr.limit(), kind, func(l *LinkView) string { return l.ID }), nil
}

// RevokeLink stops a link at once; it stays listed, with revokedAt. A
// link revoked before is not found.
func (s *Service) RevokeLink(ctx context.Context, c Caller, formID, linkID string) error {
	_, err := writeWork(ctx, s, c, func(o *op) (struct{}, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.EditData)
		if err != nil {
			return struct{}{}, err
		}
		l, err := o.tx.GetFormLink(ctx, linkID)
		if isNotFound(err) || (err == nil && l.FormID != f.ID) {
			return struct{}{}, canopy.NotFound("link")
		}
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.RevokeFormLink(ctx, l.ID, o.now); isNotFound(err) {
			return struct{}{}, canopy.NotFound("link")
		} else if err != nil {
			return struct{}{}, err
		}
		o.audit(f.OwnerID, "form.linkRevoked", "formLink", l.ID, map[string]string{"formId": f.ID})
		return struct{}{}, nil
	})
	return err
}

// WebForm is what a link's public page shows: the form's questions, in its
// owner's brand, and whether the link takes answers.
type WebForm struct {
	LinkID      string            `json:"linkId"`
	State       canopy.LinkState  `json:"state"`
	FormID      string            `json:"formId"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Questions   []canopy.Question `json:"questions"`
	Brand       Brand             `json:"brand"`
}

// GetWebForm reads the form behind a link's token, for its public page. An
// unknown token is not found; a link that no longer takes answers is
// returned with its state, so the page can say so.
func (s *Service) GetWebForm(ctx context.Context, token string) (*WebForm, error) {
	var out *WebForm
	err := s.read(ctx, func(tx store.Tx) error {
		l, err := tx.GetFormLinkByToken(ctx, token)
		if isNotFound(err) {
			return canopy.NotFound("link")
		}
		if err != nil {
			return err
		}
		f, err := tx.GetForm(ctx, l.FormID)
		if err != nil {
			return err
		}
		owner, err := tx.GetAccount(ctx, f.OwnerID)
		if err != nil {
			return err
		}
		brand, err := effectiveBrand(ctx, tx, owner)
		if err != nil {
			return err
		}
		out = &WebForm{LinkID: l.ID, State: l.StateAt(s.now()), FormID: f.ID, Name: f.Name, Description: f.Description,
			Questions: f.Questions, Brand: brand}
		if out.State == canopy.LinkOpen && !s.linkRuns(ctx, tx, l) {
			out.State = canopy.LinkUnavailable
		}
		return nil
	})
	return out, err
}

// linkRuns reports whether the account that made a link may still collect
// with its form: writable, and with a role that edits the form's data.
func (s *Service) linkRuns(ctx context.Context, tx store.Tx, l *canopy.FormLink) bool {
	a, err := tx.GetAccount(ctx, l.AccountID)
	if err != nil || checkWritable(ctx, tx, a) != nil {
		return false
	}
	_, _, err = s.formFor(ctx, tx, a.Path, l.FormID, canopy.EditData)
	return err == nil
}

func linkClosed(state canopy.LinkState) error {
	return canopy.Errorf(canopy.KindConflict, CodeLinkClosed, "this link takes no more answers (%s)", state)
}

// SubmitWebForm saves one submission through a link as a record: answers
// by question id (a multiChoice question's options one value each, a
// location "lat,lng"), read as canopy.TextAnswer reads typed answers and
// checked as the API checks them (422 naming answers.<id>). It counts
// against the link's cap and is paid by the payer of the account that
// made the link (402: nothing is written). A closed link is 409
// link-closed; an unknown token 404.
func (s *Service) SubmitWebForm(ctx context.Context, token string, values map[string][]string, requestID string) (*canopy.Record, error) {
	var rec *canopy.Record
	err := s.store.Write(ctx, func(tx store.Tx) error {
		now := s.now()
		l, err := tx.GetFormLinkByToken(ctx, token)
		if isNotFound(err) {
			return canopy.NotFound("link")
		}
		if err != nil {
			return err
		}
		if st := l.StateAt(now); st != canopy.LinkOpen {
			return linkClosed(st)
		}
		o, err := s.fieldOp(ctx, tx, now, l.AccountID, canopy.Actor{Type: ActorFormLink, ID: l.ID}, ChannelWeb, requestID)
		if ignorable(err) == nil && err != nil {
			return linkClosed(canopy.LinkUnavailable)
		}
		if err != nil {
			return err
		}
		f, _, err := s.formFor(ctx, tx, o.acting.Path, l.FormID, canopy.EditData)
		if ignorable(err) == nil && err != nil {
			return linkClosed(canopy.LinkUnavailable)
		}
		if err != nil {
			return err
		}
		var v canopy.Validator
		answers := map[string]json.RawMessage{}
		for _, q := range f.Questions {
			for _, val := range values[q.ID] {
				canopy.ValidText(&v, "answers."+q.ID, val)
			}
			if raw := webAnswer(q, values[q.ID]); raw != nil {
				answers[q.ID] = raw
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		canopy.ValidateAnswers(&v, f.Questions, answers)
		if err := v.Err(); err != nil {
			return err
		}
		ok, err := tx.CountFormLinkSubmission(ctx, l.ID)
		if err != nil {
			return err
		}
		if !ok {
			return linkClosed(canopy.LinkFull)
		}
		if rec, err = o.collect(f, answers, l.ID, ChannelWeb); err != nil {
			return err
		}
		return o.saveEvents()
	})
	return rec, err
}

// webAnswer reads a web form's values for one question.
func webAnswer(q canopy.Question, values []string) json.RawMessage {
	if q.Type == canopy.QuestionMultiChoice {
		picked := []string{}
		for _, v := range values {
			if v != "" {
				picked = append(picked, v)
			}
		}
		if len(picked) == 0 {
			return nil
		}
		b, _ := json.Marshal(picked)
		return b
	}
	for _, v := range values {
		if raw := canopy.TextAnswer(q, v); raw != nil {
			return raw
		}
	}
	return nil
}
