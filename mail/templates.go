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
	texttemplate "text/template"
	"time"
)

// Data is what templates may use.
type Data struct {
	Brand             Brand
	AccountName       string
	ParentAccountName string
	UserName          string // the person's name, may be empty
	Email             string
	Username          string
	Role              string
	Link              string    // the one-time set-password/reset link
	ExpiresAt         time.Time // when the link stops working
}

// Template names. They match the outbox rows' template column.
const (
	TemplateWelcome        = "welcome"         // new account's master user: your account is ready, set your password
	TemplateUserInvitation = "user-invitation" // further user invited into an account: set your password
	TemplatePasswordReset  = "password-reset"  // someone asked to reset your password (ignore if it wasn't you)
)

// templateNames lists every email LoadTemplates loads.
var templateNames = []string{TemplateWelcome, TemplateUserInvitation, TemplatePasswordReset}

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
	t := &Templates{emails: make(map[string]*email, len(templateNames))}
	for _, name := range templateNames {
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
		// Render sample data once, so that a template naming a field that
		// does not exist fails at start, not when the first email is due.
		if _, _, _, err := e.render(sampleData()); err != nil {
			return nil, err
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

// Render returns the subject, plain-text body and HTML body of template
// name. The HTML body is rendered with html/template, which escapes every
// field for its context; the text body and the subject with text/template.
// The subject is folded onto one line. An unknown name is an error.
func (t *Templates) Render(name string, d Data) (subject, text, html string, err error) {
	e, ok := t.emails[name]
	if !ok {
		return "", "", "", fmt.Errorf("mail: unknown template %q", name)
	}
	return e.render(d.normalized())
}

func (e *email) render(d Data) (subject, text, html string, err error) {
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

// normalized applies the brand's defaults and keeps every short field on
// one line: names never hold line breaks, and one that did could forge a
// line of its own in the text body (say, a fake link).
func (d Data) normalized() Data {
	d.Brand = d.Brand.normalized()
	for _, f := range []*string{&d.AccountName, &d.ParentAccountName, &d.UserName, &d.Email, &d.Username, &d.Role, &d.Link} {
		*f = singleLine(*f)
	}
	return d
}

// sampleData fills every field, for the trial render at load time.
func sampleData() Data {
	return Data{
		Brand:             Brand{Name: "Sample", PrimaryColor: "#123456", LogoURL: "https://example.com/logo.png"},
		AccountName:       "Sample Account",
		ParentAccountName: "Sample Parent",
		UserName:          "Sam",
		Email:             "sam@example.com",
		Username:          "sam",
		Role:              "member",
		Link:              "https://example.com/set-password?token=sample",
		ExpiresAt:         time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC),
	}
}
