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
	"strings"
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
	// SignIn is true in a welcome or invitation to a person who already
	// has a login: Link signs in and accepts, and is not one-time.
	SignIn bool
	// NewEmail is the address a person asked to change to (email-change-notice).
	NewEmail string

	// Invitations (umbrella ↔ sub-account).
	OtherAccountName string // the other side: the umbrella's name in emails to invitees, the invitee's in emails to umbrellas
	Message          string // the umbrella's personal note on an invitation, may be empty
	DeclineLink      string // for invitation emails: where to decline (Link is where to accept, or to sign up and accept)
	NewAccount       bool   // for invitation emails: true when the address belongs to no account yet, so Link leads to sign-up
	ActingUserName   string // who acted (e.g. the admin who declined), may be empty
	// The link policy an invitation offers: the role the umbrella gets on
	// the invitee's forms (editor, dataManager, viewer or none; empty
	// reads as dataManager, the default) and whether it pays for the
	// invitee's usage.
	ShareRole    string
	UmbrellaPays bool
	// DelegatedAdmin: the umbrella asks to act as the invitee's account,
	// as if it had created it, until the invitee withdraws it.
	DelegatedAdmin bool

	// Low-balance notices: the credit type, the threshold the balance fell
	// to or below, and the balance after the debit that crossed it.
	CreditType string
	Threshold  int64
	Balance    int64
}

// Template names. They match the outbox rows' template column.
const (
	TemplateWelcome        = "welcome"         // new account's master user: your account is ready, set your password
	TemplateUserInvitation = "user-invitation" // further user invited into an account: set your password
	TemplatePasswordReset  = "password-reset"  // someone asked to reset your password (ignore if it wasn't you)
	TemplateEmailChange    = "email-change"    // to a new address: confirm it (Link); nothing changes until then
	// TemplateEmailChangeNotice goes to the old address: a change to
	// NewEmail was asked for; if it was not you, change your password.
	TemplateEmailChangeNotice = "email-change-notice"

	TemplateInvitation          = "invitation"           // to the invitee: <OtherAccountName> invites your account <AccountName> (or you, by email) to become its sub-account; explain what it means (seed 002: the umbrella sees your forms with the dataManager role, usage credits come from the umbrella, example forms appear on your dashboard, you can leave later); accept (Link) / decline (DeclineLink) buttons; ExpiresAt; when NewAccount, say that accepting creates a free account first
	TemplateInvitationAccepted  = "invitation-accepted"  // to the umbrella's admins: <OtherAccountName> accepted; it is now your sub-account
	TemplateInvitationDeclined  = "invitation-declined"  // to the umbrella's admins: <OtherAccountName> declined
	TemplateInvitationCancelled = "invitation-cancelled" // to the invitee: <OtherAccountName> withdrew its invitation; nothing changes
	TemplateInvitationExpired   = "invitation-expired"   // to the umbrella's admins: the invitation to <OtherAccountName> expired unanswered; you can send a new one
	TemplateSignupAttempt       = "signup-attempt"       // to an existing user: someone tried to sign up with your address; if it was you, sign in or reset your password (Link = password-reset page); if not, ignore it — no account was created
	TemplateLowBalance          = "low-balance"          // to a payer's admins: its <CreditType> balance fell to <Balance>, at or below <Threshold>; usage it pays for (its own and its sub-accounts') stops at 0; buy or ask for more credits
)

// templateNames lists every email LoadTemplates loads.
var templateNames = []string{
	TemplateWelcome, TemplateUserInvitation, TemplatePasswordReset, TemplateEmailChange, TemplateEmailChangeNotice,
	TemplateInvitation, TemplateInvitationAccepted, TemplateInvitationDeclined,
	TemplateInvitationCancelled, TemplateInvitationExpired, TemplateSignupAttempt,
	TemplateLowBalance,
}

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
		// Render sample data, so that a template naming a field that does
		// not exist fails at start, not when the first email is due. Both
		// a full sample and a nearly empty one are rendered, so that the
		// branches taken when an optional field is empty are checked too.
		for _, d := range sampleData() {
			if _, _, _, err := e.render(d.normalized()); err != nil {
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
// line of its own in the text body (say, a fake link). Message, the one
// field that may span lines, keeps its line breaks but nothing else that
// could disturb a body (see normalizedLines); templates quote it.
func (d Data) normalized() Data {
	d.Brand = d.Brand.normalized()
	for _, f := range []*string{
		&d.AccountName, &d.ParentAccountName, &d.UserName, &d.Email, &d.Username, &d.Role, &d.Link,
		&d.OtherAccountName, &d.DeclineLink, &d.ActingUserName, &d.NewEmail,
	} {
		*f = singleLine(*f)
	}
	d.Message = normalizedLines(d.Message)
	return d
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

// sampleData is what LoadTemplates renders each template with at load time:
// every field set (once for an invitee with an account, once for one
// without), and every optional field empty.
func sampleData() []Data {
	full := Data{
		Brand:             Brand{Name: "Sample", PrimaryColor: "#123456", LogoURL: "https://example.com/logo.png"},
		AccountName:       "Sample Account",
		ParentAccountName: "Sample Parent",
		UserName:          "Sam",
		Email:             "sam@example.com",
		Username:          "sam",
		Role:              "member",
		Link:              "https://example.com/set-password?token=sample",
		ExpiresAt:         time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC),
		OtherAccountName:  "Sample Umbrella",
		Message:           "Hello,\n\nplease join us.",
		DeclineLink:       "https://example.com/invitations/sample/decline",
		ActingUserName:    "Uma",
		NewEmail:          "sam.new@example.com",
	}
	signIn := full
	signIn.SignIn = true
	newAccount := full
	newAccount.NewAccount, newAccount.ShareRole, newAccount.UmbrellaPays = true, "none", true
	editor, viewer := full, full
	editor.ShareRole, viewer.ShareRole = "editor", "viewer"
	editor.DelegatedAdmin = true
	minimal := Data{Link: full.Link}
	return []Data{full, signIn, newAccount, editor, viewer, minimal}
}
