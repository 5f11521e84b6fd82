package ratelimit_test

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

	"github.com/canopyhq/canopy/internal/ratelimit"
	"github.com/canopyhq/canopy/internal/testfactory"
)

// perMinute is n requests a minute as a rate.Limit.
func perMinute(n int) rate.Limit { return rate.Limit(n) / 60 }

func TestOffWithoutAFiniteRate(t *testing.T) {
	t.Parallel()
	for _, limit := range []rate.Limit{0, -1, rate.Inf} {
		l := ratelimit.New(ratelimit.Config{Limit: limit, Burst: 20})
		require.Nil(t, l)
		require.Zero(t, l.Allow(httptest.NewRequest(http.MethodPost, "/", nil)), "a nil limiter limits nothing")
	}
}

// TestWaitTakesNoToken: Wait tells how long a client must wait without
// spending its allowance, so a request that costs a token only when it
// fails can be refused before it is looked at.
func TestWaitTakesNoToken(t *testing.T) {
	t.Parallel()
	clock := testfactory.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	l := ratelimit.New(ratelimit.Config{Limit: perMinute(1), Burst: 2, Now: clock.Now})
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	for range 5 {
		require.Zero(t, l.Wait(r))
	}
	require.Zero(t, l.Allow(r))
	require.Zero(t, l.Wait(r))
	require.Zero(t, l.Allow(r))
	require.Equal(t, time.Minute, l.Wait(r))
	clock.Advance(30 * time.Second)
	require.Equal(t, 30*time.Second, l.Wait(r))
	require.Equal(t, 30*time.Second, l.Allow(r), "refused, and nothing taken")
	clock.Advance(30 * time.Second)
	require.Zero(t, l.Wait(r))
}

func TestRateLimitClientAddress(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(ratelimit.Config{Limit: 1, Burst: 1, Trusted: []netip.Prefix{
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
		require.Equal(t, c.want, l.Client(r).String(), c.name)
	}
}

func TestRateLimitForgetsIdleClients(t *testing.T) {
	t.Parallel()
	clock := testfactory.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	// 20 tokens at 10 a minute: a bucket refills from empty in 2 minutes.
	l := ratelimit.New(ratelimit.Config{Limit: perMinute(10), Burst: 20, Max: 1000, Now: clock.Now})
	from := func(i int) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
		r.RemoteAddr = netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}).String() + ":1"
		return r
	}
	for i := range 500 {
		require.Zero(t, l.Allow(from(i)))
	}
	require.Equal(t, 500, l.Size())
	for range 20 {
		l.Allow(from(0))
	}
	require.Positive(t, l.Allow(from(0)), "client 0 is out of tokens")

	clock.Advance(2*time.Minute - time.Second)
	l.Allow(from(1))
	require.Equal(t, 500, l.Size(), "nobody is idle long enough yet")
	clock.Advance(time.Second)
	l.Allow(from(2))
	require.Equal(t, 2, l.Size(), "all but the two clients seen in the last two minutes are forgotten")
	clock.Advance(time.Second)
	for range 20 {
		require.Zero(t, l.Allow(from(0)), "a forgotten client had its full burst back anyway")
	}
}

func TestRateLimitMemoryIsBounded(t *testing.T) {
	t.Parallel()
	clock := testfactory.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	l := ratelimit.New(ratelimit.Config{Limit: perMinute(1), Burst: 1, Max: 100, Now: clock.Now})
	r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
	r.RemoteAddr = "192.0.2.1:1"
	require.Zero(t, l.Allow(r))
	// A scan from a whole /48 of IPv6 /64s, none idle yet.
	for i := range 10_000 {
		s := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
		s.RemoteAddr = fmt.Sprintf("[2001:db8:0:%x::1]:1", i)
		require.Zero(t, l.Allow(s))
		if i%50 == 0 {
			require.Positive(t, l.Allow(r), "a client that keeps trying is the last to be forgotten")
		}
	}
	require.Equal(t, 100, l.Size())
}

func TestRateLimitUnderConcurrentRequests(t *testing.T) {
	t.Parallel()
	clock := testfactory.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	l := ratelimit.New(ratelimit.Config{Limit: perMinute(1), Burst: 5, Max: 3, Now: clock.Now})
	var mu sync.Mutex
	allowed := map[string]int{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
				r.RemoteAddr = fmt.Sprintf("192.0.2.%d:%d", (g+i)%3, g)
				if l.Allow(r) == 0 {
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
		l := ratelimit.New(ratelimit.Config{Limit: perMinute(10), Burst: 20})
		for b.Loop() {
			l.Allow(requests[0])
		}
	})
	b.Run("new clients at the cap", func(b *testing.B) {
		l := ratelimit.New(ratelimit.Config{Limit: perMinute(10), Burst: 20, Max: 1 << 12})
		i := 0
		for b.Loop() {
			l.Allow(requests[i&(len(requests)-1)])
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
		l := ratelimit.New(ratelimit.Config{Limit: perMinute(10), Burst: 20})
		for i := range ratelimit.DefaultMaxClients {
			r.RemoteAddr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() + ":1"
			l.Allow(r)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perClient = float64(after.HeapAlloc-before.HeapAlloc) / float64(l.Size())
		runtime.KeepAlive(l)
	}
	b.ReportMetric(perClient, "bytes/client")
}
