package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/canopyhq/canopy"
)

const smsSummary = `Operates the SMS outbox (forms shared by SMS):
  canopy sms list [--status pending|sent|failed] [--limit N]
  canopy sms deliver      send every SMS that is due, once (for cron), then exit`

func runSMS(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		fmt.Fprintln(stderr, smsSummary)
		return usageError{"sms needs a subcommand: list or deliver"}
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		fmt.Fprintln(stdout, smsSummary)
		return nil
	}
	f := newFlags("sms "+sub, smsSummary, getenv, stderr)
	db := addDBFlags(f)
	addr := f.string("addr", "CANOPY_ADDR", "127.0.0.1:8080", "the service's address, for the default --public-url")
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
	st, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer st.db.Close()
	if _, err := st.migrate(ctx, st.db); err != nil {
		return err
	}
	cfg, err := svcFlags.config(*addr, canopy.NewIDs(nil, nil), log)
	if err != nil {
		return err
	}
	svc := newService(st.db, cfg)

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
