package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// treeFixture is a small tree whose ids were made in one millisecond, so
// siblings share all but the last few characters of their ids:
//
//	root
//	├── a
//	│   ├── a1
//	│   │   └── a11
//	│   └── a2
//	├── b          (a's sibling, id sharing a's prefix)
//	│   └── b1
//	└── c
type treeFixture struct {
	root, a, a1, a11, a2, b, b1, c *canopy.Account
}

func newTree(b *testBundle) *treeFixture {
	f := b.f
	tr := &treeFixture{root: f.account(nil)}
	tr.a = f.account(tr.root)
	tr.b = f.account(tr.root)
	tr.c = f.account(tr.root)
	tr.a1 = f.account(tr.a)
	tr.a2 = f.account(tr.a)
	tr.a11 = f.account(tr.a1)
	tr.b1 = f.account(tr.b)
	return tr
}

// byPath returns the accounts sorted by path: the depth-first order of
// ListSubtree.
func byPath(as ...*canopy.Account) []string {
	s := slices.Clone(as)
	slices.SortFunc(s, func(x, y *canopy.Account) int {
		switch {
		case x.Path < y.Path:
			return -1
		case x.Path > y.Path:
			return 1
		}
		return 0
	})
	return ids(s)
}

func testTree(t *testing.T, open Opener) {
	t.Run("ListSubtree", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		tests := []struct {
			name     string
			path     canopy.Path
			maxDepth int
			want     []string
		}{
			{"WholeTreeBelowRootInPathOrder", tr.root.Path, 0,
				byPath(tr.a, tr.a1, tr.a11, tr.a2, tr.b, tr.b1, tr.c)},
			{"SubtreeExcludesItselfAndPrefixSiblings", tr.a.Path, 0, byPath(tr.a1, tr.a11, tr.a2)},
			{"MaxDepthOneIsChildren", tr.root.Path, 1, byPath(tr.a, tr.b, tr.c)},
			{"MaxDepthCountsFromThePath", tr.a.Path, 1, byPath(tr.a1, tr.a2)},
			{"MaxDepthTwo", tr.root.Path, 2, byPath(tr.a, tr.a1, tr.a2, tr.b, tr.b1, tr.c)},
			{"MaxDepthBeyondTreeIsEverything", tr.a.Path, 10, byPath(tr.a1, tr.a11, tr.a2)},
			{"LeafHasNothingBelow", tr.a11.Path, 0, nil},
			{"UnknownPathIsEmpty", tr.root.Path.Child("acc_01ZZZZZZZZZZZZZZZZZZZZZZZZ"), 0, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b.read(t, func(ctx context.Context, tx store.Tx) {
					got, err := tx.ListSubtree(ctx, tt.path, tt.maxDepth, store.Page{Limit: 100})
					require.NoError(t, err)
					require.Equal(t, tt.want, nilIfEmpty(ids(got)))
				})
				for _, size := range []int{1, 2, 3} {
					b.read(t, func(ctx context.Context, tx store.Tx) {
						got := all(t, size, func(p store.Page) []*canopy.Account {
							// The cursor is a path, as the service passes it.
							rows, err := tx.ListSubtree(ctx, tt.path, tt.maxDepth, p)
							require.NoError(t, err)
							return rows
						}, func(a *canopy.Account) string { return string(a.Path) })
						require.Equal(t, tt.want, nilIfEmpty(ids(got)), "pages of %d", size)
					})
				}
			})
		}
	})

	t.Run("SearchSubtreeIsListSubtreeFilteredByNameOrID", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		top := b.f.account(nil)
		named := func(parent *canopy.Account, name string) *canopy.Account {
			a := b.f.newAccount(parent)
			a.Name = name
			b.f.insert(a)
			return a
		}
		root := named(top, "Umbrella")
		north := named(root, "Clinic North")
		named(north, "clinic_south")
		named(north, "100% Care")
		named(root, `Back\slash`)
		named(root, "Clinicxsouth")
		other := named(root, "Other")
		named(other, "CLINIC east")
		outside := named(top, "Clinic elsewhere")
		// The reference: the whole subtree, filtered here.
		var subtree []*canopy.Account
		b.read(t, func(ctx context.Context, tx store.Tx) {
			var err error
			subtree, err = tx.ListSubtree(ctx, root.Path, 0, store.Page{Limit: 100})
			require.NoError(t, err)
		})
		texts := []string{"clinic", "clinic_", "_", "%", "0%", `\`, `k\s`, "east", "zzz",
			strings.ToLower(other.ID[len(other.ID)-6:]), strings.ToLower(outside.ID)}
		for _, text := range texts {
			var want []string
			for _, a := range subtree {
				if strings.Contains(strings.ToLower(a.Name), text) || strings.Contains(strings.ToLower(a.ID), text) {
					want = append(want, a.ID)
				}
			}
			for _, size := range []int{1, 2, 100} {
				b.read(t, func(ctx context.Context, tx store.Tx) {
					got := all(t, size, func(p store.Page) []*canopy.Account {
						rows, err := tx.SearchSubtree(ctx, root.Path, text, p)
						require.NoError(t, err)
						return rows
					}, func(a *canopy.Account) string { return string(a.Path) })
					require.Equal(t, want, nilIfEmpty(ids(got)), "%q in pages of %d", text, size)
				})
			}
		}
	})

	t.Run("ListSubtreeNeverCrossesIntoSiblingsWithPrefixIDs", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		// Hand-made ids where one is a prefix of another, and where the
		// next id sorts just past the subtree's end. Real ids all have one
		// length, but the range query must not depend on it.
		mk := func(parent *canopy.Account, id string) *canopy.Account {
			a := b.f.newAccount(parent)
			a.ID, a.Path = id, parent.Path.Child(id)
			b.f.insert(a)
			return a
		}
		x := mk(root, "acc_X")
		x0 := mk(root, "acc_X0")
		xdash := mk(root, "acc_X-")
		xx := mk(root, "acc_XX")
		kid := mk(x, "acc_K")
		mk(x0, "acc_K0")
		mk(xdash, "acc_K1")
		mk(xx, "acc_K2")
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ListSubtree(ctx, x.Path, 0, store.Page{Limit: 100})
			require.NoError(t, err)
			require.Equal(t, []string{kid.ID}, ids(got))
			d, err := tx.SubtreeMaxDepth(ctx, x.Path)
			require.NoError(t, err)
			require.Equal(t, 2, d)
		})
	})

	t.Run("ListChildrenPagesByID", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kids := b.f.children(root, 5)
		b.f.account(kids[0]) // a grandchild is not a child
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, size := range []int{1, 2, 5, 6} {
				got := all(t, size, func(p store.Page) []*canopy.Account {
					rows, err := tx.ListChildren(ctx, root.ID, p)
					require.NoError(t, err)
					return rows
				}, func(a *canopy.Account) string { return a.ID })
				require.Equal(t, ids(kids), ids(got), "pages of %d", size)
			}
			got, err := tx.ListChildren(ctx, kids[4].ID, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Empty(t, got)
			got, err = tx.ListChildren(ctx, root.ID, store.Page{After: kids[2].ID, Limit: 10})
			require.NoError(t, err)
			require.Equal(t, ids(kids[3:]), ids(got))
			require.Equal(t, kids[3], got[0], "children read back in full")
		})
	})

	t.Run("CountOpenChildrenIgnoresClosedAndGrandchildren", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kids := b.f.children(root, 3)
		b.f.children(kids[0], 2)
		suspended := b.f.newAccount(root)
		suspended.Status = canopy.StatusSuspended
		b.f.insert(suspended)
		closed := b.f.newAccount(root)
		closedAt := at(1000)
		closed.Status, closed.ClosedAt = canopy.StatusClosed, &closedAt
		b.f.insert(closed)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.CountOpenChildren(ctx, root.ID)
			require.NoError(t, err)
			require.Equal(t, 4, n, "three active and one suspended child")
			n, err = tx.CountOpenChildren(ctx, kids[1].ID)
			require.NoError(t, err)
			require.Zero(t, n)
		})
	})

	t.Run("SubtreeMaxDepth", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		tests := []struct {
			name string
			path canopy.Path
			want int
		}{
			{"RootSeesDeepest", tr.root.Path, 3},
			{"MiddleSeesItsDeepest", tr.a.Path, 3},
			{"LeafIsItsOwnDepth", tr.c.Path, 1},
			{"SiblingWithPrefixIDIsNotCounted", tr.b.Path, 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b.read(t, func(ctx context.Context, tx store.Tx) {
					got, err := tx.SubtreeMaxDepth(ctx, tt.path)
					require.NoError(t, err)
					require.Equal(t, tt.want, got)
				})
			})
		}
	})

	t.Run("MovePathsRewritesTheSubtreeAndNothingElse", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			// move returns the account to move and its new parent.
			move func(tr *treeFixture) (moved, parent *canopy.Account)
			n    int64
		}{
			{"Deeper", func(tr *treeFixture) (*canopy.Account, *canopy.Account) { return tr.a, tr.b1 }, 4},
			{"Shallower", func(tr *treeFixture) (*canopy.Account, *canopy.Account) { return tr.a1, tr.root }, 2},
			{"Sideways", func(tr *treeFixture) (*canopy.Account, *canopy.Account) { return tr.a1, tr.c }, 2},
			{"Leaf", func(tr *treeFixture) (*canopy.Account, *canopy.Account) { return tr.b1, tr.a11 }, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, b := setup(t, open)
				tr := newTree(b)
				everyone := []*canopy.Account{tr.root, tr.a, tr.a1, tr.a11, tr.a2, tr.b, tr.b1, tr.c}
				moved, parent := tt.move(tr)
				from, to := moved.Path, parent.Path.Child(moved.ID)
				b.write(t, func(ctx context.Context, tx store.Tx) {
					n, err := tx.MovePaths(ctx, from, to)
					require.NoError(t, err)
					require.Equal(t, tt.n, n)
				})
				for _, a := range everyone {
					want := *a
					if len(a.Path) >= len(from) && a.Path[:len(from)] == from {
						want.Path = to + a.Path[len(from):]
					}
					got := b.mustGet(t, a.ID)
					require.Equal(t, &want, got, "account %s", a.Name)
				}
				// The depth column moved with the paths: maxDepth and
				// SubtreeMaxDepth answer for the new shape.
				b.read(t, func(ctx context.Context, tx store.Tx) {
					d, err := tx.SubtreeMaxDepth(ctx, to)
					require.NoError(t, err)
					below, err := tx.ListSubtree(ctx, to, 0, store.Page{Limit: 100})
					require.NoError(t, err)
					deepest := to.Depth()
					for _, a := range below {
						deepest = max(deepest, a.Path.Depth())
					}
					require.Equal(t, deepest, d)

					kids, err := tx.ListSubtree(ctx, parent.Path, 1, store.Page{Limit: 100})
					require.NoError(t, err)
					require.Contains(t, ids(kids), moved.ID)
				})
			})
		}
	})

	t.Run("CloseSubtreeClosesOpenAccountsOnly", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		earlier := at(2000)
		a2 := *tr.a2
		a2.Status, a2.ClosedAt, a2.UpdatedAt = canopy.StatusClosed, &earlier, earlier
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.UpdateAccount(ctx, &a2)) })

		when := at(3000)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.CloseSubtree(ctx, tr.a.Path, when)
			require.NoError(t, err)
			require.Equal(t, int64(3), n, "a, a1 and a11; a2 was closed already")
		})
		for _, a := range []*canopy.Account{tr.a, tr.a1, tr.a11} {
			want := *a
			want.Status, want.ClosedAt, want.UpdatedAt = canopy.StatusClosed, &when, when
			require.Equal(t, &want, b.mustGet(t, a.ID))
		}
		require.Equal(t, &a2, b.mustGet(t, a2.ID), "an account closed before keeps its closedAt")
		for _, a := range []*canopy.Account{tr.root, tr.b, tr.b1, tr.c} {
			require.Equal(t, a, b.mustGet(t, a.ID), "outside the subtree")
		}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.CloseSubtree(ctx, tr.a.Path, at(4000))
			require.NoError(t, err)
			require.Zero(t, n, "closing again changes nothing")
		})
	})

	t.Run("LockSubtreeSucceedsInAWrite", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.LockSubtree(ctx, tr.a.Path))
			require.NoError(t, tx.LockSubtree(ctx, tr.a11.Path))
			require.NoError(t, tx.LockTree(ctx))
		})
	})
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
