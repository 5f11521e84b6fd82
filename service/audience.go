package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// AudienceEntry is one account that can see a form, with its role and
// why: it owns the form (rule owner), it is an ancestor of the owner and
// the links between them decide (rule link, with the lowest link), or the
// owner shared the form with it (rule explicit).
type AudienceEntry struct {
	AccountID string               `json:"accountId"`
	Role      canopy.Role          `json:"role"`
	Rule      string               `json:"rule"`
	Link      *canopy.DecidingLink `json:"link,omitempty"`
	// key orders the listing and is its cursor's position.
	key string
}

// AudienceOf lists every account that can see a form (rules 5 and 6,
// docs/rules.md): the owner, each ancestor of the owner the link chain
// gives a role (unless an explicit share says otherwise), and each
// account the owner shared it with explicitly, up or down the tree —
// owner first, then the ancestors nearest first, then the explicit shares
// below by account id. Descendants that view an example's questions are
// not listed: that is every descendant. Only an account that may share the
// form may list its audience (the console's Sharing tab).
//
// Errors: not-found (the form is not visible); forbidden (the caller may
// not share it); invalid-cursor.
func (s *Service) AudienceOf(ctx context.Context, c Caller, formID string, pr PageRequest) (Page[*AudienceEntry], error) {
	kind := cursorKind(c, "audience", formID)
	after, err := s.decodeCursor(kind, pr.Cursor)
	if err != nil {
		return Page[*AudienceEntry]{}, err
	}
	var rows []*AudienceEntry
	err = s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		f, _, err := s.formFor(ctx, tx, acting.Path, formID, canopy.ShareOrDelete)
		if err != nil {
			return err
		}
		all, err := audience(ctx, tx, f)
		for _, e := range all {
			if e.key > after && len(rows) <= pr.limit() {
				rows = append(rows, e)
			}
		}
		return err
	})
	if err != nil {
		return Page[*AudienceEntry]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(e *AudienceEntry) string { return e.key }), nil
}

// audience computes a form's audience, in listing order, from the links
// on the owner's path and the form's explicit shares as tx reads them.
func audience(ctx context.Context, tx store.Tx, f *canopy.Form) ([]*AudienceEntry, error) {
	ids := f.OwnerPath.IDs()
	accs, err := tx.GetAccounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	roles := make(map[string]canopy.Role, len(accs))
	for _, a := range accs {
		roles[a.ID] = canopy.RoleNone
		if a.Link != nil {
			roles[a.ID] = a.Link.AutoShareRole
		}
	}
	shares, err := tx.ListShares(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	explicit := make(map[string]canopy.Role, len(shares))
	for _, sh := range shares {
		explicit[sh.AccountID] = sh.Role
	}
	out := []*AudienceEntry{{key: "0", AccountID: f.OwnerID, Role: canopy.RoleOwner, Rule: canopy.RuleOwner}}
	for i := len(ids) - 2; i >= 0; i-- {
		var ex *canopy.Role
		if r, ok := explicit[ids[i]]; ok {
			ex = &r
		}
		x := canopy.ResolveAccess(f.OwnerPath.Upto(ids[i]), f, ex, func(id string) canopy.Role { return roles[id] })
		if x.Role != canopy.RoleNone {
			out = append(out, &AudienceEntry{key: fmt.Sprintf("1%03d", len(ids)-1-i),
				AccountID: ids[i], Role: x.Role, Rule: x.Rule, Link: x.Link})
		}
	}
	for _, sh := range shares {
		if slices.Contains(ids, sh.AccountID) || sh.Role == canopy.RoleNone {
			continue
		}
		out = append(out, &AudienceEntry{key: "2" + sh.AccountID, AccountID: sh.AccountID, Role: sh.Role, Rule: canopy.RuleExplicit})
	}
	slices.SortFunc(out, func(a, b *AudienceEntry) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

// explainable loads an account whose access to f the caller may have
// explained: one it sees, or — when it may share f — any account of f's
// audience, ancestors of the owner included. Anything else is not found.
func (s *Service) explainable(ctx context.Context, tx store.Tx, c Caller, acting *canopy.Account, f *canopy.Form, id string) (*canopy.Account, error) {
	target, reach, err := reachableIn(ctx, tx, c, id, canopy.ReachNone)
	if err != nil || reach >= canopy.ReachSee {
		return target, err
	}
	_, own, err := s.formAccess(ctx, tx, acting.Path, f.ID)
	if err != nil {
		return nil, err
	}
	if own.Can(canopy.ShareOrDelete) {
		if f.OwnerPath.Contains(target.ID) {
			return target, nil
		}
		if _, err := tx.GetShare(ctx, f.ID, target.ID); err == nil {
			return target, nil
		} else if !isNotFound(err) {
			return nil, err
		}
	}
	return nil, canopy.NotFound("account")
}
