package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// SMSQueued is one queued text as a response shows it.
type SMSQueued struct {
	ID     string              `json:"id"`
	To     string              `json:"to"`
	Status canopy.OutboxStatus `json:"status"`
	Body   string              `json:"body"`
}

// textOut is one text to queue.
type textOut struct {
	to, body string
}

// queueTexts queues texts about a form, sent in a mode, as one batch: one
// message credit per text, drawn from the payer of the account that set
// the collection up (o.acting) in one usage entry, in o's transaction
// (rule 8 (docs/rules.md)). Without the credits it fails with 402.
func (o *op) queueTexts(formID string, mode canopy.SMSMode, texts []textOut) (*canopy.LedgerEntry, []*canopy.SMSMessage, error) {
	if len(texts) == 0 {
		return nil, nil, nil
	}
	batch := o.s.ids.New(canopy.PrefixSMSBatch)
	e, _, err := o.charge(o.acting, Usage{Type: canopy.CreditMessage, Quantity: int64(len(texts)),
		Reason: "SMS about form " + formID, Ref: "sms:" + batch})
	if err != nil {
		return nil, nil, err
	}
	msgs := make([]*canopy.SMSMessage, len(texts))
	for i, t := range texts {
		msgs[i] = &canopy.SMSMessage{
			ID: o.s.ids.New(canopy.PrefixSMS), BatchID: batch, FormID: formID, AccountID: o.acting.ID, To: t.to, Mode: mode,
			Body: t.body, Status: canopy.OutboxPending, NextAttemptAt: o.now, ChargeEntryID: e.ID, PayerID: e.Debit, CreatedAt: o.now,
		}
	}
	if err := o.tx.InsertSMSMessages(o.ctx, msgs...); err != nil {
		return nil, nil, err
	}
	return e, msgs, nil
}

func queuedView(msgs []*canopy.SMSMessage) []SMSQueued {
	out := make([]SMSQueued, len(msgs))
	for i, m := range msgs {
		out[i] = SMSQueued{ID: m.ID, To: m.To, Status: m.Status, Body: m.Body}
	}
	return out
}

// ClaimSMS leases up to limit due SMS messages to this worker, counting an
// attempt for each. A message to a number on the opt-out list is never
// handed out: it fails and is refunded in the same transaction.
func (s *Service) ClaimSMS(ctx context.Context, limit int) ([]*canopy.SMSMessage, error) {
	var msgs []*canopy.SMSMessage
	err := s.store.Write(ctx, func(tx store.Tx) error {
		now := s.now()
		claimed, err := tx.ClaimSMS(ctx, now, now.Add(s.cfg.OutboxLease), limit)
		if err != nil || len(claimed) == 0 {
			msgs = nil
			return err
		}
		numbers := make([]string, 0, len(claimed))
		for _, m := range claimed {
			if !slices.Contains(numbers, m.To) {
				numbers = append(numbers, m.To)
			}
		}
		out, err := tx.OptedOut(ctx, numbers)
		if err != nil {
			return err
		}
		msgs = claimed[:0:0]
		for _, m := range claimed {
			if !slices.Contains(out, m.To) {
				msgs = append(msgs, m)
				continue
			}
			if err := s.refundSMS(ctx, tx, m, "the number opted out (texted STOP); nothing is sent to it until it texts START"); err != nil {
				return err
			}
		}
		return nil
	})
	return msgs, err
}

// SMSSent records a delivered message and the provider's id for it, and
// the event that it went out. A message settled already (by a worker whose
// lease had expired) is left as it is. Deliveries recorded at the same
// time (a worker sends several at once) share one transaction: each commit
// is an fsync on SQLite's one writer, which the incoming texts that queue
// the replies need too, and a commit per reply cost it more than the texts
// themselves. Each call still returns only once its own delivery is
// committed, so a worker that is killed sends again at most what it had in
// flight.
func (s *Service) SMSSent(ctx context.Context, m *canopy.SMSMessage, providerID string) error {
	r := &sentReq{ctx: ctx, m: m, providerID: providerID}
	s.sent.do(r)
	if errors.Is(r.err, errRunAlone) {
		return s.recordSent(ctx, []*sentReq{r})
	}
	return r.err
}

// maxSentBatch bounds the deliveries recorded in one transaction.
const maxSentBatch = 64

// sentReq is one delivery to record.
type sentReq struct {
	ctx        context.Context
	m          *canopy.SMSMessage
	providerID string
	err        error
}

func (r *sentReq) callerCtx() context.Context { return r.ctx }
func (r *sentReq) leave(err error)            { r.err = err }

// recordSentBatch records a batch of deliveries in one transaction; when
// it fails, each is recorded again on its own.
func (s *Service) recordSentBatch(live []*sentReq) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := s.recordSent(ctx, live)
	switch {
	case err != nil && len(live) == 1:
		live[0].err = err
	case err != nil:
		s.log.Warn("recording sent SMS together failed; each is recorded alone", "messages", len(live), "err", err)
		for _, r := range live {
			r.err = errRunAlone
		}
	}
}

// recordSent marks the messages sent, in one statement, and writes an
// event for each one it marked, in one transaction.
func (s *Service) recordSent(ctx context.Context, sent []*sentReq) error {
	return s.store.Write(ctx, func(tx store.Tx) error {
		deliveries := make([]store.SMSDelivery, len(sent))
		for i, r := range sent {
			deliveries[i] = store.SMSDelivery{ID: r.m.ID, ProviderID: r.providerID}
		}
		// A message not marked was settled already, by a worker whose
		// lease had expired.
		marked, err := tx.MarkSMSsSent(ctx, deliveries, s.now())
		if err != nil {
			return err
		}
		events := make([]*canopy.Event, 0, len(marked))
		for _, r := range sent {
			if i := slices.Index(marked, r.m.ID); i >= 0 {
				marked = slices.Delete(marked, i, i+1) // a message sent twice gets one event
				events = append(events, s.smsEvent(r.m, canopy.EventSMSSent, ""))
			}
		}
		if s.eventsOff || len(events) == 0 {
			return nil
		}
		return tx.InsertEvents(ctx, events...)
	})
}

// SMSFailed records a failed attempt. The message is retried after an
// exponential backoff with jitter (the email outbox's settings), or, when
// the failure is permanent (a *PermanentError) or the attempts are used
// up, marked failed and its message credit refunded to the payer it was
// charged to, in the same transaction. It reports whether the message
// failed for good.
func (s *Service) SMSFailed(ctx context.Context, m *canopy.SMSMessage, cause error) (final bool, err error) {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	final = isPermanent(cause) || m.Attempts >= s.cfg.OutboxMaxAttempts
	err = s.store.Write(ctx, func(tx store.Tx) error {
		if !final {
			return tx.MarkSMSRetry(ctx, m.ID, s.now().Add(s.retryDelay(m.Attempts)), msg)
		}
		return s.refundSMS(ctx, tx, m, msg)
	})
	if errors.Is(err, store.ErrNotFound) {
		return final, nil // settled already, by a worker whose lease had expired
	}
	return final, err
}

// refundSMS marks a message failed and gives its credit back: one refund
// entry (consumption → the payer charged), describing the same usage as
// the charge. Marking first means a message no longer pending (ErrNotFound)
// is never refunded twice.
func (s *Service) refundSMS(ctx context.Context, tx store.Tx, m *canopy.SMSMessage, lastErr string) error {
	now := s.now()
	refundID := s.ids.New(canopy.PrefixLedgerEntry)
	if err := tx.MarkSMSFailed(ctx, store.SMSFailure{ID: m.ID, LastError: lastErr, RefundEntryID: refundID}); err != nil {
		return err
	}
	if err := s.emitSMSEvent(ctx, tx, m, canopy.EventSMSFailed, lastErr); err != nil {
		return err
	}
	charge, err := tx.GetLedgerEntry(ctx, m.ChargeEntryID)
	if err != nil {
		return fmt.Errorf("load the charge of %s: %w", m.ID, err)
	}
	e := &canopy.LedgerEntry{
		ID: refundID, At: now, Kind: canopy.EntryRefund, Type: charge.Type, Amount: 1,
		Debit: canopy.BookConsumption, Credit: charge.Debit, Reason: "SMS " + m.ID + " could not be delivered",
		UsageAccountID: charge.UsageAccountID, UsagePath: charge.UsagePath, UsageRef: charge.UsageRef,
		IdempotencyKey: "refund:" + m.ID,
	}
	if err := tx.InsertLedgerEntry(ctx, e); err != nil {
		return err
	}
	// What was refunded no longer counts against the caps it was counted
	// against, in the month it was charged. The counts, the balance, then
	// the usage rollups: the order debits lock them in (chargeDebits).
	limits, err := tx.CreditLimits(ctx, charge.UsagePath.IDs(), charge.Type)
	if err != nil {
		return err
	}
	slices.SortFunc(limits, func(a, b store.CreditLimit) int { return cmp.Compare(a.AccountID, b.AccountID) })
	for _, l := range limits {
		if err := tx.ReturnMonthUsage(ctx, l.AccountID, charge.Type, canopy.MonthOf(charge.At), e.Amount); err != nil {
			return err
		}
	}
	if err := tx.AddCredits(ctx, e.Credit, e.Type, e.Amount, now); err != nil {
		return err
	}
	return tx.AddUsageDays(ctx, store.UsageDaysOf([]*canopy.LedgerEntry{e}))
}

// ListSMS lists SMS messages of every account, newest first, before the id
// before: the operator's view ("canopy sms list").
func (op Operator) ListSMS(ctx context.Context, status canopy.OutboxStatus, before string, limit int) ([]*canopy.SMSMessage, error) {
	if err := validOutboxStatus(status); err != nil {
		return nil, err
	}
	var rows []*canopy.SMSMessage
	err := op.s.read(ctx, func(tx store.Tx) error {
		var err error
		rows, err = tx.ListSMS(ctx, store.OutboxFilter{Status: status, Before: strings.TrimSpace(before), Limit: limit})
		return err
	})
	return rows, err
}
