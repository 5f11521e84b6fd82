package sqlite_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store"
)

// TestStatementsArePreparedOnceAndReused: a query runs unprepared the first
// time, is prepared after its transaction, and later transactions use the
// prepared statement with the same results.
func TestStatementsArePreparedOnceAndReused(t *testing.T) {
	db := testdb.SQLite(t)
	ctx := context.Background()
	count := func() int {
		var n int
		require.NoError(t, db.Read(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.CountActiveAPIKeys(ctx, "acc_nobody")
			return err
		}))
		return n
	}
	_, before := db.PreparedStatements()
	require.Equal(t, 0, count())
	_, after := db.PreparedStatements()
	require.Equal(t, before+1, after, "the query was prepared once its transaction ended")
	require.Equal(t, 0, count())
	_, again := db.PreparedStatements()
	require.Equal(t, after, again, "and reused, not prepared again")

	require.NoError(t, db.Write(ctx, func(tx store.Tx) error {
		return tx.ReplaceWorkflows(ctx, "acc_nobody", nil)
	}))
	w, _ := db.PreparedStatements()
	require.Positive(t, w)
}
