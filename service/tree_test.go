package service_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlstore"
)

func TestMoveRules(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db, testfactory.Options{MaxDepth: 4})
		// root → a → a1 → a11 ; root → c
		a := b.Child(t, b.Root.ID)
		a1 := b.Child(t, a.ID)
		a11 := b.Child(t, a1.ID)
		c := b.Child(t, b.Root.ID)
		c1 := b.Child(t, c.ID)
		c11 := b.Child(t, c1.ID)
		asRoot := b.As(t, b.Root.ID)

		cases := []struct {
			name       string
			as         service.Caller
			id, parent string
			code       string
		}{
			{"under itself is a cycle", asRoot, a.ID, a.ID, canopy.CodeCycle},
			{"under its own descendant is a cycle", asRoot, a.ID, a11.ID, canopy.CodeCycle},
			{"the acting account cannot move itself", b.As(t, a.ID), a.ID, a1.ID, canopy.CodeCycle},
			{"past the depth limit", asRoot, a1.ID, c11.ID, canopy.CodeDepthLimit},
			{"to a parent outside the caller's subtree", b.As(t, a.ID), a11.ID, c.ID, canopy.CodeNotFound},
			{"an account outside the caller's subtree", b.As(t, a.ID), c1.ID, a1.ID, canopy.CodeNotFound},
			{"the platform root", asRoot, b.Root.ID, a.ID, canopy.CodeForbidden},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := b.Svc.MoveAccount(ctx, tc.as, tc.id, tc.parent)
				require.Equal(t, tc.code, canopy.ErrorCode(err), "%v", err)
			})
		}

		t.Run("moves the whole subtree and relinks it", func(t *testing.T) {
			moved, err := b.Svc.MoveAccount(ctx, asRoot, a1.ID, c.ID)
			require.NoError(t, err)
			require.Equal(t, c.ID, moved.ParentID)
			require.Equal(t, canopy.RoleDataManager, moved.Link.AutoShareRole)
			page, err := b.Svc.ListDescendants(ctx, asRoot, c.ID, 0, service.PageRequest{})
			require.NoError(t, err)
			require.Equal(t, []string{a1.ID, a11.ID, c1.ID, c11.ID}, ids(page.Data), "depth-first, a1 (older) before c1")
			anc, err := b.Svc.ListAncestors(ctx, asRoot, a11.ID)
			require.NoError(t, err)
			require.Equal(t, []string{a1.ID, c.ID, b.Root.ID}, ids(anc.Data))
			// a no longer sees its former child.
			_, err = b.Svc.GetAccount(ctx, b.As(t, a.ID), a11.ID)
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
			// Moving under the current parent changes nothing.
			again, err := b.Svc.MoveAccount(ctx, asRoot, a1.ID, c.ID)
			require.NoError(t, err)
			require.Equal(t, moved.UpdatedAt, again.UpdatedAt)
		})
	})
}

func ids(accs []*canopy.Account) []string {
	out := make([]string, len(accs))
	for i, a := range accs {
		out[i] = a.ID
	}
	return out
}

// TestConcurrentMovesNeverMakeACycle moves accounts at random from many
// goroutines; afterwards the tree must still be a tree: every path is its
// parent's path plus its own id, nothing is its own ancestor, and no account
// is deeper than the limit.
func TestConcurrentMovesNeverMakeACycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		const maxDepth = 5
		b := testfactory.New(t, db, testfactory.Options{MaxDepth: maxDepth})
		levels := b.Tree(t, 3, 3) // 3 + 9 + 27 accounts
		var all []*canopy.Account
		for _, l := range levels[1:] {
			all = append(all, l...)
		}
		asRoot := b.As(t, b.Root.ID)
		var (
			wg               sync.WaitGroup
			mu               sync.Mutex
			moved, refused   int
			created          int
			unexpectedErrors []error
		)
		// Two goroutines create children under random accounts while the
		// others move subtrees: a child must never keep a stale path.
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(100+g), 7))
				for range 40 {
					parent := all[rng.IntN(len(all))]
					_, err := b.Svc.CreateChild(ctx, b.As(t, parent.ID), b.ChildInput())
					mu.Lock()
					switch canopy.ErrorCode(err) {
					case "internal":
						if err == nil {
							created++
						} else {
							unexpectedErrors = append(unexpectedErrors, err)
						}
					case canopy.CodeDepthLimit:
						refused++
					default:
						unexpectedErrors = append(unexpectedErrors, err)
					}
					mu.Unlock()
				}
			}()
		}
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 42))
				for range 40 {
					x := all[rng.IntN(len(all))]
					p := all[rng.IntN(len(all))]
					if rng.IntN(5) == 0 {
						p = b.Root
					}
					// Half the moves act as the root, half as the lowest
					// common ancestor of the two accounts, so that writes
					// lock different acting rows while moves rewrite paths.
					as := asRoot
					if rng.IntN(2) == 0 {
						as = b.As(t, lowestCommonAncestor(t, b, x.ID, p.ID))
					}
					_, err := b.Svc.MoveAccount(ctx, as, x.ID, p.ID)
					mu.Lock()
					switch canopy.ErrorCode(err) {
					case "internal":
						if err == nil {
							moved++
						} else {
							unexpectedErrors = append(unexpectedErrors, err)
						}
					case canopy.CodeCycle, canopy.CodeDepthLimit, canopy.CodeNotFound, canopy.CodeForbidden:
						// NotFound: the tree changed between choosing the
						// acting account and the move; Forbidden: the root.
						refused++
					default:
						unexpectedErrors = append(unexpectedErrors, err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Empty(t, unexpectedErrors)
		t.Logf("%d moves, %d creates, %d refused", moved, created, refused)
		require.Positive(t, moved)
		require.Positive(t, created)
		require.Positive(t, refused)
		assertTree(t, db, maxDepth, len(all)+1+created)
	})
}

// lowestCommonAncestor reads both accounts as they are now and returns the
// deepest account on both paths.
func lowestCommonAncestor(t *testing.T, b *testfactory.Bundle, x, y string) string {
	ctx := context.Background()
	asRoot := b.As(t, b.Root.ID)
	ax, err := b.Svc.GetAccount(ctx, asRoot, x)
	require.NoError(t, err)
	ay, err := b.Svc.GetAccount(ctx, asRoot, y)
	require.NoError(t, err)
	px, py := ax.Path.IDs(), ay.Path.IDs()
	lca := b.Root.ID
	for i := 0; i < len(px) && i < len(py) && px[i] == py[i]; i++ {
		lca = px[i]
	}
	return lca
}

// assertTree checks the tree invariants over every account.
func assertTree(t *testing.T, st store.Store, maxDepth, want int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, st.Read(ctx, func(tx store.Tx) error {
		root, err := tx.GetRootAccount(ctx)
		require.NoError(t, err)
		accs, err := tx.ListSubtree(ctx, root.Path, 0, store.Page{Limit: 100000})
		require.NoError(t, err)
		require.Len(t, accs, want-1, "every account is still below the root")
		byID := map[string]*canopy.Account{root.ID: root}
		for _, a := range accs {
			byID[a.ID] = a
		}
		for _, a := range accs {
			parent, ok := byID[a.ParentID]
			require.True(t, ok, "parent of %s exists", a.ID)
			require.Equal(t, parent.Path.Child(a.ID), a.Path, "path of %s is its parent's plus itself", a.ID)
			require.LessOrEqual(t, a.Depth(), maxDepth)
			seen := map[string]bool{}
			for _, id := range a.Path.IDs() {
				require.False(t, seen[id], "cycle through %s", id)
				seen[id] = true
			}
		}
		return nil
	}))
}

func TestCloseAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		asRoot := b.As(t, b.Root.ID)

		t.Run("refused while open children exist", func(t *testing.T) {
			p := b.Child(t, b.Root.ID)
			b.Child(t, p.ID)
			_, err := b.Svc.CloseAccount(ctx, asRoot, p.ID, service.ChildrenRefuse)
			require.Equal(t, canopy.CodeHasChildren, canopy.ErrorCode(err))
			got, err := b.Svc.GetAccount(ctx, asRoot, p.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.StatusActive, got.Status)
		})
		t.Run("reparent moves the children to the closing account's parent", func(t *testing.T) {
			p := b.Child(t, b.Root.ID)
			q := b.Child(t, p.ID)
			k1, k2 := b.Child(t, q.ID), b.Child(t, q.ID)
			k11 := b.Child(t, k1.ID)
			closed, err := b.Svc.CloseAccount(ctx, asRoot, q.ID, service.ChildrenReparent)
			require.NoError(t, err)
			require.Equal(t, canopy.StatusClosed, closed.Status)
			require.NotNil(t, closed.ClosedAt)
			page, err := b.Svc.ListChildren(ctx, asRoot, p.ID, service.PageRequest{})
			require.NoError(t, err)
			require.ElementsMatch(t, []string{q.ID, k1.ID, k2.ID}, ids(page.Data))
			anc, err := b.Svc.ListAncestors(ctx, asRoot, k11.ID)
			require.NoError(t, err)
			require.Equal(t, []string{k1.ID, p.ID, b.Root.ID}, ids(anc.Data))
		})
		t.Run("close closes the whole subtree", func(t *testing.T) {
			p := b.Child(t, b.Root.ID)
			k := b.Child(t, p.ID)
			kk := b.Child(t, k.ID)
			_, err := b.Svc.CloseAccount(ctx, asRoot, p.ID, service.ChildrenClose)
			require.NoError(t, err)
			for _, id := range []string{p.ID, k.ID, kk.ID} {
				a, err := b.Svc.GetAccount(ctx, asRoot, id)
				require.NoError(t, err)
				require.Equal(t, canopy.StatusClosed, a.Status, id)
			}
			_, err = b.Svc.CreateChild(ctx, b.As(t, kk.ID), b.ChildInput())
			require.Equal(t, canopy.CodeAccountClosed, canopy.ErrorCode(err), "a closed account takes no writes")
		})
		t.Run("the platform root cannot be closed", func(t *testing.T) {
			_, err := b.Svc.CloseAccount(ctx, asRoot, b.Root.ID, service.ChildrenClose)
			require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err))
		})
		t.Run("keys of a closed account stop working", func(t *testing.T) {
			p := b.Child(t, b.Root.ID)
			key := b.Key(t, p.ID)
			_, err := b.Svc.CloseAccount(ctx, asRoot, p.ID, service.ChildrenRefuse)
			require.NoError(t, err)
			_, err = b.Svc.Authenticate(ctx, key)
			require.Equal(t, canopy.KindUnauthorized, canopy.ErrorKind(err))
		})
	})
}

func TestSuspension(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		p := b.Child(t, b.Root.ID)
		k := b.Child(t, p.ID)
		kk := b.Child(t, k.ID)
		asRoot := b.As(t, b.Root.ID)

		_, err := b.Svc.SetStatus(ctx, b.As(t, p.ID), p.ID, canopy.StatusSuspended)
		require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err), "an account cannot suspend itself")

		s, err := b.Svc.SetStatus(ctx, asRoot, p.ID, canopy.StatusSuspended)
		require.NoError(t, err)
		require.Equal(t, canopy.StatusSuspended, s.Status)

		for _, id := range []string{p.ID, k.ID, kk.ID} {
			_, err := b.Svc.CreateChild(ctx, b.As(t, id), b.ChildInput())
			require.Equal(t, canopy.CodeAccountSuspended, canopy.ErrorCode(err), "writes in the suspended subtree are refused (%s)", id)
			_, err = b.Svc.PutWorkflows(ctx, b.As(t, id), id, []string{"x"})
			require.Equal(t, canopy.CodeAccountSuspended, canopy.ErrorCode(err))
			_, err = b.Svc.GetAccount(ctx, b.As(t, id), id)
			require.NoError(t, err, "reads keep working")
			_, err = b.Svc.ListDescendants(ctx, b.As(t, id), id, 0, service.PageRequest{})
			require.NoError(t, err)
		}
		// The ancestor still manages the suspended account.
		_, err = b.Svc.PutWorkflows(ctx, asRoot, k.ID, []string{"managed"})
		require.NoError(t, err)

		r, err := b.Svc.SetStatus(ctx, asRoot, p.ID, canopy.StatusActive)
		require.NoError(t, err)
		require.Equal(t, canopy.StatusActive, r.Status)
		_, err = b.Svc.CreateChild(ctx, b.As(t, kk.ID), b.ChildInput())
		require.NoError(t, err, "writes work again after reactivation")
	})
}

func TestListings(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		levels := b.Tree(t, 3, 3) // 39 accounts below the root
		top := levels[1][0]
		asTop := b.As(t, top.ID)

		t.Run("descendants page through the whole subtree in depth-first order", func(t *testing.T) {
			var got []string
			pr := service.PageRequest{Limit: 4}
			for {
				page, err := b.Svc.ListDescendants(ctx, asTop, top.ID, 0, pr)
				require.NoError(t, err)
				got = append(got, ids(page.Data)...)
				if page.NextCursor == nil {
					break
				}
				pr.Cursor = *page.NextCursor
			}
			require.Len(t, got, 12)
			var want []string
			for _, c := range levels[2][:3] {
				want = append(want, c.ID)
				for _, g := range levels[3] {
					if g.ParentID == c.ID {
						want = append(want, g.ID)
					}
				}
			}
			require.Equal(t, want, got)
		})
		t.Run("descendants honour depth", func(t *testing.T) {
			page, err := b.Svc.ListDescendants(ctx, asTop, top.ID, 1, service.PageRequest{})
			require.NoError(t, err)
			require.Equal(t, ids(levels[2][:3]), ids(page.Data))
		})
		t.Run("a cursor from another list is refused", func(t *testing.T) {
			page, err := b.Svc.ListChildren(ctx, asTop, top.ID, service.PageRequest{Limit: 1})
			require.NoError(t, err)
			_, err = b.Svc.ListDescendants(ctx, asTop, top.ID, 0, service.PageRequest{Cursor: *page.NextCursor})
			require.Equal(t, canopy.CodeInvalidCursor, canopy.ErrorCode(err))
			for _, bad := range []string{"!!!", "ZGVzY2VuZGFudHM6L2Zvby8", "ZGVzY2VuZGFudHM6"} {
				_, err = b.Svc.ListDescendants(ctx, asTop, top.ID, 0, service.PageRequest{Cursor: bad})
				require.Equal(t, canopy.CodeInvalidCursor, canopy.ErrorCode(err), bad)
			}
		})
		t.Run("ancestors stop at the acting account", func(t *testing.T) {
			leaf := levels[3][0]
			anc, err := b.Svc.ListAncestors(ctx, asTop, leaf.ID)
			require.NoError(t, err)
			require.Equal(t, []string{leaf.ParentID, top.ID}, ids(anc.Data))
			self, err := b.Svc.ListAncestors(ctx, asTop, top.ID)
			require.NoError(t, err)
			require.Empty(t, self.Data, "an account sees none of its own ancestors")
		})
		t.Run("children page by id", func(t *testing.T) {
			p1, err := b.Svc.ListChildren(ctx, b.As(t, b.Root.ID), b.Root.ID, service.PageRequest{Limit: 2})
			require.NoError(t, err)
			p2, err := b.Svc.ListChildren(ctx, b.As(t, b.Root.ID), b.Root.ID, service.PageRequest{Limit: 2, Cursor: *p1.NextCursor})
			require.NoError(t, err)
			require.Equal(t, ids(levels[1]), append(ids(p1.Data), ids(p2.Data)...))
			require.Nil(t, p2.NextCursor)
		})
	})
}

// TestStaleCacheNeverWidensAccess: another replica moves an account out of
// a credential's subtree; this process's cache still places it inside. Reads
// and writes through this process must already refuse it.
func TestStaleCacheNeverWidensAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db, testfactory.Options{AuthCacheTTL: time.Hour})
		a := b.Child(t, b.Root.ID)
		d := b.Child(t, a.ID)
		elsewhere := b.Child(t, b.Root.ID)
		keyA := b.Key(t, a.ID)
		stale := b.AsKey(t, keyA, d.ID) // warms this process's cache: d is under a

		other := service.New(db, service.Config{}) // "another replica" on the same database
		_, err := other.MoveAccount(ctx, b.As(t, b.Root.ID), d.ID, elsewhere.ID)
		require.NoError(t, err)

		// This process still resolves the acting account from its cache …
		p, err := b.Svc.Authenticate(ctx, keyA)
		require.NoError(t, err)
		acting, err := b.Svc.Act(ctx, p, d.ID)
		require.NoError(t, err, "the cache is stale, as intended for this test")
		require.Equal(t, stale.Acting, acting)
		// … but nothing goes through.
		_, err = b.Svc.GetAccount(ctx, stale, d.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		_, err = b.Svc.ListDescendants(ctx, stale, d.ID, 0, service.PageRequest{})
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		_, err = b.Svc.ListAuditEvents(ctx, stale, service.AuditQuery{}, service.PageRequest{})
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		_, err = b.Svc.FindAccounts(ctx, stale, service.AccountFilter{ExternalReference: "crm:x"}, service.PageRequest{})
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		_, err = b.Svc.PutWorkflows(ctx, stale, d.ID, []string{"x"})
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
	})
}

// TestRevokedKeyCannotWriteThroughAStaleCache: a key revoked by another
// replica may still read here until the cache entry expires, but can no
// longer write.
func TestRevokedKeyCannotWriteThroughAStaleCache(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db, testfactory.Options{AuthCacheTTL: time.Hour})
		a := b.Child(t, b.Root.ID)
		key := b.Key(t, a.ID)
		c := b.AsKey(t, key, "")

		other := service.New(db, service.Config{})
		keys, err := other.ListAPIKeys(ctx, b.As(t, b.Root.ID), a.ID, service.PageRequest{})
		require.NoError(t, err)
		for _, k := range keys.Data {
			require.NoError(t, other.RevokeAPIKey(ctx, b.As(t, b.Root.ID), a.ID, k.ID))
		}
		_, err = b.Svc.Authenticate(ctx, key)
		require.NoError(t, err, "this process's cache has not heard of the revocation")
		_, err = b.Svc.PutWorkflows(ctx, c, a.ID, []string{"x"})
		require.Equal(t, canopy.KindUnauthorized, canopy.ErrorKind(err))
	})
}
