package testfactory

import (
	"context"
	"slices"
	"testing"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Model is the tree as rules 2 and 8 (docs/rules.md) read it, written as
// plainly as they read for tests to check the service against: parent
// pointers and links, walks up the tree, no paths, no caches.
type Model struct {
	Root   string
	Parent map[string]string       // account → its parent ("" for the root)
	Link   map[string]*canopy.Link // account → its link to its parent (nil for the root)
	Status map[string]canopy.Status
	Plan   map[string]canopy.Plan
}

// NewModel returns a model holding only the platform root.
func NewModel(root string) *Model {
	return &Model{Root: root, Parent: map[string]string{root: ""}, Link: map[string]*canopy.Link{},
		Status: map[string]canopy.Status{root: canopy.StatusActive}, Plan: map[string]canopy.Plan{root: canopy.PlanEnterprise}}
}

// Snapshot reads every account of st into a model.
func Snapshot(t testing.TB, st store.Store) *Model {
	t.Helper()
	var m *Model
	err := st.Read(context.Background(), func(tx store.Tx) error {
		root, err := tx.GetRootAccount(context.Background())
		if err != nil {
			return err
		}
		m = NewModel(root.ID)
		after := ""
		for {
			page, err := tx.ListSubtree(context.Background(), root.Path, 0, store.Page{After: after, Limit: 1000})
			if err != nil {
				return err
			}
			for _, a := range page {
				m.Parent[a.ID], m.Link[a.ID], m.Status[a.ID], m.Plan[a.ID] = a.ParentID, a.Link, a.Status, a.Plan
				after = string(a.Path)
			}
			if len(page) < 1000 {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return m
}

// Accounts lists the model's accounts, the root first, then by id (a
// stable order, so that seeded random tests repeat).
func (m *Model) Accounts() []string {
	var out []string
	for a := range m.Parent {
		if a != m.Root {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return append([]string{m.Root}, out...)
}

// boundary reports whether a's link is invited without delegated admin.
func (m *Model) boundary(a string) bool {
	l := m.Link[a]
	return l != nil && l.Origin == canopy.OriginInvited && !l.DelegatedAdmin
}

// Reach is what from may do with to (rule 2): the platform root acts
// anywhere; otherwise, walking up from to, no invited link without
// delegated admin may lie on the way but to's own, which leaves it seen
// only.
func (m *Model) Reach(from, to string) canopy.Reach {
	if _, ok := m.Parent[to]; !ok {
		return canopy.ReachNone
	}
	if from == m.Root {
		return canopy.ReachAct
	}
	var crossed []string
	for x := to; x != from; x = m.Parent[x] {
		if x == "" {
			return canopy.ReachNone
		}
		if m.boundary(x) {
			crossed = append(crossed, x)
		}
	}
	switch {
	case len(crossed) == 0:
		return canopy.ReachAct
	case len(crossed) == 1 && crossed[0] == to:
		return canopy.ReachSee
	}
	return canopy.ReachNone
}

// Parents lists the accounts that have children.
func (m *Model) Parents() []string {
	var out []string
	for _, p := range m.Parent {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Below reports whether d lies strictly below a.
func (m *Model) Below(d, a string) bool {
	for x := m.Parent[d]; x != ""; x = m.Parent[x] {
		if x == a {
			return true
		}
	}
	return false
}

// Payer is who pays for a's usage (rule 8): up the links that bill the
// parent, to an account that pays for itself.
func (m *Model) Payer(a string) string {
	for m.Link[a] != nil && m.Link[a].Billing == canopy.BillingParent {
		a = m.Parent[a]
	}
	return a
}
