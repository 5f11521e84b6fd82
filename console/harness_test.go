package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/ratelimit"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
)

// site is the console over a real store, served on a loopback port, with
// an umbrella (enterprise, so it may invite) below the platform root and
// that umbrella's signed-in admin.
type site struct {
	*testfactory.Bundle
	h        *Handler
	srv      *httptest.Server
	umbrella *canopy.Account
	admin    string // the umbrella's master user's email
}

type siteOptions struct {
	limiter *ratelimit.Limiter
	signup  bool
	engine  string
	// publicURL is the console's; plain http unless a test needs https
	// (whose Secure cookies a test client on http would not send back).
	publicURL string
}

func newSite(t testing.TB, opts ...siteOptions) *site {
	t.Helper()
	var o siteOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.engine == "" {
		o.engine = "sqlite"
	}
	b := testfactory.New(t, testdb.Open(t, o.engine), testfactory.Options{SignupDisabled: !o.signup})
	if o.publicURL == "" {
		o.publicURL = "http://127.0.0.1"
	}
	h, err := New(b.Svc, Options{Limiter: o.limiter, PublicURL: o.publicURL, Clock: b.Clock.Now})
	require.NoError(t, err)
	s := &site{Bundle: b, h: h, srv: httptest.NewServer(h), admin: "ada@umbrella.example"}
	t.Cleanup(s.srv.Close)
	res, err := b.Svc.CreateChild(context.Background(), b.As(t, b.Root.ID), service.CreateChildInput{
		Account:    service.AccountInput{Name: "Umbrella Health", Email: "ops@umbrella.example", Plan: canopy.PlanEnterprise},
		MasterUser: &service.MasterUserInput{Email: s.admin, Name: "Ada Admin"},
	})
	require.NoError(t, err)
	s.umbrella = res.Account
	return s
}

// visitor is one browser: its own cookies, no redirects followed.
type visitor struct {
	t      testing.TB
	s      *site
	client *http.Client
}

func (s *site) visitor(t testing.TB) *visitor {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &visitor{t: t, s: s, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// as is a visitor signed in as the user with email (who sets a password
// from their emailed link first if they have none).
func (s *site) as(t testing.TB, email string) *visitor {
	v := s.visitor(t)
	token := s.SignIn(t, email)
	u, _ := url.Parse(s.srv.URL)
	v.client.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: token, Path: "/"}})
	return v
}

// page is one answer.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (p *page) location() string { return p.Header.Get("Location") }

func (v *visitor) do(req *http.Request) *page {
	v.t.Helper()
	res, err := v.client.Do(req)
	require.NoError(v.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(v.t, err)
	return &page{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

func (v *visitor) get(path string) *page {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodGet, v.s.srv.URL+path, nil)
	require.NoError(v.t, err)
	return v.do(req)
}

// post submits a form as the page's own origin would; headers are extra
// request headers in pairs.
func (v *visitor) post(path string, form url.Values, headers ...string) *page {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.s.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(v.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return v.do(req)
}

// follow gets the page a redirect points to.
func (v *visitor) follow(p *page) *page {
	v.t.Helper()
	require.Equal(v.t, http.StatusSeeOther, p.Status, "expected a redirect, got:\n%s", p.Body)
	return v.get(p.location())
}

func app(accountID string, section ...string) string {
	return canopy.ConsolePage(accountID, section...)
}

// enterprise is the patch that puts an account on the enterprise plan
// (which may invite), as only an ancestor may.
var enterprise = func() service.AccountPatch {
	p := canopy.PlanEnterprise
	return service.AccountPatch{Plan: &p}
}()

// emailedLink delivers the due emails and returns the path and query of
// the newest link sent to the address (the emails carry the service's
// public URL, https://app.example).
func (s *site) emailedLink(t testing.TB, to string) string {
	t.Helper()
	link := ""
	for _, e := range s.Emails(t) {
		if c := e.Content.Common(); c.Email == to {
			link = strings.TrimPrefix(c.Link, "https://app.example")
		}
	}
	require.NotEmpty(t, link, "no email to %s", to)
	return link
}
