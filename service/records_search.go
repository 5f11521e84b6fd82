package service

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// RecordSearch narrows and orders a form's records as a table shows them.
type RecordSearch struct {
	From, To time.Time // created in [From, To)
	// Answers keeps the records whose answers match every filter.
	Answers []AnswerFilter
	// OldestFirst lists in collection order; the default is newest first.
	OldestFirst bool
}

// AnswerFilter keeps the records whose answer to one question matches:
// a choice question's answer is Option (a multiChoice answer holds it); a
// date question's answer lies in [From, To] (dates as 2026-11-23, either
// end may be empty).
type AnswerFilter struct {
	QuestionID string
	Option     string
	From, To   string
}

// SearchRecords lists a form's records, newest first unless asked
// otherwise, narrowed by creation time and by answers to choice and date
// questions; viewers and above read data. A filter names its question as
// the field "filter.<question id>".
func (s *Service) SearchRecords(ctx context.Context, c Caller, formID string, q RecordSearch, pr PageRequest) (Page[*canopy.Record], error) {
	params := []string{formID, q.From.String(), q.To.String(), boolValue(q.OldestFirst)}
	for _, a := range q.Answers {
		params = append(params, a.QuestionID, a.Option, a.From, a.To)
	}
	kind := cursorKind(c, "recordSearch", params...)
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
		f, _, err := s.formFor(ctx, tx, acting.Path, formID, canopy.ViewData)
		if err != nil {
			return err
		}
		answers, err := answerFilters(f, q.Answers)
		if err != nil {
			return err
		}
		rows, err = tx.FindRecords(ctx, store.RecordFilter{FormID: f.ID, From: q.From, To: q.To, Answers: answers,
			Desc: !q.OldestFirst, After: after, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.Record]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(r *canopy.Record) string { return r.ID }), nil
}

func boolValue(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// answerFilters checks filters against the form's questions: only choice,
// multiChoice and date questions filter, by one of their options or by
// dates.
func answerFilters(f *canopy.Form, in []AnswerFilter) ([]store.AnswerFilter, error) {
	var v canopy.Validator
	var out []store.AnswerFilter
	for _, a := range in {
		field := "filter." + a.QuestionID
		i := slices.IndexFunc(f.Questions, func(q canopy.Question) bool { return q.ID == a.QuestionID })
		if i < 0 {
			v.Add(field, "unknown-question", "the form has no question %q", a.QuestionID)
			continue
		}
		q := f.Questions[i]
		sf := store.AnswerFilter{QuestionID: q.ID}
		switch q.Type {
		case canopy.QuestionChoice, canopy.QuestionMultiChoice:
			if a.From != "" || a.To != "" {
				v.Add(field, "invalid", "a %s question filters by one of its options, not by dates", q.Type)
				continue
			}
			if a.Option == "" {
				continue
			}
			if !slices.Contains(q.Options, a.Option) {
				v.Add(field, "invalid-enum", "must be one of %q", q.Options)
				continue
			}
			if q.Type == canopy.QuestionChoice {
				sf.Equals = a.Option
			} else {
				sf.Has = a.Option
			}
		case canopy.QuestionDate:
			if a.Option != "" {
				v.Add(field, "invalid", "a date question filters by dates")
				continue
			}
			for _, d := range []struct{ name, value string }{{"from", a.From}, {"to", a.To}} {
				if _, err := time.Parse(time.DateOnly, d.value); d.value != "" && err != nil {
					v.Add(field+"."+d.name, "invalid", "must be a date such as 2026-11-23")
				}
			}
			sf.From, sf.To = a.From, a.To
		default:
			v.Add(field, "invalid", "only choice, multiChoice and date questions filter records")
			continue
		}
		if sf != (store.AnswerFilter{QuestionID: q.ID}) {
			out = append(out, sf)
		}
	}
	if err := v.Err(); err != nil {
		var e *canopy.Error
		if errors.As(err, &e) {
			e.Kind = canopy.KindBadRequest
		}
		return nil, err
	}
	return out, nil
}
