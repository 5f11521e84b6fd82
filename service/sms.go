package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// SMSInput shares a form by SMS with the phone numbers in To.
type SMSInput struct {
	To   []string       `json:"to"`
	Mode canopy.SMSMode `json:"mode"`
}

// SMSShare is a queued SMS share: one batch of messages, charged as one
// usage entry of len(Messages) message credits to the payer.
type SMSShare struct {
	BatchID string         `json:"batchId"`
	FormID  string         `json:"formId"`
	Mode    canopy.SMSMode `json:"mode"`
	// ChargeEntryID is the usage entry and PayerID the account it debited.
	ChargeEntryID string      `json:"chargeEntryId"`
	PayerID       string      `json:"payerId"`
	Credits       int64       `json:"credits"`
	Messages      []SMSQueued `json:"messages"`
}

// SMSQueued is one queued message as the share's response shows it.
type SMSQueued struct {
	ID     string              `json:"id"`
	To     string              `json:"to"`
	Status canopy.OutboxStatus `json:"status"`
	Body   string              `json:"body"`
}

func validateSMS(in SMSInput) error {
	var v canopy.Validator
	switch {
	case in.Mode == "":
		v.Add("mode", "required", "is required: structured (a link to the form) or interactive (the first question, answered by reply)")
	case !in.Mode.Valid():
		v.Add("mode", "invalid-enum", "must be structured or interactive")
	}
	switch {
	case len(in.To) == 0:
		v.Add("to", "required", "must list 1 to %d phone numbers", canopy.MaxSMSRecipients)
	case len(in.To) > canopy.MaxSMSRecipients:
		v.Add("to", "too-many", "must list at most %d phone numbers", canopy.MaxSMSRecipients)
	default:
		seen := make(map[string]int, len(in.To))
		for i, n := range in.To {
			f := fmt.Sprintf("to[%d]", i)
			if !canopy.ValidE164(n) {
				v.Add(f, "invalid-phone", "must be an E.164 phone number: a plus and 7 to 15 digits, such as +15551234567")
				continue
			}
			if j, dup := seen[n]; dup {
				v.Add(f, "duplicate", "is the same number as to[%d]", j)
				continue
			}
			seen[n] = i
		}
	}
	return v.Err()
}

// smsBody is the text of a share's messages: a link to the form's public
// page (<PublicURL>/f/<formId>), or for interactive shares the form's first
// question, which the recipient answers by replying.
func (s *Service) smsBody(f *canopy.Form, mode canopy.SMSMode) (string, error) {
	if mode == canopy.SMSInteractive {
		if len(f.Questions) == 0 {
			return "", canopy.InvalidField("mode", "no-questions", "the form has no questions to ask by reply; share it structured")
		}
		return fmt.Sprintf("%s. Reply to answer: %s", f.Name, f.Questions[0].Label), nil
	}
	return fmt.Sprintf("%s: %s/f/%s", f.Name, s.cfg.PublicURL, f.ID), nil
}

// ShareFormBySMS queues one text message per number asking for answers to
// a form. The acting account needs a role that edits data on the form
// (dataManager or above) — no ancestor is involved. Each message costs one
// message credit, drawn from the acting account's payer in the same
// transaction that queues the messages (rule 8, docs/rules.md): without the
// credits (402) nothing is queued. Errors: 403, 404, 402, 422.
func (s *Service) ShareFormBySMS(ctx context.Context, c Caller, formID string, in SMSInput) (*SMSShare, error) {
	if err := validateSMS(in); err != nil {
		return nil, err
	}
	return writeWork(ctx, s, c, func(o *op) (*SMSShare, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.EditData)
		if err != nil {
			return nil, err
		}
		body, err := s.smsBody(f, in.Mode)
		if err != nil {
			return nil, err
		}
		batch := s.ids.New(canopy.PrefixSMSBatch)
		n := int64(len(in.To))
		e, _, err := o.charge(o.acting, Usage{Type: canopy.CreditMessage, Quantity: n, Reason: "SMS share of form " + f.ID,
			Ref: "sms:" + batch, Key: "sms:" + batch})
		if err != nil {
			return nil, err
		}
		out := &SMSShare{BatchID: batch, FormID: f.ID, Mode: in.Mode, ChargeEntryID: e.ID, PayerID: e.Debit, Credits: n,
			Messages: make([]SMSQueued, len(in.To))}
		msgs := make([]*canopy.SMSMessage, len(in.To))
		for i, to := range in.To {
			msgs[i] = &canopy.SMSMessage{
				ID: s.ids.New(canopy.PrefixSMS), BatchID: batch, FormID: f.ID, AccountID: o.acting.ID, To: to, Mode: in.Mode,
				Body: body, Status: canopy.OutboxPending, NextAttemptAt: o.now, ChargeEntryID: e.ID, PayerID: e.Debit, CreatedAt: o.now,
			}
			out.Messages[i] = SMSQueued{ID: msgs[i].ID, To: to, Status: canopy.OutboxPending, Body: body}
		}
		if err := o.tx.InsertSMSMessages(ctx, msgs...); err != nil {
			return nil, err
		}
		o.audit(f.OwnerID, "form.sharedBySMS", "form", f.ID, map[string]any{
			"batchId": batch, "mode": in.Mode, "messages": n, "accountId": o.acting.ID, "payerId": e.Debit})
		return out, nil
	})
}

// ClaimSMS leases up to limit due SMS messages to this worker, counting an
// attempt for each.
func (s *Service) ClaimSMS(ctx context.Context, limit int) ([]*canopy.SMSMessage, error) {
	var msgs []*canopy.SMSMessage
	err := s.store.Write(ctx, func(tx store.Tx) error {
		now := s.now()
		var err error
		msgs, err = tx.ClaimSMS(ctx, now, now.Add(s.cfg.OutboxLease), limit)
		return err
	})
	return msgs, err
}

// SMSSent records a delivered message and the provider's id for it.
func (s *Service) SMSSent(ctx context.Context, id, providerID string) error {
	err := s.store.Write(ctx, func(tx store.Tx) error { return tx.MarkSMSSent(ctx, id, providerID, s.now()) })
	if errors.Is(err, store.ErrNotFound) {
		return nil // settled already, by a worker whose lease had expired
	}
	return err
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
	if err := tx.MarkSMSFailed(ctx, m.ID, lastErr, refundID); err != nil {
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
	if err := tx.AddUsageDays(ctx, store.UsageDaysOf([]*canopy.LedgerEntry{e})); err != nil {
		return err
	}
	// What was refunded no longer counts against the caps it was counted
	// against, in the month it was charged.
	limits, err := tx.CreditLimits(ctx, charge.UsagePath.IDs(), charge.Type)
	if err != nil {
		return err
	}
	for _, l := range limits {
		if err := tx.ReturnMonthUsage(ctx, l.AccountID, charge.Type, canopy.MonthOf(charge.At), e.Amount); err != nil {
			return err
		}
	}
	return tx.AddCredits(ctx, e.Credit, e.Type, e.Amount, now)
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
