// Command canopy runs the Canopy service: parent/child accounts for SaaS
// products. See "canopy help".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "canopy:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var u usageError
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `canopy — parent/child accounts for SaaS products

Usage:
  canopy <command> [flags]

Commands:
  serve     run the HTTP API (applies migrations, creates the platform root on first start)
  migrate   apply database migrations, or show their status
  outbox    list, show, retry or deliver queued emails
  sms       list or deliver queued texts, or take one in as the SMS provider would
  credits   verify that every balance equals the sum of its ledger entries
  keys      print a new API key of the platform root
  doctor    check that a SQLite database holds nothing PostgreSQL would refuse
  load      measure a running service under many sub-accounts debiting one umbrella
  import    create child accounts from a CSV file, through the API
  version   print the version

Run "canopy <command> --help" for a command's flags. Every flag can also be
set through the environment variable named in its help.
`

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "outbox":
		return runOutbox(ctx, args[1:], getenv, stdout, stderr)
	case "sms":
		return runSMS(ctx, args[1:], getenv, stdout, stderr)
	case "credits":
		return runCredits(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], getenv, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], getenv, stdout, stderr)
	case "load":
		return runLoad(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "canopy", version())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
}
