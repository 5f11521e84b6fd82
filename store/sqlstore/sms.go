package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const smsCols = `id, batch_id, form_id, account_id, recipient, mode, body, status, attempts, next_attempt_at,
	last_error, provider_id, charge_entry_id, payer_id, refund_entry_id, created_at, sent_at`

func scanSMS(r rowScanner) (*canopy.SMSMessage, error) {
	var (
		m                   canopy.SMSMessage
		refund              sql.NullString
		next, created, sent dbTime
	)
	if err := r.Scan(&m.ID, &m.BatchID, &m.FormID, &m.AccountID, &m.To, &m.Mode, &m.Body, &m.Status, &m.Attempts, &next,
		&m.LastError, &m.ProviderID, &m.ChargeEntryID, &m.PayerID, &refund, &created, &sent); err != nil {
		return nil, err
	}
	m.RefundEntryID = refund.String
	m.NextAttemptAt, m.CreatedAt, m.SentAt = next.T, created.T, sent.ptr()
	return &m, nil
}

func (t *tx) InsertSMSMessages(ctx context.Context, ms ...*canopy.SMSMessage) error {
	if len(ms) == 0 {
		return nil
	}
	const width = 17
	args := make([]any, 0, width*len(ms))
	for _, m := range ms {
		args = append(args, m.ID, m.BatchID, m.FormID, m.AccountID, m.To, string(m.Mode), m.Body, string(m.Status), m.Attempts,
			m.NextAttemptAt, m.LastError, m.ProviderID, m.ChargeEntryID, m.PayerID, nullable(m.RefundEntryID), m.CreatedAt, timePtrArg(m.SentAt))
	}
	if _, err := t.exec(ctx, `INSERT INTO sms_outbox (`+smsCols+`) VALUES `+rows(len(ms), width), args...); err != nil {
		return fmt.Errorf("insert sms message: %w", err)
	}
	return nil
}

func (t *tx) ListSMS(ctx context.Context, f store.OutboxFilter) ([]*canopy.SMSMessage, error) {
	return listQueue(ctx, t, "sms_outbox", smsCols, scanSMS, f)
}

func (t *tx) ClaimSMS(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*canopy.SMSMessage, error) {
	return claimQueue(ctx, t, "sms_outbox", smsCols, scanSMS, now, leaseUntil, limit)
}

func (t *tx) MarkSMSSent(ctx context.Context, id, providerID string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE sms_outbox SET status = 'sent', sent_at = ?, provider_id = ?, claimed_until = NULL, last_error = ''
		WHERE id = ? AND status = 'pending'`, at, providerID, id)
	if err != nil {
		return fmt.Errorf("mark sms sent: %w", err)
	}
	return expectOne(res)
}

func (t *tx) MarkSMSsSent(ctx context.Context, sent []store.SMSDelivery, at time.Time) ([]string, error) {
	// An id given twice keeps its first provider id, as the first of two
	// single updates would.
	seen := make(map[string]bool, len(sent))
	unique := make([]store.SMSDelivery, 0, len(sent))
	for _, d := range sent {
		if !seen[d.ID] {
			seen[d.ID] = true
			unique = append(unique, d)
		}
	}
	var marked []string
	for len(unique) > 0 {
		n := t.rowsPerStatement(len(unique), 64)
		args := make([]any, 0, 3*n+1)
		args = append(args, at)
		for _, d := range unique[:n] {
			args = append(args, d.ID, d.ProviderID)
		}
		for _, d := range unique[:n] {
			args = append(args, d.ID)
		}
		// coalesce keeps the status out of the index choice: SQLite, which
		// keeps no statistics, would otherwise read every pending text (a
		// backlog of thousands under load) through the status index rather
		// than look up each id.
		ids, err := scanAll(ctx, t, scanString, `UPDATE sms_outbox SET status = 'sent', sent_at = ?, claimed_until = NULL, last_error = '',
			provider_id = CASE id`+strings.Repeat(` WHEN ? THEN ?`, n)+` END
			WHERE id IN (`+placeholders(n)+`) AND coalesce(status, '') = 'pending' RETURNING id`, args...)
		if err != nil {
			return nil, fmt.Errorf("mark sms sent: %w", err)
		}
		marked = append(marked, ids...)
		unique = unique[n:]
	}
	return marked, nil
}

func (t *tx) MarkSMSRetry(ctx context.Context, id string, next time.Time, lastErr string) error {
	res, err := t.exec(ctx, `UPDATE sms_outbox SET next_attempt_at = ?, last_error = ?, claimed_until = NULL
		WHERE id = ? AND status = 'pending'`, next, lastErr, id)
	if err != nil {
		return fmt.Errorf("mark sms retry: %w", err)
	}
	return expectOne(res)
}

func (t *tx) MarkSMSFailed(ctx context.Context, f store.SMSFailure) error {
	res, err := t.exec(ctx, `UPDATE sms_outbox SET status = 'failed', last_error = ?, refund_entry_id = ?, claimed_until = NULL
		WHERE id = ? AND status = 'pending'`, f.LastError, nullable(f.RefundEntryID), f.ID)
	if err != nil {
		return fmt.Errorf("mark sms failed: %w", err)
	}
	return expectOne(res)
}
