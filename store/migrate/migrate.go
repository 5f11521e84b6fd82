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
	p, err := goose.NewProvider(d, db, sub, goose.WithDisableGlobalRegistry(true))
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
