// Package postgres opens Canopy's production store on PostgreSQL through
// pgx. The SQL stays inside what PostgreSQL-compatible distributed engines
// accept: no extensions, no advisory locks.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/migrate"
	"github.com/canopyhq/canopy/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the PostgreSQL store.
type Options struct {
	// MaxConns bounds the connection pool (default 20).
	MaxConns int
	// AcquireTimeout bounds the wait for a free connection, after which
	// an operation fails with store.ErrBusy (default
	// sqlstore.DefaultAcquireTimeout).
	AcquireTimeout time.Duration
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string). It does not apply migrations; call Migrate.
func Open(ctx context.Context, dsn string, opts Options) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database url: %w", err)
	}
	if _, set := cfg.RuntimeParams["jit"]; !set {
		// Canopy's statements are short; compiling one (tens to hundreds
		// of milliseconds the first time) costs more than it saves.
		cfg.RuntimeParams["jit"] = "off"
	}
	db := stdlib.OpenDB(*cfg)
	n := opts.MaxConns
	if n <= 0 {
		n = 20
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	st := sqlstore.New(db, db, dialect{})
	if opts.AcquireTimeout > 0 {
		st.SetAcquireTimeout(opts.AcquireTimeout)
	}
	return st, nil
}

// Migrate applies every pending migration.
func Migrate(ctx context.Context, db *sqlstore.DB) ([]migrate.Applied, error) {
	return migrate.Up(ctx, migrate.Postgres, db.WritePool(), migrations)
}

// MigrateTo applies the pending migrations up to version, for tests that
// start from a database an older Canopy left.
func MigrateTo(ctx context.Context, db *sqlstore.DB, version int64) error {
	return migrate.UpTo(ctx, migrate.Postgres, db.WritePool(), migrations, version)
}

// MigrationStatus lists the migrations and whether each is applied.
func MigrationStatus(ctx context.Context, db *sqlstore.DB) ([]migrate.Status, error) {
	return migrate.List(ctx, migrate.Postgres, db.WritePool(), migrations)
}

var _ = stdlib.GetDefaultDriver // registers the "pgx" database/sql driver

type dialect struct{}

func (dialect) Engine() string             { return "postgres" }
func (dialect) NumberedPlaceholders() bool { return true }
func (dialect) ForShare() string           { return " FOR SHARE" }
func (dialect) ForUpdate() string          { return " FOR UPDATE" }
func (dialect) SkipLocked() string         { return " FOR UPDATE SKIP LOCKED" }
func (dialect) LockTreeSQL() string        { return "SELECT id FROM tree_lock WHERE id = 1 FOR UPDATE" }
func (dialect) Arg(v any) any              { return v }
func (dialect) CacheStatements() bool      { return false } // pgx caches prepared statements itself
func (dialect) ExactRowCounts() bool       { return true }  // a statement is a round trip
func (dialect) Arrays() bool               { return true }  // unnest

// ProbeEach: a subquery with OFFSET is not pulled up into a join.
func (dialect) ProbeEach() string     { return " OFFSET 0" }
func (dialect) CustomPlanSQL() string { return "SET LOCAL plan_cache_mode = force_custom_plan" }

// Fence: a subquery with OFFSET is planned on its own.
func (dialect) Fence() string { return " OFFSET 0" }

func (dialect) JSON(col string) string { return "CAST(" + col + " AS JSONB)" }
func (dialect) JSONArrayHas(expr string) string {
	return `(` + expr + `) @> jsonb_build_array(CAST(? AS TEXT))`
}
func (dialect) NotifySQL() string {
	return "SELECT pg_notify('" + AuthChannel + "', ?)"
}

// ReadTxOptions gives reads one snapshot for all their statements.
func (dialect) ReadTxOptions() *sql.TxOptions {
	return &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
}

func (dialect) Classify(err error) (string, bool) {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return "", false
	}
	switch e.Code {
	case "23505": // unique_violation
		switch e.ConstraintName {
		case store.UniqueUserEmail, store.UniqueUsername, store.UniqueMembership, store.UniqueAPIKeyHash, store.UniqueRootAccount,
			store.UniqueExternalRef, store.UniqueWorkflowName, store.UniquePendingInvite, store.UniqueContactEmail, store.UniqueInviteToken,
			store.UniqueLedgerKey, store.UniqueFormCode:
			return e.ConstraintName, false
		case "idempotency_keys_pkey":
			return store.UniqueIdempotency, false
		case "account_workflows_pkey":
			return store.UniqueWorkflowName, false
		}
		return store.UniqueOther, false
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return "", true
	}
	return "", false
}
