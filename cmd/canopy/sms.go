package main

import (
	"context"
	"fmt"
	"github.com/canopyhq/canopy/service"
	"io"
	"text/tabwriter"

	"github.com/canopyhq/canopy"
)

const smsSummary = `Operates the SMS outbox (forms shared by SMS):
  canopy sms list [--status pending|sent|failed] [--limit N]
  canopy sms deliver      send every SMS that is due, once (for cron), then exit`

func runSMS(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub, args, done, err := subcommand("sms", smsSummary, "list or deliver", args, stdout, stderr)
	if done || err != nil {
		return err
	}
	f := newFlags("sms "+sub, smsSummary, getenv, stderr)
	db := addDBFlags(f)
	addr := f.string("addr", "CANOPY_ADDR", service.DefaultAddr, "the service's address, for the default --public-url")
	svcFlags := addServiceFlags(f)
	sf := addSMSFlags(f)
	status := f.fs.String("status", "", "list: only messages with this status")
	limit := f.fs.Int("limit", 50, "list: how many messages")
	logLevel := f.string("log-level", "CANOPY_LOG_LEVEL", "warn", "debug, info, warn or error")
	if err := f.parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	svc, closeDB, err := operate(ctx, db, &svcFlags, *addr, log)
	if err != nil {
		return err
	}
	defer closeDB()

	switch sub {
	case "list":
		msgs, err := svc.Operator().ListSMS(ctx, canopy.OutboxStatus(*status), "", *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tATTEMPTS\tTO\tFORM\tACCOUNT\tPAYER\tCREATED\tLAST ERROR")
		for _, m := range msgs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Status, m.Attempts, m.To, m.FormID, m.AccountID, m.PayerID,
				m.CreatedAt.Format("2006-01-02 15:04:05"), oneLine(m.LastError, 60))
		}
		return tw.Flush()
	case "deliver":
		w, err := sf.worker(svc, log)
		if err != nil {
			return err
		}
		res, err := w.Drain(ctx)
		fmt.Fprintf(stdout, "sent %d, to be retried %d, failed (and refunded) %d\n", res.Sent, res.Retried, res.Failed)
		return err
	}
	return usageError{fmt.Sprintf("unknown sms subcommand %q (list, deliver)", sub)}
}
