package service

import (
	"context"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// HoldDebits makes debits queue in the batcher until release is called,
// so that a test can put chosen debits, in a chosen order, into one
// shared transaction; queued reports how many wait.
func (s *Service) HoldDebits() (queued func() int, release func()) { return s.debits.queue.hold() }

// SetEventsOff stops (or resumes) writing events, for a benchmark that
// measures what they cost.
func (s *Service) SetEventsOff(off bool) { s.eventsOff = off }

// BeforeInboundFlush makes fn run in each batch of incoming texts just
// before the batch writes the balances it drew on; lockBalances says
// whether it read them under lock.
func (s *Service) BeforeInboundFlush(fn func(lockBalances bool)) { s.inbound.beforeFlush = fn }

// RecordUsageAlone is RecordUsage in a write of its own, never batched:
// the path a record's or a text's debit takes.
func (s *Service) RecordUsageAlone(ctx context.Context, c Caller, in UsageInput) (*UsageResult, error) {
	key, _ := debitKey(ctx, in)
	return s.recordUsageAlone(ctx, c, in, key)
}

// SetStreamChunk makes StreamForms read n forms a transaction.
func (s *Service) SetStreamChunk(n int) { s.streamChunk = n }

// HoldSent makes records of delivered texts (SMSSent) queue until release
// is called, so that a test can put chosen ones into one transaction.
func (s *Service) HoldSent() (queued func() int, release func()) { return s.sent.hold() }

// LinkRolesInRead reads the links of ids in a read transaction whose
// snapshot began (with a read of first) before meanwhile ran: a change
// that commits while a listing is under way.
func (s *Service) LinkRolesInRead(ctx context.Context, first string, ids []string, meanwhile func()) (map[string]canopy.Role, error) {
	var out map[string]canopy.Role
	err := s.read(ctx, func(tx store.Tx) error {
		if _, err := tx.GetAccount(ctx, first); err != nil {
			return err
		}
		meanwhile()
		var err error
		out, err = s.linkRoles(ctx, tx, ids)
		return err
	})
	return out, err
}
