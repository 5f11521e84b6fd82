package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/browsertest"
	"github.com/canopyhq/canopy/internal/smtptest"
)

const browserPassword = "violet tractor hums quietly 4821"

// TestBrowserPeopleSide drives the people's side in a real headless
// Chromium against `canopy serve`, with a real SMTP server: nobody uses
// curl after the operator's first call. Every page either person visits
// is checked with axe-core, for heading order and for its width (the
// clinic's admin uses a 375 px phone).
//
// To run it locally: apt-get install -y chromium; go test ./cmd/canopy -run Browser.
// CANOPY_SCREENSHOTS=$PWD/docs/screenshots makes the README's pictures.
func TestBrowserPeopleSide(t *testing.T) {
	browser := browsertest.Start(t)
	smtp := smtptest.Start(t)
	s := startServe(t, nil, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"),
		"--smtp-url", smtp.URL(), "--public-url", "http://console.example")
	base := "http://" + s.addr
	key := s.rootKey(t)
	mail := &mailbox{t: t, smtp: smtp}

	// The operator creates two customers over the API: an umbrella (which
	// gets a child and an example form) and a clinic.
	umbrella := s.create(t, key, "", map[string]any{
		"account":        map[string]any{"name": "Umbrella Health", "email": "ops@umbrella.example", "plan": "enterprise"},
		"masterUser":     map[string]any{"email": "ada@umbrella.example", "name": "Ada Lovelace"},
		"configurations": map[string]any{"white_label_portal": map[string]any{"brandName": "Umbrella Health", "primaryColor": "#0B5394"}},
	})
	dental := s.create(t, key, umbrella, map[string]any{"account": map[string]any{"name": "Acme Dental", "email": "ops@dental.example"}})
	clinic := s.create(t, key, "", map[string]any{
		"account":    map[string]any{"name": "Northside Clinic", "email": "ops@clinic.example"},
		"masterUser": map[string]any{"email": "cleo@clinic.example", "name": "Cleo Clinic"},
	})
	status, form := s.call(t, key, umbrella, "POST", "/v1/forms", map[string]any{
		"name": "Site survey", "questions": []map[string]any{{"id": "site", "label": "Site", "type": "text", "required": true}},
	})
	require.Equal(t, 201, status, "%v", form)
	status, _ = s.call(t, key, umbrella, "PUT", "/v1/forms/"+form["id"].(string)+"/example", map[string]any{"example": true})
	require.Equal(t, 200, status)

	ada := browser.Tab("ada", base, 1280)
	cleo := browser.Tab("cleo", base, 375)

	// (1) The umbrella's admin opens the emailed set-password link, sets a
	// password and lands in the console.
	link := mail.link("ada@umbrella.example", "/set-password?token=")
	require.True(t, strings.HasPrefix(link, "http://console.example/set-password?token="), link)
	ada.Go(local(link))
	require.Contains(t, ada.Text("main"), "Ada Lovelace")
	require.Contains(t, ada.Text("main"), "Umbrella Health")
	ada.Fill("#f-password", "short")
	ada.Click("main form button[type=submit]")
	require.Equal(t, 422, ada.Status())
	require.Contains(t, ada.Text("#f-password-note"), "at least 12 characters")
	ada.Fill("#f-password", browserPassword)
	ada.Click("main form button[type=submit]")
	require.Equal(t, "/app/"+umbrella, path(ada.Location()))
	require.Contains(t, ada.Text(".flash"), "Your password is set")
	require.Equal(t, "Umbrella Health", ada.Text("main h1"))
	require.Contains(t, ada.Text(".brandbar"), "Umbrella Health")
	require.Equal(t, "rgb(11, 83, 148)", ada.Eval(`getComputedStyle(document.querySelector(".brandbar")).backgroundColor`),
		"the brand colour's inline style ran under the CSP, by its nonce")

	// The clinic's admin does the same, with the keyboard only: the first
	// Tab reaches the skip link, and Enter in the field sends the form.
	cleo.Go(local(mail.link("cleo@clinic.example", "/set-password?token=")))
	cleo.Key("\t")
	require.Equal(t, "skip", cleo.Eval(`document.activeElement.className`))
	cleo.Fill("#f-password", browserPassword)
	cleo.Submit("#f-password")
	require.Equal(t, "Northside Clinic", cleo.Text("main h1"))
	cleo.Click(".brandbar form button") // sign out, to sign in from the invitation
	require.Contains(t, cleo.Text(".flash"), "You are signed out")

	// (2) Ada opens Contacts, clicks New, fills the form, checks Sub
	// Account and clicks Save.
	ada.Click(`.sections a[href$="/contacts"]`)
	ada.Click(`main a[role=button][href$="/contacts/new"]`)
	ada.Fill("#f-firstName", "Cleo")
	ada.Fill("#f-lastName", "Clinic")
	ada.Fill("#f-email", "cleo@clinic.example")
	ada.Fill("#f-mobile", "+15551234567")
	ada.Press("#f-subAccount")
	ada.Snapshot("contacts-new")
	ada.Click("main form button[type=submit]")
	require.Contains(t, ada.Text(".flash"), "An invitation to become your sub-account was sent to cleo@clinic.example")
	require.Contains(t, ada.Text("main table"), "invited")

	// Cleo receives the email, follows it, signs in and clicks Accept.
	invitation := mail.link("cleo@clinic.example", "/invitations/")
	cleo.Go(local(invitation))
	cleo.Click(`main a[href^="/signin"]`)
	cleo.Fill("#f-login", "cleo@clinic.example")
	cleo.Fill("#f-password", browserPassword)
	cleo.Submit("#f-password")
	require.Regexp(t, "^/app/"+clinic+"/invitations/inv_", path(cleo.Location()))
	require.Contains(t, cleo.Text("main"), "Umbrella Health invites Northside Clinic")
	require.Contains(t, cleo.Text("main"), "shared with Umbrella Health as data manager")
	cleo.Snapshot("invitation")
	cleo.Click(`form[action$="/accept"] button`)
	require.Contains(t, cleo.Text(".flash"), "You accepted the invitation")

	// The clinic now appears under the umbrella, in both consoles.
	ada.Click(`.sections a[href$="/accounts"]`)
	require.Contains(t, ada.Text("main .tree"), "Northside Clinic")
	require.Contains(t, ada.Text("main .tree"), "invited")
	ada.Press(`summary[hx-get$="/` + dental + `/children"]`) // expands in place (htmx)
	ada.WaitText("main .tree .subtree", "No sub-accounts below Acme Dental.")
	ada.Snapshot("sub-accounts")
	cleo.Click(`.sections a[href$="/settings"]`)
	require.Contains(t, cleo.Text("main .umbrella"), "Sub-account of Umbrella Health")

	// (3) The umbrella's example form is on the clinic's dashboard; Copy
	// makes it the clinic's own.
	cleo.Click(`.sections a[href="/app/` + clinic + `"]`)
	require.Contains(t, cleo.Text("#sec-examples"), "1")
	require.Contains(t, cleo.Text("main"), "Site survey")
	cleo.Click(`form[action$="/copy"] button`)
	require.Contains(t, cleo.Text(".flash"), "“Site survey” is now one of your forms.")
	require.Contains(t, cleo.Text("#sec-own"), "1")

	// (4) Keys: create, see the secret once (and copy it), revoke.
	ada.Click(`.sections a[href$="/keys"]`)
	ada.Fill("#f-name", "billing backend")
	ada.Click("main form button[type=submit]")
	secret := ada.Value("#secret")
	require.Regexp(t, "^cnp_", secret)
	ada.Press(`[data-copy="secret"]`)
	ada.WaitText(".copied", "Copied to the clipboard.")
	status, _ = s.call(t, secret, "", "GET", "/v1/me", nil)
	require.Equal(t, 200, status)
	ada.Click(`.sections a[href$="/keys"]`)
	require.NotContains(t, ada.Text("main"), secret, "the secret is shown once")
	ada.Click(`main table form[action$="/revoke"] button`)
	require.Contains(t, ada.Text(".flash"), "The key is revoked")
	status, _ = s.call(t, secret, "", "GET", "/v1/me", nil)
	require.Equal(t, 401, status)

	// (5) A person who is a member of two accounts switches between them:
	// a bakery adds Ada; she signs in already, so its email asks her to
	// accept, and then the switcher lists both accounts (and, as the
	// umbrella's admin, its child).
	bakery := s.create(t, key, "", map[string]any{
		"account":    map[string]any{"name": "Corner Bakery", "email": "ops@bakery.example"},
		"masterUser": map[string]any{"email": "bo@bakery.example", "name": "Bo Baker"},
	})
	status, _ = s.call(t, key, bakery, "POST", "/v1/accounts/"+bakery+"/users", map[string]any{"email": "ada@umbrella.example", "role": "member"})
	require.Equal(t, 201, status)
	ada.Go(local(mail.link("ada@umbrella.example", "/memberships/")))
	require.Contains(t, ada.Text("main"), "You are invited to join Corner Bakery as a member")
	ada.Click(`form[action$="/accept"] button`)
	require.Equal(t, "Corner Bakery", ada.Text("main h1"))
	ada.Click(".brandbar a.switch")
	choices := ada.Text("main .choices")
	for _, name := range []string{"Umbrella Health", "Acme Dental", "Corner Bakery"} {
		require.Contains(t, choices, name)
	}
	ada.Click(`.choices a[href="/app/` + umbrella + `"]`)
	require.Equal(t, "Umbrella Health", ada.Text("main h1"))
	ada.Click(".brandbar a.switch")
	ada.Fill("#f-q", "dental")
	ada.Submit("#f-q")
	require.NotContains(t, ada.Text("main .choices"), "Umbrella Health")
	ada.Click(`.choices a[href="/app/` + dental + `"]`)
	require.Equal(t, "Acme Dental", ada.Text("main h1"))
	ada.Click(".brandbar a.switch")
	ada.Click(`.choices a[href="/app/` + bakery + `"]`)
	require.Equal(t, "Corner Bakery", ada.Text("main h1"))
	ada.Go("/app/" + umbrella)

	// (6) An account Cleo may not act as — her umbrella — is the 404 page.
	cleo.Go("/app/" + umbrella)
	require.Equal(t, 404, cleo.Status())
	require.Equal(t, "Page not found", cleo.Text("main h1"))

	// (7) A page on another origin posts a form to the console with Ada's
	// browser: refused, and nothing is written.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Win a prize</title></head><body><main><h1>Win a prize</h1>
<form method="post" action="%s/app/%s/contacts"><input type="hidden" name="email" value="mallory@evil.example">
<input type="hidden" name="subAccount" value="true"><button type="submit">Claim</button></form></main></body></html>`, base, umbrella)
	}))
	defer evil.Close()
	ada.Go(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1))
	ada.Click("main form button")
	require.Equal(t, 403, ada.Status())
	require.Equal(t, "Not allowed", ada.Text("main h1"))
	status, contacts := s.call(t, key, umbrella, "GET", "/v1/contacts", nil)
	require.Equal(t, 200, status)
	require.Len(t, contacts["data"], 1, "only Cleo's contact: the cross-origin post wrote nothing")

	// (8) Every page of the console, and the public pages, at 375 px.
	phone := browser.Tab("ada-phone", base, 375)
	phone.Go("/signin")
	phone.Fill("#f-login", "ada@umbrella.example")
	phone.Fill("#f-password", browserPassword)
	phone.Submit("#f-password")
	for _, p := range []string{"", "/switch", "/contacts", "/contacts/new", "/invitations", "/accounts", "/accounts/new",
		"/accounts/" + dental, "/accounts/" + clinic, "/users", "/keys", "/settings"} {
		phone.Go("/app/" + umbrella + p)
		require.Equal(t, 200, phone.Status(), p)
	}
	phone.Click(`.sections a[href$="/contacts"]`)
	phone.Click(`main table a[href*="/contacts/con_"]`)
	phone.Click(`.sections a[href$="/invitations"]`)
	phone.Click(`main table a[href*="/invitations/inv_"]`)
	phone.Click(".brandbar form button")
	for _, p := range []string{"/reset-password", "/signup", "/set-password?token=cnt_used", "/nowhere"} {
		phone.Go(p)
	}

	t.Logf("pages checked with axe-core: %d (Ada) + %d (Cleo, at 375 px) + %d (Ada, at 375 px)", ada.Visits(), cleo.Visits(), phone.Visits())
}

// create makes an account over the API and returns its id.
func (s *server) create(t *testing.T, key, as string, body map[string]any) string {
	t.Helper()
	status, res := s.call(t, key, as, "POST", "/v1/accounts", body)
	require.Equal(t, 201, status, "%v", res)
	return res["account"].(map[string]any)["id"].(string)
}

// mailbox finds links in the emails the SMTP server received.
type mailbox struct {
	t    *testing.T
	smtp *smtptest.Server
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+`)

// link waits for an email to to with a link containing part.
func (m *mailbox) link(to, part string) string {
	m.t.Helper()
	var found string
	require.Eventually(m.t, func() bool {
		for _, msg := range m.smtp.Messages() {
			if len(msg.To) == 0 || msg.To[0] != to {
				continue
			}
			for _, l := range linkPattern.FindAllString(msg.Text, -1) {
				if strings.Contains(l, part) {
					found = l
				}
			}
		}
		return found != ""
	}, 15*time.Second, 20*time.Millisecond, "no email to %s with a link containing %s", to, part)
	return found
}

// local is an emailed link's path and query, to open on the test's server
// (the emails carry the public URL, which the test cannot listen on).
func local(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	return u.RequestURI()
}

func path(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		return location
	}
	return u.Path
}
