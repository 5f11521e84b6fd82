package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// hold runs n operations of begin on goroutines of their own and keeps
// them open until the test ends.
func hold(t *testing.T, n int, begin func(context.Context, func(store.Tx) error) error) {
	t.Helper()
	release := make(chan struct{})
	var held sync.WaitGroup
	for range n {
		held.Add(1)
		go func() {
			_ = begin(context.Background(), func(store.Tx) error {
				held.Done()
				<-release
				return nil
			})
		}()
	}
	held.Wait()
	t.Cleanup(func() { close(release) })
}

// TestAcquireHasADeadline: when every connection is taken, an operation
// waits at most the acquire timeout and then fails with store.ErrBusy (a
// 503 with Retry-After for the client), or sooner with its context's
// error; it never waits as long as its context lives.
func TestAcquireHasADeadline(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		const timeout = 50 * time.Millisecond
		db.SetAcquireTimeout(timeout)
		// PostgreSQL's tests use one pool of 20 for both; SQLite's a writer
		// and a read pool, each exhausted on its own.
		writers := 1
		if db.Engine() == "postgres" {
			writers = 20
		}
		hold(t, writers, db.Write)
		ops := map[string]func(context.Context, func(store.Tx) error) error{"Write": db.Write}
		if db.Engine() == "postgres" {
			ops["Read"], ops["ReadOne"] = db.Read, db.ReadOne
		}
		for name, op := range ops {
			start := time.Now()
			ran := false
			err := op(t.Context(), func(store.Tx) error { ran = true; return nil })
			require.ErrorIs(t, err, store.ErrBusy, name)
			require.False(t, ran, "%s ran without a connection", name)
			require.GreaterOrEqual(t, time.Since(start), timeout, name)
			require.Less(t, time.Since(start), 5*time.Second, name)
			require.Equal(t, canopy.KindUnavailable, canopy.ErrorKind(err), "%s: a 503 for the client", name)

			ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
			err = op(ctx, func(store.Tx) error { return nil })
			cancel()
			require.True(t, errors.Is(err, context.DeadlineExceeded), "%s: %v", name, err)
		}
	})
}

// TestNestedBeginPanicsInTests: a goroutine that begins an operation while
// it holds one of the same store would deadlock a pool whose every
// connection is held that way; in tests it panics at once. Another
// goroutine may begin while the first holds its own.
func TestNestedBeginPanicsInTests(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		nested := map[string]func(context.Context, func(store.Tx) error) error{
			"Read": db.Read, "ReadOne": db.ReadOne, "Write": db.Write}
		for outerName, outer := range nested {
			for innerName, inner := range nested {
				require.Panics(t, func() {
					_ = outer(ctx, func(store.Tx) error {
						return inner(ctx, func(store.Tx) error { return nil })
					})
				}, "%s inside %s", innerName, outerName)
			}
		}
		err := db.Read(ctx, func(store.Tx) error {
			done := make(chan error)
			go func() { done <- db.Read(ctx, func(store.Tx) error { return nil }) }()
			return <-done
		})
		require.NoError(t, err, "another goroutine's read is no nesting")
		require.NoError(t, db.Read(ctx, func(store.Tx) error { return nil }), "the guard let go after the panics")
	})
}
