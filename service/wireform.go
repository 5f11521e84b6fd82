package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

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

// MarshalJSON encodes the form as the API encodes a FormView (without
// HTML escaping, which keeps stored text as it was).
func (w *WireForm) MarshalJSON() ([]byte, error) {
	b, err := w.AppendJSONLine(nil)
	return bytes.TrimSuffix(b, []byte("\n")), err
}

// AppendJSONLine appends the form's JSON and a newline to b: one line of
// a stream. The questions are copied as stored — JSON on one line, which
// the store guarantees — not decoded, checked and encoded again. The rest
// is written field by field, as encoding/json would write a FormView
// without HTML escaping (TestWireFormEncodesAsFormView holds them alike):
// reflection took most of a listing's encoding time.
func (w *WireForm) AppendJSONLine(b []byte) ([]byte, error) {
	f := w.View
	b = append(b, `{"id":`...)
	b = appendJSONString(b, f.ID)
	b = append(b, `,"ownerId":`...)
	b = appendJSONString(b, f.OwnerID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, f.Name)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, f.Description)
	b = append(b, `,"questions":`...)
	b = append(b, w.Questions...)
	b = append(b, `,"example":`...)
	b = strconv.AppendBool(b, f.Example)
	if f.CopiedFrom != "" {
		b = append(b, `,"copiedFrom":`...)
		b = appendJSONString(b, f.CopiedFrom)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(f.Version), 10)
	var err error
	b = append(b, `,"createdAt":`...)
	if b, err = appendJSONTime(b, f.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"updatedAt":`...)
	if b, err = appendJSONTime(b, f.UpdatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"role":`...)
	b = appendJSONString(b, string(f.Role))
	b = append(b, `,"exampleOnly":`...)
	b = strconv.AppendBool(b, f.ExampleOnly)
	return append(b, "}\n"...), nil
}

// appendJSONString appends s as a JSON string, as encoding/json writes it
// without HTML escaping. Text that needs no escape — nearly all — is
// copied; the rest goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	plain := utf8.ValidString(s)
	for i := 0; plain && i < len(s); i++ {
		c := s[i]
		// U+2028 and U+2029 (E2 80 A8, E2 80 A9) are escaped too.
		plain = c >= 0x20 && c != '"' && c != '\\' && (c != 0xE2 || i+2 >= len(s) || s[i+1] != 0x80 || s[i+2]&^1 != 0xA8)
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// appendJSONTime appends t as time.Time's MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y >= 10000 {
		return b, fmt.Errorf("time %v: year outside of range [0,9999]", t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}
