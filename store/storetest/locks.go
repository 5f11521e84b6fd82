package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/store"
)

// holdFor is how long the first transaction keeps its lock after the
// second has been let go. It only decides how likely a broken lock is to be
// caught; a working lock passes whatever the scheduling, because the
// assertion is about the order of two events, not about durations.
const holdFor = 150 * time.Millisecond

// requireSerialised runs two write transactions: the first takes its lock
// with first, then lets the second start, and holds on for holdFor before
// it commits; the second takes its lock with second. The second must get
// its lock only after the first has finished.
func requireSerialised(t *testing.T, st store.Store, first, second func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := t.Context()
	var (
		mu     sync.Mutex
		events []string
	)
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	locked := make(chan struct{})
	var once sync.Once
	secondDone := make(chan error, 1)
	go func() {
		<-locked
		secondDone <- st.Write(ctx, func(tx store.Tx) error {
			if err := second(ctx, tx); err != nil {
				return err
			}
			record("second locked")
			return nil
		})
	}()
	err := st.Write(ctx, func(tx store.Tx) error {
		if err := first(ctx, tx); err != nil {
			return err
		}
		once.Do(func() { close(locked) })
		time.Sleep(holdFor)
		record("first done")
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, <-secondDone)
	require.Equal(t, []string{"first done", "second locked"}, events)
}

func testLocks(t *testing.T, open Opener) {
	t.Run("LockTreeSerialisesStructuralChanges", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		b.f.account(nil)
		lock := func(ctx context.Context, tx store.Tx) error { return tx.LockTree(ctx) }
		requireSerialised(t, b.st, lock, lock)
	})

	t.Run("LockSubtreeMakesChildCreationWait", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		// A move holds the subtree of a; creating a child of a11 reads its
		// parent for share, and must wait.
		requireSerialised(t, b.st,
			func(ctx context.Context, tx store.Tx) error { return tx.LockSubtree(ctx, tr.a.Path) },
			func(ctx context.Context, tx store.Tx) error {
				_, err := tx.GetAccountForShare(ctx, tr.a11.ID)
				return err
			})
	})

	t.Run("GetAccountForShareMakesSubtreeLockWait", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		// A child creation holds its parent a1 for share; a move of a's
		// subtree must wait for it.
		requireSerialised(t, b.st,
			func(ctx context.Context, tx store.Tx) error {
				_, err := tx.GetAccountForShare(ctx, tr.a1.ID)
				return err
			},
			func(ctx context.Context, tx store.Tx) error { return tx.LockSubtree(ctx, tr.a.Path) })
	})

	t.Run("LockSubtreeMakesMoveOfTheSameSubtreeWait", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		lock := func(ctx context.Context, tx store.Tx) error { return tx.LockSubtree(ctx, tr.a1.Path) }
		requireSerialised(t, b.st, lock, func(ctx context.Context, tx store.Tx) error {
			return tx.LockSubtree(ctx, tr.a.Path)
		})
	})
}
