package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlite"
	"github.com/canopyhq/canopy/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return testdb.SQLite(t) })
}

func TestMigrationsApplyOnceAndAreIdempotent(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "canopy.db"), sqlite.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	storetest.RunMigrations(t, db, storetest.Migrator{Up: sqlite.Migrate, Status: sqlite.MigrationStatus, Dir: "migrations"})
}

// TestReopenKeepsData checks that the file, not the process, holds the data.
func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "canopy.db")
	db, err := sqlite.Open(path, sqlite.Options{})
	require.NoError(t, err)
	_, err = sqlite.Migrate(ctx, db)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = os.Stat(path)
	require.NoError(t, err)

	db, err = sqlite.Open(path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	again, err := sqlite.Migrate(ctx, db)
	require.NoError(t, err)
	require.Empty(t, again)
}
