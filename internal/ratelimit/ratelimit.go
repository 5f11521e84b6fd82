// Package ratelimit keeps one token bucket per client address, for the
// endpoints anyone may call without a credential: sign-in, set-password,
// password reset, sign-up, the SMS webhook's refusals and the public web
// form. One Limiter serves every edge that takes such requests (the API
// and the pages), so a client has one allowance, not one per edge.
package ratelimit

import (
	"container/list"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The public endpoints (sign-in, set-password, password reset, …) take no
// credential, so only the client's address tells one caller from another.
// Each costs something a client should not be able to spend freely: an
// argon2id hash (~34 ms of CPU) or an email. The limit is one token bucket
// per client address, shared by all those endpoints: a bucket per endpoint
// would only multiply an abuser's allowance by their number.
const (
	// DefaultPerMinute is how many requests a minute one client
	// address may make to the public endpoints, sustained. A person needs a
	// handful (a reset, a new password, a sign-in with a typo or two); ten a
	// minute keeps one address below 1% of a core in password hashing and
	// at ten emails a minute at most, while an office behind one NAT address
	// can still sign in a few hundred people an hour.
	DefaultPerMinute = 10
	// DefaultBurst is how many requests one client address may make
	// at once before the sustained rate applies: room for a few people
	// behind one address arriving together, or one person's whole
	// reset-and-sign-in flow several times over.
	DefaultBurst = 20
	// DefaultLimit is DefaultPerMinute as a rate.Limit.
	DefaultLimit = rate.Limit(DefaultPerMinute) / 60

	// DefaultMaxClients bounds the addresses the limiter remembers (about
	// 250 bytes each, 24 MiB in all; BenchmarkRateLimitMemory): beyond it
	// the least recently seen is forgotten.
	DefaultMaxClients = 100_000
)

// Config configures a Limiter.
type Config struct {
	Limit   rate.Limit // sustained requests per second per client
	Burst   int
	Trusted []netip.Prefix // peers whose X-Forwarded-For is believed
	Max     int            // clients remembered at most; DefaultMaxClients when 0
	Now     func() time.Time
}

// Limiter is a token bucket per client address. Its memory is bounded two
// ways: a client unseen for as long as its bucket takes to refill from empty
// is forgotten (its bucket is full again, so forgetting it forgives
// nothing), and beyond max clients the least recently seen is forgotten
// (which does forgive it: the bound is for floods from more addresses than
// any per-address limit can stop).
type Limiter struct {
	limit   rate.Limit
	burst   int
	trusted []netip.Prefix
	max     int
	idle    time.Duration
	now     func() time.Time

	mu      sync.Mutex
	clients map[netip.Addr]*list.Element // of *bucket
	recent  *list.List                   // most recently seen first
}

// bucket is one client's token bucket.
type bucket struct {
	client netip.Addr
	lim    *rate.Limiter
	seen   time.Time
}

// New returns a limiter, or nil when c sets no finite positive rate: a
// nil limiter limits nothing.
func New(c Config) *Limiter {
	if c.Limit <= 0 || c.Limit == rate.Inf || c.Burst < 1 {
		return nil
	}
	if c.Max <= 0 {
		c.Max = DefaultMaxClients
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	trusted := make([]netip.Prefix, 0, len(c.Trusted))
	for _, p := range c.Trusted {
		if p.IsValid() {
			trusted = append(trusted, normalizePrefix(p))
		}
	}
	return &Limiter{
		limit: c.Limit, burst: c.Burst, trusted: trusted, max: c.Max, now: c.Now,
		idle:    tokensTime(float64(c.Burst), c.Limit),
		clients: map[netip.Addr]*list.Element{},
		recent:  list.New(),
	}
}

// Allow takes a token from the bucket of r's client. It returns 0 when the
// request may go ahead, or how long the client must wait for a token. A
// nil limiter allows everything.
func (l *Limiter) Allow(r *http.Request) time.Duration { return l.take(r, true) }

// Wait is how long r's client must wait for a token, taking none: 0 when
// it has one. It is for requests that cost a token only when they fail.
func (l *Limiter) Wait(r *http.Request) time.Duration { return l.take(r, false) }

func (l *Limiter) take(r *http.Request, take bool) time.Duration {
	if l == nil {
		return 0
	}
	client := l.Client(r)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	var b *bucket
	if e, ok := l.clients[client]; ok {
		b = e.Value.(*bucket)
		l.recent.MoveToFront(e)
	} else {
		if !take {
			return 0 // an unknown client has a full bucket
		}
		if len(l.clients) >= l.max {
			l.forget(l.recent.Back())
		}
		b = &bucket{client: client, lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[client] = l.recent.PushFront(b)
	}
	// A refused request counts as seen too, so a client that keeps trying
	// is the last to be forgotten when the limiter is full.
	b.seen = now
	if take && b.lim.AllowN(now, 1) || !take && b.lim.TokensAt(now) >= 1 {
		return 0
	}
	// A refusal takes nothing from the bucket; the client waits for the
	// rest of one token.
	return max(tokensTime(1-b.lim.TokensAt(now), l.limit), time.Millisecond)
}

// tokensTime is how long limit takes to refill n tokens, to the millisecond
// so that floating-point noise does not add a second to a Retry-After.
func tokensTime(n float64, limit rate.Limit) time.Duration {
	d := n / float64(limit) * float64(time.Second)
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d).Round(time.Millisecond)
}

// forgetIdle forgets the clients unseen for l.idle, oldest first.
func (l *Limiter) forgetIdle(now time.Time) {
	for e := l.recent.Back(); e != nil; e = l.recent.Back() {
		if now.Sub(e.Value.(*bucket).seen) < l.idle {
			return
		}
		l.forget(e)
	}
}

func (l *Limiter) forget(e *list.Element) {
	if e == nil {
		return
	}
	delete(l.clients, e.Value.(*bucket).client)
	l.recent.Remove(e)
}

// Size is how many clients the limiter remembers.
func (l *Limiter) Size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// Client is the address whose bucket r draws from: the connection's peer,
// or, when the peer is a trusted proxy, the rightmost address in
// X-Forwarded-For that is not itself a trusted proxy. Addresses to the left
// of that one were written by the client and prove nothing. IPv6 clients
// are grouped by /64, the block one host or home usually holds whole. A
// peer that is no IP address (a Unix socket) shares the zero address's
// bucket with every other such peer.
func (l *Limiter) Client(r *http.Request) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if peer.IsValid() && l.isTrusted(peer) {
		peer = l.forwardedFor(peer, r.Header.Values("X-Forwarded-For"))
	}
	if peer.Is6() {
		return netip.PrefixFrom(peer, 64).Masked().Addr()
	}
	return peer
}

// forwardedFor walks X-Forwarded-For from the right, starting at the
// trusted proxy peer, through the addresses trusted proxies appended, to
// the first one no trusted proxy has. An entry that is not an address
// stops the walk at the last trusted hop: only a trusted proxy could have
// put it there, and keying on it would let its author choose a bucket.
func (l *Limiter) forwardedFor(peer netip.Addr, headers []string) netip.Addr {
	hop := peer
	for i := len(headers) - 1; i >= 0; i-- {
		entries := strings.Split(headers[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a := parseAddr(strings.TrimSpace(entries[j]))
			if !a.IsValid() {
				return hop
			}
			if !l.isTrusted(a) {
				return a
			}
			hop = a
		}
	}
	return hop
}

func (l *Limiter) isTrusted(a netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr reads "ip", "ip:port", "[ipv6]" or "[ipv6]:port", without a
// zone and with IPv4-mapped IPv6 addresses as IPv4; anything else is the
// zero Addr.
func parseAddr(s string) netip.Addr {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}

// normalizePrefix masks p and writes an IPv4-mapped IPv6 range as IPv4, the
// form parseAddr gives addresses in.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}
