package console

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/httpapi"
	"github.com/canopyhq/canopy/internal/ratelimit"
	"github.com/canopyhq/canopy/service"
)

// TestCrossOriginWritesAreRefused: a form posted from another site is
// refused before any handler runs, whatever cookie the browser sends with
// it, and nothing is written; the same post from the page's own origin
// goes through.
func TestCrossOriginWritesAreRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	admin := w.as(t, w.admin)
	form := url.Values{"email": {"mallory@evil.example"}, "subAccount": {"true"}}
	contacts := func() int {
		page, err := w.Svc.ListContacts(context.Background(), w.As(t, w.umbrella.ID), service.PageRequest{})
		require.NoError(t, err)
		return len(page.Data)
	}
	before := contacts()
	for _, headers := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"}, // a sibling subdomain or another port is another origin
		{"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
	} {
		p := admin.post(app(w.umbrella.ID, "contacts"), form, headers...)
		require.Equal(t, http.StatusForbidden, p.Status, "%v", headers)
		require.Contains(t, p.Body, "sent from another website")
		require.Equal(t, before, contacts(), "nothing was written: %v", headers)
	}
	require.Equal(t, http.StatusForbidden, admin.post(canopy.PageSignOut, nil, "Sec-Fetch-Site", "cross-site").Status)
	require.Equal(t, http.StatusSeeOther, admin.post(app(w.umbrella.ID, "contacts"), form).Status)
	require.Equal(t, before+1, contacts())
}

// TestEveryPageCarriesTheSecurityHeaders: a strict CSP without inline
// script, no framing, no referrer, on pages and on errors alike.
func TestEveryPageCarriesTheSecurityHeaders(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	admin := w.as(t, w.admin)
	for _, p := range []*page{
		admin.get(app(w.umbrella.ID)), admin.get(app(w.umbrella.ID, "keys")), admin.get(app(w.other.ID)),
		w.visitor(t).get(canopy.PageSignIn), w.visitor(t).get(canopy.PageSetPassword + "?token=cnt_x"),
		admin.post(app(w.umbrella.ID, "contacts"), nil, "Sec-Fetch-Site", "cross-site"),
	} {
		csp := p.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self';")
		require.NotContains(t, csp, "unsafe-inline")
		require.Contains(t, csp, "frame-ancestors 'none'")
		require.Contains(t, csp, "default-src 'none'")
		require.Equal(t, "DENY", p.Header.Get("X-Frame-Options"))
		require.Equal(t, "no-referrer", p.Header.Get("Referrer-Policy"))
		require.Equal(t, "nosniff", p.Header.Get("X-Content-Type-Options"))
		require.NotRegexp(t, `<script>|<script [^>]*>[^<]`, p.Body, "no inline script")
		require.NotContains(t, p.Body, " style=", "no inline style attribute")
	}
	// The one inline <style>, the brand colour, carries the response's nonce.
	p := admin.get(app(w.umbrella.ID))
	nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(p.Header.Get("Content-Security-Policy"))
	require.NotNil(t, nonce)
	require.Contains(t, p.Body, `<style nonce="`+nonce[1]+`">:root{--brand:#FF6600;--brand-text:#000000}</style>`)
}

// TestPublicPagesShareTheAPIsLimit: one limiter serves the API's public
// endpoints and the console's public pages, so a client that spends its
// allowance on one is refused by the other.
func TestPublicPagesShareTheAPIsLimit(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	lim := ratelimit.New(ratelimit.Config{Limit: rate.Every(time.Minute), Burst: 3, Now: func() time.Time { return clock }})
	s := newSite(t, siteOptions{limiter: lim})
	api := httpapi.NewServer(s.Svc, httpapi.Options{Limiter: lim})
	v := s.visitor(t)
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, v.post(canopy.PageSignIn, url.Values{"login": {"x@example.com"}, "password": {"wrong password"}}).Status)
	}
	refused := v.post(canopy.PageSignIn, url.Values{"login": {"x@example.com"}, "password": {"wrong password"}})
	require.Equal(t, http.StatusTooManyRequests, refused.Status)
	require.Equal(t, "60", refused.Header.Get("Retry-After"))
	require.Contains(t, refused.Body, "Too many attempts from your address")
	require.Equal(t, http.StatusTooManyRequests, v.post(canopy.PageResetPassword, url.Values{"email": {"x@example.com"}}).Status)

	// The API, on the same limiter, refuses the same address too.
	req := httptest.NewRequest(http.MethodPost, "/v1/auth/password-reset", strings.NewReader(`{"email": "x@example.com"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	require.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())

	// Pages that cost nothing are not limited.
	require.Equal(t, http.StatusOK, v.get(canopy.PageSignIn).Status)
}

// TestServiceMessagesReachPeopleWithoutAPIWords reads every message the
// service and the domain can return and shows each as the console would:
// none may speak of methods, paths, headers or parameters to a person in
// a browser.
func TestServiceMessagesReachPeopleWithoutAPIWords(t *testing.T) {
	t.Parallel()
	apiWords := regexp.MustCompile(`/v1/|Authorization|Bearer|X-Customer-Id|X-[A-Z][a-z]+|Idempotency-Key|If-Match|\bheader|\bGET |\bPOST |\bPUT |\bPATCH |\bDELETE |query parameter|endpoint`)
	var messages []string
	for _, dir := range []string{"..", "../service"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			messages = append(messages, errorMessages(t, f)...)
		}
	}
	require.Greater(t, len(messages), 100, "the scan found the service's messages")
	flagged := 0
	for _, m := range messages {
		if apiWords.MatchString(m) {
			flagged++
		}
		for _, kind := range []canopy.Kind{canopy.KindBadRequest, canopy.KindConflict, canopy.KindForbidden, canopy.KindInvalid} {
			text := peopleText(&canopy.Error{Kind: kind, Code: "x", Message: m})
			require.NotRegexp(t, apiWords, text, "shown for %q", m)
			f := newForm(nil)
			f.fail(&canopy.Error{Kind: kind, Fields: []canopy.FieldError{{Field: "name", Message: m}}})
			require.NotRegexp(t, apiWords, strings.Join(f.errorsFor("name"), " "), "shown beside a field for %q", m)
		}
	}
	require.Positive(t, flagged, "some service messages do speak HTTP: the console must translate them")
}

// errorMessages returns the format strings of the calls that make
// application errors in a Go file.
func errorMessages(t *testing.T, file string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	require.NoError(t, err)
	makers := map[string]int{"Errorf": 2, "InvalidField": 2, "BadParam": 2, "ConflictField": 2, "Add": 2, "Check": 3}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			if id, isID := call.Fun.(*ast.Ident); isID {
				sel = &ast.SelectorExpr{Sel: id}
			} else {
				return true
			}
		}
		i, ok := makers[sel.Sel.Name]
		if !ok || len(call.Args) <= i {
			return true
		}
		if lit, ok := call.Args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				out = append(out, s)
			}
		}
		return true
	})
	return out
}
