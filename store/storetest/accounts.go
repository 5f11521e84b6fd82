package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func testAccounts(t *testing.T, open Opener) {
	t.Run("InsertedAccountsReadBackFieldForField", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.newAccount(nil)
		root.Metadata = map[string]string{"tier": "platform", "ünï": "çødé 🌲", "empty": ""}
		b.f.insert(root)

		closedAt := at(99)
		child := b.f.newAccount(root)
		child.Plan, child.Status, child.ClosedAt = canopy.PlanEnterprise, canopy.StatusClosed, &closedAt
		child.Link = &canopy.Link{Origin: canopy.OriginInvited, AutoShareRole: canopy.RoleViewer,
			Billing: canopy.BillingSelf, CreatedAt: at(42)}
		b.f.insert(child)

		tests := []struct {
			name string
			want *canopy.Account
		}{
			{"RootHasNoParentNoLinkNoClosedAt", root},
			{"ChildKeepsLinkPlanStatusClosedAt", child},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := b.mustGet(t, tt.want.ID)
				require.Equal(t, tt.want, got)
				require.Equal(t, time.UTC, got.CreatedAt.Location())
			})
		}
		t.Run("RootLinkIsNil", func(t *testing.T) {
			require.Nil(t, b.mustGet(t, root.ID).Link)
		})
	})

	t.Run("NilMetadataReadsBackEmptyNotNil", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		a := b.f.newAccount(nil)
		a.Metadata = nil
		b.f.insert(a)
		got := b.mustGet(t, a.ID)
		require.NotNil(t, got.Metadata)
		require.Empty(t, got.Metadata)
	})

	t.Run("TimesAreUTCAtMicrosecondPrecision", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		created := time.Date(2027, 3, 4, 5, 6, 7, 891234567, zone)
		a := b.f.newAccount(nil)
		a.CreatedAt, a.UpdatedAt = created, created
		b.f.insert(a)

		got := b.mustGet(t, a.ID)
		want := created.UTC().Truncate(time.Microsecond)
		require.Equal(t, want, got.CreatedAt, "nanoseconds are dropped, the instant is kept, the zone is UTC")
		require.Equal(t, want, got.UpdatedAt)
	})

	t.Run("GetAccountsSkipsMissingIDs", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kids := b.f.children(root, 2)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetAccounts(ctx, []string{kids[1].ID, "acc_missing", root.ID})
			require.NoError(t, err)
			gotIDs := ids(got)
			slices.Sort(gotIDs)
			want := []string{root.ID, kids[1].ID}
			slices.Sort(want)
			require.Equal(t, want, gotIDs)

			got, err = tx.GetAccounts(ctx, nil)
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})

	t.Run("MissingRowsAreErrNotFound", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		ghost := b.f.newAccount(root) // built, never stored

		tests := []struct {
			name string
			call func(ctx context.Context, tx store.Tx) error
		}{
			{"GetAccount", func(ctx context.Context, tx store.Tx) error {
				_, err := tx.GetAccount(ctx, ghost.ID)
				return err
			}},
			{"GetAccountForShare", func(ctx context.Context, tx store.Tx) error {
				_, err := tx.GetAccountForShare(ctx, ghost.ID)
				return err
			}},
			{"UpdateAccount", func(ctx context.Context, tx store.Tx) error {
				return tx.UpdateAccount(ctx, ghost)
			}},
			{"SetParent", func(ctx context.Context, tx store.Tx) error {
				return tx.SetParent(ctx, ghost.ID, root.ID, ghost.Link, at(5))
			}},
			{"SubtreeMaxDepth", func(ctx context.Context, tx store.Tx) error {
				_, err := tx.SubtreeMaxDepth(ctx, ghost.Path)
				return err
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// A write transaction, as the service would use, so locking
				// reads and updates run where they are allowed.
				err := b.writeErr(t, tt.call)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
		}
	})

	t.Run("GetRootAccount", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetRootAccount(ctx)
			require.ErrorIs(t, err, store.ErrNotFound, "an empty store has no root")
		})
		root := b.f.account(nil)
		b.f.children(root, 2)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetRootAccount(ctx)
			require.NoError(t, err)
			require.Equal(t, root, got)
		})
	})

	t.Run("SecondRootIsUniqueRootAccountConflict", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		b.f.account(nil)
		second := b.f.newAccount(nil)
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.InsertAccount(ctx, second) })
		requireConflict(t, err, store.UniqueRootAccount)
	})

	t.Run("DuplicateAccountIDIsOtherConflict", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		again := b.f.newAccount(root)
		again.ID = kid.ID
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.InsertAccount(ctx, again) })
		requireConflict(t, err, store.UniqueOther)
	})

	t.Run("UpdateAccountWritesItsFieldsOnly", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)

		closed := at(500)
		upd := *kid
		upd.Name, upd.Email, upd.Plan, upd.Status = "Renamed", "new@example.com", canopy.PlanPro, canopy.StatusClosed
		upd.Metadata = map[string]string{"a": "1", "b": "two"}
		upd.Link = &canopy.Link{Origin: canopy.OriginInvited, AutoShareRole: canopy.RoleNone,
			Billing: canopy.BillingSelf, CreatedAt: at(400)}
		upd.UpdatedAt, upd.ClosedAt = at(450), &closed
		// Fields UpdateAccount does not own must not move.
		upd.ParentID, upd.Path, upd.CreatedAt = "acc_elsewhere", canopy.RootPath("acc_elsewhere"), at(1)

		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.UpdateAccount(ctx, &upd)) })

		want := upd
		want.ParentID, want.Path, want.CreatedAt = kid.ParentID, kid.Path, kid.CreatedAt
		require.Equal(t, &want, b.mustGet(t, kid.ID))

		// And back: a nil link and nil closedAt clear the columns.
		upd2 := want
		upd2.Link, upd2.ClosedAt, upd2.Status = nil, nil, canopy.StatusActive
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.UpdateAccount(ctx, &upd2)) })
		require.Equal(t, &upd2, b.mustGet(t, kid.ID))
	})

	t.Run("SetParentRewritesParentAndLinkOnly", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		a, c := b.f.account(root), b.f.account(root)
		link := &canopy.Link{Origin: canopy.OriginInvited, AutoShareRole: canopy.RoleEditor,
			Billing: canopy.BillingSelf, CreatedAt: at(300)}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.SetParent(ctx, c.ID, a.ID, link, at(301)))
		})
		want := *c
		want.ParentID, want.Link, want.UpdatedAt = a.ID, link, at(301)
		require.Equal(t, &want, b.mustGet(t, c.ID), "SetParent leaves the path to MovePaths")
		require.Equal(t, a, b.mustGet(t, a.ID))
	})
}
