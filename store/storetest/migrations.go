package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/store/migrate"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// Migrator is one engine's pair of migration functions.
type Migrator struct {
	Up     func(context.Context, *sqlstore.DB) ([]migrate.Applied, error)
	Status func(context.Context, *sqlstore.DB) ([]migrate.Status, error)
	// Dir holds the engine's migration files, relative to the test.
	Dir string
}

// RunMigrations checks, on an empty database, that nothing is applied at
// first, that one Up applies every migration file, that a second applies
// nothing, and that Status then reports every migration applied.
func RunMigrations(t *testing.T, db *sqlstore.DB, m Migrator) {
	t.Helper()
	ctx := t.Context()
	files, err := filepath.Glob(filepath.Join(m.Dir, "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files)

	before, err := m.Status(ctx, db)
	require.NoError(t, err)
	require.Len(t, before, len(files))
	for _, s := range before {
		require.False(t, s.Applied, "empty database: %s", s.Name)
	}
	applied, err := m.Up(ctx, db)
	require.NoError(t, err)
	require.Len(t, applied, len(files), "the first run applies every migration")
	again, err := m.Up(ctx, db)
	require.NoError(t, err)
	require.Empty(t, again, "the second run applies nothing")
	status, err := m.Status(ctx, db)
	require.NoError(t, err)
	require.Len(t, status, len(files))
	for _, s := range status {
		require.True(t, s.Applied, "migration %d %s", s.Version, s.Name)
	}
	require.NoError(t, db.Ping(ctx))
}
