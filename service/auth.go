package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

var errUnauthorized = canopy.Errorf(canopy.KindUnauthorized, canopy.CodeUnauthorized,
	"a valid API key or session token is required: send it as 'Authorization: Bearer <secret>'")

// Authenticate resolves a bearer secret — an API key, or a session token
// from POST /v1/auth/login — to its principal. Unknown and revoked
// secrets, and those of closed accounts, are refused alike.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if secret == "" || len(secret) > canopy.MaxSecretLen {
		return Principal{}, errUnauthorized
	}
	if strings.HasPrefix(secret, canopy.SessionPrefix) {
		return s.authenticateSession(ctx, secret)
	}
	hash := canopy.HashSecret(secret)
	k, ok := s.cache.key(hash)
	if !ok {
		gen := s.cache.generation()
		err := s.read(ctx, func(tx store.Tx) error {
			key, err := tx.GetAPIKeyByHash(ctx, hash)
			if errors.Is(err, store.ErrNotFound) {
				k = cachedKey{}
				return nil
			}
			if err != nil {
				return err
			}
			k = cachedKey{id: key.ID, accountID: key.AccountID, valid: key.RevokedAt == nil}
			return nil
		})
		if err != nil {
			return Principal{}, fmt.Errorf("look up api key: %w", err)
		}
		s.cache.putKey(hash, k, gen)
	}
	if !k.valid {
		return Principal{}, errUnauthorized
	}
	home, err := s.account(ctx, k.accountID)
	if err != nil {
		return Principal{}, err
	}
	if !home.found || home.status == canopy.StatusClosed {
		return Principal{}, errUnauthorized
	}
	return Principal{Actor: canopy.Actor{Type: "apiKey", ID: k.id}, AccountID: k.accountID}, nil
}

// Act resolves the account a request acts as: the principal's own account
// when customerID is empty, else customerID, which the principal's account
// must act as — itself, or a descendant reached through links made with
// consent (rule 2, docs/rules.md: created, or invited with delegated
// admin); the platform root acts as any account. Anything else answers
// not-found. A member acts only in its own account; admins act like the
// account's API keys. A session acts through one of its person's active
// memberships: the one in the account itself, else the admin membership
// of the nearest ancestor that acts as it.
func (s *Service) Act(ctx context.Context, p Principal, customerID string) (Acting, error) {
	if customerID == "" {
		customerID = p.AccountID
		if customerID == "" { // a session whose person is active nowhere
			return Acting{}, canopy.NotFound("account")
		}
	} else if !canopy.ValidID(canopy.PrefixAccount, customerID) {
		return Acting{}, canopy.BadParam("X-Customer-Id", canopy.CodeInvalidID, "must be an account id such as acc_01HN9XHZN6MGXM9JXG50K59Q85")
	}
	a, err := s.account(ctx, customerID)
	if err != nil {
		return Acting{}, err
	}
	if !a.found {
		return Acting{}, canopy.NotFound("account " + customerID)
	}
	if p.IsUser() {
		g, err := s.grantFor(ctx, p, customerID, a)
		if err != nil {
			return Acting{}, err
		}
		if g == nil {
			return Acting{}, canopy.NotFound("account " + customerID)
		}
		return Acting{ID: customerID, Path: a.path, via: g}, nil
	}
	if reach, err := s.cachedReach(ctx, p.AccountID, a.path, a); err != nil {
		return Acting{}, err
	} else if reach != canopy.ReachAct {
		return Acting{}, canopy.NotFound("account " + customerID)
	}
	return Acting{ID: customerID, Path: a.path}, nil
}

// NewCaller resolves the acting account for p (see Act) and returns the
// caller a request runs as: for a session, its principal becomes the
// membership it acts through.
func (s *Service) NewCaller(ctx context.Context, p Principal, customerID string, info RequestInfo) (Caller, error) {
	acting, err := s.Act(ctx, p, customerID)
	if err != nil {
		return Caller{}, err
	}
	return Caller{Principal: p.through(acting), Acting: acting, RequestID: info.RequestID, Channel: info.Channel, Username: info.Username}, nil
}

// grantFor picks the membership a session acts through in account id (at
// a): the person's membership there, else an admin membership of the
// nearest ancestor that acts as it (rule 2, docs/rules.md); nil when none
// does.
func (s *Service) grantFor(ctx context.Context, p Principal, id string, a cachedAccount) (*grant, error) {
	var best *grant
	for i := range p.grants {
		g := &p.grants[i]
		if g.accountID == id {
			return g, nil
		}
		if g.role != canopy.UserAdmin || !a.path.Contains(g.accountID) || (best != nil && g.path.Depth() <= best.path.Depth()) {
			continue
		}
		reach, err := s.cachedReach(ctx, g.accountID, a.path, a)
		if err != nil {
			return nil, err
		}
		if reach == canopy.ReachAct {
			best = g
		}
	}
	return best, nil
}

// account returns an account's path and status, from the cache when fresh.
// A miss reads one statement on its own: call it only while holding no
// transaction (see within).
func (s *Service) account(ctx context.Context, id string) (cachedAccount, error) {
	if a, ok := s.cache.account(id); ok {
		return a, nil
	}
	var a cachedAccount
	gen := s.cache.generation()
	err := s.within(ctx, nil, func(tx store.Tx) error {
		acc, err := tx.GetAccount(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		a = cachedFrom(acc)
		return nil
	})
	if err != nil {
		return cachedAccount{}, fmt.Errorf("load account %s: %w", id, err)
	}
	s.cache.putAccount(id, a, gen)
	return a, nil
}

type cachedKey struct {
	id, accountID string
	valid         bool
}

type cachedAccount struct {
	found  bool
	path   canopy.Path
	status canopy.Status
	// linkRole is the autoShareRole of the account's link to its parent
	// (none for the root): the form engine reads the links of a path here.
	linkRole canopy.Role
	// boundary: the link is invited without delegated admin, which the
	// acting-account check reads (rule 2).
	boundary bool
}

func cachedFrom(acc *canopy.Account) cachedAccount {
	c := cachedAccount{found: true, path: acc.Path, status: acc.Status, linkRole: canopy.RoleNone}
	if acc.Link != nil {
		c.linkRole = acc.Link.AutoShareRole
	}
	c.boundary = acc.Link.Boundary()
	return c
}

type entry[T any] struct {
	v       T
	gen     uint64
	expires time.Time
}

// authCache keeps key and account lookups so that authorising a request
// costs a hash and two map reads. Changes made by this process clear it at
// once (by bumping the generation); changes made by other processes on the
// same database reach it within the TTL.
type authCache struct {
	mu       sync.RWMutex
	gen      uint64
	ttl      time.Duration
	size     int
	clock    func() time.Time
	keys     map[string]entry[cachedKey]
	accounts map[string]entry[cachedAccount]
	// forms holds what a role check reads from the database, by form and
	// viewer. Changes to it (shares, examples, deletes, moves) clear the
	// cache like changes to keys and the tree do.
	forms map[string]entry[cachedForm]
}

// cachedForm is one (form, viewer) pair's part of a role check: the form's
// place and example flag, and the viewer's explicit share on it.
type cachedForm struct {
	ownerID   string
	ownerPath canopy.Path
	example   bool
	explicit  canopy.Role // "" for no explicit share
}

func newAuthCache(ttl time.Duration, size int, clock func() time.Time) *authCache {
	return &authCache{ttl: ttl, size: size, clock: clock,
		keys: map[string]entry[cachedKey]{}, accounts: map[string]entry[cachedAccount]{}, forms: map[string]entry[cachedForm]{}}
}

func lookup[T any](c *authCache, m map[string]entry[T], k string) (T, bool) {
	if c.ttl < 0 {
		var zero T
		return zero, false
	}
	c.mu.RLock()
	e, ok := m[k]
	gen := c.gen
	c.mu.RUnlock()
	if !ok || e.gen != gen || c.clock().After(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// put caches v unless the cache was invalidated since gen was read: a
// value loaded before a concurrent change committed must not outlive it.
func put[T any](c *authCache, m map[string]entry[T], k string, v T, gen uint64) {
	if c.ttl < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(m) >= c.size {
		// Drop an arbitrary tenth; map iteration order is random enough
		// for a cache whose entries all expire within seconds.
		n := c.size / 10
		for key := range m {
			delete(m, key)
			if n--; n <= 0 {
				break
			}
		}
	}
	m[k] = entry[T]{v: v, gen: c.gen, expires: c.clock().Add(c.ttl)}
}

func (c *authCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *authCache) key(hash string) (cachedKey, bool) { return lookup(c, c.keys, hash) }
func (c *authCache) putKey(hash string, k cachedKey, gen uint64) {
	put(c, c.keys, hash, k, gen)
}
func (c *authCache) account(id string) (cachedAccount, bool) {
	return lookup(c, c.accounts, id)
}

// accountsInto fills out[i] with the cached account ids[i], under one
// lock, and returns the ids it does not hold.
func (c *authCache) accountsInto(ids []string, out []cachedAccount) (missing []string) {
	if c.ttl < 0 {
		return ids
	}
	now := c.clock()
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, id := range ids {
		e, ok := c.accounts[id]
		if !ok || e.gen != c.gen || now.After(e.expires) {
			missing = append(missing, id)
			continue
		}
		out[i] = e.v
	}
	return missing
}

func (c *authCache) putAccount(id string, a cachedAccount, gen uint64) {
	put(c, c.accounts, id, a, gen)
}

func formKey(formID, viewerID string) string { return formID + "/" + viewerID }

func (c *authCache) form(formID, viewerID string) (cachedForm, bool) {
	return lookup(c, c.forms, formKey(formID, viewerID))
}
func (c *authCache) putForm(formID, viewerID string, f cachedForm, gen uint64) {
	put(c, c.forms, formKey(formID, viewerID), f, gen)
}

// invalidate forgets everything cached so far.
func (c *authCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.keys)
	clear(c.accounts)
	clear(c.forms)
	c.mu.Unlock()
}
