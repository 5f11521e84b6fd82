package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// newForm builds (but does not store) a form owned by owner.
func (f *factory) newForm(owner *canopy.Account) *canopy.Form {
	n := f.seq()
	return &canopy.Form{
		ID: f.id(canopy.PrefixForm), OwnerID: owner.ID, OwnerPath: owner.Path,
		Name: fmt.Sprintf("Form %d", n), Description: "résumé ✓",
		Questions: []canopy.Question{
			{ID: "name", Label: "Name", Type: canopy.QuestionText, Required: true},
			{ID: "colour", Label: "Colour", Type: canopy.QuestionChoice, Options: []string{"red", "green"}},
		},
		Version: 1, CreatedAt: at(n), UpdatedAt: at(n),
	}
}

// form stores a new form of owner.
func (b *testBundle) form(t *testing.T, owner *canopy.Account, edit ...func(*canopy.Form)) *canopy.Form {
	t.Helper()
	f := b.f.newForm(owner)
	for _, e := range edit {
		e(f)
	}
	b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertForm(ctx, f)) })
	return f
}

func (b *testBundle) share(t *testing.T, f *canopy.Form, a *canopy.Account, role canopy.Role) {
	t.Helper()
	b.write(t, func(ctx context.Context, tx store.Tx) {
		require.NoError(t, tx.PutShare(ctx, &canopy.Share{FormID: f.ID, AccountID: a.ID, Role: role, CreatedAt: at(1), UpdatedAt: at(1)}))
	})
}

func formIDs(fs []*canopy.Form) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

// listedIDs lists the form ids of a listing, checking that each carries
// its questions as stored and undecoded.
func listedIDs(t *testing.T, fs []store.ListedForm) []string {
	t.Helper()
	out := []string{}
	for _, f := range fs {
		var qs []canopy.Question
		require.NoError(t, json.Unmarshal(f.Questions, &qs), "questions of %s as stored", f.Form.ID)
		require.Nil(t, f.Form.Questions, "a listing leaves the questions to its reader")
		out = append(out, f.Form.ID)
	}
	return out
}

// sharedIDs lists the form ids of a shared listing, each with its role.
func sharedIDs(t *testing.T, fs []store.ListedForm) []string {
	out := listedIDs(t, fs)
	for i, f := range fs {
		out[i] += ":" + string(*f.Explicit)
	}
	return out
}

// byOwnerPath lists form ids in the order every form listing uses.
func byOwnerPath(fs ...*canopy.Form) []string {
	s := append([]*canopy.Form(nil), fs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j].OwnerPath < s[i].OwnerPath || (s[j].OwnerPath == s[i].OwnerPath && s[j].ID < s[i].ID) {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return formIDs(s)
}

// testForms: forms, shares and records keep what they are given, and the
// listing queries the access engine builds on select exactly the rows
// their doc comments promise.
func testForms(t *testing.T, open Opener) {
	t.Run("FormRoundTripsAndVersionsGuardUpdates", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		owner := b.f.account(b.f.account(nil))
		f := b.form(t, owner, func(f *canopy.Form) { f.Example, f.CopiedFrom = true, "frm_01JBZ0000000000000000000AA" })
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetForm(ctx, f.ID)
			require.NoError(t, err)
			require.Equal(t, f, got)
			_, err = tx.GetForm(ctx, b.f.id(canopy.PrefixForm))
			require.ErrorIs(t, err, store.ErrNotFound)
		})

		upd := *f
		upd.Name, upd.Questions, upd.Example, upd.Version, upd.UpdatedAt = "Renamed", []canopy.Question{}, false, 2, at(500)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.UpdateForm(ctx, &upd, 1))
			stale := upd
			stale.Name, stale.Version = "Lost update", 2
			require.ErrorIs(t, tx.UpdateForm(ctx, &stale, 1), store.ErrNotFound, "version 1 is gone")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetForm(ctx, f.ID)
			require.NoError(t, err)
			require.Equal(t, &upd, got)
		})
	})

	t.Run("DeletingAFormTakesItsSharesAndRecords", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		owner := b.f.account(root)
		f, other := b.form(t, owner), b.form(t, owner)
		b.share(t, f, root, canopy.RoleViewer)
		b.share(t, other, root, canopy.RoleViewer)
		rec := b.f.newRecord(f, owner, 0)
		keep := b.f.newRecord(other, owner, 0)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertRecord(ctx, rec))
			require.NoError(t, tx.InsertRecord(ctx, keep))
			require.NoError(t, tx.DeleteForm(ctx, f.ID))
			require.ErrorIs(t, tx.DeleteForm(ctx, f.ID), store.ErrNotFound)
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetRecord(ctx, rec.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.GetShare(ctx, f.ID, root.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.GetRecord(ctx, keep.ID)
			require.NoError(t, err, "other forms keep theirs")
			_, err = tx.GetShare(ctx, other.ID, root.ID)
			require.NoError(t, err)
		})
	})

	t.Run("SubtreeListingSelectsByPathCutsOwnerAndExample", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		// a1's link shares nothing: a1 and a11 are cut out of a's view.
		tr.a1.Link.AutoShareRole = canopy.RoleNone
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.UpdateAccount(ctx, tr.a1)) })
		fa := b.form(t, tr.a)
		fa1 := b.form(t, tr.a1)
		fa11 := b.form(t, tr.a11)
		fa2 := b.form(t, tr.a2, func(f *canopy.Form) { f.Example = true })
		fa2b := b.form(t, tr.a2)
		fb := b.form(t, tr.b) // outside a's subtree
		hiddenByShare := b.form(t, tr.a2)
		b.share(t, hiddenByShare, tr.a, canopy.RoleViewer)
		_ = fb
		yes, no := true, false

		tests := []struct {
			name string
			q    store.SubtreeForms
			want []string
		}{
			{"WholeSubtree", store.SubtreeForms{Path: tr.a.Path}, byOwnerPath(fa, fa1, fa11, fa2, fa2b, hiddenByShare)},
			{"Cut", store.SubtreeForms{Path: tr.a.Path, Cuts: []canopy.Path{tr.a1.Path}}, byOwnerPath(fa, fa2, fa2b, hiddenByShare)},
			{"TwoCuts", store.SubtreeForms{Path: tr.a.Path, Cuts: []canopy.Path{tr.a1.Path, tr.a2.Path}}, byOwnerPath(fa)},
			{"BetweenAndAfterCuts", store.SubtreeForms{Path: tr.a.Path, Cuts: []canopy.Path{tr.a1.Path}, ExcludeOwnerPath: tr.a.Path}, byOwnerPath(fa2, fa2b, hiddenByShare)},
			{"OwnerUnderACut", store.SubtreeForms{Path: tr.a11.Path, OwnerID: tr.a11.ID, Cuts: []canopy.Path{tr.a1.Path}}, []string{}},
			{"ViewerSharesDecideElsewhere", store.SubtreeForms{Path: tr.a.Path, Viewer: tr.a.ID}, byOwnerPath(fa, fa1, fa11, fa2, fa2b)},
			{"OneOwner", store.SubtreeForms{Path: tr.a2.Path, OwnerID: tr.a2.ID}, byOwnerPath(fa2, fa2b, hiddenByShare)},
			{"OneOwnerIsNotItsSubtree", store.SubtreeForms{Path: tr.a1.Path, OwnerID: tr.a1.ID}, byOwnerPath(fa1)},
			{"ExcludeOwner", store.SubtreeForms{Path: tr.a.Path, ExcludeOwnerPath: tr.a.Path}, byOwnerPath(fa1, fa11, fa2, fa2b, hiddenByShare)},
			{"ExcludeAnOwnerInside", store.SubtreeForms{Path: tr.a.Path, ExcludeOwnerPath: tr.a1.Path}, byOwnerPath(fa, fa11, fa2, fa2b, hiddenByShare)},
			{"ExcludeTheOneOwner", store.SubtreeForms{Path: tr.a2.Path, OwnerID: tr.a2.ID, ExcludeOwnerPath: tr.a2.Path}, []string{}},
			{"ExcludeOwnerLessShares", store.SubtreeForms{Path: tr.a.Path, Viewer: tr.a.ID, ExcludeOwnerPath: tr.a.Path}, byOwnerPath(fa1, fa11, fa2, fa2b)},
			{"Examples", store.SubtreeForms{Path: tr.a.Path, Example: &yes}, byOwnerPath(fa2)},
			{"NotExamples", store.SubtreeForms{Path: tr.a.Path, Example: &no}, byOwnerPath(fa, fa1, fa11, fa2b, hiddenByShare)},
			{"Leaf", store.SubtreeForms{Path: tr.a11.Path}, byOwnerPath(fa11)},
		}
		for _, tt := range tests {
			b.read(t, func(ctx context.Context, tx store.Tx) {
				// Page through in twos: the cursor resumes in (owner path, id) order.
				var got []string
				q := tt.q
				for range 20 {
					q.Limit = 2
					page, err := tx.ListSubtreeForms(ctx, q)
					require.NoError(t, err, tt.name)
					got = append(got, listedIDs(t, page)...)
					if len(page) < 2 {
						break
					}
					last := page[len(page)-1].Form
					q.After = store.FormCursor{OwnerPath: last.OwnerPath, ID: last.ID}
				}
				if got == nil {
					got = []string{}
				}
				require.Equal(t, tt.want, got, tt.name)
				n, err := tx.CountSubtreeForms(ctx, tt.q, 100)
				require.NoError(t, err)
				require.Equal(t, len(tt.want), n, tt.name)
				if len(tt.want) > 1 {
					n, err = tx.CountSubtreeForms(ctx, tt.q, 1)
					require.NoError(t, err)
					require.Equal(t, 1, n, "%s: the count stops at max", tt.name)
				}
			})
		}
	})

	t.Run("ShareCutsAreTheNoneLinksStrictlyBelow", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		for _, a := range []*canopy.Account{tr.a, tr.a1, tr.a11, tr.b1} {
			a.Link.AutoShareRole = canopy.RoleNone
		}
		tr.a2.Link.AutoShareRole = canopy.RoleViewer
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, a := range []*canopy.Account{tr.a, tr.a1, tr.a11, tr.b1, tr.a2} {
				require.NoError(t, tx.UpdateAccount(ctx, a))
			}
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			cuts, err := tx.ShareCuts(ctx, tr.a.Path)
			require.NoError(t, err)
			require.Equal(t, []canopy.Path{tr.a1.Path, tr.a11.Path}, cuts, "a itself is not below a; a2 shares as viewer")
			cuts, err = tx.ShareCuts(ctx, tr.a11.Path)
			require.NoError(t, err)
			require.Empty(t, cuts)
		})
	})

	t.Run("SharedListingAndViewerShares", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		f1 := b.form(t, tr.a11)
		f2 := b.form(t, tr.a2, func(f *canopy.Form) { f.Example = true })
		f3 := b.form(t, tr.a1)
		hidden := b.form(t, tr.a1)
		notMine := b.form(t, tr.a2)
		b.share(t, f1, tr.a, canopy.RoleEditor)
		b.share(t, f2, tr.a, canopy.RoleViewer)
		b.share(t, f3, tr.a, canopy.RoleDataManager)
		b.share(t, hidden, tr.a, canopy.RoleNone)
		b.share(t, notMine, tr.b, canopy.RoleViewer)
		b.share(t, f3, tr.a, canopy.RoleViewer) // a second put replaces the first

		yes := true
		b.read(t, func(ctx context.Context, tx store.Tx) {
			var all []store.ListedForm
			for after := (store.FormCursor{}); ; {
				page, err := tx.ListSharedForms(ctx, tr.a.ID, nil, after, 2)
				require.NoError(t, err)
				all = append(all, page...)
				if len(page) < 2 {
					break
				}
				last := page[len(page)-1].Form
				after = store.FormCursor{OwnerPath: last.OwnerPath, ID: last.ID}
			}
			roles := map[string]canopy.Role{f1.ID: canopy.RoleEditor, f2.ID: canopy.RoleViewer, f3.ID: canopy.RoleViewer, hidden.ID: canopy.RoleNone}
			var want []string
			for _, id := range byOwnerPath(f1, f2, f3, hidden) {
				want = append(want, id+":"+string(roles[id]))
			}
			require.Equal(t, want, sharedIDs(t, all), "every share, none too (it hides the form), with its role")
			ex, err := tx.ListSharedForms(ctx, tr.a.ID, &yes, store.FormCursor{}, 10)
			require.NoError(t, err)
			require.Equal(t, []string{f2.ID + ":viewer"}, sharedIDs(t, ex))
			n, err := tx.CountSharedForms(ctx, tr.a.ID, 10)
			require.NoError(t, err)
			require.Equal(t, 3, n)
			n, err = tx.CountSharedForms(ctx, tr.a.ID, 2)
			require.NoError(t, err)
			require.Equal(t, 2, n)

			roles, err = tx.ViewerShares(ctx, tr.a.ID, []string{f1.ID, f3.ID, hidden.ID, notMine.ID})
			require.NoError(t, err)
			require.Equal(t, map[string]canopy.Role{f1.ID: canopy.RoleEditor, f3.ID: canopy.RoleViewer, hidden.ID: canopy.RoleNone}, roles)
			for _, viewer := range []*canopy.Account{tr.a, tr.b, {ID: b.f.id(canopy.PrefixAccount)}} {
				got, err := tx.GetFormFor(ctx, f1.ID, viewer.ID)
				require.NoError(t, err)
				require.Equal(t, f1, got.Form)
				want := map[string]*canopy.Role{tr.a.ID: ptr(canopy.RoleEditor)}[viewer.ID]
				require.Equal(t, want, got.Explicit, "GetFormFor carries the viewer's share")
				require.Equal(t, viewer.Path, got.ViewerPath, "and the viewer's path (none for no account)")
			}
			_, err = tx.GetFormFor(ctx, b.f.id(canopy.PrefixForm), tr.a.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			roles, err = tx.ViewerShares(ctx, tr.a.ID, nil)
			require.NoError(t, err)
			require.Empty(t, roles)

			list, err := tx.ListShares(ctx, f3.ID)
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, canopy.RoleViewer, list[0].Role)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.DeleteShare(ctx, f3.ID, tr.a.ID))
			require.ErrorIs(t, tx.DeleteShare(ctx, f3.ID, tr.a.ID), store.ErrNotFound)
		})
	})

	t.Run("ExampleFormsOfTheGivenOwners", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		e1 := b.form(t, tr.root, func(f *canopy.Form) { f.Example = true })
		e2 := b.form(t, tr.a, func(f *canopy.Form) { f.Example = true })
		e3 := b.form(t, tr.a, func(f *canopy.Form) { f.Example = true })
		b.form(t, tr.a)                                              // not an example
		b.form(t, tr.b, func(f *canopy.Form) { f.Example = true })   // not an owner asked for
		b.form(t, tr.a11, func(f *canopy.Form) { f.Example = true }) // below, not above
		hidden := b.form(t, tr.a, func(f *canopy.Form) { f.Example = true })
		b.share(t, hidden, tr.a1, canopy.RoleNone)    // kept from a1 …
		b.share(t, e3, tr.a1, canopy.RoleViewer)      // (another role is still listed)
		b.share(t, hidden, tr.a11, canopy.RoleEditor) // … not from a11
		owners := []string{tr.root.ID, tr.a.ID, tr.a1.ID}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.CountExampleForms(ctx, owners, tr.a11.ID, 10)
			require.NoError(t, err)
			require.Equal(t, 4, n, "a11 is not a1")
			first, err := tx.ListExampleForms(ctx, owners, tr.a1.ID, store.FormCursor{}, 2)
			require.NoError(t, err)
			last := first[len(first)-1]
			rest, err := tx.ListExampleForms(ctx, owners, tr.a1.ID, store.FormCursor{OwnerPath: last.OwnerPath, ID: last.ID}, 2)
			require.NoError(t, err)
			require.Equal(t, byOwnerPath(e1, e2, e3), append(formIDs(first), formIDs(rest)...))
			n, err = tx.CountExampleForms(ctx, owners, tr.a1.ID, 10)
			require.NoError(t, err)
			require.Equal(t, 3, n)
			none, err := tx.ListExampleForms(ctx, nil, tr.a1.ID, store.FormCursor{}, 2)
			require.NoError(t, err)
			require.Empty(t, none)
		})
	})

	t.Run("MovingASubtreeMovesItsForms", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		fa1, fa11, fb := b.form(t, tr.a1), b.form(t, tr.a11), b.form(t, tr.b)
		b.share(t, fa1, tr.root, canopy.RoleViewer)
		b.share(t, fb, tr.root, canopy.RoleViewer)
		to := tr.b1.Path.Child(tr.a1.ID)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.MovePaths(ctx, tr.a1.Path, to)
			require.NoError(t, err)
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			// Shared forms follow their owner too: fa1 now sorts after fb.
			shared, err := tx.ListSharedForms(ctx, tr.root.ID, nil, store.FormCursor{}, 10)
			require.NoError(t, err)
			require.Equal(t, []string{fb.ID + ":viewer", fa1.ID + ":viewer"}, sharedIDs(t, shared))
			shared, err = tx.ListSharedForms(ctx, tr.root.ID, nil, store.FormCursor{OwnerPath: tr.b.Path, ID: fb.ID}, 10)
			require.NoError(t, err)
			require.Equal(t, []string{fa1.ID + ":viewer"}, sharedIDs(t, shared))

			for f, want := range map[*canopy.Form]canopy.Path{fa1: to, fa11: to.Child(tr.a11.ID), fb: tr.b.Path} {
				got, err := tx.GetForm(ctx, f.ID)
				require.NoError(t, err)
				require.Equal(t, want, got.OwnerPath)
			}
			under, err := tx.ListSubtreeForms(ctx, store.SubtreeForms{Path: tr.b.Path, Limit: 10})
			require.NoError(t, err)
			require.ElementsMatch(t, []string{fa1.ID, fa11.ID, fb.ID}, listedIDs(t, under))
			left, err := tx.ListSubtreeForms(ctx, store.SubtreeForms{Path: tr.a.Path, Limit: 10})
			require.NoError(t, err)
			require.Empty(t, left)
		})
	})

	t.Run("RecordsKeepAnswersVersionsAndTimeOrder", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		owner := b.f.account(b.f.account(nil))
		f, other := b.form(t, owner), b.form(t, owner)
		var recs []*canopy.Record
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for i := range 5 {
				r := b.f.newRecord(f, owner, i*60)
				require.NoError(t, tx.InsertRecord(ctx, r))
				recs = append(recs, r)
			}
			require.NoError(t, tx.InsertRecord(ctx, b.f.newRecord(other, owner, 0)))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetRecord(ctx, recs[0].ID)
			require.NoError(t, err)
			require.Equal(t, recs[0], got)
			paged := all(t, 2, func(p store.Page) []*canopy.Record {
				rows, err := tx.ListRecords(ctx, f.ID, at(0).Add(-1), at(0).Add(1e12), p)
				require.NoError(t, err)
				return rows
			}, func(r *canopy.Record) string { return r.ID })
			require.Equal(t, recordIDs(recs), recordIDs(paged), "only this form's, by id")
			window, err := tx.ListRecords(ctx, f.ID, recs[1].CreatedAt, recs[3].CreatedAt, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Equal(t, recordIDs(recs[1:3]), recordIDs(window), "from is inclusive, to exclusive")
		})
		upd := *recs[2]
		upd.Answers = map[string]json.RawMessage{"name": json.RawMessage(`"Zoë"`)}
		upd.Version, upd.UpdatedAt = 2, at(900)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.UpdateRecord(ctx, &upd, 1))
			require.ErrorIs(t, tx.UpdateRecord(ctx, &upd, 1), store.ErrNotFound, "a stale version writes nothing")
			require.NoError(t, tx.DeleteRecord(ctx, recs[4].ID))
			require.ErrorIs(t, tx.DeleteRecord(ctx, recs[4].ID), store.ErrNotFound)
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetRecord(ctx, upd.ID)
			require.NoError(t, err)
			require.Equal(t, &upd, got)
		})
	})

	t.Run("CountOwnedFormsStopsAtMax", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		owner := b.f.account(root)
		kid, other := b.f.account(owner), b.f.account(root)
		for range 3 {
			b.form(t, owner)
		}
		b.form(t, kid)
		b.form(t, other)
		tests := []struct {
			name    string
			ownerID string
			max     int
			want    int
		}{
			{"BelowMax", owner.ID, 10, 3},
			{"AtMax", owner.ID, 3, 3},
			{"StopsAtMax", owner.ID, 2, 2},
			{"NotTheChildrensForms", kid.ID, 10, 1},
			{"NoForms", root.ID, 10, 0},
			{"UnknownAccount", b.f.id(canopy.PrefixAccount), 10, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b.read(t, func(ctx context.Context, tx store.Tx) {
					n, err := tx.CountOwnedForms(ctx, tt.ownerID, tt.max)
					require.NoError(t, err)
					require.Equal(t, tt.want, n)
				})
			})
		}
	})
}

// newRecord builds a record of f collected by account, created seconds
// after the fixture clock's base.
func (f *factory) newRecord(form *canopy.Form, account *canopy.Account, seconds int) *canopy.Record {
	n := f.seq()
	return &canopy.Record{
		ID: f.id(canopy.PrefixRecord), FormID: form.ID, AccountID: account.ID,
		Answers: map[string]json.RawMessage{"name": json.RawMessage(fmt.Sprintf(`"Person %d"`, n)), "colour": json.RawMessage(`"red"`)},
		Version: 1, CreatedBy: "usr_test", CreatedAt: at(seconds), UpdatedAt: at(seconds),
	}
}

func recordIDs(rs []*canopy.Record) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
