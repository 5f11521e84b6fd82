package service

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// MoveAccount moves an account, with its subtree, under a new parent,
// within the acting account's subtree: the acting account must act on both
// (rule 9, docs/rules.md). An invited sub-account is never moved — it is
// released, or leaves — except by the platform root, which keeps its link
// invited (with delegated admin withdrawn: that was granted to another
// umbrella). Moves hold the tree lock, so two moves never interleave: a
// move that would make a cycle, or put any account deeper than the limit,
// is refused also when moves race.
//
// Errors: not-found; validation-failed (parentId); invited-link (409);
// cycle (409); depth-limit-exceeded (409); account-closed (409);
// forbidden (the root).
func (s *Service) MoveAccount(ctx context.Context, c Caller, id, parentID string) (*canopy.Account, error) {
	if !canopy.ValidID(canopy.PrefixAccount, parentID) {
		return nil, canopy.InvalidField("parentId", canopy.CodeInvalidID, "must be an account id such as acc_01HN9XHZN6MGXM9JXG50K59Q85")
	}
	return writeTree(ctx, s, c, func(o *op) (*canopy.Account, error) {
		a, err := o.visible(id, false)
		if err != nil {
			return nil, err
		}
		parent, err := o.visible(parentID, false)
		if err != nil {
			return nil, canopy.NotFound("parent account")
		}
		if a.IsRoot() {
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden, "the platform root cannot be moved")
		}
		if a.Link.Origin == canopy.OriginInvited && !o.acting.IsRoot() {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeInvitedLink,
				"account %s joined its umbrella by invitation: it is released (DELETE /v1/accounts/%s/parent) or leaves, never moved", a.ID, a.ID)
		}
		if parent.Path.Contains(a.ID) {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeCycle,
				"account %s cannot move under %s, which is itself or one of its descendants", a.ID, parent.ID)
		}
		if a.Status == canopy.StatusClosed {
			return nil, closedError(a.ID)
		}
		if parent.Status == canopy.StatusClosed {
			return nil, closedError(parent.ID)
		}
		if a.ParentID == parent.ID {
			return a, nil
		}
		if err := o.tx.LockSubtree(ctx, a.Path); err != nil {
			return nil, err
		}
		deepest, err := o.tx.SubtreeMaxDepth(ctx, a.Path)
		if err != nil {
			return nil, err
		}
		if newDeepest := deepest - a.Depth() + parent.Depth() + 1; newDeepest > s.cfg.MaxDepth {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeDepthLimit,
				"moving %s under %s would put accounts at depth %d; the limit is %d", a.ID, parent.ID, newDeepest, s.cfg.MaxDepth)
		}
		from := a.ParentID
		link := canopy.DefaultLink(parent, canopy.OriginCreated, o.now)
		if a.Link.Origin == canopy.OriginInvited && !parent.IsRoot() {
			link = &canopy.Link{Origin: canopy.OriginInvited, AutoShareRole: a.Link.AutoShareRole, Billing: a.Link.Billing, CreatedAt: o.now}
		}
		if err := o.relink(a, parent, link); err != nil {
			return nil, err
		}
		moved, err := o.tx.GetAccount(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		o.audit(a.ID, "account.moved", "account", a.ID, map[string]string{"from": from, "to": parent.ID})
		return moved, nil
	})
}

// ListChildren lists an account's direct children, oldest first.
func (s *Service) ListChildren(ctx context.Context, c Caller, id string, pr PageRequest) (Page[*canopy.Account], error) {
	kind := cursorKind(c, "children", id)
	after, err := s.decodeIDCursor(kind, canopy.PrefixAccount, pr.Cursor)
	if err != nil {
		return Page[*canopy.Account]{}, err
	}
	var rows []*canopy.Account
	err = s.read(ctx, func(tx store.Tx) error {
		if _, err := visibleIn(ctx, tx, c, id); err != nil {
			return err
		}
		rows, err = tx.ListChildren(ctx, id, store.Page{After: after, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.Account]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(a *canopy.Account) string { return a.ID }), nil
}

// ListDescendants lists the accounts below an account, depth first (each
// account before its children), at most depth levels down (0: all). An
// invited sub-account the caller only sees is listed, what lies below it
// is not (rule 2, docs/rules.md).
func (s *Service) ListDescendants(ctx context.Context, c Caller, id string, depth int, pr PageRequest) (Page[*canopy.Account], error) {
	if depth < 0 || depth > s.cfg.MaxDepth {
		return Page[*canopy.Account]{}, canopy.BadParam("depth", "out-of-range", "must be between 1 and %d", s.cfg.MaxDepth)
	}
	return s.listBelow(ctx, c, id, depth, "", cursorKind(c, "descendants", id, strconv.Itoa(depth)), pr)
}

// listBelow lists id's descendants as ListDescendants does, those whose
// name or id contains search when it is not empty.
func (s *Service) listBelow(ctx context.Context, c Caller, id string, depth int, search, kind string, pr PageRequest) (Page[*canopy.Account], error) {
	below, err := s.decodeCursor(kind, pr.Cursor)
	if err != nil {
		return Page[*canopy.Account]{}, err
	}
	if below != "" && !validRelativePath(below) {
		return Page[*canopy.Account]{}, errBadCursor
	}
	var rows []*canopy.Account
	var root *canopy.Account
	err = s.read(ctx, func(tx store.Tx) error {
		root, err = visibleIn(ctx, tx, c, id)
		if err != nil {
			return err
		}
		after := ""
		if below != "" {
			// The cursor holds the position below the listed account, so it
			// never reveals ancestors above the caller.
			after = string(root.Path) + below[1:]
		}
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		cuts, err := cutsBelow(ctx, tx, acting, root.Path)
		if err != nil {
			return err
		}
		rows, err = listSubtreeOutside(ctx, tx, root.Path, depth, search, cuts, after, pr.limit()+1)
		return err
	})
	if err != nil {
		return Page[*canopy.Account]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(a *canopy.Account) string { return a.Path.Below(root.ID) }), nil
}

// validRelativePath checks a "/acc_…/acc_…/" position from a cursor.
func validRelativePath(p string) bool {
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] != '/' {
		return false
	}
	for _, id := range strings.Split(p[1:len(p)-1], "/") {
		if !canopy.ValidID(canopy.PrefixAccount, id) {
			return false
		}
	}
	return true
}

// ListAncestors lists an account's ancestors from its parent up to the
// acting account, never above it: the acting account sees only itself and
// its descendants.
func (s *Service) ListAncestors(ctx context.Context, c Caller, id string) (Page[*canopy.Account], error) {
	var out []*canopy.Account
	err := s.read(ctx, func(tx store.Tx) error {
		a, err := visibleIn(ctx, tx, c, id)
		if err != nil {
			return err
		}
		ids := a.Path.IDs()
		var chain []string
		for i := len(ids) - 2; i >= 0; i-- {
			chain = append(chain, ids[i])
			if ids[i] == c.Acting.ID {
				break
			}
		}
		if a.ID == c.Acting.ID {
			chain = nil
		}
		accs, err := tx.GetAccounts(ctx, chain)
		if err != nil {
			return err
		}
		byID := make(map[string]*canopy.Account, len(accs))
		for _, x := range accs {
			byID[x.ID] = x
		}
		for _, cid := range chain {
			if x, ok := byID[cid]; ok {
				out = append(out, x)
			}
		}
		return nil
	})
	if out == nil {
		out = []*canopy.Account{}
	}
	return Page[*canopy.Account]{Data: out}, err
}

// AccountFilter narrows GET /v1/accounts; at most one of its fields is set.
type AccountFilter struct {
	// ExternalReference is "TYPE:VALUE".
	ExternalReference string
	// Search is a text the account's name or id contains, in any case.
	Search string
}

// MaxSearchLength bounds AccountFilter.Search, in bytes.
const MaxSearchLength = 100

// FindAccounts lists the accounts below the acting account: those that
// carry an external reference (of the accounts it acts on: references are
// not part of what an umbrella sees of an invited sub-account), or,
// those whose name or id contains a text, or, without a filter, all of them
// as ListDescendants does.
func (s *Service) FindAccounts(ctx context.Context, c Caller, f AccountFilter, pr PageRequest) (Page[*canopy.Account], error) {
	if f.Search != "" {
		if f.ExternalReference != "" {
			return Page[*canopy.Account]{}, canopy.BadParam("search", "conflict", "search and externalReference cannot be used together")
		}
		if len(f.Search) > MaxSearchLength || !utf8.ValidString(f.Search) {
			return Page[*canopy.Account]{}, canopy.BadParam("search", "invalid-format", "must be valid UTF-8 of at most %d bytes", MaxSearchLength)
		}
		search := strings.ToLower(strings.TrimSpace(f.Search))
		if search != "" {
			return s.listBelow(ctx, c, c.Acting.ID, 0, search, cursorKind(c, "search", search), pr)
		}
	}
	if f.ExternalReference == "" {
		return s.ListDescendants(ctx, c, c.Acting.ID, 0, pr)
	}
	typ, value, ok := strings.Cut(f.ExternalReference, ":")
	if !ok || typ == "" || value == "" {
		return Page[*canopy.Account]{}, canopy.BadParam("externalReference", "invalid-format", "must be TYPE:VALUE, such as crm:C-1001")
	}
	kind := cursorKind(c, "by-reference", f.ExternalReference)
	after, err := s.decodeIDCursor(kind, canopy.PrefixAccount, pr.Cursor)
	if err != nil {
		return Page[*canopy.Account]{}, err
	}
	var rows []*canopy.Account
	err = s.read(ctx, func(tx store.Tx) error {
		acting, cuts, err := actingWithCuts(ctx, tx, c)
		if err != nil {
			return err
		}
		rows, err = tx.FindByExternalReference(ctx, store.ReferenceQuery{Path: acting.Path, Except: cuts, Type: typ, Value: value,
			Page: store.Page{After: after, Limit: pr.limit() + 1}})
		return err
	})
	if err != nil {
		return Page[*canopy.Account]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(a *canopy.Account) string { return a.ID }), nil
}

// ListExternalReferences lists an account's external references.
func (s *Service) ListExternalReferences(ctx context.Context, c Caller, id string) (Page[*canopy.ExternalReference], error) {
	var refs []*canopy.ExternalReference
	err := s.read(ctx, func(tx store.Tx) error {
		if _, err := visibleIn(ctx, tx, c, id); err != nil {
			return err
		}
		var err error
		refs, err = tx.ListExternalReferences(ctx, id)
		return err
	})
	return Page[*canopy.ExternalReference]{Data: refs}, err
}
