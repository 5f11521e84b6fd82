package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/canopyhq/canopy"
)

// form is a submitted (or prefilled) HTML form and the service's answer to
// it. Inputs are named after the API's field paths ("account.name",
// "users[0].email"), so each canopy.FieldError lands beside the input it
// names with no table in between.
type form struct {
	Values url.Values
	errors []canopy.FieldError
	// General is an error that names no field.
	General string
	// claimed marks the errors an input has shown, so that the rest are
	// listed at the end of the form (Unplaced) rather than lost.
	claimed map[int]bool
}

func newForm(values url.Values) *form {
	if values == nil {
		values = url.Values{}
	}
	return &form{Values: values, claimed: map[int]bool{}}
}

// fail records err on the form and reports whether it is one a person can
// fix there: an application error. Anything else is internal.
func (f *form) fail(err error) bool {
	var e *canopy.Error
	if !errors.As(err, &e) || e.Kind == canopy.KindInternal || e.Kind == canopy.KindNotFound || e.Kind == canopy.KindUnauthorized {
		return false
	}
	f.errors = e.Fields
	if len(e.Fields) == 0 {
		f.General = peopleText(err)
	}
	return true
}

// addError records one field's error, for checks the console makes while
// reading the form (JSON that does not parse).
func (f *form) addError(field, msg string) {
	f.errors = append(f.errors, canopy.FieldError{Field: field, Message: msg})
}

// HasErrors reports whether the form has anything to show.
func (f *form) HasErrors() bool { return len(f.errors) > 0 || f.General != "" }

// Failed reports whether any error was recorded while reading the form.
func (f *form) Failed() bool { return len(f.errors) > 0 }

// errorsFor claims and returns the messages of the errors about name or a
// path inside it ("configurations" takes "configurations.white_label_portal").
func (f *form) errorsFor(name string) []string {
	var out []string
	for i, e := range f.errors {
		if e.Field == name || strings.HasPrefix(e.Field, name+".") || strings.HasPrefix(e.Field, name+"[") {
			f.claimed[i] = true
			out = append(out, sentence(e.Message, canopy.KindInvalid))
		}
	}
	return out
}

// Unplaced are the errors no input on the page claimed.
func (f *form) Unplaced() []string {
	var out []string
	for i, e := range f.errors {
		if !f.claimed[i] {
			out = append(out, e.Field+": "+sentence(e.Message, canopy.KindInvalid))
		}
	}
	return out
}

// field is one input as the templates render it.
type field struct {
	Name, ID, Label, Type, Value, Hint, Autocomplete, Inputmode, Placeholder string
	Required, Checked, Readonly                                              bool
	Rows                                                                     int
	Errors                                                                   []string
	Options                                                                  []option
}

type option struct {
	Value, Label string
}

// Field describes an input. opts are "required", "readonly", "type=email",
// "autocomplete=…", "hint=…", "rows=N" (a textarea), "inputmode=…",
// "placeholder=…" and, for a select, "option=value|label".
func (f *form) Field(name, label string, opts ...string) field {
	fl := field{Name: name, ID: inputID(name), Label: label, Type: "text", Value: f.Values.Get(name), Errors: f.errorsFor(name)}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "required":
			fl.Required = true
		case "readonly":
			fl.Readonly = true
		case "type":
			fl.Type = v
		case "autocomplete":
			fl.Autocomplete = v
		case "hint":
			fl.Hint = v
		case "inputmode":
			fl.Inputmode = v
		case "placeholder":
			fl.Placeholder = v
		case "rows":
			fl.Type, fl.Rows = "textarea", atoiOr(v, 4)
		case "option":
			val, lbl, _ := strings.Cut(v, "|")
			fl.Type = "select"
			fl.Options = append(fl.Options, option{Value: val, Label: lbl})
		}
	}
	fl.Checked = fl.Value == "true" || fl.Value == "on"
	return fl
}

// Select describes a select whose options are data (accounts, a
// question's choices), with Field's other opts.
func (f *form) Select(name, label string, options []option, opts ...string) field {
	fl := f.Field(name, label, opts...)
	fl.Type, fl.Options = "select", append(fl.Options, options...)
	return fl
}

// inputID turns a field path into an element id.
func inputID(name string) string {
	r := strings.NewReplacer(".", "-", "[", "-", "]", "")
	return "f-" + r.Replace(name)
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// checked reads a checkbox.
func checked(v url.Values, name string) bool {
	s := v.Get(name)
	return s == "true" || s == "on"
}

// list runs a listing a page's filters feed: when reading the filters
// found nothing wrong, fetch, whose error a person can read is shown on
// the form. It returns the page's status.
func (f *form) list(fetch func() error) (int, error) {
	if f.Failed() {
		return http.StatusBadRequest, nil
	}
	if err := fetch(); err != nil {
		if !f.fail(err) {
			return 0, err
		}
		return formStatus(err), nil
	}
	return http.StatusOK, nil
}

// kept is the filters of a listing's address that are set, for the links
// to its next page and to its export.
func kept(q url.Values, names ...string) url.Values {
	out := url.Values{}
	for _, k := range names {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}
