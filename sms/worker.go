package sms

import (
	"context"
	"fmt"
	"github.com/canopyhq/canopy/internal/delivery"
	"log/slog"
	"sync"
	"time"

	"github.com/canopyhq/canopy"
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

// Worker delivers the SMS outbox.
type Worker struct {
	svc    *service.Service
	sender Sender
	cfg    WorkerConfig
	log    *slog.Logger
}

// NewWorker returns a worker.
func NewWorker(svc *service.Service, sender Sender, cfg WorkerConfig, log *slog.Logger) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
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

// Run delivers until ctx ends. A round under way when ctx ends finishes
// (bounded by SendTimeout) so that no sent message goes unrecorded.
func (w *Worker) Run(ctx context.Context) {
	w.log.Info("delivering SMS", "to", w.sender.Describe(), "concurrency", w.cfg.Concurrency)
	delivery.Run(ctx, w.Round, w.cfg.Poll, w.log, "SMS")
}

// Drain delivers until nothing is due, for "canopy sms deliver".
// Messages waiting for their retry time are left for later.
func (w *Worker) Drain(ctx context.Context) (Result, error) {
	return delivery.Drain(ctx, w.Round)
}

// Round claims up to Batch due messages, sends them Concurrency at a time,
// and records each outcome.
func (w *Worker) Round(ctx context.Context) (Result, error) {
	msgs, err := w.svc.ClaimSMS(ctx, w.cfg.Batch)
	if err != nil || len(msgs) == 0 {
		return Result{}, err
	}
	// From here on the round completes even if ctx ends: the messages are
	// claimed, and what is sent must be recorded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	defer cancel()

	var (
		mu       sync.Mutex
		res      Result
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, w.cfg.Concurrency)
	)
	for _, m := range msgs {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			outcome, err := w.deliver(ctx, m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			res.Add(outcome)
		}()
	}
	wg.Wait()
	return res, firstErr
}

// deliver sends one message and records what happened.
func (w *Worker) deliver(ctx context.Context, m *canopy.SMSMessage) (Result, error) {
	providerID, err := w.sender.Send(ctx, Message{ID: m.ID, To: m.To, Body: m.Body})
	if err == nil {
		if err := w.svc.SMSSent(ctx, m.ID, providerID); err != nil {
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
