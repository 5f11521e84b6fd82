package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
)

const creditsSummary = `Checks the credits ledger:
  canopy credits verify   prove that every balance equals its ledger entries (credits less
                          debits), that none is negative, that the books balance and that the
                          usage rollups (by path and day, by path and month, by payer and day)
                          hold what the ledger says; exits 1 and lists the differences when
                          they do not`

func runCredits(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub, args, done, err := subcommand("credits", creditsSummary, "verify", args, stdout, stderr)
	if done || err != nil {
		return err
	}
	if sub != "verify" {
		return usageError{fmt.Sprintf("unknown credits subcommand %q (verify)", sub)}
	}
	f := newFlags("credits verify", creditsSummary, getenv, stderr)
	db := addDBFlags(f)
	svc, closeDB, err := operateDB(ctx, f, db, args, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	mismatches, balances, err := svc.VerifyCredits(ctx)
	if err != nil {
		return err
	}
	if len(mismatches) == 0 {
		fmt.Fprintf(stdout, "ok: %d balance(s) equal their ledger entries; none is negative; the books balance; the usage rollups agree\n", balances)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tTYPE\tBALANCE\tLEDGER")
	for _, m := range mismatches {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", m.AccountID, m.Type, m.Balance, m.Ledger)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return fmt.Errorf("%d balance(s) differ from the ledger", len(mismatches))
}
