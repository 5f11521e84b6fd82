package service_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
)

// model is the reference for rules 5-7 (docs/rules.md), written as plainly as the
// rules read, with none of the engine's shortcuts: no paths, no cuts, no
// caches — parent pointers and a walk up the tree.
type model struct {
	root   string
	parent map[string]string      // account → its parent ("" for the root)
	link   map[string]canopy.Role // account → autoShareRole of its link to its parent
	forms  map[string]*modelForm
	shares map[[2]string]canopy.Role // (form, account) → explicit role
}

type modelForm struct {
	id, owner string
	example   bool
}

func newModel(root string) *model {
	return &model{root: root, parent: map[string]string{root: ""}, link: map[string]canopy.Role{},
		forms: map[string]*modelForm{}, shares: map[[2]string]canopy.Role{}}
}

// accounts lists every account of the model, in a stable order.
func (m *model) accounts() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for a := range m.parent {
			if !yield(a) {
				return
			}
		}
	})
}

// isAncestor reports whether a is a strict ancestor of d.
func (m *model) isAncestor(a, d string) bool {
	for p := m.parent[d]; p != ""; p = m.parent[p] {
		if p == a {
			return true
		}
	}
	return false
}

func (m *model) depth(a string) int {
	n := 0
	for p := m.parent[a]; p != ""; p = m.parent[p] {
		n++
	}
	return n
}

// path is the account's place in the tree as the listings order it.
func (m *model) path(a string) string {
	var ids []string
	for x := a; x != ""; x = m.parent[x] {
		ids = append(ids, x)
	}
	slices.Reverse(ids)
	return "/" + strings.Join(ids, "/") + "/"
}

// access answers rule 5 (and rule 7 for examples) for account a on form f.
func (m *model) access(a string, f *modelForm) canopy.Access {
	if a == f.owner {
		return canopy.Access{Role: canopy.RoleOwner, Rule: canopy.RuleOwner}
	}
	if r, ok := m.shares[[2]string{f.id, a}]; ok {
		return canopy.Access{Role: r, Rule: canopy.RuleExplicit}
	}
	if m.isAncestor(a, f.owner) {
		// The lowest autoShareRole on the links from the owner up to a;
		// among equals the one nearest the owner decides.
		role, decided := canopy.RoleOwner, canopy.DecidingLink{}
		for x := f.owner; x != a; x = m.parent[x] {
			if r := m.link[x]; r.Rank() < role.Rank() {
				role, decided = r, canopy.DecidingLink{AccountID: x, ParentID: m.parent[x], AutoShareRole: r}
			}
		}
		return canopy.Access{Role: role, Rule: canopy.RuleLink, Link: &decided}
	}
	if f.example && m.isAncestor(f.owner, a) {
		return canopy.Access{Role: canopy.RoleNone, Rule: canopy.RuleExample, ExampleView: true}
	}
	return canopy.Access{Role: canopy.RoleNone, Rule: canopy.RuleNone}
}

// listed is what GET /v1/forms shows account a: every form it has a role
// on, matching the filters, in (owner's path, id) order.
func (m *model) listed(a string, q service.FormQuery) []string {
	var out []*modelForm
	for _, f := range m.forms {
		x := m.access(a, f)
		switch {
		case !x.Role.Can(canopy.ViewQuestions):
		case q.Owner != "" && f.owner != q.Owner:
		case q.OwnerSubtree != "" && f.owner != q.OwnerSubtree && !m.isAncestor(q.OwnerSubtree, f.owner):
		case q.Role != "" && x.Role.Rank() < q.Role.Rank():
		case q.Example != nil && f.example != *q.Example:
		default:
			out = append(out, f)
		}
	}
	return m.ordered(out)
}

func (m *model) ordered(fs []*modelForm) []string {
	slices.SortFunc(fs, func(x, y *modelForm) int {
		return cmp.Or(cmp.Compare(m.path(x.owner), m.path(y.owner)), cmp.Compare(x.id, y.id))
	})
	out := []string{}
	for _, f := range fs {
		out = append(out, f.id)
	}
	return out
}

// dashboard is what GET /v1/dashboard shows account a.
func (m *model) dashboard(a string) (own, shared, examples []string) {
	var o, s, e []*modelForm
	for _, f := range m.forms {
		x := m.access(a, f)
		switch {
		case f.owner == a:
			o = append(o, f)
		case x.Role.Can(canopy.ViewQuestions):
			s = append(s, f)
		}
		if f.example && m.isAncestor(f.owner, a) && (x.Role != canopy.RoleNone || x.ExampleView) {
			e = append(e, f)
		}
	}
	return m.ordered(o), m.ordered(s), m.ordered(e)
}

// audience is what the owner of f lists as its audience: every account
// with a role on it — the owner, the ancestors nearest first, then the
// accounts with an explicit share below or beside the owner, by id.
func (m *model) audience(f *modelForm) []service.AudienceEntry {
	out := []service.AudienceEntry{{AccountID: f.owner, Role: canopy.RoleOwner, Rule: canopy.RuleOwner}}
	for a := m.parent[f.owner]; a != ""; a = m.parent[a] {
		if x := m.access(a, f); x.Role != canopy.RoleNone {
			out = append(out, service.AudienceEntry{AccountID: a, Role: x.Role, Rule: x.Rule, Link: x.Link})
		}
	}
	var others []string
	for k, r := range m.shares {
		if k[0] == f.id && r != canopy.RoleNone && !m.isAncestor(k[1], f.owner) {
			others = append(others, k[1])
		}
	}
	slices.Sort(others)
	for _, a := range others {
		out = append(out, service.AudienceEntry{AccountID: a, Role: m.shares[[2]string{f.id, a}], Rule: canopy.RuleExplicit})
	}
	return out
}

// propertyWorld is a random forest built through the service with its
// reference model.
type propertyWorld struct {
	b   *testfactory.Bundle
	m   *model
	rng *rand.Rand
}

var shareRoles = []canopy.Role{canopy.RoleEditor, canopy.RoleDataManager, canopy.RoleViewer, canopy.RoleNone}

// build makes two customer trees of n accounts in all, up to the depth
// limit, with random link policies, forms, examples and explicit shares.
func (w *propertyWorld) build(t *testing.T, n int) {
	ctx := context.Background()
	root := w.b.Root.ID
	var made []string
	add := func(parent string) {
		a := w.b.Child(t, parent)
		w.m.parent[a.ID], w.m.link[a.ID] = parent, a.Link.AutoShareRole
		made = append(made, a.ID)
	}
	add(root)
	add(root)
	for len(made) < n {
		// Half the time extend one of the newest accounts, to reach deep.
		pool := made
		if w.rng.IntN(2) == 0 {
			pool = made[max(0, len(made)-3):]
		}
		parent := pool[w.rng.IntN(len(pool))]
		if w.m.depth(parent) < 8 {
			add(parent)
		}
	}
	for _, a := range made {
		if w.m.parent[a] == root || w.rng.IntN(10) < 3 {
			continue // top-level links are fixed; others keep the default
		}
		role := shareRoles[w.rng.IntN(len(shareRoles))]
		acc, err := w.b.Svc.UpdateLink(ctx, w.b.As(t, w.m.parent[a]), a, service.LinkPatch{AutoShareRole: &role})
		require.NoError(t, err)
		require.Equal(t, role, acc.Link.AutoShareRole)
		w.m.link[a] = role
	}
	for _, a := range w.m.accounts() {
		for range w.rng.IntN(3) {
			f, err := w.b.Svc.CreateForm(ctx, w.b.As(t, a), service.FormInput{Name: "Form of " + a})
			require.NoError(t, err)
			mf := &modelForm{id: f.ID, owner: a}
			if w.rng.IntN(5) == 0 {
				_, err := w.b.Svc.SetExample(ctx, w.b.As(t, a), f.ID, true)
				require.NoError(t, err)
				mf.example = true
			}
			w.m.forms[f.ID] = mf
		}
	}
	for _, f := range w.sortedForms() {
		if w.rng.IntN(10) >= 4 {
			continue
		}
		for range 1 + w.rng.IntN(2) {
			w.share(t, f)
		}
	}
}

// share has f's owner share it with a random account.
func (w *propertyWorld) share(t *testing.T, f *modelForm) {
	target := w.m.accounts()[w.rng.IntN(len(w.m.parent))]
	role := shareRoles[w.rng.IntN(len(shareRoles))]
	_, err := w.b.Svc.PutShare(context.Background(), w.b.As(t, f.owner), f.id, target, role)
	switch {
	case target == f.owner:
		require.Equal(t, canopy.CodeConflict, canopy.ErrorCode(err))
	case w.m.isAncestor(target, f.owner) || w.m.isAncestor(f.owner, target):
		require.NoError(t, err)
		w.m.shares[[2]string{f.id, target}] = role
	default:
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "share with %s, off the owner's branch", target)
	}
}

// sortedForms lists the model's forms by id, so that a seed always makes
// the same world.
func (w *propertyWorld) sortedForms() []*modelForm {
	var forms []*modelForm
	for _, f := range w.m.forms {
		forms = append(forms, f)
	}
	slices.SortFunc(forms, func(a, b *modelForm) int { return strings.Compare(a.id, b.id) })
	return forms
}

// change makes n random changes that decide access once the caches are
// warm: shares made and withdrawn, examples tagged and untagged, links
// lowered and raised.
func (w *propertyWorld) change(t *testing.T, n int) {
	ctx := context.Background()
	forms := w.sortedForms()
	for range n {
		f := forms[w.rng.IntN(len(forms))]
		w.checkForm(t, f) // warm: the change must reach the caches
		switch w.rng.IntN(4) {
		case 0:
			w.share(t, f)
		case 1:
			var shared []string
			for k := range w.m.shares {
				if k[0] == f.id {
					shared = append(shared, k[1])
				}
			}
			if len(shared) > 0 {
				slices.Sort(shared)
				require.NoError(t, w.b.Svc.DeleteShare(ctx, w.b.As(t, f.owner), f.id, shared[0]))
				delete(w.m.shares, [2]string{f.id, shared[0]})
			}
		case 2:
			_, err := w.b.Svc.SetExample(ctx, w.b.As(t, f.owner), f.id, !f.example)
			require.NoError(t, err)
			f.example = !f.example
		case 3:
			if parent := w.m.parent[f.owner]; parent != w.m.root {
				role := shareRoles[w.rng.IntN(len(shareRoles))]
				_, err := w.b.Svc.UpdateLink(ctx, w.b.As(t, parent), f.owner, service.LinkPatch{AutoShareRole: &role})
				require.NoError(t, err)
				w.m.link[f.owner] = role
			}
		}
		w.checkForm(t, f)
	}
}

// checkForm compares every account's role check on f, and its read of f,
// with the model. Called before and after each change, both go through
// the warm caches (the form, the shares, the links), which the change must
// reach at once.
func (w *propertyWorld) checkForm(t *testing.T, f *modelForm) {
	t.Helper()
	ctx := context.Background()
	for _, a := range w.m.accounts() {
		want := w.m.access(a, f)
		as := w.b.As(t, a)
		got, err := w.b.Svc.FormAccess(ctx, as, f.id)
		read, err2 := w.b.Svc.GetForm(ctx, as, f.id)
		if !want.Sees() {
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "role check of %s on %s: want %+v", a, f.id, want)
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err2), "read of %s by %s: want %+v", f.id, a, want)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, want, got, "role check of %s on %s", a, f.id)
		require.NoError(t, err2, "read of %s by %s", f.id, a)
		require.Equal(t, want.Role, read.Role, "read of %s by %s", f.id, a)
		require.Equal(t, f.example, read.Example, "read of %s by %s", f.id, a)
	}
}

// check compares the engine with the model for every (account, form) pair,
// every account's listing (whole, paged, and with a random filter), its
// dashboard, and the explanations an ancestor of each owner gets.
func (w *propertyWorld) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	accounts := w.m.accounts()
	for _, a := range accounts {
		as := w.b.As(t, a)
		for _, f := range w.m.forms {
			want := w.m.access(a, f)
			check, err := w.b.Svc.FormAccess(ctx, as, f.id)
			got, err2 := w.b.Svc.GetForm(ctx, as, f.id)
			if !want.Sees() {
				require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "role check of %s on %s: want %+v", a, f.id, want)
				require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err2), "%s on %s: want %+v", a, f.id, want)
				continue
			}
			require.NoError(t, err, "role check of %s on %s", a, f.id)
			require.Equal(t, want, check, "role check of %s on %s", a, f.id)
			err = err2
			require.NoError(t, err, "%s on %s", a, f.id)
			require.Equal(t, want.Role, got.Role, "%s on %s", a, f.id)
			require.Equal(t, want.ExampleView && want.Role == canopy.RoleNone, got.ExampleOnly, "%s on %s", a, f.id)
		}

		limit := 1 + w.rng.IntN(4)
		w.b.Svc.SetStreamChunk(1 + w.rng.IntN(4))
		all := w.m.listed(a, service.FormQuery{})
		require.Equal(t, all, w.listAll(t, as, service.FormQuery{}, limit), "listing of %s in pages of %d", a, limit)
		require.Equal(t, all, w.listAll(t, as, service.FormQuery{}, service.MaxFormPageLimit), "listing of %s in pages of 1,000", a)
		require.Equal(t, all, w.streamAll(t, as, service.FormQuery{}), "stream of %s", a)
		q := w.randomQuery(a)
		if q.OwnerSubtree != "" && q.OwnerSubtree != a && !w.m.isAncestor(a, q.OwnerSubtree) {
			_, err := w.b.Svc.ListForms(ctx, as, q, service.PageRequest{})
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "ownerSubtree outside %s's subtree", a)
			err = w.b.Svc.StreamForms(ctx, as, q, func(*service.WireForm) error { return nil })
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "stream: ownerSubtree outside %s's subtree", a)
		} else {
			require.Equal(t, w.m.listed(a, q), w.listAll(t, as, q, limit), "listing of %s with %+v in pages of %d", a, q, limit)
			require.Equal(t, w.m.listed(a, q), w.streamAll(t, as, q), "stream of %s with %+v", a, q)
		}

		own, shared, examples := w.m.dashboard(a)
		d, err := w.b.Svc.GetDashboard(ctx, as, "", service.PageRequest{Limit: service.MaxPageLimit})
		require.NoError(t, err)
		for name, pair := range map[string]struct {
			want []string
			got  *service.Section
		}{"own": {own, d.Own}, "sharedWithMe": {shared, d.SharedWithMe}, "examples": {examples, d.Examples}} {
			require.Equal(t, pair.want, formIDsOf(pair.got.Data), "%s of %s", name, a)
			require.Equal(t, len(pair.want), pair.got.Count, "count of %s of %s", name, a)
		}
	}

	// The owner's view of each form's audience, in pages; and the owner
	// asks why each of its ancestors has the access it has.
	for _, f := range w.sortedForms() {
		limit := 1 + w.rng.IntN(3)
		want, err := json.Marshal(w.m.audience(f))
		require.NoError(t, err)
		got, err := json.Marshal(w.audienceAll(t, f, limit))
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got), "audience of %s in pages of %d", f.id, limit)
		for a := w.m.parent[f.owner]; a != ""; a = w.m.parent[a] {
			ex, err := w.b.Svc.ExplainAccess(ctx, w.b.As(t, f.owner), f.id, a)
			require.NoError(t, err)
			require.Equal(t, w.m.access(a, f), ex.Access, "the owner of %s asks about its ancestor %s", f.id, a)
		}
	}

	// Explanations: each owner and each of its ancestors asks about every
	// account in its own subtree.
	for _, f := range w.m.forms {
		for _, asker := range accounts {
			if asker != f.owner && !w.m.isAncestor(asker, f.owner) {
				continue
			}
			for _, target := range accounts {
				if target != asker && !w.m.isAncestor(asker, target) {
					continue
				}
				ex, err := w.b.Svc.ExplainAccess(ctx, w.b.As(t, asker), f.id, target)
				if !w.m.access(asker, f).Sees() {
					require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "%s cannot see %s: no explanation", asker, f.id)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, w.m.access(target, f), ex.Access, "%s asks about %s on %s", asker, target, f.id)
			}
		}
	}
}

// audienceAll pages through f's audience as its owner lists it.
func (w *propertyWorld) audienceAll(t *testing.T, f *modelForm, limit int) []*service.AudienceEntry {
	t.Helper()
	var out []*service.AudienceEntry
	pr := service.PageRequest{Limit: limit}
	for range 1000 {
		page, err := w.b.Svc.AudienceOf(context.Background(), w.b.As(t, f.owner), f.id, pr)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Data), limit)
		out = append(out, page.Data...)
		if page.NextCursor == nil {
			return out
		}
		pr.Cursor = *page.NextCursor
	}
	t.Fatal("paging did not end")
	return nil
}

func (w *propertyWorld) listAll(t *testing.T, as service.Caller, q service.FormQuery, limit int) []string {
	t.Helper()
	out := []string{}
	pr := service.PageRequest{Limit: limit}
	for range 1000 {
		page, err := w.b.Svc.ListForms(context.Background(), as, q, pr)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Data), limit)
		out = append(out, formIDsOf(page.Data)...)
		if page.NextCursor == nil {
			return out
		}
		pr.Cursor = *page.NextCursor
	}
	t.Fatal("paging did not end")
	return nil
}

// streamAll takes the whole listing as a stream, checking each form's
// role against the model.
func (w *propertyWorld) streamAll(t *testing.T, as service.Caller, q service.FormQuery) []string {
	t.Helper()
	out := []string{}
	err := w.b.Svc.StreamForms(context.Background(), as, q, func(f *service.WireForm) error {
		v, err := f.Decode()
		if err != nil {
			return err
		}
		require.Equal(t, w.m.access(as.Acting.ID, w.m.forms[v.ID]).Role, v.Role, "streamed role of %s on %s", as.Acting.ID, v.ID)
		out = append(out, v.ID)
		return nil
	})
	require.NoError(t, err)
	return out
}

func (w *propertyWorld) randomQuery(a string) service.FormQuery {
	accounts := w.m.accounts()
	var q service.FormQuery
	switch w.rng.IntN(4) {
	case 0:
		q.Owner = accounts[w.rng.IntN(len(accounts))]
	case 1:
		q.OwnerSubtree = accounts[w.rng.IntN(len(accounts))]
	case 2:
		q.Role = []canopy.Role{canopy.RoleViewer, canopy.RoleDataManager, canopy.RoleEditor, canopy.RoleOwner}[w.rng.IntN(4)]
	default:
		ex := w.rng.IntN(2) == 0
		q.Example = &ex
	}
	return q
}

// move moves a random account (with its subtree) under another one the
// depth limit allows, outside its own subtree.
func (w *propertyWorld) move(t *testing.T) {
	t.Helper()
	accounts := w.m.accounts()
	height := func(a string) int { // levels below a
		h := 0
		for _, d := range accounts {
			if w.m.isAncestor(a, d) {
				h = max(h, w.m.depth(d)-w.m.depth(a))
			}
		}
		return h
	}
	for range 100 {
		a, to := accounts[w.rng.IntN(len(accounts))], accounts[w.rng.IntN(len(accounts))]
		if a == w.m.root || a == to || w.m.parent[a] == to || w.m.isAncestor(a, to) || w.m.depth(to)+1+height(a) > 8 {
			continue
		}
		moved, err := w.b.Svc.MoveAccount(context.Background(), w.b.As(t, w.m.root), a, to)
		require.NoError(t, err, "move %s under %s", a, to)
		w.m.parent[a], w.m.link[a] = to, moved.Link.AutoShareRole
		return
	}
	t.Fatal("no account to move")
}

// TestAccessMatchesTheReferenceModel is the property test of the engine:
// random forests, random link policies and explicit shares, and every
// (account, form) pair compared with the model — before and after moves.
func TestAccessMatchesTheReferenceModel(t *testing.T) {
	for _, engine := range testdb.Engines {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/seed%d", engine, seed), func(t *testing.T) {
				b := testfactory.New(t, testdb.Open(t, engine))
				w := &propertyWorld{b: b, m: newModel(b.Root.ID), rng: rand.New(rand.NewPCG(seed, 5))}
				w.build(t, 24)
				w.check(t)
				for range 2 {
					w.change(t, 10)
					w.check(t)
					w.move(t)
					w.check(t)
				}
			})
		}
	}
}
