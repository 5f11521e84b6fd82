package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/canopyhq/canopy/store/sqlite"
)

const doctorSummary = `Checks that a SQLite database can move to PostgreSQL: reads every text, JSON
and 32-bit integer value and lists each one PostgreSQL would refuse (text that
is not valid UTF-8 or holds NUL, JSON with \u0000 or a lone surrogate, an
integer beyond 32 bits), by table, column and row; exits 1 when it finds any.
It only reads; the database is not migrated or changed.`

func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newFlags("doctor", doctorSummary, getenv, stderr)
	db := addDBFlags(f)
	if err := f.parse(args); err != nil {
		return err
	}
	url := *db.url
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return usageError{"doctor checks a SQLite database (sqlite:PATH) before it moves to PostgreSQL"}
	}
	if _, err := os.Stat(strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "file:")); err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	st, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer st.db.Close()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	n := 0
	sc, err := sqlite.Portability(ctx, st.db, func(fd sqlite.Finding) {
		if n == 0 {
			fmt.Fprintln(tw, "TABLE\tCOLUMN\tROW\tPROBLEM")
		}
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", fd.Table, fd.Column, fd.Row, fd.Problem)
	})
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d value(s) PostgreSQL would refuse; fix them before moving", n)
	}
	fmt.Fprintf(stdout, "ok: %d value(s) in %d table(s) are text, JSON and integers PostgreSQL stores\n", sc.Values, sc.Tables)
	return nil
}
