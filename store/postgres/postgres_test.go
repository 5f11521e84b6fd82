package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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
	ctx := t.Context()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files)

	// An empty schema of its own, which testdb would have migrated already.
	dsn := testdb.PostgresURL(t)
	schema := fmt.Sprintf("canopy_test_migrate_%d", time.Now().UnixNano())
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	_, err = admin.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	db, err := postgres.Open(ctx, testdb.WithSearchPath(dsn, schema), postgres.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	before, err := postgres.MigrationStatus(ctx, db)
	require.NoError(t, err)
	require.Len(t, before, len(files))
	for _, s := range before {
		require.False(t, s.Applied, "fresh schema: %s", s.Name)
	}

	applied, err := postgres.Migrate(ctx, db)
	require.NoError(t, err)
	require.Len(t, applied, len(files), "first run applies every migration")

	again, err := postgres.Migrate(ctx, db)
	require.NoError(t, err)
	require.Empty(t, again, "second run applies nothing")

	status, err := postgres.MigrationStatus(ctx, db)
	require.NoError(t, err)
	require.Len(t, status, len(files))
	for _, s := range status {
		require.True(t, s.Applied, "migration %d %s", s.Version, s.Name)
	}
	require.NoError(t, db.Ping(ctx))
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
