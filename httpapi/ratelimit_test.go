package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
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

func TestRateLimitClientAddress(t *testing.T) {
	t.Parallel()
	l := newIPLimiter(limiterConfig{limit: 1, burst: 1, trusted: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::ffff:172.16.0.0/108"),
	}})
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"the peer", "192.0.2.1:1234", nil, "192.0.2.1"},
		{"a peer without a port", "192.0.2.1", nil, "192.0.2.1"},
		{"IPv4-mapped IPv6 is IPv4", "[::ffff:192.0.2.1]:1", nil, "192.0.2.1"},
		{"IPv6 by /64", "[2001:db8:1:2:3:4:5:6]:1", nil, "2001:db8:1:2::"},
		{"IPv6 with a zone", "[fe80::1%eth0]:1", nil, "fe80::"},
		{"an untrusted peer's header is ignored", "192.0.2.1:1", []string{"203.0.113.1"}, "192.0.2.1"},
		{"a trusted peer's header", "10.0.0.1:1", []string{"203.0.113.1"}, "203.0.113.1"},
		{"the rightmost untrusted entry", "10.0.0.1:1", []string{"1.1.1.1, 203.0.113.1, 10.0.0.2"}, "203.0.113.1"},
		{"across header lines", "10.0.0.1:1", []string{"1.1.1.1, 203.0.113.1", "10.0.0.3"}, "203.0.113.1"},
		{"entries with ports", "10.0.0.1:1", []string{"[2001:db8:9::1]:443"}, "2001:db8:9::"},
		{"a trusted range written as mapped IPv6", "172.16.0.5:1", []string{"203.0.113.1"}, "203.0.113.1"},
		{"no header: the proxy itself", "10.0.0.1:1", nil, "10.0.0.1"},
		{"only trusted entries: the leftmost", "10.0.0.1:1", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"garbage stops at the last trusted hop", "10.0.0.1:1", []string{"203.0.113.1, junk, 10.0.0.8"}, "10.0.0.8"},
		{"a peer that is no address", "@", nil, "invalid IP"},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		require.Equal(t, c.want, l.client(r).String(), c.name)
	}
}

func TestRateLimitForgetsIdleClients(t *testing.T) {
	t.Parallel()
	clock := testfactory.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	// 20 tokens at 10 a minute: a bucket refills from empty in 2 minutes.
	l := newIPLimiter(limiterConfig{limit: perMinute(10), burst: 20, max: 1000, now: clock.Now})
	from := func(i int) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
		r.RemoteAddr = netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}).String() + ":1"
		return r
	}
	for i := range 500 {
		require.Zero(t, l.allow(from(i)))
	}
	require.Equal(t, 500, l.size())
	for range 20 {
		l.allow(from(0))
	}
	require.Positive(t, l.allow(from(0)), "client 0 is out of tokens")

	clock.Advance(2*time.Minute - time.Second)
	l.allow(from(1))
	require.Equal(t, 500, l.size(), "nobody is idle long enough yet")
	clock.Advance(time.Second)
	l.allow(from(2))
	require.Equal(t, 2, l.size(), "all but the two clients seen in the last two minutes are forgotten")
	clock.Advance(time.Second)
	for range 20 {
		require.Zero(t, l.allow(from(0)), "a forgotten client had its full burst back anyway")
	}
}

func TestRateLimitMemoryIsBounded(t *testing.T) {
	t.Parallel()
	clock := testfactory.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	l := newIPLimiter(limiterConfig{limit: perMinute(1), burst: 1, max: 100, now: clock.Now})
	r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
	r.RemoteAddr = "192.0.2.1:1"
	require.Zero(t, l.allow(r))
	// A scan from a whole /48 of IPv6 /64s, none idle yet.
	for i := range 10_000 {
		s := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
		s.RemoteAddr = fmt.Sprintf("[2001:db8:0:%x::1]:1", i)
		require.Zero(t, l.allow(s))
		if i%50 == 0 {
			require.Positive(t, l.allow(r), "a client that keeps trying is the last to be forgotten")
		}
	}
	require.Equal(t, 100, l.size())
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	for _, limit := range []rate.Limit{-1, rate.Inf} {
		require.Nil(t, newIPLimiter(limiterConfig{limit: limit, burst: 20}))
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

func TestRateLimitUnderConcurrentRequests(t *testing.T) {
	t.Parallel()
	clock := testfactory.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	l := newIPLimiter(limiterConfig{limit: perMinute(1), burst: 5, max: 3, now: clock.Now})
	var mu sync.Mutex
	allowed := map[string]int{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
				r.RemoteAddr = fmt.Sprintf("192.0.2.%d:%d", (g+i)%3, g)
				if l.allow(r) == 0 {
					mu.Lock()
					allowed[r.RemoteAddr[:len("192.0.2.0")]]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, map[string]int{"192.0.2.0": 5, "192.0.2.1": 5, "192.0.2.2": 5}, allowed)
}

// BenchmarkRateLimit measures the limiter's cost per request: one client
// over and over, and a scan of new addresses that keeps it at its cap.
func BenchmarkRateLimit(b *testing.B) {
	requests := make([]*http.Request, 1<<16)
	for i := range requests {
		requests[i] = httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
		requests[i].RemoteAddr = fmt.Sprintf("[2001:db8:%x:%x::1]:1", i>>8, i&0xff)
	}
	b.Run("one client", func(b *testing.B) {
		l := newIPLimiter(limiterConfig{limit: perMinute(10), burst: 20})
		for b.Loop() {
			l.allow(requests[0])
		}
	})
	b.Run("new clients at the cap", func(b *testing.B) {
		l := newIPLimiter(limiterConfig{limit: perMinute(10), burst: 20, max: 1 << 12})
		i := 0
		for b.Loop() {
			l.allow(requests[i&(len(requests)-1)])
			i++
		}
	})
}

// BenchmarkRateLimitMemory reports what the limiter holds per client
// address when it is full at its default cap.
func BenchmarkRateLimitMemory(b *testing.B) {
	r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
	var perClient float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := newIPLimiter(limiterConfig{limit: perMinute(10), burst: 20})
		for i := range defaultMaxClients {
			r.RemoteAddr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() + ":1"
			l.allow(r)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perClient = float64(after.HeapAlloc-before.HeapAlloc) / float64(l.size())
		runtime.KeepAlive(l)
	}
	b.ReportMetric(perClient, "bytes/client")
}
