// Package delivery is the loop the outbox workers (email, SMS) share:
// rounds of claiming and sending due messages, polled while idle, with
// backoff when a round fails.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/canopyhq/canopy/service"
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
// "SMS"). Once ctx ends it claims nothing more: a round under way finishes
// what it sent and gives back what it had not (see the workers' Round).
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

// Recorder writes "sent" for messages as soon as their provider has
// answered, one write for the answers that arrive while another write is
// under way (group commit). Record returns once its message is written,
// so a sender that waits for it before its next message leaves at most
// its message in flight unrecorded at any instant: a process cut then
// sends again at most one message per connection, not its whole round.
type Recorder = Batcher[string]

// NewRecorder returns a recorder that writes with write, in ctx.
func NewRecorder(ctx context.Context, write func(ctx context.Context, ids []string) error) *Recorder {
	return NewBatcher(ctx, write)
}

// Batcher is Recorder for any kind of outcome: Record hands one to the
// next write and waits for it.
type Batcher[T any] struct {
	ctx   context.Context
	write func(ctx context.Context, items []T) error

	mu      sync.Mutex
	pending []recording[T]
	busy    bool
}

type recording[T any] struct {
	item T
	done chan error
}

// NewBatcher returns a batcher that writes with write, in ctx.
func NewBatcher[T any](ctx context.Context, write func(ctx context.Context, items []T) error) *Batcher[T] {
	return &Batcher[T]{ctx: ctx, write: write}
}

// Record writes item, with whatever else is waiting, and returns the
// write's error.
func (r *Batcher[T]) Record(item T) error {
	rec := recording[T]{item: item, done: make(chan error, 1)}
	r.mu.Lock()
	r.pending = append(r.pending, rec)
	if !r.busy {
		r.busy = true
		go r.drain()
	}
	r.mu.Unlock()
	return <-rec.done
}

func (r *Batcher[T]) drain() {
	for {
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		if len(batch) == 0 {
			r.busy = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		items := make([]T, len(batch))
		for i, rec := range batch {
			items[i] = rec.item
		}
		err := r.write(r.ctx, items)
		for _, rec := range batch {
			rec.done <- err
		}
	}
}

// GiveBack releases the claimed messages a stopping worker did not try,
// with release (service.ReleaseOutbox or ReleaseSMS), notes that it no
// longer holds them, and logs how many went back of the claimed.
func (h *Holding) GiveBack(ctx context.Context, untried []service.Claimed, claimed int,
	release func(context.Context, []service.Claimed) (int, error), log *slog.Logger, what string) error {
	if len(untried) == 0 {
		return nil
	}
	n, err := release(ctx, untried)
	if err != nil {
		return fmt.Errorf("release %d unsent %s: %w", len(untried), what, err)
	}
	for _, c := range untried {
		h.Done(c.ID)
	}
	log.Info("stopping: gave back claimed "+what+" not yet sent", "released", n, "claimed", claimed)
	return nil
}

// Holding is the set of messages a worker has claimed and not finished
// with, for the shutdown log to name what it abandons.
type Holding struct {
	mu  sync.Mutex
	ids map[string]bool
}

// Add notes that the worker holds ids.
func (h *Holding) Add(ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids == nil {
		h.ids = map[string]bool{}
	}
	for _, id := range ids {
		h.ids[id] = true
	}
}

// Done notes that the worker is finished with id (recorded or released).
func (h *Holding) Done(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.ids, id)
}

// IDs lists the messages held now, sorted.
func (h *Holding) IDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.ids))
}
