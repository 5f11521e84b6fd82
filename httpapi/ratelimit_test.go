package httpapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
)

// perMinute is n requests a minute as a rate.Limit.
func perMinute(n int) rate.Limit { return rate.Limit(n) / 60 }

// limitedAPI is a Server whose public endpoints allow burst requests per
// client at once, then one a minute; trusted are its trusted proxies.
func limitedAPI(t *testing.T, burst int, trusted ...string) *testAPI {
	t.Helper()
	o := Options{PublicRateLimit: perMinute(1), PublicBurst: burst}
	for _, p := range trusted {
		o.TrustedProxies = append(o.TrustedProxies, netip.MustParsePrefix(p))
	}
	return newTestAPIWith(t, testdb.SQLite(t), o)
}

// reset asks for a password reset link from the address from (with extra
// headers as key, value pairs) and returns the answer.
func (a *testAPI) reset(t *testing.T, from string, headers ...string) *response {
	t.Helper()
	rq := req{Method: http.MethodPost, Path: "/v1/auth/password-reset", From: from,
		Body: map[string]any{"email": "nobody@example.com"}, Headers: map[string]string{}}
	for i := 0; i+1 < len(headers); i += 2 {
		rq.Headers[headers[i]] = headers[i+1]
	}
	return a.do(t, rq)
}

// statuses sends n password resets from the address from and returns
// their statuses.
func (a *testAPI) resets(t *testing.T, n int, from string, headers ...string) []int {
	t.Helper()
	var got []int
	for range n {
		got = append(got, a.reset(t, from, headers...).Status)
	}
	return got
}

// repeat is n copies of status.
func repeat(status, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = status
	}
	return s
}

const accepted, limited = http.StatusAccepted, http.StatusTooManyRequests // of a password reset

func TestRateLimitAnswers429AfterTheBurst(t *testing.T) {
	t.Parallel()
	a := limitedAPI(t, 3)
	require.Equal(t, repeat(accepted, 3), a.resets(t, 3, ""))

	res := a.reset(t, "")
	require.Equal(t, limited, res.Status, "%s", res.Body)
	require.Equal(t, "60", res.Header.Get("Retry-After"), "one token a minute, none left")
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.NotEmpty(t, res.Header.Get("X-Request-Id"))
	var p Problem
	res.Decode(t, &p)
	require.Equal(t, canopy.CodeRateLimited, p.Code)
	require.Equal(t, ProblemTypeBase+"rate-limited", p.Type)
	require.Equal(t, limited, p.Status)
	require.Equal(t, "/v1/auth/password-reset", p.Instance)
	require.Equal(t, res.Header.Get("X-Request-Id"), p.RequestID)

	// The public endpoints share one bucket per client: another does not
	// start afresh.
	login := a.do(t, req{Method: http.MethodPost, Path: "/v1/auth/login", Body: map[string]any{"login": "x", "password": "y"}})
	require.Equal(t, limited, login.Status, "%s", login.Body)
	setPassword := a.do(t, req{Method: http.MethodPost, Path: "/v1/auth/set-password", Body: `{"token": "cnt_x", "password": "y"}`})
	require.Equal(t, limited, setPassword.Status, "%s", setPassword.Body)

	metrics := a.do(t, req{Method: http.MethodGet, Path: "/metrics"})
	for route, n := range map[string]int{"/v1/auth/password-reset": 1, "/v1/auth/login": 1, "/v1/auth/set-password": 1} {
		require.Contains(t, string(metrics.Body), fmt.Sprintf("canopy_http_rate_limited_total{route=%q} %d\n", route, n))
	}
}

func TestRateLimitRefillsOverTime(t *testing.T) {
	t.Parallel()
	a := limitedAPI(t, 2)
	require.Equal(t, []int{accepted, accepted, limited}, a.resets(t, 3, ""))

	a.Clock.Advance(45 * time.Second)
	res := a.reset(t, "")
	require.Equal(t, limited, res.Status)
	require.Equal(t, "15", res.Header.Get("Retry-After"), "a refusal takes nothing: the wait counts down")

	a.Clock.Advance(15 * time.Second)
	require.Equal(t, []int{accepted, limited}, a.resets(t, 2, ""), "a minute refills one token")

	a.Clock.Advance(10 * time.Minute)
	require.Equal(t, []int{accepted, accepted, limited}, a.resets(t, 3, ""), "a long pause refills the burst, no more")
}

func TestRateLimitClientsAreIndependent(t *testing.T) {
	t.Parallel()
	a := limitedAPI(t, 2)
	require.Equal(t, []int{accepted, accepted, limited}, a.resets(t, 3, "198.51.100.7:5000"))
	require.Equal(t, []int{accepted, accepted, limited}, a.resets(t, 3, "198.51.100.8:5000"), "another address")
	require.Equal(t, []int{limited}, a.resets(t, 1, "198.51.100.7:6000"), "another port of the same address")
}

func TestRateLimitGroupsIPv6ByPrefix64(t *testing.T) {
	t.Parallel()
	a := limitedAPI(t, 2)
	require.Equal(t, []int{accepted, accepted}, a.resets(t, 2, "[2001:db8:0:1::1]:443"))
	require.Equal(t, []int{limited}, a.resets(t, 1, "[2001:db8:0:1:ffff:ffff:ffff:ffff]:443"), "the same /64")
	require.Equal(t, []int{accepted}, a.resets(t, 1, "[2001:db8:0:2::1]:443"), "the next /64")
}

func TestRateLimitBelievesXForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	a := limitedAPI(t, 2, "10.0.0.0/8", "fd00::/8")
	const proxy, stranger = "10.1.2.3:40000", "198.51.100.9:40000"

	t.Run("an untrusted peer cannot choose its bucket", func(t *testing.T) {
		var got []int
		for i := range 4 {
			got = append(got, a.reset(t, stranger, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)).Status)
		}
		require.Equal(t, []int{accepted, accepted, limited, limited}, got)
	})
	t.Run("a trusted proxy names the client", func(t *testing.T) {
		require.Equal(t, []int{accepted, accepted, limited}, a.resets(t, 3, proxy, "X-Forwarded-For", "203.0.113.50"))
		require.Equal(t, []int{accepted}, a.resets(t, 1, proxy, "X-Forwarded-For", "203.0.113.51"))
		// The client writes what it likes to the left of what the proxy
		// appends; only the rightmost untrusted address counts.
		require.Equal(t, []int{limited}, a.resets(t, 1, proxy, "X-Forwarded-For", "192.0.2.99, 203.0.113.50"))
		// Through a chain of trusted proxies.
		require.Equal(t, []int{limited}, a.resets(t, 1, "[fd00::1]:80", "X-Forwarded-For", "203.0.113.50, 10.9.9.9"))
	})
	t.Run("the stranger is still limited behind its own spoofed header", func(t *testing.T) {
		require.Equal(t, []int{limited}, a.resets(t, 1, stranger, "X-Forwarded-For", "203.0.113.77"))
	})
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	for _, limit := range []rate.Limit{-1, rate.Inf} {
		a := newTestAPIWith(t, testdb.SQLite(t), Options{PublicRateLimit: limit})
		require.Equal(t, repeat(accepted, 50), a.resets(t, 50, ""), "limit %v", limit)
	}
	// The zero Options mean the defaults: on.
	a := newTestAPIWith(t, testdb.SQLite(t), Options{})
	require.Equal(t, append(repeat(accepted, DefaultPublicBurst), limited), a.resets(t, DefaultPublicBurst+1, ""))
	require.Equal(t, "6", a.reset(t, "").Header.Get("Retry-After"), "one token every 6 s")
}

func TestRateLimitSparesAuthenticatedRoutes(t *testing.T) {
	t.Parallel()
	a := limitedAPI(t, 1)
	require.Equal(t, []int{accepted, limited}, a.resets(t, 2, ""))
	for i := range 30 {
		require.Equal(t, http.StatusOK, a.root(t, http.MethodGet, "/v1/me", nil).Status)
		created := a.root(t, http.MethodPost, "/v1/accounts",
			map[string]any{"account": map[string]any{"name": fmt.Sprintf("Busy %d", i), "email": fmt.Sprintf("busy%d@example.com", i)}})
		require.Equal(t, http.StatusCreated, created.Status, "%s", created.Body)
	}
	// Logout needs a credential, so it is not among the limited routes.
	require.Equal(t, http.StatusBadRequest, a.root(t, http.MethodPost, "/v1/auth/logout", nil).Status)
	for _, r := range a.srv.Routes() {
		require.Equal(t, r.RateLimited, r.Public && r.Method == http.MethodPost, "%s %s", r.Method, r.Path)
	}
}
