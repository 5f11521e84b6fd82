package service_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// TestSnapshotReadsOneSnapshotAndCachesNothingStale: the reads a page
// makes in one Snapshot see the tree as it was when it began, even after
// a change committed meanwhile; what they leave in the caches is not that
// older state, so the next read outside sees the change; and a write on
// its context is refused.
func TestSnapshotReadsOneSnapshotAndCachesNothingStale(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b, umbrella, child, f := sharedUp(t, db)
		as := b.As(t, umbrella.ID)
		err := b.Svc.Snapshot(ctx, func(ctx context.Context) error {
			// The snapshot begins with its first read.
			_, err := b.Svc.GetAccount(ctx, as, umbrella.ID)
			require.NoError(t, err)
			// Meanwhile another request stops the umbrella's link to the
			// child sharing.
			done := make(chan error)
			go func() {
				_, err := b.Svc.UpdateLink(context.Background(), as, child.ID, service.LinkPatch{AutoShareRole: ptr(canopy.RoleNone)})
				done <- err
			}()
			require.NoError(t, <-done)
			got, err := b.Svc.GetForm(ctx, as, f.ID)
			require.NoError(t, err, "the snapshot still sees the link as it was")
			require.Equal(t, f.ID, got.ID)
			_, err = b.Svc.CreateContact(ctx, as, service.ContactInput{Email: "c@example.com"})
			require.ErrorIs(t, err, store.ErrReadOnly)
			return nil
		})
		require.NoError(t, err)
		_, err = b.Svc.GetForm(ctx, as, f.ID)
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err), "the link's change is seen once the snapshot ends")
	})
}

// TestAReadTransactionCachesNoLinkOlderThanAChange: a listing's read
// transaction that began before a link was lowered still reads the link as
// it was, as a snapshot must; but what it leaves in the caches is not that
// older state, so the next read of a form on this replica sees the change
// (rule 5, docs/rules.md: never served stale on the writing replica).
func TestAReadTransactionCachesNoLinkOlderThanAChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b, umbrella, child, f := sharedUp(t, db)
		as := b.As(t, umbrella.ID)
		roles, err := b.Svc.LinkRolesInRead(ctx, umbrella.ID, []string{child.ID}, func() {
			// Another request, on a goroutine (and connection) of its own.
			done := make(chan error)
			go func() {
				_, err := b.Svc.UpdateLink(ctx, as, child.ID, service.LinkPatch{AutoShareRole: ptr(canopy.RoleNone)})
				done <- err
			}()
			require.NoError(t, <-done)
		})
		require.NoError(t, err)
		require.NotEqual(t, canopy.RoleNone, roles[child.ID], "the read transaction sees the link as it began")
		_, err = b.Svc.GetForm(ctx, as, f.ID)
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err), "the lowered link holds at once on this replica")
	})
}

// sharedUp is an umbrella with a child whose form the link shares up to
// it, with nothing of them cached yet.
func sharedUp(t *testing.T, db *sqlstore.DB) (b *testfactory.Bundle, umbrella, child *canopy.Account, f *service.FormView) {
	b = testfactory.New(t, db)
	umbrella = b.Child(t, b.Root.ID)
	child = b.Child(t, umbrella.ID)
	f, err := b.Svc.CreateForm(context.Background(), b.As(t, child.ID), service.FormInput{Name: "Visits",
		Questions: []canopy.Question{{ID: "name", Label: "Name", Type: canopy.QuestionText}}})
	require.NoError(t, err)
	b.Svc.InvalidateAuthCache()
	return b, umbrella, child, f
}
