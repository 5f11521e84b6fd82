package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/canopyhq/canopy"
)

// WireForm is a listed form as the API sends it: the acting account's view
// of it, whose questions stay the JSON array they were stored as — View's
// Form.Questions is nil — so a listing neither decodes nor encodes them.
type WireForm struct {
	View      *FormView
	Questions json.RawMessage
}

// Decode returns the view with its questions decoded.
func (w *WireForm) Decode() (*FormView, error) {
	qs := []canopy.Question{}
	if err := json.Unmarshal(w.Questions, &qs); err != nil {
		return nil, fmt.Errorf("form %s questions: %w", w.View.ID, err)
	}
	if qs == nil {
		qs = []canopy.Question{}
	}
	w.View.Questions = qs
	return w.View, nil
}

// wireHead and wireTail are FormView's JSON before and after the
// questions, which go between them as stored; a test holds the result
// and FormView's JSON alike.
type wireHead struct {
	ID          string `json:"id"`
	OwnerID     string `json:"ownerId"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type wireTail struct {
	Example     bool        `json:"example"`
	CopiedFrom  string      `json:"copiedFrom,omitempty"`
	Version     int         `json:"version"`
	CreatedAt   time.Time   `json:"createdAt"`
	UpdatedAt   time.Time   `json:"updatedAt"`
	Role        canopy.Role `json:"role"`
	ExampleOnly bool        `json:"exampleOnly"`
}

// MarshalJSON encodes the form as the API encodes a FormView (without
// HTML escaping, which keeps stored text as it was).
func (w *WireForm) MarshalJSON() ([]byte, error) {
	b, err := w.AppendJSONLine(nil)
	return bytes.TrimSuffix(b, []byte("\n")), err
}

// AppendJSONLine appends the form's JSON and a newline to b: one line of
// a stream. The questions are copied as stored — JSON on one line, which
// the store guarantees — not decoded, checked and encoded again.
func (w *WireForm) AppendJSONLine(b []byte) ([]byte, error) {
	f := w.View
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wireHead{ID: f.ID, OwnerID: f.OwnerID, Name: f.Name, Description: f.Description}); err != nil {
		return b, err
	}
	buf.Truncate(buf.Len() - 2) // "}\n"
	buf.WriteString(`,"questions":`)
	buf.Write(w.Questions)
	buf.WriteByte(',')
	start := buf.Len()
	err := enc.Encode(wireTail{
		Example: f.Example, CopiedFrom: f.CopiedFrom, Version: f.Version, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
		Role: f.Role, ExampleOnly: f.ExampleOnly,
	})
	out := buf.Bytes()
	return append(out[:start], out[start+1:]...), err // the tail's "{"
}
