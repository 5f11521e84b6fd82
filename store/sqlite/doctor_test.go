package sqlite_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/store/sqlite"
)

// TestPortabilityFindsWhatPostgreSQLRefuses: a database an older Canopy
// wrote may hold text PostgreSQL refuses; the scan names each such value
// by table, column and row, and finds nothing in a clean database.
func TestPortabilityFindsWhatPostgreSQLRefuses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testdb.SQLite(t)
	b := testfactory.New(t, db)
	a, other := b.Child(t, b.Root.ID), b.Child(t, b.Root.ID)

	var clean []sqlite.Finding
	sc, err := sqlite.Portability(ctx, db, func(f sqlite.Finding) { clean = append(clean, f) })
	require.NoError(t, err)
	require.Empty(t, clean, "a database Canopy wrote is portable")
	require.Greater(t, sc.Tables, 10)
	require.Greater(t, sc.Values, 20)

	pool := db.WritePool()
	for _, stmt := range []struct {
		q    string
		args []any
	}{
		{`UPDATE accounts SET name = ? WHERE id = ?`, []any{"Bad \xff name", a.ID}},
		{`UPDATE accounts SET email = ? WHERE id = ?`, []any{"nul\x00@example.com", other.ID}},
		{`UPDATE accounts SET metadata = ? WHERE id = ?`, []any{`{"k":"\u0000"}`, a.ID}},
		{`UPDATE accounts SET depth = ? WHERE id = ?`, []any{int64(1) << 40, other.ID}},
	} {
		_, err := pool.ExecContext(ctx, stmt.q, stmt.args...)
		require.NoError(t, err)
	}
	var found []string
	_, err = sqlite.Portability(ctx, db, func(f sqlite.Finding) { found = append(found, f.Table+"."+f.Column+" "+f.Row) })
	require.NoError(t, err)
	slices.Sort(found)
	want := []string{"accounts.depth " + other.ID, "accounts.email " + other.ID, "accounts.metadata " + a.ID, "accounts.name " + a.ID}
	slices.Sort(want)
	require.Equal(t, want, found)
}

// TestPortabilityColumnsMatchPostgreSQL: the scan's lists of JSON and
// 32-bit columns are exactly the jsonb and integer columns of a migrated
// PostgreSQL schema.
func TestPortabilityColumnsMatchPostgreSQL(t *testing.T) {
	t.Parallel()
	db := testdb.Postgres(t)
	for typ, want := range map[string][]string{"jsonb": sqlite.JSONColumns, "integer": sqlite.Int32Columns} {
		rows, err := db.WritePool().QueryContext(t.Context(), `SELECT table_name || '.' || column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND data_type = $1 AND table_name <> 'goose_db_version' ORDER BY 1`, typ)
		require.NoError(t, err)
		var got []string
		for rows.Next() {
			var c string
			require.NoError(t, rows.Scan(&c))
			got = append(got, c)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		w := slices.Clone(want)
		slices.Sort(w)
		require.Equal(t, w, got, "PostgreSQL's %s columns", typ)
	}
}
