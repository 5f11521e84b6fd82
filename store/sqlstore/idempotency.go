package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/canopyhq/canopy/store"
)

func (t *tx) GetIdempotency(ctx context.Context, scope, key string) (*store.Idempotency, error) {
	var (
		i       store.Idempotency
		created dbTime
	)
	err := t.queryRow(ctx, `SELECT scope, idem_key, credential, fingerprint, status_code, body, location, created_at
		FROM idempotency_keys WHERE scope = ? AND idem_key = ?`, scope, key).
		Scan(&i.Scope, &i.Key, &i.Credential, &i.Fingerprint, &i.StatusCode, &i.Body, &i.Location, &created)
	if err != nil {
		return nil, t.db.mapErr(err)
	}
	i.CreatedAt = created.T
	return &i, nil
}

func (t *tx) InsertIdempotency(ctx context.Context, i *store.Idempotency) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency_keys (scope, idem_key, credential, fingerprint, status_code, body, location,
		created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, i.Scope, i.Key, i.Credential, i.Fingerprint, i.StatusCode, i.Body, i.Location,
		i.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert idempotency record: %w", err)
	}
	return nil
}

func (t *tx) SetIdempotencyResponse(ctx context.Context, r store.IdempotencyResponse) error {
	res, err := t.exec(ctx, `UPDATE idempotency_keys SET status_code = ?, body = ?, location = ? WHERE scope = ? AND idem_key = ?`,
		r.StatusCode, r.Body, r.Location, r.Scope, r.Key)
	if err != nil {
		return fmt.Errorf("record idempotent response: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeleteIdempotencyBefore(ctx context.Context, at time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, at)
	if err != nil {
		return 0, fmt.Errorf("delete idempotency records: %w", err)
	}
	return res.RowsAffected()
}
