package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func testExternalReferences(t *testing.T, open Opener) {
	t.Run("InsertedReferencesReadBack", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		r1 := b.f.newRef(kid, "crm", "C-1001")
		r2 := b.f.newRef(kid, "billing", "B-ÿ-7")
		r2.Metadata, r2.Description = nil, ""
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertExternalReference(ctx, r1))
			require.NoError(t, tx.InsertExternalReference(ctx, r2))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ListExternalReferences(ctx, kid.ID)
			require.NoError(t, err)
			want2 := *r2
			want2.Metadata = map[string]string{}
			require.Equal(t, []*canopy.ExternalReference{r1, &want2}, got)

			none, err := tx.ListExternalReferences(ctx, root.ID)
			require.NoError(t, err)
			require.NotNil(t, none)
			require.Empty(t, none)
		})
	})

	t.Run("UniquePerParentTypeAndValue", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		p1, p2 := b.f.account(root), b.f.account(root)
		x, y := b.f.account(p1), b.f.account(p1)
		z := b.f.account(p2)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertExternalReference(ctx, b.f.newRef(x, "crm", "C-1")))
		})
		tests := []struct {
			name       string
			ref        *canopy.ExternalReference
			constraint string
		}{
			{"SamePairSameParent", b.f.newRef(y, "crm", "C-1"), store.UniqueExternalRef},
			{"SamePairSameAccount", b.f.newRef(x, "crm", "C-1"), store.UniqueExternalRef},
			{"SamePairOtherParent", b.f.newRef(z, "crm", "C-1"), ""},
			{"OtherType", b.f.newRef(y, "billing", "C-1"), ""},
			{"OtherValue", b.f.newRef(y, "crm", "C-2"), ""},
			{"ValueIsCaseSensitive", b.f.newRef(y, "crm", "c-1"), ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
					return tx.InsertExternalReference(ctx, tt.ref)
				})
				if tt.constraint == "" {
					require.NoError(t, err)
					return
				}
				requireConflict(t, err, tt.constraint)
			})
		}
	})

	t.Run("RescopeFollowsTheNewParent", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		p1, p2 := b.f.account(root), b.f.account(root)
		mover, stay := b.f.account(p1), b.f.account(p2)
		refs := []*canopy.ExternalReference{b.f.newRef(mover, "crm", "C-1"), b.f.newRef(mover, "erp", "E-1")}
		clash := b.f.newRef(stay, "crm", "C-1")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, r := range append(refs, clash) {
				require.NoError(t, tx.InsertExternalReference(ctx, r))
			}
		})

		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			return tx.RescopeExternalReferences(ctx, mover.ID, p2.ID)
		})
		requireConflict(t, err, store.UniqueExternalRef)

		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.RescopeExternalReferences(ctx, mover.ID, root.ID))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ListExternalReferences(ctx, mover.ID)
			require.NoError(t, err)
			require.Len(t, got, 2)
			for i, r := range got {
				want := *refs[i]
				want.ParentID = root.ID
				require.Equal(t, &want, r)
			}
			got, err = tx.ListExternalReferences(ctx, stay.ID)
			require.NoError(t, err)
			require.Equal(t, []*canopy.ExternalReference{clash}, got, "other accounts' references stay")
		})
		// Under its new scope the pair is free again under p1.
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertExternalReference(ctx, b.f.newRef(b.f.newAccountIn(t, tx, p1), "crm", "C-1")))
		})
	})

	t.Run("FindByExternalReferenceStaysInTheSubtree", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		// The same pair under different parents: a1 (under a), a11 (under
		// a1), b1 (under b, whose id shares a's prefix) and a itself.
		holders := []*canopy.Account{tr.a, tr.a1, tr.a11, tr.b1}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, h := range holders {
				require.NoError(t, tx.InsertExternalReference(ctx, b.f.newRef(h, "crm", "SHARED")))
			}
			require.NoError(t, tx.InsertExternalReference(ctx, b.f.newRef(tr.a2, "crm", "OTHER")))
		})
		tests := []struct {
			name  string
			path  canopy.Path
			value string
			want  []string
		}{
			{"FromRootFindsAll", tr.root.Path, "SHARED", ids([]*canopy.Account{tr.a, tr.b1, tr.a1, tr.a11})},
			{"LeavesOutTheAccountItself", tr.a.Path, "SHARED", ids([]*canopy.Account{tr.a1, tr.a11})},
			{"DeeperSubtree", tr.a1.Path, "SHARED", ids([]*canopy.Account{tr.a11})},
			{"PrefixSiblingSubtree", tr.b.Path, "SHARED", ids([]*canopy.Account{tr.b1})},
			{"OutsideTheSubtreeIsInvisible", tr.c.Path, "SHARED", nil},
			{"OtherValue", tr.root.Path, "OTHER", ids([]*canopy.Account{tr.a2})},
			{"NoSuchValue", tr.root.Path, "NOPE", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b.read(t, func(ctx context.Context, tx store.Tx) {
					for _, size := range []int{1, 2, 10} {
						got := all(t, size, func(p store.Page) []*canopy.Account {
							rows, err := tx.FindByExternalReference(ctx, store.ReferenceQuery{Path: tt.path, Type: "crm", Value: tt.value, Page: p})
							require.NoError(t, err)
							return rows
						}, func(a *canopy.Account) string { return a.ID })
						require.Equal(t, sortedIDs(tt.want), nilIfEmpty(ids(got)), "pages of %d", size)
					}
				})
			})
		}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.FindByExternalReference(ctx, store.ReferenceQuery{Path: tr.root.Path, Type: "erp", Value: "SHARED", Page: store.Page{Limit: 10}})
			require.NoError(t, err)
			require.Empty(t, got, "the type is part of the key")
			got, err = tx.FindByExternalReference(ctx, store.ReferenceQuery{Path: tr.a1.Path, Type: "crm", Value: "SHARED", Page: store.Page{Limit: 1}})
			require.NoError(t, err)
			require.Equal(t, []*canopy.Account{tr.a11}, got, "accounts read back in full")
		})
	})
}

// newAccountIn stores a new account under parent inside tx.
func (f *factory) newAccountIn(t *testing.T, tx store.Tx, parent *canopy.Account) *canopy.Account {
	t.Helper()
	a := f.newAccount(parent)
	require.NoError(t, tx.InsertAccount(t.Context(), a))
	return a
}
