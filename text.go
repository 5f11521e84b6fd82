package canopy

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The text model. Every string that enters Canopy — a JSON body's keys and
// values, a query parameter, a header the audit trail keeps, a form post,
// an SMS — is valid UTF-8 without NUL characters (and, in JSON, without a
// lone UTF-16 surrogate escape such as \ud800), within its field's maximum
// length, or the request is refused naming the field and nothing is
// written. That is the text both engines store alike: PostgreSQL refuses
// NUL and invalid UTF-8 in text, while SQLite would keep the raw bytes and
// hand them to every reader (a record list no strict JSON parser can
// read, data that cannot move to PostgreSQL). Both front ends check at
// their edge with these functions; the service's validators check lengths
// (and the text again, for callers that are not a front end).

// CodeInvalidText is the field code of text that is not valid UTF-8, or
// holds NUL or a lone surrogate.
const CodeInvalidText = "invalid-text"

// TextProblem says what keeps s from being text Canopy stores, or "".
func TextProblem(s string) string {
	if i := invalidUTF8At(s); i >= 0 {
		return fmt.Sprintf("must be valid UTF-8 text (byte %d, 0x%02x, is not)", i, s[i])
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "must not contain NUL characters"
	}
	return ""
}

func invalidUTF8At(s string) int {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// ValidText records a bad field when s is not text Canopy stores.
func ValidText(v *Validator, field, s string) bool {
	if p := TextProblem(s); p != "" {
		v.Add(field, CodeInvalidText, "%s", p)
		return false
	}
	return true
}

// ValidateFormValues checks every name and value of a form post (or a
// query string) as text, naming the field; a bad name is reported as
// "form". Call it before reading the values.
func ValidateFormValues(v *Validator, values map[string][]string) {
	for name, vs := range values {
		if !ValidText(v, "form", name) {
			continue
		}
		for _, s := range vs {
			if !ValidText(v, name, s) {
				break
			}
		}
	}
}

// JSONTextProblem walks a JSON document and returns the first string (an
// object key or a value) that is not text Canopy stores, as a field error
// whose path starts at prefix ("account.name", "users[1].email",
// "answers.site"; a bad key names the object holding it). Unlike
// encoding/json, which silently replaces invalid UTF-8 and lone
// surrogates with U+FFFD, it sees the bytes the client sent. A document
// that is not JSON yields nil: reporting that is the decoder's job.
func JSONTextProblem(raw []byte, prefix string) *FieldError {
	w := jsonWalker{b: raw}
	w.value(prefix)
	return w.bad
}

type jsonWalker struct {
	b   []byte
	i   int
	bad *FieldError
}

func (w *jsonWalker) fail(path, msg string) {
	if w.bad == nil {
		if path == "" {
			path = "body"
		}
		w.bad = &FieldError{Field: path, Code: CodeInvalidText, Message: msg}
	}
}

func (w *jsonWalker) space() {
	for w.i < len(w.b) && (w.b[w.i] == ' ' || w.b[w.i] == '\t' || w.b[w.i] == '\n' || w.b[w.i] == '\r') {
		w.i++
	}
}

// value walks one value at w.i; it stops at the first problem or at
// anything that is not JSON.
func (w *jsonWalker) value(path string) bool {
	w.space()
	if w.i >= len(w.b) {
		return false
	}
	switch w.b[w.i] {
	case '{':
		w.i++
		for first := true; ; first = false {
			w.space()
			if w.i < len(w.b) && w.b[w.i] == '}' && first {
				w.i++
				return true
			}
			if w.i >= len(w.b) || w.b[w.i] != '"' {
				return false
			}
			key, ok := w.str(path, true)
			if !ok {
				return false
			}
			w.space()
			if w.i >= len(w.b) || w.b[w.i] != ':' {
				return false
			}
			w.i++
			child := key
			if path != "" {
				child = path + "." + key
			}
			if !w.value(child) {
				return false
			}
			w.space()
			if w.i < len(w.b) && w.b[w.i] == ',' {
				w.i++
				continue
			}
			if w.i < len(w.b) && w.b[w.i] == '}' {
				w.i++
				return true
			}
			return false
		}
	case '[':
		w.i++
		for n := 0; ; n++ {
			w.space()
			if w.i < len(w.b) && w.b[w.i] == ']' && n == 0 {
				w.i++
				return true
			}
			if !w.value(path + "[" + strconv.Itoa(n) + "]") {
				return false
			}
			w.space()
			if w.i < len(w.b) && w.b[w.i] == ',' {
				w.i++
				continue
			}
			if w.i < len(w.b) && w.b[w.i] == ']' {
				w.i++
				return true
			}
			return false
		}
	case '"':
		_, ok := w.str(path, false)
		return ok
	default: // a number, true, false or null: no text in it
		for w.i < len(w.b) && !strings.ContainsRune(",]} \t\n\r", rune(w.b[w.i])) {
			w.i++
		}
		return true
	}
}

// str reads the string at w.i (an opening quote), decoding its escapes,
// and checks it as text; a problem is reported against path. With keep
// (object keys, which name paths) it returns the decoded string; values
// are only checked, not copied.
func (w *jsonWalker) str(path string, keep bool) (string, bool) {
	w.i++ // the opening quote
	var out []byte
	add := func(b ...byte) {
		if keep {
			out = append(out, b...)
		}
	}
	for w.i < len(w.b) {
		c := w.b[w.i]
		switch {
		case c == '"':
			w.i++
			return string(out), true
		case c == '\\':
			if w.i+1 >= len(w.b) {
				return "", false
			}
			e := w.b[w.i+1]
			w.i += 2
			switch e {
			case '"', '\\', '/':
				add(e)
			case 'b':
				add('\b')
			case 'f':
				add('\f')
			case 'n':
				add('\n')
			case 'r':
				add('\r')
			case 't':
				add('\t')
			case 'u':
				r, ok := w.hex4()
				if !ok {
					return "", false
				}
				switch {
				case r == 0:
					w.fail(path, "must not contain NUL characters (\\u0000)")
					return "", false
				case utf16.IsSurrogate(r):
					lo := rune(-1)
					if r < 0xdc00 && w.i+1 < len(w.b) && w.b[w.i] == '\\' && w.b[w.i+1] == 'u' {
						w.i += 2
						if lo, ok = w.hex4(); !ok {
							return "", false
						}
					}
					pair := utf16.DecodeRune(r, lo)
					if pair == utf8.RuneError {
						w.fail(path, fmt.Sprintf("must not contain a lone UTF-16 surrogate (\\u%04x without its pair)", r))
						return "", false
					}
					add(utf8.AppendRune(nil, pair)...)
				default:
					add(utf8.AppendRune(nil, r)...)
				}
			default:
				return "", false
			}
		case c < 0x20:
			return "", false // not JSON; the decoder says so
		case c < utf8.RuneSelf:
			add(c)
			w.i++
		default:
			r, n := utf8.DecodeRune(w.b[w.i:])
			if r == utf8.RuneError && n <= 1 {
				w.fail(path, fmt.Sprintf("must be valid UTF-8 text (byte 0x%02x is not)", c))
				return "", false
			}
			add(w.b[w.i : w.i+n]...)
			w.i += n
		}
	}
	return "", false
}

func (w *jsonWalker) hex4() (rune, bool) {
	if w.i+4 > len(w.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(w.b[w.i:w.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	w.i += 4
	return rune(n), true
}
