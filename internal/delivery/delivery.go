// Package delivery is the loop the outbox workers (email, SMS) share:
// rounds of claiming and sending due messages, polled while idle, with
// backoff when a round fails.
package delivery

import (
	"context"
	"log/slog"
	"time"
)

// Result counts what one round did.
type Result struct {
	Sent, Retried, Failed int
}

// Add counts o too.
func (r *Result) Add(o Result) {
	r.Sent += o.Sent
	r.Retried += o.Retried
	r.Failed += o.Failed
}

// Total is the number of messages handled.
func (r Result) Total() int { return r.Sent + r.Retried + r.Failed }

// Round claims due messages and delivers them.
type Round func(ctx context.Context) (Result, error)

// Run calls round until ctx ends: at once again while there is work,
// after poll when there is none, and after a doubling delay (at most a
// minute) when a round fails. what names the messages in the log ("outbox",
// "SMS").
func Run(ctx context.Context, round Round, poll time.Duration, log *slog.Logger, what string) {
	errDelay := poll
	for ctx.Err() == nil {
		res, err := round(ctx)
		if err != nil {
			log.Error(what+" delivery round failed", "err", err.Error(), "retryIn", errDelay.String())
			sleep(ctx, errDelay)
			errDelay = min(2*errDelay, time.Minute)
			continue
		}
		errDelay = poll
		if res.Total() > 0 {
			log.Info(what+" delivered", "sent", res.Sent, "retried", res.Retried, "failed", res.Failed)
			continue
		}
		sleep(ctx, poll)
	}
}

// Drain calls round until nothing is due, adding up what the rounds did.
// Messages waiting for their retry time are left for later.
func Drain(ctx context.Context, round Round) (Result, error) {
	var total Result
	for {
		res, err := round(ctx)
		total.Add(res)
		if err != nil || res.Total() == 0 {
			return total, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
