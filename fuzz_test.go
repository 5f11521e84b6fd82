package canopy_test

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/canopyhq/canopy"
)

// answerQuestions has a question of every type, one of them required.
var answerQuestions = []canopy.Question{
	{ID: "t", Label: "Text", Type: canopy.QuestionText, Required: true},
	{ID: "n", Label: "Number", Type: canopy.QuestionNumber},
	{ID: "c", Label: "Choice", Type: canopy.QuestionChoice, Options: []string{"a", "b"}},
	{ID: "m", Label: "Multi", Type: canopy.QuestionMultiChoice, Options: []string{"x", "y", "z"}},
	{ID: "d", Label: "Date", Type: canopy.QuestionDate},
	{ID: "l", Label: "Where", Type: canopy.QuestionLocation},
	{ID: "p", Label: "Photo", Type: canopy.QuestionPhoto},
}

// FuzzValidateAnswers checks the form-answer validator on any answers a
// record body can carry. It never panics, and answers it accepts are
// what the form asks for: text that both engines store, within its
// length; finite numbers; options of the question; real dates; locations
// on the globe.
func FuzzValidateAnswers(f *testing.F) {
	for _, seed := range []string{
		`{"t":"hello","n":1.5e3,"c":"a","m":["x","z"],"d":"2026-11-23","l":{"lat":1,"lng":2,"accuracy":3},"p":"upl_1"}`,
		`{"t":"a\u0000b"}`, `{"t":"\ud800"}`, "{\"t\":\"\xff\"}", `{"t":null}`, `{"n":1e400}`, `{"n":"1"}`,
		`{"t":"x","m":["x","x"]}`, `{"t":"x","d":"2026-02-30"}`, `{"t":"x","l":{"lat":91,"lng":0}}`, `{"t":"x","zz":1}`,
		`{"t":"x","n":-0.0e-400}`, `{"t":"x","l":{"lat":1,"lng":2,"extra":1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var answers map[string]json.RawMessage
		if json.Unmarshal(raw, &answers) != nil {
			return
		}
		var v canopy.Validator
		canopy.ValidateAnswers(&v, answerQuestions, answers)
		if v.Err() != nil {
			return
		}
		for id, a := range answers {
			if string(a) == "null" {
				continue
			}
			switch id {
			case "t", "p":
				var s string
				if json.Unmarshal(a, &s) != nil || canopy.TextProblem(s) != "" || utf8.RuneCountInString(s) > canopy.MaxTextAnswerLen {
					t.Fatalf("text answer %s accepted: %q", id, a)
				}
			case "n":
				f, err := strconv.ParseFloat(string(a), 64)
				if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
					t.Fatalf("number answer accepted: %q", a)
				}
			case "c":
				var s string
				if json.Unmarshal(a, &s) != nil || (s != "a" && s != "b") {
					t.Fatalf("choice answer accepted: %q", a)
				}
			}
		}
		if _, ok := answers["t"]; !ok || string(answers["t"]) == "null" {
			t.Fatalf("a record without its required answer was accepted: %q", raw)
		}
	})
}

// FuzzJSONTextProblem checks the walker that sees a body's raw bytes. It
// never panics, and when it finds nothing in a valid document, every
// string encoding/json reads from it is text Canopy stores, and holds no
// U+FFFD the document did not spell out (none from a replaced byte or a
// lone surrogate).
func FuzzJSONTextProblem(f *testing.F) {
	for _, seed := range []string{
		`{"a":"b"}`, `{"a":["x",{"b":"\u00e9"}]}`, `{"a\u0000":1}`, `["\ud800"]`, `"\udc00"`, `"\ud83d\ude00"`,
		"\"\xff\"", "{\"\xc0\xaf\":1}", "\"\xed\xa0\x80\"", `"\ud800\u0041"`, `"\\ud800"`, `"\ufffd"`, `{"a":1e400}`,
		`{"a":`, `[1,2,`, `"\u12"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fe := canopy.JSONTextProblem(raw, "body")
		if fe != nil {
			if fe.Code != canopy.CodeInvalidText || fe.Field == "" {
				t.Fatalf("%q: problem %+v", raw, fe)
			}
			return
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return
		}
		replaced := 0
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				if p := canopy.TextProblem(x); p != "" {
					t.Fatalf("%q: nothing found, but %q %s", raw, x, p)
				}
				replaced += strings.Count(x, "\uFFFD")
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
		sent := strings.Count(strings.ToLower(string(raw)), `\ufffd`) + strings.Count(string(raw), "\uFFFD")
		if replaced > sent {
			t.Fatalf("%q: nothing found, but decoding made %d U+FFFD of %d sent", raw, replaced, sent)
		}
	})
}

var storedCode = regexp.MustCompile(`^[A-Z0-9]{3,16}$`)

// FuzzSplitStructured checks the reader of structured texts on any body a
// phone can send. It never panics; a text it reads has a code that is a
// form code as codes are stored (3 to 16 letters and digits, upper case);
// and writing the code and answers back with a separator no answer holds
// reads as the same code and answers.
func FuzzSplitStructured(f *testing.F) {
	for _, seed := range []string{
		"U57709#Main St#12#sun", " u57709 # a + b # c ", "ABC+1+2", "ABC*x#y*z", "ABC", "AB#1", "#", "",
		"TOOLONGCODE123456#1", "ABC##", "ABC#\x00#\xff", "ABC\t#\u00a0x", "ÄBC#1", "abc def#1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		code, answers, ok := canopy.SplitStructured(body)
		if !ok {
			if code != "" || answers != nil {
				t.Fatalf("%q: not structured, yet code %q and answers %q", body, code, answers)
			}
			return
		}
		if !storedCode.MatchString(code) {
			t.Fatalf("%q: code %q is not a form code as stored", body, code)
		}
		for _, sep := range canopy.StructuredSeparators {
			if slices.ContainsFunc(answers, func(a string) bool { return strings.ContainsRune(a, sep) }) {
				continue
			}
			text := code
			if answers != nil {
				text += string(sep) + strings.Join(answers, string(sep))
			}
			code2, answers2, ok2 := canopy.SplitStructured(text)
			if !ok2 || code2 != code || !slices.Equal(answers2, answers) {
				t.Fatalf("%q read as %q %q; written back as %q it reads as %q %q %v", body, code, answers, text, code2, answers2, ok2)
			}
			return
		}
	})
}
