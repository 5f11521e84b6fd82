// Package testfactory builds service fixtures for tests and benchmarks: a
// service over a real store with its platform root, callers acting as any
// account, and small trees of accounts.
package testfactory

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/password"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
)

// Clock is a settable clock, so tests move time instead of sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Bundle is a service with its platform root.
type Bundle struct {
	Svc     *service.Service
	Store   store.Store
	Clock   *Clock
	Root    *canopy.Account
	RootKey string
	n       int
	mu      sync.Mutex
	ids     *canopy.IDs
	unused  map[string]string // email → link token seen by SignIn, not used yet
}

// Options tune New.
type Options struct {
	MaxDepth     int
	AuthCacheTTL time.Duration
	// PasswordParams are the argon2id costs of new password hashes; zero
	// means CheapPasswords.
	PasswordParams password.Params
	// LoginSlowAfter, LoginLockAfter and LoginLockFor tune the login
	// throttle (service.Config); zero keeps the service's defaults.
	LoginSlowAfter, LoginLockAfter int
	LoginLockFor                   time.Duration
	// OutboxMaxAttempts overrides how many delivery attempts an email gets.
	OutboxMaxAttempts int
	// SignupDisabled turns POST /v1/signup off (service.Config).
	SignupDisabled bool
	// PlanLimits are the plans' quotas; nil lifts every limit, so that
	// tests about something else never reach one.
	PlanLimits map[canopy.Plan]canopy.PlanLimits
	// Configure, when set, adjusts the service's configuration last (for
	// settings no other option names, such as the webhook ones).
	Configure func(*service.Config)
}

// NoLimits lifts every plan's quotas.
var NoLimits = map[canopy.Plan]canopy.PlanLimits{
	canopy.PlanBasic:      {EmailsPerDay: -1, Forms: -1, FormBytes: -1},
	canopy.PlanPro:        {EmailsPerDay: -1, Forms: -1, FormBytes: -1},
	canopy.PlanEnterprise: {EmailsPerDay: -1, Forms: -1, FormBytes: -1},
}

// CheapPasswords are argon2id costs fit only for tests: hashing with them
// takes microseconds instead of the default's tens of milliseconds.
var CheapPasswords = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// New returns a bootstrapped service over st.
func New(t testing.TB, st store.Store, opts ...Options) *Bundle {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.PasswordParams == (password.Params{}) {
		o.PasswordParams = CheapPasswords
	}
	if o.PlanLimits == nil {
		o.PlanLimits = NoLimits
	}
	clock := NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	ids := canopy.NewIDs(clock.Now, nil)
	cfg := service.Config{
		MaxDepth: o.MaxDepth, AuthCacheTTL: o.AuthCacheTTL, Clock: clock.Now, IDs: ids,
		PasswordParams: o.PasswordParams, PublicURL: "https://app.example",
		LoginSlowAfter: o.LoginSlowAfter, LoginLockAfter: o.LoginLockAfter, LoginLockFor: o.LoginLockFor,
		OutboxMaxAttempts: o.OutboxMaxAttempts, SignupDisabled: o.SignupDisabled, PlanLimits: o.PlanLimits,
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	svc := service.New(st, cfg)
	key, created, err := svc.Bootstrap(context.Background(), "Platform", "")
	if err != nil || !created {
		t.Fatalf("bootstrap: created=%v err=%v", created, err)
	}
	root, err := svc.Root(context.Background())
	if err != nil {
		t.Fatalf("root: %v", err)
	}
	return &Bundle{Svc: svc, Store: st, Clock: clock, Root: root, RootKey: key, ids: ids, unused: map[string]string{}}
}

// As returns a caller authenticated with the root key, acting as id.
func (b *Bundle) As(t testing.TB, id string) service.Caller {
	t.Helper()
	return b.AsKey(t, b.RootKey, id)
}

// AsKey returns a caller authenticated with key, acting as id ("" for the
// key's own account).
func (b *Bundle) AsKey(t testing.TB, key, id string) service.Caller {
	t.Helper()
	ctx := context.Background()
	p, err := b.Svc.Authenticate(ctx, key)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	c, err := b.Svc.NewCaller(ctx, p, id, service.RequestInfo{RequestID: b.ids.ULID()})
	if err != nil {
		t.Fatalf("act as %s: %v", id, err)
	}
	return c
}

// Child creates a child of parentID with a unique name and master user.
func (b *Bundle) Child(t testing.TB, parentID string) *canopy.Account {
	t.Helper()
	res, err := b.Svc.CreateChild(context.Background(), b.As(t, parentID), b.ChildInput())
	if err != nil {
		t.Fatalf("create child of %s: %v", parentID, err)
	}
	return res.Account
}

// Fund grants each account a million credits of every default type, as
// the platform root: enough that tests about something else never run out.
func (b *Bundle) Fund(t testing.TB, accountIDs ...string) {
	t.Helper()
	for _, id := range accountIDs {
		for _, ct := range canopy.DefaultCreditTypes {
			_, err := b.Svc.Grant(context.Background(), b.As(t, b.Root.ID), id, service.GrantInput{Type: ct, Amount: 1_000_000, Reason: "test funds"})
			if err != nil {
				t.Fatalf("fund %s: %v", id, err)
			}
		}
	}
}

// ChildInput returns a minimal valid create-child request with unique
// names.
func (b *Bundle) ChildInput() service.CreateChildInput {
	b.mu.Lock()
	b.n++
	n := b.n
	b.mu.Unlock()
	return service.CreateChildInput{Account: service.AccountInput{
		Name: fmt.Sprintf("Account %d", n), Email: fmt.Sprintf("owner%d@example.com", n),
	}}
}

// Key creates an API key for accountID and returns its secret.
func (b *Bundle) Key(t testing.TB, accountID string) string {
	t.Helper()
	k, err := b.Svc.CreateAPIKey(context.Background(), b.As(t, accountID), accountID, "test")
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k.Secret
}

// Tree builds a tree below the root: fanout children per account, depth
// levels deep, and returns the accounts level by level.
func (b *Bundle) Tree(t testing.TB, fanout, depth int) [][]*canopy.Account {
	t.Helper()
	levels := [][]*canopy.Account{{b.Root}}
	for d := 1; d <= depth; d++ {
		var level []*canopy.Account
		for _, parent := range levels[d-1] {
			for range fanout {
				level = append(level, b.Child(t, parent.ID))
			}
		}
		levels = append(levels, level)
	}
	return levels
}

func itoa(n int) string { return strconv.Itoa(n) }
