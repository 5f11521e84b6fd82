package sms

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/delivery"
	"github.com/canopyhq/canopy/service"
)

// WorkerConfig tunes delivery.
type WorkerConfig struct {
	// Concurrency is how many messages are sent at once (default 4).
	Concurrency int
	// Batch is how many messages one round claims (default 50).
	Batch int
	// Poll is how long the worker waits when nothing is due (default 1 s).
	Poll time.Duration
	// SendTimeout bounds one round of sending, which also lets in-flight
	// sends finish after shutdown begins (default 30 s).
	SendTimeout time.Duration
}

// Worker delivers the SMS outbox, recording each message's outcome as
// soon as the provider has answered it. A worker told to stop claims
// nothing more, finishes the messages in flight, and gives back (releases)
// those it had not started.
type Worker struct {
	svc     Outbox
	sender  Sender
	cfg     WorkerConfig
	log     *slog.Logger
	holding delivery.Holding
}

// Defaults of the SMS worker and of where texts go without a provider;
// canopy serve's flags show the same values.
const (
	DefaultConcurrency = 4
	DefaultPoll        = time.Second
	DefaultDir         = "sms-outbox"
)

// NewWorker returns a worker delivering svc's outbox (a *service.Service).
func NewWorker(svc Outbox, sender Sender, cfg WorkerConfig, log *slog.Logger) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{svc: svc, sender: sender, cfg: cfg, log: log}
}

// Describe says where messages go.
func (w *Worker) Describe() string { return w.sender.Describe() }

// Result counts what one round did.
type Result = delivery.Result

// Run delivers until ctx ends. A round under way when ctx ends records
// what it sent (bounded by SendTimeout) and releases what it had not sent.
func (w *Worker) Run(ctx context.Context) {
	w.log.Info("delivering SMS", "to", w.sender.Describe(), "concurrency", w.cfg.Concurrency)
	delivery.Run(ctx, w.Round, w.cfg.Poll, w.log, "SMS")
}

// Holding lists the messages the worker has claimed and not yet recorded
// or released: what a process that stops now abandons.
func (w *Worker) Holding() []string { return w.holding.IDs() }

// Drain delivers until nothing is due, for "canopy sms deliver".
// Messages waiting for their retry time are left for later.
func (w *Worker) Drain(ctx context.Context) (Result, error) {
	return delivery.Drain(ctx, w.Round)
}

// Round claims up to Batch due messages, sends them Concurrency at a time,
// and records each outcome. When ctx ends during the round, no further
// message is started, and those not started are released at once.
func (w *Worker) Round(ctx context.Context) (Result, error) {
	if ctx.Err() != nil {
		return Result{}, nil
	}
	msgs, err := w.svc.ClaimSMS(ctx, w.cfg.Batch)
	if err != nil || len(msgs) == 0 {
		return Result{}, err
	}
	for _, m := range msgs {
		w.holding.Add(m.ID)
	}
	// From here on what is sent or given back is recorded even if ctx
	// ends: the messages are claimed.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	defer cancel()

	var (
		mu       sync.Mutex
		res      Result
		firstErr error
		untried  []service.Claimed
		wg       sync.WaitGroup
		slots    = make(chan struct{}, w.cfg.Concurrency)
	)
	for _, m := range msgs {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			untried = append(untried, service.Claimed{ID: m.ID, Attempts: m.Attempts})
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			outcome, err := w.deliver(rctx, m)
			if err == nil {
				w.holding.Done(m.ID)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			res.Add(outcome)
		}()
	}
	wg.Wait()
	if err := w.holding.GiveBack(rctx, untried, len(msgs), w.svc.ReleaseSMS, w.log, "SMS"); err != nil {
		return res, err
	}
	return res, firstErr
}

// deliver sends one message and records what happened.
func (w *Worker) deliver(ctx context.Context, m *canopy.SMSMessage) (Result, error) {
	providerID, err := w.sender.Send(ctx, Message{ID: m.ID, To: m.To, Body: m.Body})
	if err == nil {
		if err := w.svc.SMSSent(ctx, m, providerID); err != nil {
			// It went out; the lease expires and it goes out again.
			return Result{}, fmt.Errorf("record sent SMS %s: %w", m.ID, err)
		}
		w.log.Debug("SMS sent", "message", m.ID, "providerId", providerID)
		return Result{Sent: 1}, nil
	}
	cause := err
	if IsRejected(err) {
		cause = &service.PermanentError{Reason: err.Error()}
	}
	final, rerr := w.svc.SMSFailed(ctx, m, cause)
	if rerr != nil {
		return Result{}, fmt.Errorf("record SMS failure of %s: %w", m.ID, rerr)
	}
	if final {
		w.log.Warn("SMS failed for good; its credit was refunded", "message", m.ID, "attempts", m.Attempts, "err", err.Error())
		return Result{Failed: 1}, nil
	}
	w.log.Warn("SMS will be retried", "message", m.ID, "attempts", m.Attempts, "err", err.Error())
	return Result{Retried: 1}, nil
}
