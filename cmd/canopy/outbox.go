package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

const outboxSummary = `Operates the email outbox:
  canopy outbox list [--status pending|sent|failed] [--limit N]
  canopy outbox show MESSAGE_ID
  canopy outbox retry MESSAGE_ID… | --failed
  canopy outbox deliver      deliver every email that is due, once (for cron), then exit`

func runOutbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub, args, done, err := subcommand("outbox", outboxSummary, "list, show, retry or deliver", args, stdout, stderr)
	if done || err != nil {
		return err
	}
	// Each subcommand takes its own flags: only deliver renders and sends
	// email, and needs to know how.
	f := newFlags("outbox "+sub, outboxSummary, getenv, stderr)
	db := addDBFlags(f)
	var (
		addr     *string
		svcFlags *serviceFlags
		mf       mailFlags
		status   *string
		limit    *int
		failed   *bool
	)
	switch sub {
	case "list":
		status = f.fs.String("status", "", "only messages with this status: pending, sent or failed")
		limit = f.fs.Int("limit", 50, "how many messages, newest first")
	case "retry":
		failed = f.fs.Bool("failed", false, "retry every failed message")
	case "deliver":
		addr = f.string("addr", "CANOPY_ADDR", service.DefaultAddr, "the service's address, for the default --public-url")
		sfl := addServiceFlags(f)
		svcFlags, mf = &sfl, addMailFlags(f)
	case "show":
	default:
		return usageError{fmt.Sprintf("unknown outbox subcommand %q (list, show, retry or deliver)", sub)}
	}
	logLevel := f.string("log-level", "CANOPY_LOG_LEVEL", "warn", "debug, info, warn or error")
	if err := f.parseWithArgs(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	address := ""
	if addr != nil {
		address = *addr
	}
	svc, closeDB, err := operate(ctx, db, svcFlags, address, log)
	if err != nil {
		return err
	}
	defer closeDB()
	op := svc.Operator()

	switch sub {
	case "list":
		msgs, err := op.ListOutbox(ctx, canopy.OutboxStatus(*status), "", *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tATTEMPTS\tTEMPLATE\tRECIPIENT\tCREATED\tLAST ERROR")
		for _, m := range msgs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", m.ID, m.Status, m.Attempts, m.Template, m.Recipient,
				m.CreatedAt.Format("2006-01-02 15:04:05"), oneLine(m.LastError, 60))
		}
		return tw.Flush()
	case "show":
		if f.fs.NArg() != 1 {
			return usageError{"outbox show takes one message id"}
		}
		m, err := op.GetOutbox(ctx, f.fs.Arg(0))
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	case "retry":
		ids := f.fs.Args()
		if (len(ids) == 0) == !*failed {
			return usageError{"outbox retry takes message ids, or --failed for every failed message"}
		}
		n, err := op.Retry(ctx, ids...)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "requeued %d message(s); the worker in canopy serve (or canopy outbox deliver) sends them\n", n)
		return nil
	case "deliver":
		w, err := mf.worker(svc, log)
		if err != nil {
			return err
		}
		res, err := w.Drain(ctx)
		fmt.Fprintf(stdout, "sent %d, to be retried %d, failed %d\n", res.Sent, res.Retried, res.Failed)
		return err
	}
	return usageError{fmt.Sprintf("unknown outbox subcommand %q (list, show, retry, deliver)", sub)}
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
