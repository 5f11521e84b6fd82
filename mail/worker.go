package mail

import (
	"cmp"
	"context"
	"errors"
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
	// Concurrency is how many connections send at once (default 4).
	Concurrency int
	// Batch is how many messages one connection sends per round (default 25).
	Batch int
	// Poll is how long the worker waits when nothing is due (default 1 s).
	Poll time.Duration
	// From is the sender address, "Name <addr>" or addr.
	From string
	// SendTimeout bounds one round of sending, which also lets in-flight
	// sends finish after shutdown begins (default 30 s).
	SendTimeout time.Duration
}

// Worker delivers the outbox: it claims due messages (leased, so several
// workers on one PostgreSQL never send the same message at once), renders
// them, sends them, and records each outcome as soon as the SMTP server
// has answered it. Delivery is at least once: a worker cut between an
// answer and its record leaves the lease to expire, and that message —
// at most one per connection — is sent again with the same Message-ID.
// A worker told to stop claims nothing more, finishes the messages in
// flight, and gives back (releases) those it had not started.
type Worker struct {
	svc     Outbox
	sender  Sender
	tpl     *Templates
	cfg     WorkerConfig
	log     *slog.Logger
	holding delivery.Holding
}

// Defaults of the delivery worker and of where emails go without SMTP;
// canopy serve's flags show the same values.
const (
	DefaultConcurrency = 4
	DefaultFrom        = "Canopy <no-reply@canopy.localhost>"
	DefaultDir         = "outbox"
)

// NewWorker returns a worker delivering svc's outbox (a *service.Service).
func NewWorker(svc Outbox, sender Sender, tpl *Templates, cfg WorkerConfig, log *slog.Logger) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 25
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
	return &Worker{svc: svc, sender: sender, tpl: tpl, cfg: cfg, log: log}
}

// Result counts what one round did.
type Result = delivery.Result

// Run delivers until ctx ends. A round under way when ctx ends records
// what it sent (bounded by SendTimeout) and releases what it had not sent.
func (w *Worker) Run(ctx context.Context) {
	w.log.Info("delivering email", "to", w.sender.Describe(), "concurrency", w.cfg.Concurrency)
	delivery.Run(ctx, w.Round, w.cfg.Poll, w.log, "outbox")
}

// Holding lists the messages the worker has claimed and not yet recorded
// or released: what a process that stops now abandons (they are sent
// again once their lease ends).
func (w *Worker) Holding() []string { return w.holding.IDs() }

// Drain delivers until nothing is due, for "canopy outbox deliver".
// Messages waiting for their retry time are left for later.
func (w *Worker) Drain(ctx context.Context) (Result, error) {
	return delivery.Drain(ctx, w.Round)
}

// Round claims up to Concurrency×Batch due messages and delivers them over
// Concurrency connections, recording each outcome as soon as it is known.
// When ctx ends during the round, the connections stop between messages
// and the messages not yet sent are released at once.
func (w *Worker) Round(ctx context.Context) (Result, error) {
	if ctx.Err() != nil {
		return Result{}, nil
	}
	msgs, err := w.svc.ClaimOutbox(ctx, w.cfg.Concurrency*w.cfg.Batch)
	if err != nil || len(msgs) == 0 {
		return Result{}, err
	}
	byID := map[string]*canopy.OutboxMessage{}
	for _, m := range msgs {
		byID[m.ID] = m
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
	)
	fail := func(m *canopy.OutboxMessage, cause error) {
		defer w.holding.Done(m.ID)
		if err := w.svc.OutboxFailed(rctx, m, cause); err != nil {
			w.log.Error("record outbox failure", "message", m.ID, "err", err.Error())
			return
		}
		mu.Lock()
		defer mu.Unlock()
		var p *service.PermanentError
		if errors.As(cause, &p) || m.Attempts >= w.svc.OutboxMaxAttempts() {
			res.Failed++
			w.log.Warn("email failed for good", "message", m.ID, "attempts", m.Attempts, "err", cause.Error())
		} else {
			res.Retried++
			w.log.Warn("email will be retried", "message", m.ID, "attempts", m.Attempts, "err", cause.Error())
		}
	}

	contents, errs := w.svc.PrepareEmails(rctx, msgs)
	var ready []*Message
	for i, m := range msgs {
		if errs[i] != nil {
			fail(m, errs[i])
			continue
		}
		msg, err := w.render(contents[i])
		if err != nil {
			fail(m, err)
			continue
		}
		ready = append(ready, msg)
	}

	rec := delivery.NewRecorder(rctx, w.svc.OutboxSent)
	w.send(ctx, ready, func(msg *Message, err error) {
		m := byID[msg.ID]
		switch {
		case err == nil:
			if rerr := rec.Record(m.ID); rerr != nil {
				// It went out; its lease expires and it goes out again
				// with the same Message-ID, which receivers deduplicate.
				mu.Lock()
				firstErr = cmp.Or(firstErr, fmt.Errorf("record sent message %s: %w", m.ID, rerr))
				mu.Unlock()
				return
			}
			w.holding.Done(m.ID)
			mu.Lock()
			res.Sent++
			mu.Unlock()
		case ctx.Err() != nil && errors.Is(err, ctx.Err()): // never tried: stopping
			mu.Lock()
			untried = append(untried, service.Claimed{ID: m.ID, Attempts: m.Attempts})
			mu.Unlock()
		case IsPermanent(err): // the server refused the mailbox for good
			fail(m, &service.PermanentError{Reason: err.Error()})
		default:
			fail(m, err)
		}
	})
	if err := w.holding.GiveBack(rctx, untried, len(msgs), w.svc.ReleaseOutbox, w.log, "emails"); err != nil {
		return res, err
	}
	return res, firstErr
}

// send splits msgs over Concurrency connections and reports each
// message's outcome as the server answers it.
func (w *Worker) send(ctx context.Context, msgs []*Message, report func(*Message, error)) {
	if len(msgs) == 0 {
		return
	}
	chunk := (len(msgs) + w.cfg.Concurrency - 1) / w.cfg.Concurrency
	var wg sync.WaitGroup
	for start := 0; start < len(msgs); start += chunk {
		part := msgs[start:min(start+chunk, len(msgs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.sender.Send(ctx, part, func(i int, err error) { report(part[i], err) })
		}()
	}
	wg.Wait()
}

func (w *Worker) render(p *service.PreparedEmail) (*Message, error) {
	subject, text, html, err := w.tpl.Render(p.Content)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", p.Outbox.Template, err)
	}
	return &Message{
		ID: p.Outbox.ID, From: w.cfg.From, To: p.Outbox.Recipient, ToName: p.Content.Common().UserName,
		Subject: subject, Text: text, HTML: html,
	}, nil
}
