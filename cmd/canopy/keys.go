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
	logLevel := f.string("log-level", "CANOPY_LOG_LEVEL", "warn", "debug, info, warn or error")
	if err := f.parseWithArgs(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	svc, closeDB, err := operate(ctx, db, nil, "", log)
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
