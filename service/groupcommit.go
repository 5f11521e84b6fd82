package service

import (
	"context"
	"sync"
)

// groupCommit is the queue of a batcher (debits, incoming texts): the
// requests that arrive while shared transactions are in flight wait, and
// run together in the next one; alone, a request runs at once. One batch
// runs at a time, or as many as lanes says.
type groupCommit[R groupRequest] struct {
	max int // requests in one batch at most
	// lanes is how many batches may run at once (0 is 1).
	lanes int
	// run runs the live requests of a batch — those whose caller had not
	// left when it started — and sets each one's outcome.
	run func(live []R)

	mu      sync.Mutex
	pending []queued[R]
	running int  // goroutines draining pending
	held    bool // by hold: none starts
}

// groupRequest is one request of a batch.
type groupRequest interface {
	// callerCtx is the caller's context: a request whose caller left
	// before its batch started is not run, as a write would not be.
	callerCtx() context.Context
	// leave records that the caller left before the batch started.
	leave(err error)
}

type queued[R any] struct {
	r    R
	done chan struct{}
}

// do queues r and waits until its batch ran. It waits even when r's
// context ends: r may be committed by then, and the caller must not report
// a failure for a write that happened.
func (g *groupCommit[R]) do(r R) {
	q := queued[R]{r, make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, q)
	g.start()
	g.mu.Unlock()
	<-q.done
}

// start starts a drain on a free lane, if one is free; g.mu is held.
func (g *groupCommit[R]) start() {
	if !g.held && g.running < max(g.lanes, 1) {
		g.running++
		go g.drain()
	}
}

// drain runs batches until no request waits; the next request starts it
// anew.
func (g *groupCommit[R]) drain() {
	for {
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		n := min(len(g.pending), g.max)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		live := make([]R, 0, len(batch))
		for _, q := range batch {
			if err := q.r.callerCtx().Err(); err != nil {
				q.r.leave(err)
				continue
			}
			live = append(live, q.r)
		}
		if len(live) > 0 {
			g.run(live)
		}
		for _, q := range batch {
			close(q.done)
		}
	}
}

// hold makes requests queue until release is called, so that a test can
// put chosen requests, in a chosen order, into one batch; queued reports
// how many wait.
func (g *groupCommit[R]) hold() (queued func() int, release func()) {
	g.mu.Lock()
	g.held = true
	g.mu.Unlock()
	queued = func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.pending)
	}
	return queued, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.held = false
		if len(g.pending) > 0 {
			g.start()
		}
	}
}
