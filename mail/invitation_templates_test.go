package mail_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/mail"
)

// invitationTemplates are the emails of umbrella invitations, and the one
// that answers a sign-up with a known address.
var invitationTemplates = []string{
	canopy.TemplateInvitation, canopy.TemplateInvitationAccepted, canopy.TemplateInvitationDeclined,
	canopy.TemplateInvitationCancelled, canopy.TemplateInvitationExpired, canopy.TemplateSignupAttempt,
}

const (
	acceptLink  = "https://app.example.com/invitations/inv_1/accept?token=tok_a&x=1"
	declineLink = "https://app.example.com/invitations/inv_1/decline?token=tok_d&x=1"
)

// invitationSample is an email to an invitee that has an account, with
// every field set.
func invitationSample() data {
	return data{
		Brand:            canopy.Brand{Name: "Magpi", PrimaryColor: "#FF6600"},
		AccountName:      "Free One",
		UserName:         "Bo",
		Email:            "bo@free.example",
		Link:             acceptLink,
		DeclineLink:      declineLink,
		ExpiresAt:        time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC),
		OtherAccountName: "Umbrella Corp",
		Message:          "Hi Bo,\nwe would love to have you.",
		UmbrellaPays:     true, // the default offer: billing parent
	}
}

func escaped(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

// ownLine matches s as a whole line of a text body.
func ownLine(s string) string { return "(?m)^" + regexp.QuoteMeta(s) + "\r?$" }

func TestInvitationTemplatesRenderWithEveryField(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	for _, name := range invitationTemplates {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			subject, text, html, err := tmpl.Render(as(name, invitationSample()))
			require.NoError(t, err)

			require.Contains(t, subject, "Magpi", "brand in the subject")
			require.NotContains(t, subject, "\n")
			require.Equal(t, strings.TrimSpace(subject), subject)

			require.True(t, strings.HasPrefix(text, "Hello Bo,\n\n"), text)
			require.Contains(t, text, "— The Magpi team")
			require.Regexp(t, ownLine(acceptLink), text, "the link on a line of its own")
			require.Contains(t, html, `href="`+escaped(acceptLink)+`"`, "button")
			require.Contains(t, html, "background-color:#FF6600", "brand color")
			require.Contains(t, html, "Hello Bo,")
			require.Contains(t, html, "The Magpi team")
			require.Contains(t, html, `<html lang="en">`)
			require.NotContains(t, html, "ZgotmplZ", "html/template refused a value")
			if name != canopy.TemplateSignupAttempt {
				require.Contains(t, subject+text, "Umbrella Corp")
				require.Contains(t, html, "<strong>Umbrella Corp</strong>")
			}
			if name == canopy.TemplateInvitation {
				require.Regexp(t, ownLine(declineLink), text)
				require.Contains(t, html, `href="`+escaped(declineLink)+`"`)
				require.Contains(t, html, ">"+escaped(acceptLink)+"</a>", "accept link spelled out")
				require.Contains(t, html, ">"+escaped(declineLink)+"</a>", "decline link spelled out")
				require.Contains(t, text, "Monday 6 May 2030, 07:08 UTC")
				require.Contains(t, html, "Monday 6 May 2030, 07:08 UTC")
			} else {
				require.NotContains(t, text+html, declineLink)
			}
		})
	}
}

func TestInvitationTemplatesSayWhatHappened(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	d := invitationSample()
	render := func(name string, d data) (string, string) {
		t.Helper()
		subject, text, _, err := tmpl.Render(as(name, d))
		require.NoError(t, err)
		return subject, text
	}

	subject, text := render(canopy.TemplateInvitation, d)
	require.Equal(t, "Umbrella Corp invites Free One to become its sub-account on Magpi", subject)
	require.Contains(t, text, `Umbrella Corp invites your Magpi account "Free One" to become its sub-account.`)
	for _, what := range []string{
		"shared with Umbrella Corp automatically, with the data manager role",
		"view and edit their data, but not change the questions",
		"credits come from Umbrella Corp",
		"Forms Umbrella Corp marks as examples appear on your dashboard",
		"You can leave Umbrella Corp later",
		"The invitation is open until Monday 6 May 2030, 07:08 UTC.",
		"Nothing changes unless an admin of your account accepts.",
	} {
		require.Contains(t, text, what)
	}
	require.NotContains(t, text, "free Magpi account")

	d.NewAccount = true
	d.AccountName = ""
	subject, text = render(canopy.TemplateInvitation, d)
	require.Equal(t, "Umbrella Corp invites you to become its sub-account on Magpi", subject)
	require.Contains(t, text, "Umbrella Corp invites you to join Magpi as its sub-account.")
	require.Contains(t, text, "Accepting first creates a free Magpi account for you (bo@free.example)")
	require.Contains(t, text, "To create your account and accept, open this link:\n\n"+acceptLink+"\n")
	require.Contains(t, text, "No account is created and nothing changes unless you accept.")
	_, _, html, err := tmpl.Render(as(canopy.TemplateInvitation, d))
	require.NoError(t, err)
	require.Contains(t, html, ">Create your account and accept</a>")

	d = invitationSample()
	subject, text = render(canopy.TemplateInvitationAccepted, d)
	require.Equal(t, "Umbrella Corp accepted your Magpi sub-account invitation", subject)
	require.Contains(t, text, "accepted your invitation: it is now a sub-account of")

	subject, text = render(canopy.TemplateInvitationDeclined, d)
	require.Equal(t, "Umbrella Corp declined your Magpi sub-account invitation", subject)
	require.Contains(t, text, "Nothing changed between your accounts.")

	subject, text = render(canopy.TemplateInvitationCancelled, d)
	require.Equal(t, "Umbrella Corp withdrew its Magpi sub-account invitation", subject)
	require.Contains(t, text, "you do not need to do anything")

	subject, text = render(canopy.TemplateInvitationExpired, d)
	require.Equal(t, "Your Magpi sub-account invitation to Umbrella Corp expired", subject)
	require.Contains(t, text, "expired on Monday 6 May 2030, 07:08 UTC without an answer")
	require.Contains(t, text, "you can send a new invitation")

	subject, text = render(canopy.TemplateSignupAttempt, d)
	require.Equal(t, "Someone tried to sign up for Magpi with your email address", subject)
	require.Contains(t, text, "no new account was created")
	require.Contains(t, text, "If it was you, sign in with your existing account. If you forgot your password, choose a new one here:\n\n"+acceptLink+"\n")
	require.Contains(t, text, "If it was not you, ignore this message")
}

// dangling finds what an empty optional field leaves behind: a greeting
// without a name, empty quotes or parentheses, a space before punctuation,
// two spaces in a row, a blank paragraph.
var dangling = regexp.MustCompile(`(?:Hi|Hello) ,|""|“”|\(\)|<strong></strong>|<blockquote[^>]*></blockquote>|href=""|[^\n ] [.,:;)]|[^\n] {2,}\S|\n\n\n`)

func TestInvitationTemplatesDegradeWithoutOptionalFields(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	type variant struct {
		name string
		d    data
	}
	// Only what each email cannot do without.
	required := data{OtherAccountName: "Umbrella Corp", Link: acceptLink}
	newAccount := required
	newAccount.NewAccount = true
	noLink := data{OtherAccountName: "Umbrella Corp"}
	variants := []variant{
		{"required fields only", required},
		{"invitee without an account", newAccount},
		{"no link", noLink},
		{"nothing at all", data{}},
	}
	for _, name := range invitationTemplates {
		for _, v := range variants {
			t.Run(name+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				subject, text, html, err := tmpl.Render(as(name, v.d))
				require.NoError(t, err)
				require.NotEmpty(t, subject)
				require.Contains(t, subject, "Canopy")
				require.NotRegexp(t, dangling, subject)
				require.True(t, strings.HasPrefix(text, "Hello,\n\n"), "no dangling space without a name:\n%s", text)
				require.NotRegexp(t, dangling, text)
				require.NotRegexp(t, dangling, html)
				require.NotContains(t, text+html, "wrote:", "no message, no quote")
				require.NotContains(t, text+html, "Decline", "no decline link, no decline button")
				require.NotContains(t, text+html, "until .")
				require.NotContains(t, html, "ZgotmplZ")
				require.True(t, strings.HasSuffix(text, "— The Canopy team\n"), text)
				if v.d.Link == "" {
					require.NotContains(t, html, "<a ", "no link, no button")
					require.NotContains(t, text, "open this link")
				} else {
					require.Regexp(t, ownLine(v.d.Link), text)
					require.Contains(t, html, `href="`+escaped(v.d.Link)+`"`)
				}
			})
		}
	}
}

func TestInvitationFieldsAreEscapedInHTMLAndVerbatimInText(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	d := invitationSample()
	d.OtherAccountName = `<script>alert("other")</script>`
	d.Message = `<script>alert("msg")</script> & <a href="https://phish.example">click</a>`
	d.DeclineLink = "javascript:alert(1)"
	for _, name := range invitationTemplates {
		subject, text, html, err := tmpl.Render(as(name, d))
		require.NoError(t, err, name)
		require.NotContains(t, html, "<script>", name)
		require.NotContains(t, html, "<img src=x", name)
		require.NotContains(t, html, "phish.example\"", name)
		require.NotContains(t, html, `href="javascript:`, name)
		if name == canopy.TemplateSignupAttempt {
			continue // names neither side of an invitation
		}
		require.Contains(t, html, `&lt;script&gt;alert(&#34;other&#34;)&lt;/script&gt;`, name)
		require.Contains(t, text, `<script>alert("other")</script>`, name)
		require.Contains(t, subject, `<script>alert("other")</script>`, "the subject is text")
		if name == canopy.TemplateInvitation {
			require.Contains(t, html, `&lt;script&gt;alert(&#34;msg&#34;)&lt;/script&gt; &amp; &lt;a href=&#34;https://phish.example&#34;&gt;click&lt;/a&gt;`)
			require.Contains(t, text, `> <script>alert("msg")</script> & <a href="https://phish.example">click</a>`+"\n")
			require.Contains(t, html, "&lt;script&gt;alert(&#34;other&#34;)&lt;/script&gt; wrote:")
		} else {
			require.NotContains(t, text+html, "msg", "only the invitation carries the message")
		}
	}
}

func TestMultiLineMessageKeepsItsLinesButCannotForgeAny(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	d := invitationSample()
	d.OtherAccountName = "Umbrella\r\nBcc: victim@example.com\n\nhttps://phish.example/accept"
	d.Message = "\n  Dear Bo,\r\n\r\n\r\n\r\nplease   join.\rTo accept, open this link:\n\nhttps://phish.example/accept\u2028Cheers\u2029\tUma \x00\x1b[31m\n\n"
	subject, text, html, err := tmpl.Render(as(canopy.TemplateInvitation, d))
	require.NoError(t, err)

	require.Equal(t, "Umbrella Bcc: victim@example.com https://phish.example/accept invites Free One to become its sub-account on Magpi", subject)

	// The text quotes every line of the message, collapsing runs of blank
	// lines and stray whitespace and control characters.
	require.Contains(t, text, "\n\n"+
		"> Dear Bo,\n"+
		">\n"+
		"> please join.\n"+
		"> To accept, open this link:\n"+
		">\n"+
		"> https://phish.example/accept\n"+
		"> Cheers\n"+
		"> Uma [31m\n\n")
	require.NotRegexp(t, "(?m)^https://phish", text, "no line of the text is a forged link")
	require.NotRegexp(t, "(?m)^To accept", text[strings.Index(text, "> Dear Bo"):strings.Index(text, "If you accept:")])
	require.Len(t, regexp.MustCompile(ownLine(acceptLink)).FindAllString(text, -1), 1)
	require.NotContains(t, text, "\r")
	require.NotContains(t, text, "\x1b")
	require.NotContains(t, text, "\x00")

	// The HTML keeps the lines apart with <br> and links nothing.
	require.Contains(t, html, ">Dear Bo,<br><br>please join.<br>To accept, open this link:<br><br>https://phish.example/accept<br>Cheers<br>Uma [31m</blockquote>")
	require.NotContains(t, html, `href="https://phish`)

	// A message of blank lines is no message.
	d.Message = " \r\n\t\n\u2028 "
	_, text, html, err = tmpl.Render(as(canopy.TemplateInvitation, d))
	require.NoError(t, err)
	require.NotContains(t, text+html, "wrote:")
	require.NotContains(t, html, "<blockquote")
}

func TestNewTemplatesCanBeOverriddenPerFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "invitation.subject.tmpl", "Join {{.OtherAccountName}}")
	write(t, dir, "invitation-declined.txt.tmpl", "Declined by {{.OtherAccountName}}\n")
	write(t, dir, "signup-attempt.html.tmpl", `<p>Was it you? <a href="{{.Link}}">Reset</a></p>`)
	tmpl := load(t, dir)
	def := load(t, "")
	d := invitationSample()

	subject, text, html, err := tmpl.Render(as(canopy.TemplateInvitation, d))
	require.NoError(t, err)
	require.Equal(t, "Join Umbrella Corp", subject)
	_, defText, defHTML, _ := def.Render(as(canopy.TemplateInvitation, d))
	require.Equal(t, defText, text, "invitation text stays embedded")
	require.Equal(t, defHTML, html, "invitation html stays embedded")

	_, text, _, err = tmpl.Render(as(canopy.TemplateInvitationDeclined, d))
	require.NoError(t, err)
	require.Equal(t, "Declined by Umbrella Corp\n", text)

	_, _, html, err = tmpl.Render(as(canopy.TemplateSignupAttempt, d))
	require.NoError(t, err)
	require.Equal(t, `<p>Was it you? <a href="`+escaped(acceptLink)+`">Reset</a></p>`, html)
}

func TestALayoutWrittenBeforeInvitationsStillServesThem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A layout that knows nothing of the "actions" block.
	write(t, dir, "layout.html.tmpl", `{{define "layout"}}<main>{{template "content" .}}<a href="{{.Link}}">{{template "action" .}}</a><p>{{template "notice" .}}</p></main>{{end}}`)
	tmpl := load(t, dir)
	for _, name := range invitationTemplates {
		_, _, html, err := tmpl.Render(as(name, invitationSample()))
		require.NoError(t, err, name)
		require.True(t, strings.HasPrefix(strings.TrimSpace(html), "<main>"), html)
		require.Contains(t, html, `<a href="`+escaped(acceptLink)+`">`, name)
	}
}

func TestBrokenOverrideIsCaughtInABranchTheFullSampleSkips(t *testing.T) {
	t.Parallel()
	tests := []struct{ file, body string }{
		{"invitation.txt.tmpl", "{{if .Message}}{{.Message}}{{else}}{{.NoSuchField}}{{end}}"},
		{"invitation.html.tmpl", `{{if .NewAccount}}{{template "nope" .}}{{end}}`},
		{"invitation-expired.subject.tmpl", "{{with .OtherAccountName}}{{.}}{{else}}{{.Brand.Nope}}{{end}}"},
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

// TestInvitationStatesTheOfferedPolicy: the invitation email says what
// this invitation offers, not the defaults.
func TestInvitationStatesTheOfferedPolicy(t *testing.T) {
	tpl, err := mail.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		role   string
		pays   bool
		want   []string
		absent []string
	}{
		{"", true, []string{"data manager role", "credits come from"}, []string{"own usage"}},
		{"dataManager", false, []string{"data manager role", "paying for its own usage"}, []string{"credits come from"}},
		{"editor", true, []string{"editor role", "edit their questions"}, []string{"data manager"}},
		{"viewer", true, []string{"viewer role: it can view their questions and their data"}, []string{"data manager", "editor"}},
		{"none", false, []string{"not shared", "own usage"}, []string{"role:"}},
	}
	for _, tc := range cases {
		d := data{OtherAccountName: "Umbrella", Link: "https://x.example/i", ShareRole: tc.role, UmbrellaPays: tc.pays}
		_, text, _, err := tpl.Render(as(canopy.TemplateInvitation, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{text} {
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("role %q pays %v: want %q in:\n%s", tc.role, tc.pays, w, body)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(body, a) {
					t.Errorf("role %q pays %v: %q must not appear in:\n%s", tc.role, tc.pays, a, body)
				}
			}
		}
	}
}
