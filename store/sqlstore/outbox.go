package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

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

func (t *tx) ListOutboxMessages(ctx context.Context, accountID string, p store.Page) ([]*canopy.OutboxMessage, error) {
	return scanAll(ctx, t, scanOutbox, `SELECT `+outboxCols+` FROM outbox WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, p.After, p.Limit)
}
