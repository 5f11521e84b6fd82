package service

import (
	"context"
	"errors"
	"sync"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Group commit for incoming texts. Each text is one write — the provider's
// id claimed, the record, its upload, the confirmation and its message
// credit — and most of its cost is the commit: an fsync, and on SQLite,
// where one connection writes, the pages the transaction changed, written
// out. Texts that arrive while a transaction is in flight therefore run
// together in the next one, each inside a savepoint of its own, so that a
// text whose handling fails is undone alone and the others commit; under
// load a few dozen texts share one commit, alone a text runs at once. When
// the shared transaction fails as a whole, each of its texts runs again in
// a transaction of its own.

// maxInboundBatch bounds the texts of one transaction.
const maxInboundBatch = 64

type inboundBatcher struct {
	s       *Service
	mu      sync.Mutex
	pending []*inboundReq
	running bool
}

type inboundReq struct {
	ctx       context.Context
	in        canopy.InboundSMS
	requestID string
	res       *InboundResult
	err       error
	done      chan struct{}
}

// receive queues a text and waits for its outcome, also when ctx ends: the
// text may be committed by then.
func (b *inboundBatcher) receive(ctx context.Context, in canopy.InboundSMS, requestID string) (*InboundResult, error) {
	r := &inboundReq{ctx: ctx, in: in, requestID: requestID, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	if !b.running {
		b.running = true
		go b.drain()
	}
	b.mu.Unlock()
	<-r.done
	if errors.Is(r.err, errRunAlone) {
		return b.alone(ctx, in, requestID)
	}
	return r.res, r.err
}

// alone takes a text in in a transaction of its own.
func (b *inboundBatcher) alone(ctx context.Context, in canopy.InboundSMS, requestID string) (*InboundResult, error) {
	var res *InboundResult
	err := b.s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = b.s.receiveIn(ctx, tx, in, requestID)
		return err
	})
	return res, err
}

// drain runs batches until no text waits; the next text starts it anew.
func (b *inboundBatcher) drain() {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		n := min(len(b.pending), maxInboundBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		b.run(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

// run takes a batch of texts in in one transaction, each in a savepoint.
func (b *inboundBatcher) run(batch []*inboundReq) {
	live := make([]*inboundReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err // gone before it started, as a write would be
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := b.s.store.Write(ctx, func(tx store.Tx) error {
		// The texts' accounts are read once for the batch (none changes
		// them): a clinic's hundred texts read its path once.
		shared := &batchTx{Tx: tx, accounts: map[string]*canopy.Account{}, keys: map[string]*canopy.APIKey{}, users: map[string]*canopy.User{}}
		if len(live) == 1 { // no savepoint needed: the text is the transaction
			r := live[0]
			var err error
			r.res, err = b.s.receiveIn(ctx, shared, r.in, r.requestID)
			return err
		}
		for _, r := range live { // afresh on each retry of the transaction
			r.res, r.err = nil, nil
			err := tx.Try(ctx, func() error {
				var err error
				r.res, err = b.s.receiveIn(ctx, shared, r.in, r.requestID)
				return err
			})
			if err != nil {
				r.res, r.err = nil, err
			}
		}
		return nil
	})
	switch {
	case err != nil && len(live) == 1:
		live[0].res, live[0].err = nil, err
	case err != nil:
		b.s.log.Warn("inbound SMS batch failed; its texts run alone", "texts", len(live), "err", err)
		for _, r := range live {
			r.res, r.err = nil, errRunAlone
		}
	}
}
