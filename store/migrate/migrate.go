// Package migrate applies Canopy's versioned, embedded SQL migrations with
// goose, for either engine.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// Dialect names a goose dialect.
type Dialect = goose.Dialect

// The supported dialects.
const (
	SQLite   = goose.DialectSQLite3
	Postgres = goose.DialectPostgres
)

// Applied is one migration that Up ran.
type Applied struct {
	Version int64
	Name    string
}

// Status is one known migration and whether it has been applied.
type Status struct {
	Version int64
	Name    string
	Applied bool
}

func provider(d Dialect, db *sql.DB, fsys fs.FS) (*goose.Provider, error) {
	sub, err := fs.Sub(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	// Out of order: migrations written on branches at the same time may
	// land in any order, and a database that ran a later one first must
	// still take the earlier.
	p, err := goose.NewProvider(d, db, sub, goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Up applies every pending migration in fsys/migrations.
func Up(ctx context.Context, d Dialect, db *sql.DB, fsys fs.FS) ([]Applied, error) {
	p, err := provider(d, db, fsys)
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	out := make([]Applied, 0, len(results))
	for _, r := range results {
		out = append(out, Applied{Version: r.Source.Version, Name: r.Source.Path})
	}
	return out, nil
}

// UpTo applies the pending migrations up to and including version; tests
// use it to build a database as an older Canopy left it.
func UpTo(ctx context.Context, d Dialect, db *sql.DB, fsys fs.FS, version int64) error {
	p, err := provider(d, db, fsys)
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("apply migrations up to %d: %w", version, err)
	}
	return nil
}

// List reports every known migration and whether it is applied.
func List(ctx context.Context, d Dialect, db *sql.DB, fsys fs.FS) ([]Status, error) {
	p, err := provider(d, db, fsys)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		out = append(out, Status{Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied})
	}
	return out, nil
}
