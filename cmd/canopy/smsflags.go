package main

import (
	"log/slog"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/sms"
)

// smsFlags say where texts go and how incoming ones are checked. Retries,
// backoff and leases are the outbox's (--outbox-max-attempts,
// --outbox-backoff, …).
type smsFlags struct {
	url, sid, token, from, dir *string
	concurrency                *int
	idle, poll                 *time.Duration
}

func addSMSFlags(f *flags) smsFlags {
	return smsFlags{
		url: f.string("sms-url", "CANOPY_SMS_URL", "",
			"base URL of a Twilio-compatible Messages API (https://api.twilio.com); empty: write messages as files to --sms-dir"),
		sid:   f.string("sms-account-sid", "CANOPY_SMS_ACCOUNT_SID", "", "account SID of the SMS provider (basic auth user)"),
		token: f.string("sms-auth-token", "CANOPY_SMS_AUTH_TOKEN", "", "auth token of the SMS provider (or $CANOPY_SMS_AUTH_TOKEN_FILE)"),
		from:  f.string("sms-from", "CANOPY_SMS_FROM", "", "sending number (E.164) or messaging service id"),
		dir:   f.string("sms-dir", "CANOPY_SMS_DIR", sms.DefaultDir, "where messages are written as files when no provider is set"),
		concurrency: f.int("sms-concurrency", "CANOPY_SMS_CONCURRENCY", sms.DefaultConcurrency,
			"messages the SMS worker sends at once"),
		poll: f.duration("sms-poll", "CANOPY_SMS_POLL", sms.DefaultPoll, "how long the SMS worker waits before looking again when nothing is due"),
		idle: f.duration("sms-conversation-idle", "CANOPY_SMS_CONVERSATION_IDLE", service.Defaults().SMSConversationIdle,
			"an interactive SMS conversation without a reply for this long ends unsaved"),
	}
}

// apply puts the SMS settings the business rules need into cfg: the
// number collectors text (when --sms-from is one) and how long a
// conversation waits.
func (sf smsFlags) apply(cfg *service.Config) error {
	if *sf.idle < time.Minute {
		return usageError{"--sms-conversation-idle must be at least 1m"}
	}
	cfg.SMSConversationIdle = *sf.idle
	if canopy.ValidE164(*sf.from) {
		cfg.SMSNumber = *sf.from
	}
	return nil
}

// worker builds the SMS delivery worker.
func (sf smsFlags) worker(svc *service.Service, log *slog.Logger) (*sms.Worker, error) {
	if *sf.concurrency < 1 {
		return nil, usageError{"--sms-concurrency must be at least 1"}
	}
	var (
		sender sms.Sender
		err    error
	)
	if *sf.url != "" {
		sender, err = sms.NewTwilioSender(sms.TwilioConfig{BaseURL: *sf.url, AccountSID: *sf.sid, AuthToken: *sf.token, From: *sf.from})
		if err != nil {
			return nil, usageError{"--sms-url: " + err.Error()}
		}
	} else {
		if sender, err = sms.NewFileSender(*sf.dir); err != nil {
			return nil, err
		}
		log.Info("no SMS provider configured (--sms-url): texts are written as files", "dir", *sf.dir)
	}
	if *sf.poll <= 0 {
		return nil, usageError{"--sms-poll must be positive"}
	}
	return sms.NewWorker(svc, sender, sms.WorkerConfig{Concurrency: *sf.concurrency, Poll: *sf.poll}, log), nil
}
