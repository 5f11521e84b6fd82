package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// MaxFormPageLimit is the largest page of GET /v1/forms: programs that
// sync take a thousand forms a request (or the whole list as a stream,
// StreamForms).
const MaxFormPageLimit = 1000

// StreamChunk is how many forms StreamForms reads in one transaction.
const StreamChunk = 1000

// FormQuery narrows GET /v1/forms.
type FormQuery struct {
	Owner        string      // only forms of this account
	OwnerSubtree string      // only forms of accounts in this subtree
	Role         canopy.Role // only forms where the acting account has at least this role
	Example      *bool
}

// exampleParam is the example filter as a cursor's kind names it: the
// value, not the pointer, so the next request's cursor matches.
func (q FormQuery) exampleParam() string {
	if q.Example == nil {
		return ""
	}
	return fmt.Sprint(*q.Example)
}

func (q FormQuery) validate() error {
	if q.Role != "" && (!q.Role.Valid() || q.Role == canopy.RoleNone) {
		return canopy.BadParam("role", "invalid-enum", "must be owner, editor, dataManager or viewer: the least role a listed form gives")
	}
	for name, id := range map[string]string{"owner": q.Owner, "ownerSubtree": q.OwnerSubtree} {
		if id != "" && !canopy.ValidID(canopy.PrefixAccount, id) {
			return canopy.BadParam(name, canopy.CodeInvalidID, "must be an account id")
		}
	}
	return nil
}

// ListForms lists every form the acting account can see — its own, those
// auto-shared from its subtree and those shared with it explicitly — in
// (owner's place in the tree, id) order, up to MaxFormPageLimit a page.
func (s *Service) ListForms(ctx context.Context, c Caller, q FormQuery, pr PageRequest) (Page[*FormView], error) {
	page, err := s.ListFormsWire(ctx, c, q, pr)
	if err != nil {
		return Page[*FormView]{}, err
	}
	out := Page[*FormView]{Data: make([]*FormView, len(page.Data)), NextCursor: page.NextCursor}
	for i, w := range page.Data {
		if out.Data[i], err = w.Decode(); err != nil {
			return Page[*FormView]{}, err
		}
	}
	return out, nil
}

// ListFormsWire is ListForms for the API: the forms keep their questions
// as stored, for the encoder to copy (decoding and encoding them again
// was most of a listing's cost).
func (s *Service) ListFormsWire(ctx context.Context, c Caller, q FormQuery, pr PageRequest) (Page[*WireForm], error) {
	if err := q.validate(); err != nil {
		return Page[*WireForm]{}, err
	}
	limit := DefaultPageLimit
	if pr.Limit > 0 {
		limit = min(pr.Limit, MaxFormPageLimit)
	}
	var out Page[*WireForm]
	err := s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		kind := cursorKind(c, "forms", q.Owner, q.OwnerSubtree, string(q.Role), q.exampleParam())
		after, err := s.formCursor(ctx, tx, kind, pr.Cursor)
		if err != nil {
			return err
		}
		l := lister{s: s, ctx: ctx, tx: tx, viewer: acting, query: q}
		rows, err := l.collect(after, limit+1, true, true)
		out = paginate(s, rows, limit, kind, func(w *WireForm) string { return w.View.ID })
		return err
	})
	return out, err
}

// StreamForms passes every form ListForms would list, in its order, to
// yield, holding at most StreamChunk of them: each chunk is read in a
// transaction of its own and resumes after the last form of the one
// before, as a next page would. A chunk sees the database as it is when
// it is read — who the acting account is, its links and shares — so a
// change made during a stream holds from the next chunk on, and a stream
// never shows a form the database refuses the acting account at the
// moment its chunk is read (rule 5, docs/rules.md). An error of the first
// chunk comes before any form; yield's error ends the stream.
func (s *Service) StreamForms(ctx context.Context, c Caller, q FormQuery, yield func(*WireForm) error) error {
	if err := q.validate(); err != nil {
		return err
	}
	size := StreamChunk
	if s.streamChunk > 0 {
		size = s.streamChunk
	}
	var after store.FormCursor
	for {
		var chunk []*WireForm
		err := s.read(ctx, func(tx store.Tx) error {
			acting, err := actingIn(ctx, tx, c)
			if err != nil {
				return err
			}
			l := lister{s: s, ctx: ctx, tx: tx, viewer: acting, query: q}
			chunk, err = l.collect(after, size, true, true)
			return err
		})
		if err != nil {
			return err
		}
		for _, w := range chunk {
			if err := yield(w); err != nil {
				return err
			}
		}
		if len(chunk) < size {
			return nil
		}
		last := chunk[len(chunk)-1].View
		after = store.FormCursor{OwnerPath: last.OwnerPath, ID: last.ID}
	}
}

// formCursor decodes a listing cursor: the last form's id, whose place in
// the tree the listing resumes after.
func (s *Service) formCursor(ctx context.Context, tx store.Tx, kind, cursor string) (store.FormCursor, error) {
	id, err := s.decodeIDCursor(kind, canopy.PrefixForm, cursor)
	if err != nil || id == "" {
		return store.FormCursor{}, err
	}
	f, err := tx.GetForm(ctx, id)
	if isNotFound(err) {
		return store.FormCursor{}, canopy.BadParam("cursor", canopy.CodeInvalidCursor, "the form this page ended at was deleted; start again without a cursor")
	}
	if err != nil {
		return store.FormCursor{}, err
	}
	return store.FormCursor{OwnerPath: f.OwnerPath, ID: f.ID}, nil
}

// lister merges the two sources of a form listing in (owner path, id)
// order: forms of the viewer's subtree as the tree shows them, and forms
// with an explicit share for the viewer. A form in both is the share's
// to decide (rule 5, docs/rules.md): both sources run on the same
// indexed order, so its two rows meet in the merge and the tree's is
// dropped — no per-row probe of the shares.
type lister struct {
	s      *Service
	ctx    context.Context
	tx     store.Tx
	viewer *canopy.Account
	query  FormQuery
	// excludeOwn leaves the viewer's own forms out (the dashboard's
	// sharedWithMe).
	excludeOwn bool
	// byOwner keeps the access the tree gives the viewer to each owner's
	// forms: one decision per owner, not per form.
	byOwner map[canopy.Path]canopy.Access
	// cuts are the viewer's share cuts (outermost), read once.
	cuts     []canopy.Path
	cutsRead bool
}

// page returns up to limit forms after the cursor, taking from the subtree
// (when subtree) and from explicit shares (when shared).
func (l *lister) page(after store.FormCursor, limit int, kind string, subtree, shared bool) (Page[*FormView], error) {
	rows, err := l.collect(after, limit+1, subtree, shared)
	if err != nil {
		return Page[*FormView]{}, err
	}
	views := make([]*FormView, len(rows))
	for i, w := range rows {
		if views[i], err = w.Decode(); err != nil {
			return Page[*FormView]{}, err
		}
	}
	return paginate(l.s, views, limit, kind, func(v *FormView) string { return v.ID }), nil
}

// formSource reads one ordered source of a listing in batches, each
// after the last row of the one before.
type formSource struct {
	fetch      func(after store.FormCursor, n int) ([]store.ListedForm, error)
	batch, max int
	buf        []store.ListedForm
	after      store.FormCursor
	done       bool
}

// peek returns the source's next row, nil when it has no more.
func (s *formSource) peek() (*store.ListedForm, error) {
	if len(s.buf) == 0 && !s.done {
		rows, err := s.fetch(s.after, s.batch)
		if err != nil {
			return nil, err
		}
		s.buf, s.done = rows, len(rows) < s.batch
		if len(rows) > 0 {
			last := rows[len(rows)-1].Form
			s.after = store.FormCursor{OwnerPath: last.OwnerPath, ID: last.ID}
		}
		s.batch = min(2*s.batch, s.max)
	}
	if len(s.buf) == 0 {
		return nil, nil
	}
	return &s.buf[0], nil
}

func (s *formSource) pop() { s.buf = s.buf[1:] }

// collect returns up to n forms after the cursor, from the subtree (when
// subtree) and the explicit shares (when shared).
func (l *lister) collect(after store.FormCursor, n int, subtree, shared bool) ([]*WireForm, error) {
	base, err := l.subtreeQuery()
	if err != nil {
		return nil, err
	}
	sub := &formSource{done: !subtree || base == nil, after: after, batch: n, max: max(n, StreamChunk)}
	if !sub.done {
		q := *base
		q.Viewer = "" // the merge drops the forms the shares decide
		sub.fetch = func(after store.FormCursor, n int) ([]store.ListedForm, error) {
			q.After, q.Limit = after, n
			rows, err := l.tx.ListSubtreeForms(l.ctx, q)
			if err != nil {
				return nil, err
			}
			return rows, l.decideOwners(rows)
		}
	}
	// Shares are usually few beside the tree's forms: the first batch is
	// small and grows while the merge keeps taking from it.
	sh := &formSource{done: !shared || l.query.Owner == l.viewer.ID, after: after, batch: min(n, 32), max: n}
	sh.fetch = func(after store.FormCursor, n int) ([]store.ListedForm, error) {
		return l.tx.ListSharedForms(l.ctx, l.viewer.ID, l.query.Example, after, n)
	}

	var out []*WireForm
	for len(out) < n {
		a, err := sub.peek()
		if err != nil {
			return nil, err
		}
		b, err := sh.peek()
		if err != nil {
			return nil, err
		}
		var r store.ListedForm
		switch {
		case a == nil && b == nil:
			return out, nil
		case b == nil || (a != nil && formBefore(a.Form, b.Form)):
			r = *a
			sub.pop()
		default:
			r = *b
			sh.pop()
			if a != nil && a.Form.ID == b.Form.ID {
				sub.pop() // the share decides
			}
		}
		v, err := l.view(r)
		if err != nil {
			return nil, err
		}
		if l.keep(v) {
			out = append(out, &WireForm{View: v, Questions: r.Questions})
		}
	}
	return out, nil
}

// decideOwners decides the access the tree gives the viewer to the forms
// of each new owner among rows, reading the links of all of them at once
// (one query for those the cache lacks, not one per owner).
func (l *lister) decideOwners(rows []store.ListedForm) error {
	var owners []*canopy.Form
	var ids []string
	seen := map[string]bool{} // owner paths and link ids
	for _, r := range rows {
		f := r.Form
		if _, ok := l.byOwner[f.OwnerPath]; ok || seen[string(f.OwnerPath)] || f.OwnerID == l.viewer.ID {
			continue
		}
		seen[string(f.OwnerPath)] = true
		owners = append(owners, f)
		for _, id := range below(f, l.viewer.ID) {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(owners) == 0 {
		return nil
	}
	roles, err := l.s.linkRoles(l.ctx, l.tx, ids)
	if err != nil {
		return err
	}
	if l.byOwner == nil {
		l.byOwner = map[canopy.Path]canopy.Access{}
	}
	for _, f := range owners {
		l.byOwner[f.OwnerPath] = canopy.ResolveAccess(l.viewer.Path, f, nil, func(a string) canopy.Role { return roles[a] })
	}
	return nil
}

// view decides the viewer's access to one listed form. The tree gives the
// same access to every form of one owner (the links between them
// decide), so it is decided once per owner.
func (l *lister) view(r store.ListedForm) (*FormView, error) {
	f := r.Form
	if r.Explicit != nil || f.OwnerID == l.viewer.ID {
		return view(f, canopy.ResolveAccess(l.viewer.Path, f, r.Explicit, nil)), nil
	}
	a, ok := l.byOwner[f.OwnerPath]
	if !ok {
		var err error
		if a, err = l.s.access(l.ctx, l.tx, l.viewer.Path, f, nil); err != nil {
			return nil, err
		}
		if l.byOwner == nil {
			l.byOwner = map[canopy.Path]canopy.Access{}
		}
		l.byOwner[f.OwnerPath] = a
	}
	return view(f, a), nil
}

// formBefore reports whether a comes strictly before b in listing order.
func formBefore(a, b *canopy.Form) bool {
	if a.OwnerPath != b.OwnerPath {
		return a.OwnerPath < b.OwnerPath
	}
	return a.ID < b.ID
}

// subtreeQuery is the viewer's subtree as the tree shows it, narrowed by
// the filters; nil when the filters exclude the subtree entirely.
func (l *lister) subtreeQuery() (*store.SubtreeForms, error) {
	q := &store.SubtreeForms{Path: l.viewer.Path, Viewer: l.viewer.ID, Example: l.query.Example}
	if l.query.Owner == l.viewer.ID {
		q.Path, q.OwnerID = l.viewer.Path, l.viewer.ID
	} else if l.query.Owner != "" {
		owner, err := l.tx.GetAccount(l.ctx, l.query.Owner)
		if isNotFound(err) || (err == nil && !owner.VisibleTo(l.viewer.ID)) {
			return nil, nil // shared forms of other owners can still match
		}
		if err != nil {
			return nil, err
		}
		q.Path, q.OwnerID = owner.Path, owner.ID
	}
	if l.query.OwnerSubtree != "" {
		root, err := l.tx.GetAccount(l.ctx, l.query.OwnerSubtree)
		if isNotFound(err) || (err == nil && !root.VisibleTo(l.viewer.ID)) {
			return nil, canopy.NotFound("account")
		}
		if err != nil {
			return nil, err
		}
		if q.OwnerID == "" || root.Path.Contains(q.OwnerID) {
			q.Path = root.Path
		} else {
			return nil, nil
		}
	}
	if l.viewer.IsRoot() {
		// Every link to the platform root shares nothing (rule 5, docs/rules.md):
		// of its subtree the root sees only its own forms. Saying so keeps
		// the listing from scanning every customer's forms to drop them.
		if q.OwnerID != "" && q.OwnerID != l.viewer.ID {
			return nil, nil
		}
		q.OwnerID = l.viewer.ID
	} else if q.OwnerID != l.viewer.ID {
		// Cuts lie strictly below the viewer: its own forms need none.
		if !l.cutsRead {
			cuts, err := l.tx.ShareCuts(l.ctx, l.viewer.Path)
			if err != nil {
				return nil, err
			}
			l.cuts, l.cutsRead = outermost(cuts), true
		}
		q.Cuts = l.cuts
	}
	if l.excludeOwn {
		q.ExcludeOwnerPath = l.viewer.Path
	}
	return q, nil
}

// outermost drops the cuts inside other cuts (paths come sorted, so a
// cut's own cuts follow it): they remove nothing more.
func outermost(cuts []canopy.Path) []canopy.Path {
	var out []canopy.Path
	for _, c := range cuts {
		if len(out) == 0 || !strings.HasPrefix(string(c), string(out[len(out)-1])) {
			out = append(out, c)
		}
	}
	return out
}

// keep applies the filters the queries cannot.
func (l *lister) keep(v *FormView) bool {
	if l.query.Owner != "" && v.OwnerID != l.query.Owner {
		return false
	}
	if l.query.OwnerSubtree != "" && !v.OwnerPath.Contains(l.query.OwnerSubtree) {
		return false
	}
	if l.query.Role != "" && v.Role.Rank() < l.query.Role.Rank() {
		return false
	}
	return v.Role.Can(canopy.ViewQuestions)
}

// views computes the viewer's access to each form in one pass: explicit
// shares in one query, links from the cache.
func (l *lister) views(forms []*canopy.Form) ([]*FormView, error) {
	ids := make([]string, len(forms))
	var linkIDs []string
	for i, f := range forms {
		ids[i] = f.ID
		linkIDs = append(linkIDs, below(f, l.viewer.ID)...)
	}
	explicit, err := l.tx.ViewerShares(l.ctx, l.viewer.ID, ids)
	if err != nil {
		return nil, err
	}
	roles, err := l.s.linkRoles(l.ctx, l.tx, linkIDs)
	if err != nil {
		return nil, err
	}
	out := make([]*FormView, len(forms))
	for i, f := range forms {
		var ex *canopy.Role
		if r, ok := explicit[f.ID]; ok {
			ex = &r
		}
		out[i] = view(f, canopy.ResolveAccess(l.viewer.Path, f, ex, func(a string) canopy.Role { return roles[a] }))
	}
	return out, nil
}
