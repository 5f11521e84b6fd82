package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// SetStatus suspends or reactivates a descendant the acting account acts
// on (rule 9, docs/rules.md). Suspension stops writes in the account's
// whole subtree; reads keep working. It records the suspending account,
// and only that account or one above it may lift it. Setting the status an
// account already has changes nothing.
//
// Errors: not-found; forbidden (an account cannot suspend or reactivate
// itself); suspended-from-above (403); account-closed.
func (s *Service) SetStatus(ctx context.Context, c Caller, id string, to canopy.Status) (*canopy.Account, error) {
	if to != canopy.StatusActive && to != canopy.StatusSuspended {
		return nil, fmt.Errorf("set status: unsupported status %q", to)
	}
	return write(ctx, s, c, func(o *op) (*canopy.Account, error) {
		a, err := o.visible(id, false)
		if err != nil {
			return nil, err
		}
		if a.ID == o.acting.ID {
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
				"an account cannot suspend or reactivate itself; act as one of its ancestors")
		}
		if a.Status == canopy.StatusClosed {
			return nil, closedError(a.ID)
		}
		if a.Status == to {
			return a, nil
		}
		if to == canopy.StatusActive {
			if err := o.mayLift(a); err != nil {
				return nil, err
			}
		}
		a.Status, a.UpdatedAt, a.SuspendedBy = to, o.now, ""
		action := "account.reactivated"
		if to == canopy.StatusSuspended {
			a.SuspendedBy, action = o.acting.ID, "account.suspended"
		}
		if err := o.tx.UpdateAccount(ctx, a); err != nil {
			return nil, err
		}
		o.audit(a.ID, action, "account", a.ID, nil)
		o.invalidateAuth = true
		return a, nil
	})
}

// mayLift refuses to lift a suspension made by an account below the acting
// account's reach: only the suspending account or one above it may. The
// answer does not name the suspending account, which the caller may not
// see.
func (o *op) mayLift(a *canopy.Account) error {
	if a.SuspendedBy == "" || a.SuspendedBy == o.acting.ID {
		return nil
	}
	by, err := o.tx.GetAccount(o.ctx, a.SuspendedBy)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if by.Path.Contains(o.acting.ID) {
		return nil
	}
	return canopy.Errorf(canopy.KindForbidden, canopy.CodeSuspendedAbove,
		"account %s was suspended by an account above yours; only that account, or one above it, may reactivate it", a.ID)
}

// Children modes for closing an account that has open children.
const (
	ChildrenRefuse   = ""
	ChildrenReparent = "reparent"
	ChildrenClose    = "close"
)

// CloseAccount closes an account the acting account acts on (rule 9,
// docs/rules.md). While it has open children the close is refused unless
// mode says what becomes of them: close closes the whole subtree, except
// the invited sub-accounts the caller only sees, which are released
// instead; reparent — which only a caller acting for the closing account's
// parent or above may choose — moves the created children to the closing
// account's parent and releases the invited ones, so nobody is handed
// accounts, costs or data it did not agree to.
//
// Errors: not-found; forbidden (the platform root, or reparenting by the
// closing account itself); has-children (409); external-reference-exists
// when a reparented child's reference collides.
func (s *Service) CloseAccount(ctx context.Context, c Caller, id, mode string) (*canopy.Account, error) {
	if mode != ChildrenRefuse && mode != ChildrenReparent && mode != ChildrenClose {
		return nil, canopy.BadParam("children", "invalid-enum", "must be reparent or close")
	}
	return writeTree(ctx, s, c, func(o *op) (*canopy.Account, error) {
		a, err := o.visible(id, false)
		if err != nil {
			return nil, err
		}
		if a.IsRoot() {
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden, "the platform root cannot be closed")
		}
		if a.Status == canopy.StatusClosed {
			return a, nil
		}
		open, err := o.tx.CountOpenChildren(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		details := map[string]any{}
		switch {
		case open > 0 && mode == ChildrenRefuse:
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeHasChildren,
				"account %s has %d open children; close it with ?children=close to close them too, or have its parent close it with ?children=reparent to take them",
				a.ID, open)
		case open > 0 && mode == ChildrenReparent:
			if a.ID == o.acting.ID {
				return nil, &canopy.Error{Kind: canopy.KindForbidden, Code: canopy.CodeForbidden,
					Message: "an account cannot hand its children to its parent: close them too (?children=close), or ask its parent to close it with ?children=reparent",
					Fields:  []canopy.FieldError{{Field: "children", Code: canopy.CodeForbidden, Message: "reparent is for the parent's side"}}}
			}
			moved, released, err := o.reparentChildren(a)
			if err != nil {
				return nil, err
			}
			details["reparented"], details["released"] = moved, released
		case open > 0 && mode == ChildrenClose:
			released, err := o.releaseBoundaries(a)
			if err != nil {
				return nil, err
			}
			n, err := o.tx.CloseSubtree(ctx, a.Path, o.now)
			if err != nil {
				return nil, err
			}
			details["closedDescendants"], details["released"] = n-1, released
		}
		if a.Status != canopy.StatusClosed {
			a.Status, a.UpdatedAt, a.ClosedAt = canopy.StatusClosed, o.now, &o.now
			if err := o.tx.UpdateAccount(ctx, a); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		o.audit(a.ID, "account.closed", "account", a.ID, details)
		o.invalidateAuth = true
		return a, nil
	})
}

// reparentChildren moves a's open created children under a's parent and
// releases its invited ones: an umbrella's sub-accounts agreed to it, not
// to its parent.
func (o *op) reparentChildren(a *canopy.Account) (moved, released int, err error) {
	parent, err := o.tx.GetAccount(o.ctx, a.ParentID)
	if err != nil {
		return 0, 0, fmt.Errorf("load parent: %w", err)
	}
	after := ""
	for {
		children, err := o.tx.ListChildren(o.ctx, a.ID, store.Page{After: after, Limit: 500})
		if err != nil {
			return 0, 0, err
		}
		if len(children) == 0 {
			return moved, released, nil
		}
		for _, ch := range children {
			after = ch.ID
			if ch.Status == canopy.StatusClosed {
				continue
			}
			if ch.Link.Origin == canopy.OriginInvited {
				if err := o.release(ch, "subAccount.released"); err != nil {
					return 0, 0, err
				}
				released++
				continue
			}
			link := ch.Link
			if parent.IsRoot() {
				link = canopy.DefaultLink(parent, canopy.OriginCreated, o.now)
			}
			if err := o.relink(ch, parent, link); err != nil {
				return 0, 0, err
			}
			moved++
		}
	}
}

// releaseBoundaries releases the invited sub-accounts below a that the
// acting account only sees, before a's subtree is closed: an umbrella
// never closes them (rule 2). The platform root acts anywhere and releases
// none.
func (o *op) releaseBoundaries(a *canopy.Account) (int, error) {
	if o.acting.IsRoot() {
		return 0, nil
	}
	bounds, err := o.tx.ListBoundaries(o.ctx, a.Path)
	if err != nil {
		return 0, err
	}
	released := 0
	var last canopy.Path
	for _, b := range bounds {
		// Boundaries below a released one leave with it.
		if last != "" && strings.HasPrefix(string(b.Path), string(last)) {
			continue
		}
		last = b.Path
		if b.Status == canopy.StatusClosed {
			continue
		}
		if err := o.release(b, "subAccount.released"); err != nil {
			return 0, err
		}
		released++
	}
	return released, nil
}

// relink moves account a (and its subtree) under parent with link. The
// caller runs in writeTree, so it holds the tree lock.
func (o *op) relink(a, parent *canopy.Account, link *canopy.Link) error {
	if err := o.tx.LockSubtree(o.ctx, a.Path); err != nil {
		return err
	}
	if _, err := o.tx.MovePaths(o.ctx, a.Path, parent.Path.Child(a.ID)); err != nil {
		return err
	}
	if err := o.tx.SetParent(o.ctx, a.ID, parent.ID, link, o.now); err != nil {
		return err
	}
	if err := o.tx.RescopeExternalReferences(o.ctx, a.ID, parent.ID); err != nil {
		if store.Conflict(err) == store.UniqueExternalRef {
			return canopy.Errorf(canopy.KindConflict, canopy.CodeExternalRefExists,
				"account %s carries an external reference that another child of %s already has", a.ID, parent.ID)
		}
		return err
	}
	o.invalidateAuth = true
	return nil
}

// release ends sub's invited link (rule 9, docs/rules.md), audited as
// action on both sides: it returns
// under the platform root, paying for itself and sharing nothing upward,
// and nothing the umbrella's side left behind keeps working — the API
// keys that the umbrella or an account above it (the platform root
// excepted: it acts anywhere, link or not) made in sub's subtree are
// revoked, and the umbrella's suspensions there are lifted. Shares that
// came from the link end with it; explicit shares stay. The caller holds
// the tree lock.
func (o *op) release(sub *canopy.Account, action string) error {
	root, err := o.tx.GetRootAccount(o.ctx)
	if err != nil {
		return err
	}
	umbrella, err := o.tx.GetAccount(o.ctx, sub.ParentID)
	if err != nil {
		return fmt.Errorf("load umbrella: %w", err)
	}
	if err := o.relink(sub, root, canopy.DefaultLink(root, canopy.OriginCreated, o.now)); err != nil {
		return err
	}
	path := root.Path.Child(sub.ID)
	revoked, err := o.tx.RevokeKeysMadeBy(o.ctx, path, umbrella.Path.IDs()[1:], o.now)
	if err != nil {
		return err
	}
	lifted, err := o.tx.ReactivateSuspendedBy(o.ctx, path, umbrella.ID, o.now)
	if err != nil {
		return err
	}
	// Memberships the umbrella's side made while it acted as the sub-account
	// (with delegated admin) go too: no planted admin outlives the link.
	people, err := o.tx.DeleteMembershipsMadeBy(o.ctx, path, umbrella.Path.IDs()[1:])
	if err != nil {
		return err
	}
	for _, p := range people {
		if err := o.dropOrphan(p); err != nil {
			return err
		}
	}
	o.audit(sub.ID, action, "account", sub.ID, map[string]any{
		"umbrellaId": umbrella.ID, "revokedKeys": revoked, "liftedSuspensions": lifted, "removedMemberships": len(people)})
	o.audit(umbrella.ID, action, "account", sub.ID, nil)
	return nil
}

// LeaveUmbrella ends an invited account's link to its umbrella: called by
// the sub-account it leaves — also while it is suspended — and called by
// the umbrella or an account above it, it releases the sub-account (see
// release). Accounts their parent created can only be moved or closed.
//
// Errors: not-found; created-link (409) for an account its parent
// created; forbidden for the platform root; account-suspended when a
// suspended umbrella releases.
func (s *Service) LeaveUmbrella(ctx context.Context, c Caller, id string) (*canopy.Account, error) {
	return runWrite(ctx, s, c, writeOpts{lockTree: true, whileSuspended: true}, func(o *op) (*canopy.Account, error) {
		a, _, err := o.seen(id)
		if err != nil {
			return nil, err
		}
		leaving := a.ID == o.acting.ID
		if !leaving {
			// Only the leaving account itself may act while suspended.
			if err := checkWritable(ctx, o.tx, o.acting); err != nil {
				return nil, err
			}
		}
		if a.IsRoot() {
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden, "the platform root has no umbrella")
		}
		if a.Link.Origin != canopy.OriginInvited {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeCreatedLink,
				"account %s was created by its parent, not invited: it can be moved (POST /v1/accounts/%s/move) or closed, not leave", a.ID, a.ID)
		}
		action := "subAccount.released"
		if leaving {
			action = "subAccount.left"
		}
		if err := o.release(a, action); err != nil {
			return nil, err
		}
		return o.tx.GetAccount(ctx, a.ID)
	})
}

// LinkPatch changes an account's link to its parent: its terms
// (autoShareRole, billing) from above, delegatedAdmin from the account
// itself.
type LinkPatch struct {
	AutoShareRole  *canopy.Role    `json:"autoShareRole"`
	Billing        *canopy.Billing `json:"billing"`
	DelegatedAdmin *bool           `json:"delegatedAdmin"`
}

// UpdateLink changes a link (rule 2, docs/rules.md). Its terms are changed
// from above — by the parent or an account above it, also one that only
// sees an invited sub-account — and links to the platform root are fixed
// (they share nothing and bill the account itself). An invited link's
// terms were agreed when the invitee accepted: the umbrella's side may
// ask for less (lower the sharing, take on the costs), not more.
// DelegatedAdmin is the sub-account's alone to grant or withdraw: acting as
// itself with its own credential (or the platform root's), on an invited
// link.
//
// Errors: not-found; validation-failed; forbidden (the wrong side, or
// asking more of an invited link); created-link (409, delegating a
// created link); conflict (a link to the root).
func (s *Service) UpdateLink(ctx context.Context, c Caller, id string, p LinkPatch) (*canopy.Account, error) {
	var v canopy.Validator
	if p.AutoShareRole != nil && !p.AutoShareRole.ShareableRole() {
		v.Add("autoShareRole", "invalid-enum", "must be editor, dataManager, viewer or none")
	}
	if p.Billing != nil && !p.Billing.Valid() {
		v.Add("billing", "invalid-enum", "must be parent or self")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.Account, error) {
		a, _, err := o.seen(id)
		if err != nil {
			return nil, err
		}
		if a.IsRoot() {
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden, "the platform root has no link")
		}
		link := *a.Link
		if p.DelegatedAdmin != nil {
			if a.ID != o.acting.ID || (c.AccountID != a.ID && c.AccountID != a.Path.IDs()[0]) {
				return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
					"only account %s itself grants or withdraws delegated admin on its link; act as it with its own credential", a.ID)
			}
			if link.Origin != canopy.OriginInvited {
				return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeCreatedLink,
					"account %s was created by its parent, which acts as it already; delegated admin is for invited links", a.ID)
			}
			link.DelegatedAdmin = *p.DelegatedAdmin
		}
		if p.AutoShareRole != nil || p.Billing != nil {
			if a.ID == o.acting.ID {
				return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
					"the terms of account %s's link are changed from above it; act as its parent or an account above", a.ID)
			}
			if a.Depth() == 1 {
				return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeConflict,
					"a link to the platform root shares nothing and bills the account itself; it cannot change")
			}
			if err := changeTerms(&link, a.ID, p); err != nil {
				return nil, err
			}
		}
		if link == *a.Link {
			return a, nil
		}
		a.Link, a.UpdatedAt = &link, o.now
		if err := o.tx.UpdateAccount(ctx, a); err != nil {
			return nil, err
		}
		o.audit(a.ID, "link.updated", "account", a.ID, map[string]any{
			"autoShareRole": link.AutoShareRole, "billing": link.Billing, "delegatedAdmin": link.DelegatedAdmin})
		o.invalidateAuth = true // cached link roles decide form access, boundaries decide reach
		return a, nil
	})
}

// changeTerms applies a patch's terms to link: an invited link's only in
// the sub-account's favour.
func changeTerms(link *canopy.Link, id string, p LinkPatch) error {
	if p.AutoShareRole != nil {
		if link.Origin == canopy.OriginInvited && p.AutoShareRole.Rank() > link.AutoShareRole.Rank() {
			return canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
				"account %s agreed to share %s when it accepted the invitation; raising it takes a new invitation", id, link.AutoShareRole)
		}
		link.AutoShareRole = *p.AutoShareRole
	}
	if p.Billing != nil {
		if link.Origin == canopy.OriginInvited && link.Billing == canopy.BillingParent && *p.Billing == canopy.BillingSelf {
			return canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
				"account %s joined on the terms that its umbrella pays for its usage; handing the costs back takes a new invitation (or the account leaving)", id)
		}
		link.Billing = *p.Billing
	}
	return nil
}
