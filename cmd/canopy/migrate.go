package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
)

const migrateSummary = `Applies pending database migrations (the default), or with --status lists
every migration and whether it has been applied. "canopy serve" also
applies migrations when it starts.`

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newFlags("migrate", migrateSummary, getenv, stderr)
	db := addDBFlags(f)
	status := f.fs.Bool("status", false, "list migrations and whether each is applied, and change nothing")
	if err := f.parse(args); err != nil {
		return err
	}
	st, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer st.db.Close()
	if *status {
		list, err := st.statuses(ctx, st.db)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATE")
		for _, m := range list {
			state := "pending"
			if m.Applied {
				state = "applied"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, state)
		}
		return tw.Flush()
	}
	applied, err := st.migrate(ctx, st.db)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s database %s is up to date\n", st.engine, st.where)
		return nil
	}
	for _, m := range applied {
		fmt.Fprintf(stdout, "applied %d %s\n", m.Version, m.Name)
	}
	return nil
}
