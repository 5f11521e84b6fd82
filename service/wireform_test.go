package service_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// TestWireFormEncodesAsFormView: a listing writes each form field by field;
// the bytes must be those encoding/json writes for the FormView (HTML
// escaping off, as the API encodes), whatever its text holds.
func TestWireFormEncodesAsFormView(t *testing.T) {
	texts := []string{"", "Household survey", `quote " and \ backslash`, "tab\tnew\nline\rcr\x01\x1f", "<b>&amp;</b>",
		"line\u2028para\u2029end", "\u00e9t\u00e9 \u4e2d\u6587 \U0001F600", "\xe2\x80", "del\x7f", "bad \xff utf8"}
	questions := []canopy.Question{{ID: "q1", Type: canopy.QuestionText, Label: "Name <first> & \"last\""}}
	// Stored as the store keeps them: one line, no HTML escapes.
	var stored bytes.Buffer
	qenc := json.NewEncoder(&stored)
	qenc.SetEscapeHTML(false)
	if err := qenc.Encode(questions); err != nil {
		t.Fatal(err)
	}
	raw := bytes.TrimSuffix(stored.Bytes(), []byte("\n"))
	at := time.Date(2026, 12, 7, 5, 6, 7, 890123000, time.UTC)
	for i, text := range texts {
		for _, copied := range []string{"", "frm_" + text} {
			v := &service.FormView{Form: &canopy.Form{ID: "frm_" + text, OwnerID: "acc_1", Name: text, Description: text, Example: i%2 == 0,
				CopiedFrom: copied, Version: i, CreatedAt: at, UpdatedAt: at.Add(time.Duration(i) * time.Second).In(time.FixedZone("x", 3600))},
				Role: canopy.RoleEditor, ExampleOnly: i%3 == 0}
			got, err := (&service.WireForm{View: v, Questions: raw}).AppendJSONLine(nil)
			if err != nil {
				t.Fatal(err)
			}
			v.Questions = questions
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			if string(got) != want.String() {
				t.Errorf("%q:\n got %s\nwant %s", text, got, want.Bytes())
			}
		}
	}
}
