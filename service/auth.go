package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
		gen := s.fillGeneration(ctx, nil)
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
	gen := s.fillGeneration(ctx, nil)
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
