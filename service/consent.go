package service

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// This file writes rule 2 (docs/rules.md) once for every endpoint: what
// the caller may do with an account — act as it, see it only, or nothing —
// follows from canopy.ReachOf over the links between them. Reads and
// writes read those links in their own transaction; only the acting-account
// check in front of every request (Act) reads them from the cache.

// links reads, in a transaction, the links that decide reach over target:
// those of the accounts on its path, target's own from target itself. It
// loads the others, in one read, the first time the rule asks for one —
// the platform root acts anywhere without asking. An account missing from
// the path (the tree changed) counts as a boundary and is reported.
type links struct {
	ctx     context.Context
	tx      store.AccountTx
	target  *canopy.Account
	byID    map[string]*canopy.Account
	err     error
	missing bool
}

func linksIn(ctx context.Context, tx store.AccountTx, target *canopy.Account) *links {
	return &links{ctx: ctx, tx: tx, target: target}
}

func (l *links) boundary(id string) bool {
	if id == l.target.ID {
		return l.target.Link.Boundary()
	}
	if l.byID == nil && l.err == nil {
		ids := l.target.Path.IDs()
		accs, err := l.tx.GetAccounts(l.ctx, ids[:len(ids)-1])
		if err != nil {
			l.err = fmt.Errorf("load links: %w", err)
		}
		l.byID = make(map[string]*canopy.Account, len(accs))
		for _, a := range accs {
			l.byID[a.ID] = a
		}
	}
	a := l.byID[id]
	if a == nil {
		l.missing = true
		return true
	}
	return a.Link.Boundary()
}

// reach is ReachOf from the account from over the account at path p (on
// target's path), or the error that kept the links from being read.
func (l *links) reach(from string, p canopy.Path) (canopy.Reach, error) {
	r := canopy.ReachOf(from, p, l.boundary)
	if l.err != nil || l.missing {
		return canopy.ReachNone, l.err
	}
	return r, nil
}

// reachFrom is from's reach over target, with the links read in tx.
func reachFrom(ctx context.Context, tx store.AccountTx, from string, target *canopy.Account) (canopy.Reach, error) {
	return linksIn(ctx, tx, target).reach(from, target.Path)
}

// reachIn is the caller's reach over target within a read: the credential
// must still act as the acting account — the acting account was resolved
// from a cache that may lag a change made by another replica, the links
// read here cannot — and the acting account's reach over target decides.
func reachIn(ctx context.Context, tx store.AccountTx, c Caller, target *canopy.Account) (canopy.Reach, error) {
	acting := target.Path.Upto(c.Acting.ID)
	if acting == "" {
		return canopy.ReachNone, nil
	}
	l := linksIn(ctx, tx, target)
	if r, err := l.reach(c.AccountID, acting); err != nil || r != canopy.ReachAct {
		return canopy.ReachNone, err
	}
	return l.reach(c.Acting.ID, target.Path)
}

// reachableIn loads an account over which the caller has at least the
// given reach, within a read; anything less answers not-found.
func reachableIn(ctx context.Context, tx store.AccountTx, c Caller, id string, least canopy.Reach) (*canopy.Account, canopy.Reach, error) {
	a, err := tx.GetAccount(ctx, id)
	if isNotFound(err) {
		return nil, canopy.ReachNone, canopy.NotFound("account")
	}
	if err != nil {
		return nil, canopy.ReachNone, err
	}
	r, err := reachIn(ctx, tx, c, a)
	if err != nil {
		return nil, canopy.ReachNone, err
	}
	if r < least {
		return nil, canopy.ReachNone, canopy.NotFound("account")
	}
	return a, r, nil
}

// seenIn loads an account the caller sees or acts on, within a read, with
// its reach: the few answers an umbrella gets about an invited
// sub-account it does not act as (rule 2).
func seenIn(ctx context.Context, tx store.AccountTx, c Caller, id string) (*canopy.Account, canopy.Reach, error) {
	return reachableIn(ctx, tx, c, id, canopy.ReachSee)
}

// reachable loads an account over which the acting account has at least
// the given reach, within the write (runWrite checked the credential);
// lock takes a shared row lock (see store.AccountTx).
func (o *op) reachable(id string, lock bool, least canopy.Reach) (*canopy.Account, canopy.Reach, error) {
	get := o.tx.GetAccount
	if lock {
		get = o.tx.GetAccountForShare
	}
	a, err := get(o.ctx, id)
	if isNotFound(err) {
		return nil, canopy.ReachNone, canopy.NotFound("account")
	}
	if err != nil {
		return nil, canopy.ReachNone, err
	}
	r, err := reachFrom(o.ctx, o.tx, o.acting.ID, a)
	if err != nil {
		return nil, canopy.ReachNone, err
	}
	if r < least {
		return nil, canopy.ReachNone, canopy.NotFound("account")
	}
	return a, r, nil
}

// seen loads an open account the acting account sees or acts on, for the
// writes an umbrella may make about an invited sub-account (caps, grants,
// transfers, the link's terms, its release).
func (o *op) seen(id string) (*canopy.Account, canopy.Reach, error) {
	a, r, err := o.reachable(id, false, canopy.ReachSee)
	if err != nil {
		return nil, r, err
	}
	if a.Status == canopy.StatusClosed {
		return nil, r, closedError(a.ID)
	}
	return a, r, nil
}

// cachedReach is from's reach over the account at path to, whose own
// entry is toLink, reading the links from the auth cache: the
// acting-account check every request makes before anything else. Warm, it
// takes the cache's lock once; the misses are loaded in one read.
func (s *Service) cachedReach(ctx context.Context, from string, to canopy.Path, toLink cachedAccount) (canopy.Reach, error) {
	between := to.Between(from)
	if len(between) == 0 {
		if to.Contains(from) {
			return canopy.ReachAct, nil
		}
		return canopy.ReachNone, nil
	}
	links := make([]cachedAccount, len(between))
	last := len(between) - 1
	links[last] = toLink
	if missing := s.cache.accountsInto(between[:last], links); len(missing) > 0 {
		loaded, err := s.cachedAccounts(ctx, missing)
		if err != nil {
			return canopy.ReachNone, err
		}
		for i, id := range between[:last] {
			if a, ok := loaded[id]; ok {
				links[i] = a
			}
		}
	}
	for _, a := range links {
		if !a.found {
			return canopy.ReachNone, nil // the tree changed under the cache
		}
	}
	return canopy.ReachOf(from, to, func(id string) bool {
		return links[slices.Index(between, id)].boundary
	}), nil
}

// cachedAccounts returns accounts from the auth cache, loading the misses
// in one read.
func (s *Service) cachedAccounts(ctx context.Context, ids []string) (map[string]cachedAccount, error) {
	out := make(map[string]cachedAccount, len(ids))
	var missing []string
	for _, id := range ids {
		if a, ok := s.cache.account(id); ok {
			out[id] = a
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	gen := s.fillGeneration(ctx, nil)
	// One statement: ReadOne spares the transaction's round trips.
	err := s.within(ctx, nil, func(tx store.Tx) error {
		accs, err := tx.GetAccounts(ctx, missing)
		if err != nil {
			return err
		}
		for _, a := range accs {
			out[a.ID] = cachedFrom(a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load links: %w", err)
	}
	for _, id := range missing {
		s.cache.putAccount(id, out[id], gen) // a vanished account is cached as not found
	}
	return out, nil
}

// cutsBelow returns the consent boundaries strictly below path that the
// acting account does not cross — the outermost ones: those below them lie
// in their subtrees — in path order. The acting account acts on path, so
// each is an invited sub-account it only sees. The platform root crosses
// every boundary.
func cutsBelow(ctx context.Context, tx store.ConsentTx, acting *canopy.Account, path canopy.Path) ([]canopy.Path, error) {
	if acting.IsRoot() {
		return nil, nil
	}
	bounds, err := tx.ListBoundaries(ctx, path)
	if err != nil {
		return nil, err
	}
	var cuts []canopy.Path
	for _, b := range bounds {
		if n := len(cuts); n == 0 || !strings.HasPrefix(string(b.Path), string(cuts[n-1])) {
			cuts = append(cuts, b.Path)
		}
	}
	return cuts, nil
}

// actingWithCuts loads the acting account within a read, with the
// boundaries below it (cutsBelow): the listings of its subtree leave them
// out.
func actingWithCuts(ctx context.Context, tx store.Tx, c Caller) (*canopy.Account, []canopy.Path, error) {
	acting, err := actingIn(ctx, tx, c)
	if err != nil {
		return nil, nil, err
	}
	cuts, err := cutsBelow(ctx, tx, acting, acting.Path)
	return acting, cuts, err
}

// strictlyBelow reports the cut that p lies strictly below, if any. cuts come
// sorted and disjoint, so only the last cut at or before p can hold it.
func strictlyBelow(cuts []canopy.Path, p canopy.Path) (canopy.Path, bool) {
	i := sort.Search(len(cuts), func(i int) bool { return cuts[i] > p }) - 1
	if i >= 0 && cuts[i] != p && strings.HasPrefix(string(p), string(cuts[i])) {
		return cuts[i], true
	}
	return "", false
}

// listSubtreeOutside lists up to limit accounts of path's subtree after
// the path after, as ListSubtree does (or SearchSubtree, when search is not
// empty), leaving out what lies strictly below a cut (the cut itself is
// listed). It skips each cut's subtree with one more range scan, so its
// cost follows the cuts it meets, not their size.
func listSubtreeOutside(ctx context.Context, tx store.AccountTx, path canopy.Path, depth int, search string, cuts []canopy.Path, after string, limit int) ([]*canopy.Account, error) {
	var out []*canopy.Account
	for {
		var batch []*canopy.Account
		var err error
		if search != "" {
			batch, err = tx.SearchSubtree(ctx, path, search, store.Page{After: after, Limit: limit})
		} else {
			batch, err = tx.ListSubtree(ctx, path, depth, store.Page{After: after, Limit: limit})
		}
		if err != nil {
			return nil, err
		}
		for _, a := range batch {
			after = string(a.Path)
			if _, in := strictlyBelow(cuts, a.Path); in {
				continue
			}
			if out = append(out, a); len(out) == limit {
				return out, nil
			}
		}
		if len(batch) < limit {
			return out, nil
		}
		if cut, in := strictlyBelow(cuts, canopy.Path(after)); in {
			after = string(cut.SubtreeEnd())
		}
	}
}
