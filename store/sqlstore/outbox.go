package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const outboxCols = `id, channel, account_id, user_id, recipient, template, data, status, attempts,
	next_attempt_at, last_error, created_at, sent_at`

func scanOutbox(r rowScanner) (*canopy.OutboxMessage, error) {
	var (
		m                   canopy.OutboxMessage
		userID              sql.NullString
		data                string
		next, created, sent dbTime
	)
	if err := r.Scan(&m.ID, &m.Channel, &m.AccountID, &userID, &m.Recipient, &m.Template, &data, &m.Status,
		&m.Attempts, &next, &m.LastError, &created, &sent); err != nil {
		return nil, err
	}
	m.UserID, m.Data = userID.String, []byte(data)
	m.NextAttemptAt, m.CreatedAt, m.SentAt = next.T, created.T, sent.ptr()
	return &m, nil
}

func (t *tx) InsertOutboxMessages(ctx context.Context, ms ...*canopy.OutboxMessage) error {
	if len(ms) == 0 {
		return nil
	}
	args := make([]any, 0, 13*len(ms))
	for _, m := range ms {
		args = append(args, m.ID, m.Channel, m.AccountID, nullable(m.UserID), m.Recipient, m.Template, string(m.Data),
			string(m.Status), m.Attempts, m.NextAttemptAt, m.LastError, m.CreatedAt, timePtrArg(m.SentAt))
	}
	_, err := t.exec(ctx, `INSERT INTO outbox (`+outboxCols+`) VALUES `+rows(len(ms), 13), args...)
	if err != nil {
		return fmt.Errorf("insert outbox message: %w", err)
	}
	return nil
}

func (t *tx) GetOutboxMessage(ctx context.Context, id string) (*canopy.OutboxMessage, error) {
	m, err := scanOutbox(t.queryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = ?`, id))
	return m, t.db.mapErr(err)
}

func (t *tx) ListOutbox(ctx context.Context, f store.OutboxFilter) ([]*canopy.OutboxMessage, error) {
	return listQueue(ctx, t, "outbox", outboxCols, scanOutbox, f)
}

func (t *tx) ClaimOutbox(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*canopy.OutboxMessage, error) {
	return claimQueue(ctx, t, "outbox", outboxCols, scanOutbox, now, leaseUntil, limit)
}

// listQueue lists the messages of a delivery queue (outbox, sms_outbox),
// newest first.
func listQueue[T any](ctx context.Context, t *tx, table, cols string, scan func(rowScanner) (T, error), f store.OutboxFilter) ([]T, error) {
	q := `SELECT ` + prefixed("o.", cols) + ` FROM ` + table + ` o`
	var (
		where []string
		args  []any
	)
	if f.Subtree != "" {
		q += ` JOIN accounts a ON a.id = o.account_id`
		cond, except := outside("a.path", f.Except)
		where = append(where, `a.path >= ? AND a.path < ?`+cond)
		args = append(args, string(f.Subtree), string(f.Subtree.SubtreeEnd()))
		args = append(args, except...)
	}
	if f.Status != "" {
		where = append(where, `o.status = ?`)
		args = append(args, string(f.Status))
	}
	if f.Before != "" {
		where = append(where, `o.id < ?`)
		args = append(args, f.Before)
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY o.id DESC LIMIT ?`
	args = append(args, f.Limit)
	return scanAll(ctx, t, scan, q, args...)
}

// claimQueue leases up to limit due messages of a delivery queue, counting
// the attempt; concurrent workers skip each other's rows.
func claimQueue[T any](ctx context.Context, t *tx, table, cols string, scan func(rowScanner) (T, error), now, leaseUntil time.Time, limit int) ([]T, error) {
	return scanAll(ctx, t, scan, `UPDATE `+table+` SET claimed_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM `+table+`
			WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
			ORDER BY next_attempt_at, id LIMIT ?`+t.db.dialect.SkipLocked()+`)
		RETURNING `+cols, leaseUntil, now, now, limit)
}

func (t *tx) ReleaseOutbox(ctx context.Context, id string, attempts int) error {
	return releaseQueue(ctx, t, "outbox", id, attempts)
}

func (t *tx) ReleaseSMS(ctx context.Context, id string, attempts int) error {
	return releaseQueue(ctx, t, "sms_outbox", id, attempts)
}

// releaseQueue gives back a claimed message that was not tried: due at
// once for any worker, its attempt uncounted. attempts is the count the
// claim returned: a message whose lease ran out and that another worker
// claimed since counts one more, and is left to that worker.
func releaseQueue(ctx context.Context, t *tx, table, id string, attempts int) error {
	res, err := t.exec(ctx, `UPDATE `+table+` SET claimed_until = NULL, attempts = attempts - 1
		WHERE id = ? AND status = 'pending' AND attempts = ? AND claimed_until IS NOT NULL`, id, attempts)
	if err != nil {
		return fmt.Errorf("release %s message: %w", table, err)
	}
	return expectOne(res)
}

func (t *tx) MarkOutboxSent(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{at}
	for _, id := range ids {
		args = append(args, id)
	}
	if _, err := t.exec(ctx, `UPDATE outbox SET status = 'sent', sent_at = ?, claimed_until = NULL, last_error = ''
		WHERE id IN (`+placeholders(len(ids))+`)`, args...); err != nil {
		return fmt.Errorf("mark outbox sent: %w", err)
	}
	return nil
}

func (t *tx) MarkOutboxRetry(ctx context.Context, id string, next time.Time, lastErr string) error {
	res, err := t.exec(ctx, `UPDATE outbox SET next_attempt_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?`,
		next, lastErr, id)
	if err != nil {
		return fmt.Errorf("mark outbox retry: %w", err)
	}
	return expectOne(res)
}

func (t *tx) MarkOutboxFailed(ctx context.Context, id, lastErr string) error {
	res, err := t.exec(ctx, `UPDATE outbox SET status = 'failed', last_error = ?, claimed_until = NULL WHERE id = ?`, lastErr, id)
	if err != nil {
		return fmt.Errorf("mark outbox failed: %w", err)
	}
	return expectOne(res)
}

func (t *tx) RequeueOutbox(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, claimed_until = NULL
		WHERE id = ? AND status <> 'sent'`, at, id)
	if err != nil {
		return fmt.Errorf("requeue outbox message: %w", err)
	}
	return expectOne(res)
}

func (t *tx) CountEmails(ctx context.Context, accountID, day string, n, max int) (bool, int, error) {
	if n <= max {
		res, err := t.exec(ctx, `INSERT INTO email_counts (account_id, day, sent) VALUES (?, ?, ?)
			ON CONFLICT (account_id, day) DO UPDATE SET sent = email_counts.sent + excluded.sent
			WHERE email_counts.sent + excluded.sent <= ?`, accountID, day, n, max)
		if err != nil {
			return false, 0, fmt.Errorf("count emails: %w", err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return false, 0, err
		} else if k == 1 {
			return true, 0, nil
		}
	}
	var sent int
	err := t.queryRow(ctx, `SELECT sent FROM email_counts WHERE account_id = ? AND day = ?`, accountID, day).Scan(&sent)
	if err = t.db.mapErr(err); err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, 0, err
	}
	return false, sent, nil
}
