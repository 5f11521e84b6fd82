// Package testdb gives tests real, migrated, isolated stores: a SQLite file
// in a temporary directory, and a PostgreSQL schema of its own in the
// database named by CANOPY_TEST_DATABASE_URL. Without that variable the
// PostgreSQL half skips with a message — unless CANOPY_TEST_REQUIRE_POSTGRES
// is set (as CI sets it), in which case it fails.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canopyhq/canopy/store/postgres"
	"github.com/canopyhq/canopy/store/sqlite"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// Environment variables the harness reads.
const (
	EnvPostgresURL     = "CANOPY_TEST_DATABASE_URL"
	EnvRequirePostgres = "CANOPY_TEST_REQUIRE_POSTGRES"
	// EnvKeepSchema keeps each PostgreSQL test schema instead of dropping it.
	EnvKeepSchema = "CANOPY_TEST_KEEP_SCHEMA"
)

// Engines lists the engines tests run on.
var Engines = []string{"sqlite", "postgres"}

// SQLite returns a fresh, migrated SQLite store that is closed and deleted
// when the test ends. synchronous=NORMAL keeps tests fast; durability is
// not what they check.
func SQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "canopy.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := sqlite.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// PostgresURL returns the test database URL, skipping (or failing, when
// PostgreSQL is required) when it is not set.
func PostgresURL(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgresURL)
	if dsn == "" {
		if os.Getenv(EnvRequirePostgres) != "" {
			t.Fatalf("%s is set but %s is not: the PostgreSQL half of the suite must run", EnvRequirePostgres, EnvPostgresURL)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/canopy_test) to run them", EnvPostgresURL)
	}
	return dsn
}

// PostgresSchemaURL creates an empty schema of this test's own, dropped
// when the test ends, and returns a URL whose search_path selects it.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	dsn := PostgresURL(t)
	ctx := context.Background()
	schema := "canopy_test_" + randomHex(6)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema (is PostgreSQL running and %s right?): %v", EnvPostgresURL, err)
	}
	if os.Getenv(EnvKeepSchema) != "" {
		// For looking at a benchmark's data set afterwards (EXPLAIN).
		t.Logf("%s is set: keeping schema %s", EnvKeepSchema, schema)
		return WithSearchPath(dsn, schema)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	return WithSearchPath(dsn, schema)
}

// Postgres returns a fresh, migrated PostgreSQL store in a schema of its
// own, dropped when the test ends.
func Postgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	return PostgresWith(t, postgres.Options{MaxConns: 20})
}

// PostgresWith is Postgres with the given options (a small pool, a short
// acquire timeout).
func PostgresWith(t testing.TB, opts postgres.Options) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, PostgresSchemaURL(t), opts)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
}

// Open returns a fresh store of the named engine.
func Open(t testing.TB, engine string) *sqlstore.DB {
	t.Helper()
	switch engine {
	case "sqlite":
		return SQLite(t)
	case "postgres":
		return Postgres(t)
	}
	t.Fatalf("unknown engine %q", engine)
	return nil
}

// Each runs fn once per engine, as subtests named after the engines.
func Each(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			fn(t, Open(t, engine))
		})
	}
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(dsn, schema string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// OpenAt returns a fresh store of the named engine migrated only up to
// version, as an older Canopy left it; Upgrade applies the rest.
func OpenAt(t testing.TB, engine string, version int64) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	var (
		db  *sqlstore.DB
		err error
	)
	switch engine {
	case "sqlite":
		db, err = sqlite.Open(filepath.Join(t.TempDir(), "canopy.db"), sqlite.Options{Synchronous: "NORMAL"})
		if err == nil {
			t.Cleanup(func() { db.Close() })
			err = sqlite.MigrateTo(ctx, db, version)
		}
	case "postgres":
		db, err = postgres.Open(ctx, PostgresSchemaURL(t), postgres.Options{MaxConns: 20})
		if err == nil {
			t.Cleanup(func() { db.Close() })
			err = postgres.MigrateTo(ctx, db, version)
		}
	default:
		t.Fatalf("unknown engine %q", engine)
	}
	if err != nil {
		t.Fatalf("open %s at version %d: %v", engine, version, err)
	}
	return db
}

// Upgrade applies every pending migration to db.
func Upgrade(t testing.TB, engine string, db *sqlstore.DB) {
	t.Helper()
	var err error
	if engine == "sqlite" {
		_, err = sqlite.Migrate(context.Background(), db)
	} else {
		_, err = postgres.Migrate(context.Background(), db)
	}
	if err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
}
