package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// testParentPlan: every way of reading an account reads its parent's
// current plan with it (the effective plan follows from it).
func testParentPlan(t *testing.T, open Opener) {
	t.Run("EveryReadCarriesTheParentsCurrentPlan", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		umbrella := b.f.account(root)
		kid := b.f.account(umbrella)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			umbrella.Plan = canopy.PlanEnterprise
			require.NoError(t, tx.UpdateAccount(ctx, umbrella))
			require.NoError(t, tx.InsertExternalReference(ctx, b.f.newRef(kid, "crm", "K")))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			reads := map[string]func() (*canopy.Account, error){
				"GetAccount":   func() (*canopy.Account, error) { return tx.GetAccount(ctx, kid.ID) },
				"GetAccounts":  func() (*canopy.Account, error) { return one(tx.GetAccounts(ctx, []string{kid.ID})) },
				"ListChildren": func() (*canopy.Account, error) { return one(tx.ListChildren(ctx, umbrella.ID, store.Page{Limit: 5})) },
				"ListSubtree": func() (*canopy.Account, error) {
					return one(tx.ListSubtree(ctx, umbrella.Path, 0, store.Page{Limit: 5}))
				},
				"ListSubtreeByDepth": func() (*canopy.Account, error) {
					return one(tx.ListSubtree(ctx, umbrella.Path, 1, store.Page{Limit: 5}))
				},
				"FindByExternalReference": func() (*canopy.Account, error) {
					return one(tx.FindByExternalReference(ctx, store.ReferenceQuery{Path: root.Path, Type: "crm", Value: "K", Page: store.Page{Limit: 5}}))
				},
			}
			for name, read := range reads {
				a, err := read()
				require.NoError(t, err, name)
				require.Equal(t, kid.ID, a.ID, name)
				require.Equal(t, canopy.PlanEnterprise, a.ParentPlan, name)
			}
			r, err := tx.GetAccount(ctx, root.ID)
			require.NoError(t, err)
			require.Empty(t, r.ParentPlan, "the root has no parent")
		})
	})
}

func one(as []*canopy.Account, err error) (*canopy.Account, error) {
	if err != nil || len(as) != 1 {
		return nil, err
	}
	return as[0], nil
}
