package webhook

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/canopyhq/canopy/internal/delivery"
	"github.com/canopyhq/canopy/service"
)

// DefaultConcurrency is how many deliveries a worker posts at once unless
// configured otherwise.
const DefaultConcurrency = 32

// WorkerConfig tunes delivery.
type WorkerConfig struct {
	// Concurrency is how many deliveries are posted at once (default
	// DefaultConcurrency).
	Concurrency int
	// Batch is how many deliveries one round claims (default 256).
	Batch int
	// FanOut is how many events one fan-out step takes off their queue
	// (default 500); a round repeats it while it finds that many.
	FanOut int
	// Poll is how long the worker waits when nothing is due (default
	// 500 ms).
	Poll time.Duration
	// SendTimeout is how long a round starts posts (default 30 s): those
	// it did not start by then are given back for the next round. A post
	// started may take the client's timeout more, also after shutdown
	// begins, so a claim's lease must outlast both.
	SendTimeout time.Duration
	// Clock tells the time deliveries are signed at; time.Now when nil.
	Clock func() time.Time
}

// Worker fans events out to endpoints and delivers them, recording each
// answer as it comes (group commit). A worker told to stop claims nothing
// more, finishes the posts in flight and gives back those it had not
// started.
type Worker struct {
	svc     *service.Service
	client  *Client
	cfg     WorkerConfig
	log     *slog.Logger
	holding delivery.Holding
}

// NewWorker returns a worker posting with client.
func NewWorker(svc *service.Service, client *Client, cfg WorkerConfig, log *slog.Logger) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.FanOut <= 0 {
		cfg.FanOut = 500
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{svc: svc, client: client, cfg: cfg, log: log}
}

// Result counts what one round did: deliveries acknowledged, and those
// that were not (tried again later, or failed for good).
type Result = delivery.Result

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.log.Info("delivering webhooks", "concurrency", w.cfg.Concurrency, "allowLocal", w.client.cfg.AllowLocal)
	delivery.Run(ctx, w.Round, w.cfg.Poll, w.log, "webhook")
}

// Holding lists the deliveries claimed and not yet recorded or released.
func (w *Worker) Holding() []string { return w.holding.IDs() }

// Drain delivers until nothing is due (deliveries waiting for their retry
// time are left for later).
func (w *Worker) Drain(ctx context.Context) (Result, error) {
	return delivery.Drain(ctx, w.Round)
}

// maxFanOutSteps bounds the fan-out of one round, so that a burst of
// events does not keep deliveries waiting.
const maxFanOutSteps = 8

// Round fans pending events out into deliveries, then claims up to Batch
// due deliveries and posts them Concurrency at a time. When ctx ends
// during the round, no further post starts, and those not started are
// released at once.
func (w *Worker) Round(ctx context.Context) (Result, error) {
	if ctx.Err() != nil {
		return Result{}, nil
	}
	for range maxFanOutSteps {
		n, err := w.svc.FanOutEvents(ctx, w.cfg.FanOut)
		if err != nil {
			return Result{}, err
		}
		if n < w.cfg.FanOut {
			break
		}
	}
	sends, err := w.svc.ClaimWebhookDeliveries(ctx, w.cfg.Batch)
	if err != nil {
		return Result{}, err
	}
	if len(sends) == 0 {
		// A fan-out that left events waiting (more than a round takes)
		// goes on after the poll interval, at some thousands a second.
		return Result{}, nil
	}
	for _, s := range sends {
		w.holding.Add(s.Delivery.ID)
	}
	// From here on what is posted or given back is recorded even if ctx
	// ends: the deliveries are claimed. Posts start until the round's
	// deadline, and each may then take the client's timeout.
	starting, stopStarting := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer stopStarting()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout+w.client.cfg.Timeout+10*time.Second)
	defer cancel()
	rec := delivery.NewBatcher(rctx, w.svc.RecordWebhookResults)

	var (
		mu       sync.Mutex
		res      Result
		firstErr error
		untried  []service.Claimed
		wg       sync.WaitGroup
		slots    = make(chan struct{}, w.cfg.Concurrency)
	)
	for _, s := range sends {
		started := false
		select {
		case slots <- struct{}{}:
			if started = starting.Err() == nil; !started {
				<-slots
			}
		case <-starting.Done():
		}
		if !started {
			untried = append(untried, service.Claimed{ID: s.Delivery.ID, Attempts: s.Delivery.Attempts})
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			r := w.post(rctx, s)
			err := rec.Record(r)
			if err == nil {
				w.holding.Done(s.Delivery.ID)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			case r.Succeeded():
				res.Sent++
			default:
				res.Retried++
			}
		}()
	}
	wg.Wait()
	if err := w.holding.GiveBack(rctx, untried, len(sends), w.svc.ReleaseWebhookDeliveries, w.log, "webhook deliveries"); err != nil {
		return res, err
	}
	return res, firstErr
}

// post sends one claimed delivery.
func (w *Worker) post(ctx context.Context, s *service.WebhookSend) service.WebhookResult {
	r := service.WebhookResult{Delivery: s.Delivery}
	if s.Body == nil {
		r.Err = errors.New("the event is no longer kept (older than the event retention)")
		return r
	}
	r.Response, r.Err = w.client.Post(ctx, Delivery{URL: s.URL, ID: s.Delivery.EventID, Secrets: s.Secrets, Body: s.Body}, w.cfg.Clock())
	if r.Err != nil {
		w.log.Debug("webhook delivery failed", "delivery", s.Delivery.ID, "attempt", s.Delivery.Attempts, "err", r.Err.Error())
	}
	return r
}
