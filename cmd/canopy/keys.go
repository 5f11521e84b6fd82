package main

import (
	"context"
	"fmt"
	"io"
)

const keysSummary = `Makes API keys at the installation's command line:
  canopy keys create-root [--name NAME]   print a new API key of the platform root (shown once);
                                          for scripts, and to replace a lost root key`

func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub, args, done, err := subcommand("keys", keysSummary, "create-root", args, stdout, stderr)
	if done || err != nil {
		return err
	}
	if sub != "create-root" {
		return usageError{fmt.Sprintf("unknown keys subcommand %q (create-root)", sub)}
	}
	f := newFlags("keys create-root", keysSummary, getenv, stderr)
	db := addDBFlags(f)
	name := f.fs.String("name", "operator", "the key's name, shown in key listings")
	svc, closeDB, err := operateDB(ctx, f, db, args, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	k, err := svc.Operator().CreateRootKey(ctx, *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, k.Secret)
	return nil
}
