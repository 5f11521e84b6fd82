package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// linkRoles returns the autoShareRole of each account's link to its parent,
// from the account cache, loading the misses in one statement — in tx when
// the caller holds one (see within).
func (s *Service) linkRoles(ctx context.Context, tx store.Tx, ids []string) (map[string]canopy.Role, error) {
	out := make(map[string]canopy.Role, len(ids))
	var missing []string
	for _, id := range ids {
		if a, ok := s.cache.account(id); ok && a.found {
			out[id] = a.linkRole
		} else if _, dup := out[id]; !dup {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	gen := s.fillGeneration(ctx, tx)
	var accs []*canopy.Account
	err := s.within(ctx, tx, func(tx store.Tx) error {
		var err error
		accs, err = tx.GetAccounts(ctx, missing)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load links: %w", err)
	}
	for _, a := range accs {
		c := cachedFrom(a)
		s.cache.putAccount(a.ID, c, gen)
		out[a.ID] = c.linkRole
	}
	for _, id := range missing {
		if _, ok := out[id]; !ok {
			out[id] = canopy.RoleNone // a vanished account shares nothing
		}
	}
	return out, nil
}

// below lists the ids on a form's owner path that lie below viewer: the
// accounts whose links decide an ancestor's role.
func below(f *canopy.Form, viewerID string) []string {
	// Cut the path at the viewer before splitting it: the owner itself
	// (most reads) then splits nothing.
	p := string(f.OwnerPath)
	i := strings.Index(p, viewerID)
	if i < 1 || p[i-1] != '/' || len(p) <= i+len(viewerID) || p[i+len(viewerID)] != '/' {
		return nil
	}
	return canopy.Path(p[i+len(viewerID):]).IDs()
}

// access decides what the account at viewer may do with f (rules 5-7,
// docs/rules.md), given its explicit share on f (nil for none) and reading the links
// from the cache (on a miss, in tx; see within).
func (s *Service) access(ctx context.Context, tx store.Tx, viewer canopy.Path, f *canopy.Form, explicit *canopy.Role) (canopy.Access, error) {
	v := strings.TrimSuffix(string(viewer), "/")
	roles, err := s.linkRoles(ctx, tx, below(f, v[strings.LastIndexByte(v, '/')+1:]))
	if err != nil {
		return canopy.Access{}, err
	}
	return canopy.ResolveAccess(viewer, f, explicit, func(a string) canopy.Role { return roles[a] }), nil
}

// formAccess is the role check: it loads a form with the viewer's explicit
// share in one query and decides the viewer's access to it. A form that
// does not exist is not found.
func (s *Service) formAccess(ctx context.Context, tx store.Tx, viewer canopy.Path, id string) (*canopy.Form, canopy.Access, error) {
	vids := viewer.IDs()
	ff, err := tx.GetFormFor(ctx, id, vids[len(vids)-1])
	if isNotFound(err) {
		return nil, canopy.Access{}, canopy.NotFound("form")
	}
	if err != nil {
		return nil, canopy.Access{}, err
	}
	a, err := s.access(ctx, tx, viewer, ff.Form, ff.Explicit)
	return ff.Form, a, err
}

// FormAccess answers what the acting account may do with a form and why:
// the check every form and record endpoint makes (they make it on the form
// they load), here on its own, as GetForm makes it (see formFromCache). A form
// the acting account cannot see at all is not found.
func (s *Service) FormAccess(ctx context.Context, c Caller, formID string) (canopy.Access, error) {
	_, a, err := s.formFromCache(ctx, c, formID)
	return a, err
}

// formFromCache loads a form the acting account sees, with its access (rules
// 2 and 5-7, docs/rules.md). Warm, it reads only memory: the credential's
// and the acting account's places and links from the account cache, the
// form and the acting account's explicit share on it from the form
// caches. Cold, it reads the form, the share and the acting account's path
// as the database has them now in one statement outside a transaction,
// and any links it lacks in one more. The caches follow this process's
// changes exactly (see authCache) and other replicas' when their
// announcement arrives, or within --auth-cache-ttl when it is lost, as
// keys and paths do. A form the acting account cannot see is not found.
func (s *Service) formFromCache(ctx context.Context, c Caller, formID string) (*cachedForm, canopy.Access, error) {
	// The acting account's link (its boundary) decides the credential's
	// reach below; a cold read takes its path from the statement.
	viewer, err := s.account(ctx, c.Acting.ID)
	if err != nil {
		return nil, canopy.Access{}, err
	}
	cf, ok := s.cache.form(formID)
	explicit, shareOK := s.cache.share(formID, c.Acting.ID)
	if !ok || !shareOK {
		seq := s.fillGeneration(ctx, nil)
		var ff *store.FormFor
		err := s.within(ctx, nil, func(tx store.Tx) error {
			var err error
			ff, err = tx.GetFormFor(ctx, formID, c.Acting.ID)
			return err
		})
		if isNotFound(err) {
			return nil, canopy.Access{}, canopy.NotFound("form")
		}
		if err != nil {
			return nil, canopy.Access{}, fmt.Errorf("load form %s: %w", formID, err)
		}
		if cf, err = newCachedForm(ff.Form); err != nil {
			return nil, canopy.Access{}, err
		}
		explicit = ""
		if ff.Explicit != nil {
			explicit = *ff.Explicit
		}
		s.cache.putForm(cf, seq)
		s.cache.putShare(formID, c.Acting.ID, explicit, seq)
		viewer.found, viewer.path = ff.ViewerPath != "", ff.ViewerPath
	}
	if !viewer.found || !viewer.path.Contains(c.Acting.ID) {
		return nil, canopy.Access{}, canopy.NotFound("account")
	}
	if c.AccountID != c.Acting.ID {
		if reach, err := s.cachedReach(ctx, c.AccountID, viewer.path, viewer); err != nil {
			return nil, canopy.Access{}, err
		} else if reach != canopy.ReachAct {
			return nil, canopy.Access{}, canopy.NotFound("account")
		}
	}
	var role *canopy.Role
	if explicit != "" {
		role = &explicit
	}
	a, err := s.access(ctx, nil, viewer.path, cf.head, role)
	if err != nil {
		return nil, canopy.Access{}, err
	}
	if !a.Sees() {
		return nil, canopy.Access{}, canopy.NotFound("form")
	}
	return cf, a, nil
}
