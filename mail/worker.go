package mail

import (
	"context"
	"errors"
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
// them, sends them, and records each outcome. Delivery is at least once:
// a worker that stops after sending but before recording leaves the lease
// to expire, and the message is sent again with the same Message-ID.
type Worker struct {
	svc    *service.Service
	sender Sender
	tpl    *Templates
	cfg    WorkerConfig
	log    *slog.Logger
}

// NewWorker returns a worker.
func NewWorker(svc *service.Service, sender Sender, tpl *Templates, cfg WorkerConfig, log *slog.Logger) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
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

// Run delivers until ctx ends. A round under way when ctx ends finishes
// (bounded by SendTimeout) so that no sent message goes unrecorded.
func (w *Worker) Run(ctx context.Context) {
	w.log.Info("delivering email", "to", w.sender.Describe(), "concurrency", w.cfg.Concurrency)
	delivery.Run(ctx, w.Round, w.cfg.Poll, w.log, "outbox")
}

// Drain delivers until nothing is due, for "canopy outbox deliver".
// Messages waiting for their retry time are left for later.
func (w *Worker) Drain(ctx context.Context) (Result, error) {
	return delivery.Drain(ctx, w.Round)
}

// Round claims up to Concurrency×Batch due messages and delivers them.
func (w *Worker) Round(ctx context.Context) (Result, error) {
	msgs, err := w.svc.ClaimOutbox(ctx, w.cfg.Concurrency*w.cfg.Batch)
	if err != nil || len(msgs) == 0 {
		return Result{}, err
	}
	// From here on the round completes even if ctx ends: the messages are
	// claimed, and what is sent must be recorded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	defer cancel()

	var res Result
	var fail = func(m *canopy.OutboxMessage, cause error) {
		if err := w.svc.OutboxFailed(ctx, m, cause); err != nil {
			w.log.Error("record outbox failure", "message", m.ID, "err", err.Error())
			return
		}
		var p *service.PermanentError
		if errors.As(cause, &p) || m.Attempts >= w.svc.OutboxMaxAttempts() {
			res.Failed++
			w.log.Warn("email failed for good", "message", m.ID, "attempts", m.Attempts, "err", cause.Error())
		} else {
			res.Retried++
			w.log.Warn("email will be retried", "message", m.ID, "attempts", m.Attempts, "err", cause.Error())
		}
	}

	contents, errs := w.svc.PrepareEmails(ctx, msgs)
	var ready []*Message
	byID := map[string]*canopy.OutboxMessage{}
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
		byID[m.ID] = m
	}

	outcomes := w.send(ctx, ready)
	var sent []string
	for i, msg := range ready {
		switch err := outcomes[i]; {
		case err == nil:
			sent = append(sent, msg.ID)
		case IsPermanent(err): // the server refused the mailbox for good
			fail(byID[msg.ID], &service.PermanentError{Reason: err.Error()})
		default:
			fail(byID[msg.ID], err)
		}
	}
	if err := w.svc.OutboxSent(ctx, sent); err != nil {
		// The messages went out; their leases expire and they go out again
		// with the same Message-ID, which receivers deduplicate.
		return res, fmt.Errorf("record sent messages: %w", err)
	}
	res.Sent += len(sent)
	return res, nil
}

// send splits msgs over Concurrency connections and returns one outcome
// per message, in order.
func (w *Worker) send(ctx context.Context, msgs []*Message) []error {
	out := make([]error, len(msgs))
	chunk := (len(msgs) + w.cfg.Concurrency - 1) / w.cfg.Concurrency
	var wg sync.WaitGroup
	for start := 0; start < len(msgs); start += chunk {
		end := min(start+chunk, len(msgs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			copy(out[start:end], w.sender.Send(ctx, msgs[start:end]))
		}()
	}
	wg.Wait()
	return out
}

func (w *Worker) render(c *service.EmailContent) (*Message, error) {
	d := Data{
		Brand:             Brand{Name: c.Brand.Name, PrimaryColor: c.Brand.PrimaryColor, LogoURL: c.Brand.LogoURL},
		AccountName:       c.AccountName,
		ParentAccountName: c.ParentAccountName,
		UserName:          c.UserName,
		Email:             c.Email,
		Username:          c.Username,
		Role:              c.Role,
		Link:              c.Link,
		ExpiresAt:         c.ExpiresAt,
		SignIn:            c.SignIn,
		NewEmail:          c.NewEmail,
		OtherAccountName:  c.OtherAccountName,
		Message:           c.Note,
		DeclineLink:       c.DeclineLink,
		NewAccount:        c.NewAccount,
		ShareRole:         c.ShareRole,
		UmbrellaPays:      c.UmbrellaPays,
		DelegatedAdmin:    c.DelegatedAdmin,
		CreditType:        c.CreditType,
		Threshold:         c.Threshold,
		Balance:           c.Balance,
	}
	subject, text, html, err := w.tpl.Render(c.Outbox.Template, d)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", c.Outbox.Template, err)
	}
	return &Message{
		ID: c.Outbox.ID, From: w.cfg.From, To: c.Outbox.Recipient, ToName: c.UserName,
		Subject: subject, Text: text, HTML: html,
	}, nil
}
