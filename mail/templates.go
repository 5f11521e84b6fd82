package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/canopyhq/canopy"
)

// htmlLayout is the file every HTML email is parsed together with. It can be
// overridden like the emails themselves.
const htmlLayout = "layout.html.tmpl"

//go:embed templates/*.tmpl
var embedded embed.FS

// Templates renders emails from embedded templates, each overridable by a
// file of the same name in a directory. It is safe for concurrent use.
type Templates struct {
	emails map[string]*email
}

// email is the three parsed parts of one template name.
type email struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// funcs are the helpers templates may call.
var funcs = map[string]any{
	// datetime formats a link's expiry for people anywhere: in UTC, with
	// the zone spelled out. The zero time formats as "" so that templates
	// can write {{with datetime .ExpiresAt}}.
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("Monday 2 January 2006, 15:04 UTC")
	},
	// textOn is the readable text color on a brand color.
	"textOn": textOn,
	// lines splits a multi-line field (Message) into its lines, so that a
	// text body can quote each one ("> ...") and an HTML body can join them
	// with <br> while html/template still escapes every line. The field is
	// already normalized (see normalizedLines): no empty first or last
	// line, no run of blank lines, no control characters. "" has no lines.
	"lines": func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	},
}

// LoadTemplates parses the embedded templates and, when dir is not empty,
// lets files in dir override them (dir/<name>.subject.tmpl,
// dir/<name>.txt.tmpl, dir/<name>.html.tmpl, and dir/layout.html.tmpl, the
// frame the HTML emails share). Each file is overridden on its own; the
// others stay embedded. A missing dir, or a template that does not parse or
// fails to render sample data, is an error naming the file.
func LoadTemplates(dir string) (*Templates, error) {
	src := source{dir: dir}
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("mail: template directory: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("mail: template directory %s is not a directory", dir)
		}
	}
	layoutName, layout, err := src.read(htmlLayout)
	if err != nil {
		return nil, err
	}
	t := &Templates{emails: make(map[string]*email, len(canopy.EmailKinds))}
	for _, kind := range canopy.EmailKinds {
		name := kind.Template()
		e := &email{}
		file, body, err := src.read(name + ".subject.tmpl")
		if err != nil {
			return nil, err
		}
		if e.subject, err = texttemplate.New(file).Funcs(funcs).Parse(body); err != nil {
			return nil, fmt.Errorf("mail: parse %s: %w", file, err)
		}
		if file, body, err = src.read(name + ".txt.tmpl"); err != nil {
			return nil, err
		}
		if e.text, err = texttemplate.New(file).Funcs(funcs).Parse(body); err != nil {
			return nil, fmt.Errorf("mail: parse %s: %w", file, err)
		}
		if file, body, err = src.read(name + ".html.tmpl"); err != nil {
			return nil, err
		}
		e.html = htmltemplate.New(file).Funcs(funcs)
		if _, err = e.html.New(layoutName).Parse(layout); err != nil {
			return nil, fmt.Errorf("mail: parse %s: %w", layoutName, err)
		}
		if _, err = e.html.Parse(body); err != nil {
			return nil, fmt.Errorf("mail: parse %s: %w", file, err)
		}
		// Render samples of the kind's content type, so that a template
		// naming a field its type does not have fails at start, not when
		// the first email is due: every field set, every field empty, and
		// each flag off in turn, so that the branches either way are run.
		for _, sample := range samples(kind) {
			if _, _, _, err := e.render(normalized(sample)); err != nil {
				return nil, err
			}
		}
		t.emails[name] = e
	}
	return t, nil
}

// source reads template files from the override directory when present
// there, else from the embedded files.
type source struct{ dir string }

// read returns the name to use in errors (the path of the file read) and the
// file's text.
func (s source) read(file string) (string, string, error) {
	if s.dir != "" {
		path := filepath.Join(s.dir, file)
		b, err := os.ReadFile(path)
		if err == nil {
			return path, string(b), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("mail: read template: %w", err)
		}
	}
	b, err := embedded.ReadFile("templates/" + file)
	if err != nil {
		return "", "", fmt.Errorf("mail: embedded template %s: %w", file, err)
	}
	return "embedded " + file, string(b), nil
}

// Render returns the subject, plain-text body and HTML body of an email,
// from its kind's templates. The HTML body is rendered with html/template,
// which escapes every field for its context; the text body and the subject
// with text/template. The subject is folded onto one line.
func (t *Templates) Render(content canopy.Email) (subject, text, html string, err error) {
	e, ok := t.emails[content.Template()]
	if !ok {
		return "", "", "", fmt.Errorf("mail: unknown template %q", content.Template())
	}
	return e.render(normalized(content))
}

func (e *email) render(d canopy.Email) (subject, text, html string, err error) {
	var b bytes.Buffer
	if err := e.subject.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s: %w", e.subject.Name(), err)
	}
	subject = singleLine(b.String())
	b.Reset()
	if err := e.text.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s: %w", e.text.Name(), err)
	}
	text = b.String()
	b.Reset()
	if err := e.html.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s: %w", e.html.Name(), err)
	}
	return subject, text, b.String(), nil
}

// normalized returns a copy of an email with the brand's defaults applied
// and every short field kept on one line: names never hold line breaks,
// and one that did could forge a line of its own in the text body (say, a
// fake link). Fields tagged email:"lines" (an umbrella's note) keep their
// line breaks but nothing else that could disturb a body (see
// normalizedLines); templates quote them.
func normalized(content canopy.Email) canopy.Email {
	v := reflect.New(reflect.TypeOf(content).Elem())
	v.Elem().Set(reflect.ValueOf(content).Elem())
	normalizeFields(v.Elem())
	return v.Interface().(canopy.Email)
}

func normalizeFields(v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		switch {
		case f.Type == reflect.TypeFor[canopy.Brand]():
			fv.Set(reflect.ValueOf(normalizedBrand(fv.Interface().(canopy.Brand))))
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			normalizeFields(fv)
		case f.Type.Kind() != reflect.String || f.Tag.Get("email") == "-":
		case f.Tag.Get("email") == "lines":
			fv.SetString(normalizedLines(fv.String()))
		default:
			fv.SetString(singleLine(fv.String()))
		}
	}
}

// normalizedLines keeps the line breaks of a multi-line text and makes each
// line what singleLine makes of a field: every line break (CR LF, CR, LF,
// and the Unicode line and paragraph separators) becomes "\n", every other
// run of whitespace and control characters one space, lines are trimmed,
// blank lines at either end are dropped and a run of blank lines becomes
// one. A text of blank lines is "".
func normalizedLines(s string) string {
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\v", "\n", "\f", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n").Replace(s)
	var out []string
	blank := false
	for _, l := range strings.Split(s, "\n") {
		l = singleLine(l)
		if l == "" {
			blank = len(out) > 0
			continue
		}
		if blank {
			out = append(out, "")
		}
		blank = false
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// samples are what LoadTemplates renders each kind with: every field set,
// every field empty, and the full sample with each flag off in turn.
func samples(kind canopy.Email) []canopy.Email {
	full := sample(kind, true)
	out := []canopy.Email{full, sample(kind, false)}
	v := reflect.ValueOf(full).Elem()
	for _, idx := range boolFields(v.Type(), nil) {
		c := reflect.New(v.Type())
		c.Elem().Set(v)
		c.Elem().FieldByIndex(idx).SetBool(false)
		out = append(out, c.Interface().(canopy.Email))
	}
	return out
}

// sample returns a copy of kind with every field set (full) or empty; the
// fields kind itself sets (InvitationNewsEmail's template) are kept.
func sample(kind canopy.Email, full bool) canopy.Email {
	v := reflect.New(reflect.TypeOf(kind).Elem())
	v.Elem().Set(reflect.ValueOf(kind).Elem())
	if full {
		fill(v.Elem())
	}
	return v.Interface().(canopy.Email)
}

func fill(v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Tag.Get("email") == "-" {
			continue
		}
		switch {
		case f.Type == reflect.TypeFor[time.Time]():
			fv.Set(reflect.ValueOf(time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)))
		case f.Type.Kind() == reflect.Struct:
			fill(fv)
		case f.Type.Kind() == reflect.String && strings.HasSuffix(f.Name, "Link") || f.Name == "LogoURL":
			fv.SetString("https://example.com/sample?token=sample")
		case f.Name == "PrimaryColor":
			fv.SetString("#123456")
		case f.Tag.Get("email") == "lines":
			fv.SetString("Hello,\n\nplease join us.")
		case f.Type.Kind() == reflect.String:
			fv.SetString("Sample " + f.Name)
		case f.Type.Kind() == reflect.Bool:
			fv.SetBool(true)
		case f.Type.Kind() == reflect.Int64 || f.Type.Kind() == reflect.Int:
			fv.SetInt(7)
		}
	}
}

// boolFields returns the index paths of a struct's bool fields, embedded
// structs' included.
func boolFields(t reflect.Type, prefix []int) [][]int {
	var out [][]int
	for i := range t.NumField() {
		f := t.Field(i)
		idx := append(append([]int(nil), prefix...), i)
		switch {
		case f.Type.Kind() == reflect.Bool:
			out = append(out, idx)
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			out = append(out, boolFields(f.Type, idx)...)
		}
	}
	return out
}
