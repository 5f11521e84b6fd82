package mail_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/mail"
)

var allTemplates = []string{canopy.TemplateWelcome, canopy.TemplateUserInvitation, canopy.TemplatePasswordReset}

const link = "https://app.example.com/set-password?token=tok_abc&user=usr_1"

func sample(b canopy.Brand) data {
	return data{
		Brand:             b,
		AccountName:       "Acme Dental",
		ParentAccountName: "Acme Reseller",
		UserName:          "Ada",
		Email:             "ada@dental.example",
		Username:          "dental-admin",
		Role:              "admin",
		Link:              link,
		ExpiresAt:         time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC),
	}
}

func load(t *testing.T, dir string) *mail.Templates {
	t.Helper()
	tmpl, err := mail.LoadTemplates(dir)
	require.NoError(t, err)
	return tmpl
}

func TestEveryTemplateRendersWithAndWithoutABrand(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	brands := []struct {
		name      string
		brand     canopy.Brand
		wantName  string
		wantColor string
	}{
		{"reseller brand", canopy.Brand{Name: "Acme", PrimaryColor: "#FF6600", LogoURL: "https://cdn.acme.example/logo.png"}, "Acme", "#FF6600"},
		{"short hex color", canopy.Brand{Name: "Acme", PrimaryColor: "#f60"}, "Acme", "#f60"},
		{"zero brand is Canopy's default", canopy.Brand{}, "Canopy", mail.DefaultPrimaryColor},
	}
	for _, name := range allTemplates {
		for _, b := range brands {
			t.Run(name+"/"+b.name, func(t *testing.T) {
				t.Parallel()
				subject, text, html, err := tmpl.Render(as(name, sample(b.brand)))
				require.NoError(t, err)

				require.Contains(t, subject, b.wantName, "brand name in the subject")
				require.NotContains(t, subject, "\n")
				require.Equal(t, strings.TrimSpace(subject), subject)

				require.Regexp(t, "(?m)^"+regexp.QuoteMeta(link)+"\r?$", text, "the link on a line of its own")
				require.Contains(t, text, "Ada")
				require.Contains(t, text, "Monday 6 May 2030, 07:08 UTC", "expiry")
				require.Contains(t, text, "The "+b.wantName+" team", "signature")
				require.Contains(t, text, "ignore")

				escapedLink := strings.ReplaceAll(link, "&", "&amp;")
				require.Contains(t, html, `href="`+escapedLink+`"`, "button")
				require.Contains(t, html, ">"+escapedLink+"</a>", "the link as text")
				require.Contains(t, html, "background-color:"+b.wantColor, "brand color on header and button")
				require.Contains(t, html, "Monday 6 May 2030, 07:08 UTC")
				require.Contains(t, html, "The "+b.wantName+" team")
				require.Contains(t, html, "never send passwords")
				require.Contains(t, html, "ignore")
				require.Contains(t, html, `<html lang="en">`)
				if b.brand.LogoURL != "" {
					require.Contains(t, html, `<img src="`+b.brand.LogoURL+`" alt="`+b.wantName+`"`)
				} else {
					require.NotContains(t, html, "<img")
				}
				require.NotContains(t, html, "ZgotmplZ", "html/template refused a value")
			})
		}
	}
}

func TestTemplatesSayWhatHappened(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	d := sample(canopy.Brand{Name: "Acme"})

	subject, text, _, err := tmpl.Render(as(canopy.TemplateWelcome, d))
	require.NoError(t, err)
	require.Equal(t, "Welcome to Acme — set your password", subject)
	require.Contains(t, text, `Acme Reseller has set up the Acme account "Acme Dental" for you; your username is dental-admin.`)
	require.Contains(t, text, "We never send passwords by email.")

	subject, text, _, err = tmpl.Render(as(canopy.TemplateUserInvitation, d))
	require.NoError(t, err)
	require.Equal(t, "Join Acme Dental on Acme — set your password", subject)
	require.Contains(t, text, "with the admin role")

	subject, text, _, err = tmpl.Render(as(canopy.TemplatePasswordReset, d))
	require.NoError(t, err)
	require.Equal(t, "Reset your Acme password", subject)
	require.Contains(t, text, "If you did not ask for this, ignore this message")
}

func TestOptionalFieldsMayBeEmpty(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	for _, name := range allTemplates {
		subject, text, html, err := tmpl.Render(as(name, data{Link: link}))
		require.NoError(t, err, name)
		require.NotEmpty(t, subject)
		require.Contains(t, text, "Hello,\n", "no dangling space without a name")
		require.Contains(t, text, "The link works once.\n", "no expiry sentence without an expiry")
		require.Contains(t, html, "Canopy")
	}
}

func TestHTMLEscapesFieldsAndTextKeepsThemVerbatim(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	d := sample(canopy.Brand{Name: `<b>Evil</b> & Co`})
	d.AccountName = `<script>alert("x")</script>`
	d.UserName = `Ada "<img src=x onerror=alert(1)>"`
	for _, name := range allTemplates {
		subject, text, html, err := tmpl.Render(as(name, d))
		require.NoError(t, err)
		require.NotContains(t, html, "<script>")
		require.NotContains(t, html, "<img src=x")
		require.NotContains(t, html, "<b>Evil")
		require.Contains(t, html, "&lt;b&gt;Evil&lt;/b&gt; &amp; Co")
		require.Contains(t, html, "Ada &#34;&lt;img src=x onerror=alert(1)&gt;&#34;")
		if name != canopy.TemplatePasswordReset { // the reset email names the account only in the body
			require.Contains(t, html, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
			require.Contains(t, text, `<script>alert("x")</script>`)
		}
		require.Contains(t, text, `Ada "<img src=x onerror=alert(1)>"`)
		require.Contains(t, subject, "<b>Evil</b> & Co", "the subject is text")
	}
}

func TestUnsafeLinkSchemeIsNeutralizedInHTML(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	d := sample(canopy.Brand{})
	d.Link = "javascript:alert(1)"
	_, _, html, err := tmpl.Render(as(canopy.TemplateWelcome, d))
	require.NoError(t, err)
	require.NotContains(t, html, `href="javascript:`)
}

func TestBadPrimaryColorFallsBackToTheDefault(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	for _, bad := range []string{
		"red", "#GG6600", "#12345", "#1234567", "FF6600", "#f60;background:url(https://evil.example/x)",
		`#fff" onmouseover="alert(1)`, "expression(alert(1))", "rgb(255,0,0)",
	} {
		_, _, html, err := tmpl.Render(as(canopy.TemplateWelcome, sample(canopy.Brand{PrimaryColor: bad})))
		require.NoError(t, err, bad)
		require.Contains(t, html, "background-color:"+mail.DefaultPrimaryColor, bad)
		require.NotContains(t, html, bad, bad)
		require.NotContains(t, html, "evil.example", bad)
	}
}

func TestLogoMustBeHTTPS(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	for _, logo := range []string{"http://cdn.example/logo.png", "javascript:alert(1)", "//cdn.example/logo.png", "https:///nohost.png", "data:image/png;base64,AAAA"} {
		_, _, html, err := tmpl.Render(as(canopy.TemplateWelcome, sample(canopy.Brand{Name: "Acme", LogoURL: logo})))
		require.NoError(t, err)
		require.NotContains(t, html, "<img", logo)
	}
}

func TestLineBreaksInFieldsCannotForgeLines(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	d := sample(canopy.Brand{Name: "Acme\r\nBcc: victim@example.com"})
	d.AccountName = "Acme\n\nhttps://phish.example/login\n"
	subject, text, _, err := tmpl.Render(as(canopy.TemplateUserInvitation, d))
	require.NoError(t, err)
	require.Equal(t, "Join Acme https://phish.example/login on Acme Bcc: victim@example.com — set your password", subject)
	require.NotRegexp(t, "(?m)^https://phish", text)
}

func TestUnknownTemplateIsAnError(t *testing.T) {
	t.Parallel()
	_, _, _, err := load(t, "").Render(&canopy.InvitationNewsEmail{Which: "newsletter"})
	require.ErrorContains(t, err, `unknown template "newsletter"`)
}

func TestOverridesTakeEffectPerFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "welcome.subject.tmpl", "Hi from {{.Brand.Name}}")
	write(t, dir, "password-reset.html.tmpl", `<p>Standalone {{.AccountName}} <a href="{{.Link}}">reset</a></p>`)
	write(t, dir, "user-invitation.txt.tmpl", "Custom invitation\n{{.Link}}\n")
	write(t, dir, "unrelated.txt", "ignored")
	tmpl := load(t, dir)
	def := load(t, "")
	d := sample(canopy.Brand{Name: "Acme"})

	subject, text, html, err := tmpl.Render(as(canopy.TemplateWelcome, d))
	require.NoError(t, err)
	require.Equal(t, "Hi from Acme", subject, "overridden")
	_, defText, defHTML, _ := def.Render(as(canopy.TemplateWelcome, d))
	require.Equal(t, defText, text, "welcome text stays embedded")
	require.Equal(t, defHTML, html, "welcome html stays embedded")

	_, text, _, err = tmpl.Render(as(canopy.TemplateUserInvitation, d))
	require.NoError(t, err)
	require.Equal(t, "Custom invitation\n"+link+"\n", text)

	subject, _, html, err = tmpl.Render(as(canopy.TemplatePasswordReset, d))
	require.NoError(t, err)
	require.Equal(t, "Reset your Acme password", subject)
	require.Equal(t, `<p>Standalone Acme Dental <a href="`+strings.ReplaceAll(link, "&", "&amp;")+`">reset</a></p>`, html)
}

func TestOverrideOfTheLayoutAppliesToEveryHTMLEmail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "layout.html.tmpl", `{{define "layout"}}<main>{{template "content" .}}<a href="{{.Link}}">{{template "action" .}}</a></main>{{end}}`)
	tmpl := load(t, dir)
	for _, name := range allTemplates {
		_, _, html, err := tmpl.Render(as(name, sample(canopy.Brand{})))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(strings.TrimSpace(html), "<main>"), html)
	}
}

func TestBrokenOverrideIsAnErrorNamingTheFile(t *testing.T) {
	t.Parallel()
	tests := []struct{ file, body string }{
		{"welcome.subject.tmpl", "Welcome {{.Brand.Name"},
		{"user-invitation.txt.tmpl", "{{if .Link}}unclosed"},
		{"password-reset.html.tmpl", "{{template \"nope\" .}}"},
		{"welcome.txt.tmpl", "{{.NoSuchField}}"},
		{"layout.html.tmpl", "{{define \"layout\"}}{{.Brand.Nope}}{{end}}"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, dir, tt.file, tt.body)
			_, err := mail.LoadTemplates(dir)
			require.Error(t, err)
			require.Contains(t, err.Error(), filepath.Join(dir, tt.file))
		})
	}
}

func TestMissingTemplateDirIsAnError(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nope")
	_, err := mail.LoadTemplates(dir)
	require.ErrorContains(t, err, dir)

	file := filepath.Join(t.TempDir(), "file")
	write(t, filepath.Dir(file), "file", "x")
	_, err = mail.LoadTemplates(file)
	require.ErrorContains(t, err, "not a directory")
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
}

// TestATemplateNamingAnotherKindsFieldFailsAtStart: each kind renders its
// own content type, so a field another kind has (the address-change
// notice's NewEmail, in a reset email) is refused when the templates load,
// not when the first such email is due.
func TestATemplateNamingAnotherKindsFieldFailsAtStart(t *testing.T) {
	t.Parallel()
	for file, body := range map[string]string{
		"password-reset.txt.tmpl":     "{{.NewEmail}}\n",
		"welcome.html.tmpl":           `<p>{{.Balance}}</p>`,
		"low-balance.subject.tmpl":    "{{.Role}}",
		"invitation-expired.txt.tmpl": "{{if .SignIn}}x{{end}}\n",
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, dir, file, body)
			_, err := mail.LoadTemplates(dir)
			require.ErrorContains(t, err, filepath.Join(dir, file))
		})
	}
	_, err := mail.LoadTemplates("")
	require.NoError(t, err, "the embedded templates use only their kinds' fields")
}
