package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// SetStatus suspends or reactivates a descendant of the acting account
// (DESIGN rule 9). Suspension stops writes in the account's whole subtree;
// reads keep working. Setting the status an account already has changes
// nothing.
//
// Errors: not-found; forbidden (an account cannot suspend or reactivate
// itself); account-closed.
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
		a.Status, a.UpdatedAt = to, o.now
		if err := o.tx.UpdateAccount(ctx, a); err != nil {
			return nil, err
		}
		action := "account.suspended"
		if to == canopy.StatusActive {
			action = "account.reactivated"
		}
		o.audit(a.ID, action, "account", a.ID, nil)
		o.invalidateAuth = true
		return a, nil
	})
}

// Children modes for closing an account that has open children.
const (
	ChildrenRefuse   = ""
	ChildrenReparent = "reparent"
	ChildrenClose    = "close"
)

// CloseAccount closes an account. While it has open children the close is
// refused unless mode says what becomes of them: reparent moves them to the
// closing account's parent, close closes the whole subtree.
//
// Errors: not-found; forbidden (the platform root); has-children (409);
// external-reference-exists when a reparented child's reference collides.
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
				"account %s has %d open children; close it with ?children=reparent to move them to its parent, or ?children=close to close them too",
				a.ID, open)
		case open > 0 && mode == ChildrenReparent:
			n, err := o.reparentChildren(a)
			if err != nil {
				return nil, err
			}
			details["reparented"] = n
		case open > 0 && mode == ChildrenClose:
			n, err := o.tx.CloseSubtree(ctx, a.Path, o.now)
			if err != nil {
				return nil, err
			}
			details["closedDescendants"] = n - 1
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

// reparentChildren moves a's open children under a's parent.
func (o *op) reparentChildren(a *canopy.Account) (int, error) {
	parent, err := o.tx.GetAccount(o.ctx, a.ParentID)
	if err != nil {
		return 0, fmt.Errorf("load parent: %w", err)
	}
	moved := 0
	after := ""
	for {
		children, err := o.tx.ListChildren(o.ctx, a.ID, store.Page{After: after, Limit: 500})
		if err != nil {
			return 0, err
		}
		if len(children) == 0 {
			return moved, nil
		}
		for _, ch := range children {
			after = ch.ID
			if ch.Status == canopy.StatusClosed {
				continue
			}
			link := ch.Link
			if parent.IsRoot() {
				link = canopy.DefaultLink(parent, ch.Link.Origin, o.now)
			}
			if err := o.relink(ch, parent, link); err != nil {
				return 0, err
			}
			moved++
		}
	}
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

// LeaveUmbrella ends an invited account's link to its umbrella: called by
// the sub-account it leaves, called by the umbrella (or an ancestor of it)
// it releases the sub-account. Either way the account returns under the
// platform root, paying for itself and sharing nothing upward; shares that
// came from the link end with it (explicit shares stay). Accounts their
// parent created can only be moved or closed.
//
// Errors: not-found; created-link (409) for an account its parent
// created; forbidden for the platform root.
func (s *Service) LeaveUmbrella(ctx context.Context, c Caller, id string) (*canopy.Account, error) {
	return writeTree(ctx, s, c, func(o *op) (*canopy.Account, error) {
		a, err := o.open(id)
		if err != nil {
			return nil, err
		}
		if a.IsRoot() {
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden, "the platform root has no umbrella")
		}
		if a.Link.Origin != canopy.OriginInvited {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeCreatedLink,
				"account %s was created by its parent, not invited: it can be moved (POST /v1/accounts/%s/move) or closed, not leave", a.ID, a.ID)
		}
		root, err := o.tx.GetRootAccount(ctx)
		if err != nil {
			return nil, err
		}
		umbrella := a.ParentID
		if err := o.relink(a, root, canopy.DefaultLink(root, canopy.OriginCreated, o.now)); err != nil {
			return nil, err
		}
		action := "subAccount.released"
		if a.ID == o.acting.ID {
			action = "subAccount.left"
		}
		o.audit(a.ID, action, "account", a.ID, map[string]string{"umbrellaId": umbrella})
		o.audit(umbrella, action, "account", a.ID, nil)
		return o.tx.GetAccount(ctx, a.ID)
	})
}

// LinkPatch changes the policy of an account's link to its parent.
type LinkPatch struct {
	AutoShareRole *canopy.Role    `json:"autoShareRole"`
	Billing       *canopy.Billing `json:"billing"`
}

// UpdateLink changes a link's policy; the parent does, acting as itself.
// Links to the platform root are fixed (they share nothing and bill the
// account itself). An invited link's terms were agreed when the invitee
// accepted: the umbrella may ask for less (lower the sharing, take on the
// costs), not more (raise the sharing, hand the costs to the invitee).
//
// Errors: not-found; validation-failed; forbidden (not the parent, or
// asking more of an invited link); conflict (a link to the root).
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
		a, err := o.open(id)
		if err != nil {
			return nil, err
		}
		if a.IsRoot() || a.ParentID != o.acting.ID {
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
				"only the parent of account %s changes its link; act as the parent", a.ID)
		}
		if o.acting.IsRoot() {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeConflict,
				"a link to the platform root shares nothing and bills the account itself; it cannot change")
		}
		link := *a.Link
		if p.AutoShareRole != nil {
			if link.Origin == canopy.OriginInvited && p.AutoShareRole.Rank() > link.AutoShareRole.Rank() {
				return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
					"account %s agreed to share %s when it accepted the invitation; raising it takes a new invitation", a.ID, link.AutoShareRole)
			}
			link.AutoShareRole = *p.AutoShareRole
		}
		if p.Billing != nil {
			if link.Origin == canopy.OriginInvited && link.Billing == canopy.BillingParent && *p.Billing == canopy.BillingSelf {
				return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
					"account %s joined on the terms that its umbrella pays for its usage; handing the costs back takes a new invitation (or the account leaving)", a.ID)
			}
			link.Billing = *p.Billing
		}
		if link == *a.Link {
			return a, nil
		}
		a.Link, a.UpdatedAt = &link, o.now
		if err := o.tx.UpdateAccount(ctx, a); err != nil {
			return nil, err
		}
		o.audit(a.ID, "link.updated", "account", a.ID, map[string]string{"autoShareRole": string(link.AutoShareRole), "billing": string(link.Billing)})
		o.invalidateAuth = true // cached link roles decide form access
		return a, nil
	})
}
