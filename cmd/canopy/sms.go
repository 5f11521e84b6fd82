package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

const smsSummary = `Operates the SMS outbox and simulates incoming texts:
  canopy sms list [--status pending|sent|failed] [--limit N]
  canopy sms deliver      send every SMS that is due, once (for cron), then exit
  canopy sms inbound --from +15551230000 --body "HIVINFO#Ada#F#34"
                          take in a text as the provider would deliver it (for trying
                          SMS collection without a provider); its replies are queued`

func runSMS(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub, args, done, err := subcommand("sms", smsSummary, "list, deliver or inbound", args, stdout, stderr)
	if done || err != nil {
		return err
	}
	// Each subcommand takes its own flags: list only reads the queue;
	// deliver and inbound send texts and need to know how.
	f := newFlags("sms "+sub, smsSummary, getenv, stderr)
	db := addDBFlags(f)
	var (
		addr       = new(string)
		svcFlags   *serviceFlags
		sf         smsFlags
		status     *string
		limit      *int
		from, body *string
		sid        *string
	)
	switch sub {
	case "list":
		status = f.fs.String("status", "", "only messages with this status: pending, sent or failed")
		limit = f.fs.Int("limit", 50, "how many messages, newest first")
	case "deliver", "inbound":
		addr = f.string("addr", "CANOPY_ADDR", service.DefaultAddr, "the service's address, for the default --public-url")
		sfl := addServiceFlags(f)
		svcFlags, sf = &sfl, addSMSFlags(f)
		if sub == "inbound" {
			from = f.fs.String("from", "", "the number the text comes from (E.164)")
			body = f.fs.String("body", "", "the text")
			sid = f.fs.String("sid", "", "the provider's message id (default: a new one; repeat one to see a retry ignored)")
		}
	default:
		return usageError{fmt.Sprintf("unknown sms subcommand %q (list, deliver or inbound)", sub)}
	}
	logLevel := f.string("log-level", "CANOPY_LOG_LEVEL", "warn", "debug, info, warn or error")
	if err := f.parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if sub == "inbound" && !canopy.ValidE164(*from) {
		return usageError{"sms inbound needs --from, an E.164 number such as +15551230000"}
	}
	var adjust []func(*service.Config) error
	if svcFlags != nil {
		adjust = append(adjust, sf.apply)
	}
	svc, closeDB, err := operate(ctx, db, svcFlags, *addr, log, adjust...)
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
	case "inbound":
		if *sid == "" {
			*sid = "SMsim" + canopy.NewIDs(nil, nil).ULID()
		}
		res, err := svc.ReceiveSMS(ctx, canopy.InboundSMS{SID: *sid, From: *from, Body: *body}, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s", *sid, res.Outcome)
		if res.RecordID != "" {
			fmt.Fprintf(stdout, " %s", res.RecordID)
		}
		fmt.Fprintln(stdout)
		for _, m := range res.Replies {
			fmt.Fprintf(stdout, "reply to %s (%s, queued): %s\n", m.To, m.ID, m.Body)
		}
		if len(res.Replies) > 0 {
			fmt.Fprintln(stdout, "canopy serve sends queued replies (or run canopy sms deliver); without --sms-url they are written to --sms-dir")
		}
		return nil
	}
	return usageError{fmt.Sprintf("unknown sms subcommand %q (list, deliver, inbound)", sub)}
}
