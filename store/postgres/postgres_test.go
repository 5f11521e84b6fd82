package postgres_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/postgres"
	"github.com/canopyhq/canopy/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	testdb.PostgresURL(t) // skip the whole suite at once without a database
	storetest.Run(t, func(t *testing.T) store.Store { return testdb.Postgres(t) })
}

func TestMigrationsApplyOnceAndAreIdempotent(t *testing.T) {
	t.Parallel()
	// An empty schema of its own: testdb.Postgres would have migrated it.
	db, err := postgres.Open(t.Context(), testdb.PostgresSchemaURL(t), postgres.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	storetest.RunMigrations(t, db, storetest.Migrator{Up: postgres.Migrate, Status: postgres.MigrationStatus, Dir: "migrations"})
}

// TestWriteRetriesTransientFailures checks that serialisation failures and
// deadlocks are retried and that the retry is invisible to the caller.
func TestWriteRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testdb.Postgres(t)
	for _, code := range []string{"40001", "40P01"} {
		calls := 0
		err := db.Write(ctx, func(tx store.Tx) error {
			calls++
			if calls == 1 {
				return &pgconn.PgError{Code: code}
			}
			return nil
		})
		require.NoError(t, err, code)
		require.Equal(t, 2, calls, code)
	}

	calls := 0
	permanent := &pgconn.PgError{Code: "40001"}
	err := db.Write(ctx, func(tx store.Tx) error {
		calls++
		return permanent
	})
	require.True(t, errors.Is(err, permanent))
	require.Greater(t, calls, 1)
	require.Less(t, calls, 10, "retries are bounded")
}
