package console

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
)

// TestEveryEmailedLinkIsAConsolePage sends every kind of email the service
// writes and follows each link in it: each must be a page of the console
// (canopy's public page paths are where both come from), never the dead
// end a raw 404 would be.
func TestEveryEmailedLinkIsAConsolePage(t *testing.T) {
	t.Parallel()
	s := newSite(t, siteOptions{signup: true})
	ctx := context.Background()
	asUmbrella := s.As(t, s.umbrella.ID)

	// welcome (the umbrella's master user), whose link the admin uses now,
	// and a user invitation
	emails := s.Emails(t)
	require.Len(t, emails, 1)
	welcome, err := url.Parse(emails[0].Content.Common().Link)
	require.NoError(t, err)
	_, err = s.Svc.SetPassword(ctx, service.SetPasswordInput{Token: welcome.Query().Get("token"), Password: testfactory.StrongPassword}, service.RequestInfo{})
	require.NoError(t, err)
	login, err := s.Svc.Login(ctx, service.LoginInput{Login: s.admin, Password: testfactory.StrongPassword}, service.RequestInfo{})
	require.NoError(t, err)
	_, err = s.Svc.CreateUser(ctx, asUmbrella, s.umbrella.ID, service.CreateUserInput{Email: "bo@umbrella.example", Name: "Bo"})
	require.NoError(t, err)
	// a reset, and a sign-up attempt with an address in use
	require.NoError(t, s.Svc.RequestPasswordReset(ctx, s.admin, service.RequestInfo{}))
	require.NoError(t, s.Svc.Signup(ctx, service.SignupInput{AccountName: "Again", Email: s.admin, Name: "Ada"}, service.RequestInfo{}))
	// invitations: to an account (then declined), to an address with no
	// account (a sign-up link), to one with an account (then cancelled),
	// one accepted, one left to expire
	other := s.Child(t, s.Root.ID)
	byID, err := s.Svc.CreateInvitation(ctx, asUmbrella, service.InvitationInput{AccountID: other.ID})
	require.NoError(t, err)
	_, err = s.Svc.CreateInvitation(ctx, asUmbrella, service.InvitationInput{Email: "nia@newcomer.example"})
	require.NoError(t, err)
	known, err := s.Svc.CreateInvitation(ctx, asUmbrella, service.InvitationInput{Email: "bo@umbrella.example"})
	require.NoError(t, err)
	emails = append(emails, s.Emails(t)...)
	_, err = s.Svc.DeclineInvitation(ctx, s.AsKey(t, s.Key(t, other.ID), ""), byID.ID)
	require.NoError(t, err)
	_, err = s.Svc.CancelInvitation(ctx, asUmbrella, known.ID)
	require.NoError(t, err)
	joining := s.Child(t, s.Root.ID)
	accepted, err := s.Svc.CreateInvitation(ctx, asUmbrella, service.InvitationInput{AccountID: joining.ID})
	require.NoError(t, err)
	_, err = s.Svc.AcceptInvitation(ctx, s.AsKey(t, s.Key(t, joining.ID), ""), accepted.ID)
	require.NoError(t, err)
	late := s.Child(t, s.Root.ID)
	_, err = s.Svc.CreateInvitation(ctx, asUmbrella, service.InvitationInput{AccountID: late.ID, ExpiresInDays: 1})
	require.NoError(t, err)
	// a person who has a login invited into another account (they sign in
	// and accept), and an address change (confirmed from the new address,
	// noticed at the old)
	_, err = s.Svc.CreateUser(ctx, s.As(t, other.ID), other.ID, service.CreateUserInput{Email: s.admin, Name: "Ada"})
	require.NoError(t, err)
	p, err := s.Svc.Authenticate(ctx, login.Token)
	require.NoError(t, err)
	self, err := s.Svc.NewCaller(ctx, p, s.umbrella.ID, service.RequestInfo{})
	require.NoError(t, err)
	_, err = s.Svc.UpdateUser(ctx, self, s.umbrella.ID, self.Actor.ID, service.UserPatch{Email: ptrTo("ada@new.example")})
	require.NoError(t, err)
	// a low balance: 2,100 credits, then 200 used crosses 2,000
	_, err = s.Svc.Grant(ctx, s.As(t, s.Root.ID), s.umbrella.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 2100})
	require.NoError(t, err)
	_, err = s.Svc.RecordUsage(ctx, asUmbrella, service.UsageInput{Type: canopy.CreditUpload, Quantity: 200, Reference: "r1"})
	require.NoError(t, err)

	// a webhook endpoint whose every delivery failed for six days
	hook := "https://hooks.example.com/down"
	_, err = s.Svc.CreateWebhookEndpoint(ctx, asUmbrella, service.WebhookEndpointInput{URL: &hook})
	require.NoError(t, err)
	failDeliveries := func() {
		_, err := s.Svc.FanOutEvents(ctx, 1000)
		require.NoError(t, err)
		sends, err := s.Svc.ClaimWebhookDeliveries(ctx, 1000)
		require.NoError(t, err)
		var results []service.WebhookResult
		for _, d := range sends {
			results = append(results, service.WebhookResult{Delivery: d.Delivery, Response: &canopy.WebhookResponse{Status: 503}})
		}
		require.NoError(t, s.Svc.RecordWebhookResults(ctx, results))
	}
	failDeliveries()

	emails = append(emails, s.Emails(t)...)
	s.Clock.Advance(2 * 24 * time.Hour)
	_, err = s.Svc.ExpireInvitations(ctx)
	require.NoError(t, err)
	emails = append(emails, s.Emails(t)...)
	s.Clock.Advance(4 * 24 * time.Hour)
	_, err = s.Svc.UpdateAccount(ctx, asUmbrella, s.umbrella.ID, service.AccountPatch{Name: ptrTo("Umbrella, renamed")})
	require.NoError(t, err)
	failDeliveries()
	emails = append(emails, s.Emails(t)...)

	seen := map[string]bool{}
	anonymous := s.visitor(t)
	for _, e := range emails {
		seen[e.Outbox.Template] = true
		links := []string{e.Content.Common().Link}
		if inv, ok := e.Content.(*canopy.InvitationEmail); ok {
			links = append(links, inv.DeclineLink)
		}
		for _, l := range links {
			if l == "" {
				continue
			}
			path, ok := strings.CutPrefix(l, "https://app.example")
			require.True(t, ok, "%s: %s is not on the public URL", e.Outbox.Template, l)
			u, err := url.Parse(path)
			require.NoError(t, err)
			require.True(t, s.h.isRoute(http.MethodGet, u.Path), "%s: %s is no console page", e.Outbox.Template, l)
			p := anonymous.get(path)
			require.NotEqual(t, http.StatusNotFound, p.Status, "%s: %s", e.Outbox.Template, l)
			require.Less(t, p.Status, 500, "%s: %s", e.Outbox.Template, l)
		}
	}
	templates, err := os.ReadDir("../mail/templates")
	require.NoError(t, err)
	for _, f := range templates {
		if name, ok := strings.CutSuffix(f.Name(), ".subject.tmpl"); ok {
			require.True(t, seen[name], "no email of template %s was followed: add it to this test", name)
		}
	}
}

// TestSetPasswordLinkSignsIn: the welcome email's link shows whose account
// it is for, refuses a weak password beside the field, and with a good one
// sets it and signs the person in; the used link then explains itself.
func TestSetPasswordLinkSignsIn(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	link := s.Links(t)[s.admin]
	require.NotEmpty(t, link)
	v := s.visitor(t)
	path := canopy.TokenLink(canopy.PurposeSetPassword, link)

	p := v.get(path)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "Ada Admin")
	require.Contains(t, p.Body, "Umbrella Health")
	require.Equal(t, "no-referrer", p.Header.Get("Referrer-Policy"), "a page whose URL holds a token never passes it on")

	weak := v.post(canopy.PageSetPassword, url.Values{"token": {link}, "password": {"short"}})
	require.Equal(t, http.StatusUnprocessableEntity, weak.Status)
	require.Contains(t, weak.Body, `id="f-password" name="password" value="" required autocomplete="new-password" aria-invalid="true" aria-describedby="f-password-note"`)
	require.Contains(t, weak.Body, `<span class="error">`)

	done := v.post(canopy.PageSetPassword, url.Values{"token": {link}, "password": {testfactory.StrongPassword}})
	require.Equal(t, http.StatusSeeOther, done.Status)
	home := v.follow(v.follow(done))
	require.Equal(t, http.StatusOK, home.Status)
	require.Contains(t, home.Body, "Your password is set")
	require.Contains(t, home.Body, "Signed in as Ada Admin")

	again := s.visitor(t).get(path)
	require.Equal(t, http.StatusBadRequest, again.Status)
	require.Contains(t, again.Body, "Ask for a new link")
}

// TestSignInAndOut: sign-in answers as the API's login does, sends the
// person back where they were going, and sign-out ends the session.
func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.SignIn(t, s.admin) // sets the password
	v := s.visitor(t)
	next := app(s.umbrella.ID, "contacts")
	signIn := v.get(next)
	require.Equal(t, http.StatusSeeOther, signIn.Status)

	wrong := v.post(signIn.location(), url.Values{"login": {s.admin}, "password": {"not the password"}, "next": {next}})
	require.Equal(t, http.StatusUnauthorized, wrong.Status)
	require.Contains(t, wrong.Body, "The login or the password is wrong.")
	require.NotContains(t, wrong.Body, "not the password", "a password is never sent back")
	unknown := v.post(canopy.PageSignIn, url.Values{"login": {"nobody@example.com"}, "password": {"not the password"}, "next": {next}})
	require.Equal(t, withoutRequestIDs(strings.ReplaceAll(wrong.Body, s.admin, "nobody@example.com")), withoutRequestIDs(unknown.Body),
		"an unknown login gets the same page as a wrong password")

	ok := v.post(canopy.PageSignIn, url.Values{"login": {s.admin}, "password": {testfactory.StrongPassword}, "next": {next}})
	require.Equal(t, http.StatusSeeOther, ok.Status)
	require.Equal(t, next, ok.location())
	cookie := sessionFrom(t, ok)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
	require.False(t, cookie.Secure, "the public URL is plain http")
	require.Equal(t, 12*60*60, cookie.MaxAge, "the cookie ends when the session does at the latest")
	require.Equal(t, http.StatusOK, v.get(next).Status)

	offsite := v.post(canopy.PageSignIn, url.Values{"login": {s.admin}, "password": {testfactory.StrongPassword}, "next": {"//evil.example/"}})
	require.Equal(t, canopy.PageConsole, offsite.location(), "sign-in never sends anyone to another site")
	cookie = sessionFrom(t, offsite)

	out := v.post(canopy.PageSignOut, nil)
	require.Equal(t, http.StatusSeeOther, out.Status)
	_, err := s.Svc.Authenticate(context.Background(), cookie.Value)
	require.Error(t, err, "signing out ends the session itself, not only the cookie")
	require.Equal(t, http.StatusSeeOther, v.get(next).Status)
}

func sessionFrom(t *testing.T, p *page) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", p.Header)
	return nil
}

// TestSessionCookieIsSecureUnderHTTPS: behind an https public URL the
// cookie is never sent over plain http.
func TestSessionCookieIsSecureUnderHTTPS(t *testing.T) {
	t.Parallel()
	s := newSite(t, siteOptions{publicURL: "https://console.example"})
	s.SignIn(t, s.admin)
	ok := s.visitor(t).post(canopy.PageSignIn, url.Values{"login": {s.admin}, "password": {testfactory.StrongPassword}})
	c := sessionFrom(t, ok)
	require.True(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
}
