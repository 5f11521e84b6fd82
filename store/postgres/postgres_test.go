package postgres_test

import (
	"errors"
	"path/filepath"
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

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files)

	db := testdb.Postgres(t) // a fresh schema, migrated once

	again, err := postgres.Migrate(ctx, db)
	require.NoError(t, err)
	require.Empty(t, again, "second run applies nothing")

	status, err := postgres.MigrationStatus(ctx, db)
	require.NoError(t, err)
	require.Len(t, status, len(files))
	for _, s := range status {
		require.True(t, s.Applied, "migration %d %s", s.Version, s.Name)
	}
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
