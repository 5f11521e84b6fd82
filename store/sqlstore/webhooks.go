package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const endpointCols = `id, account_id, url, description, event_types, enabled, disabled_reason, failing_since,
	secret, previous_secret, previous_secret_expires_at, created_at, updated_at`

func scanEndpoint(r rowScanner) (*canopy.WebhookEndpoint, error) {
	var (
		e                          canopy.WebhookEndpoint
		types                      string
		failing, prevExp, cre, upd dbTime
	)
	if err := r.Scan(&e.ID, &e.AccountID, &e.URL, &e.Description, &types, &e.Enabled, &e.DisabledReason, &failing,
		&e.Secret, &e.PreviousSecret, &prevExp, &cre, &upd); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return nil, fmt.Errorf("endpoint %s event types: %w", e.ID, err)
	}
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	e.FailingSince, e.PreviousSecretExpiresAt, e.CreatedAt, e.UpdatedAt = failing.ptr(), prevExp.ptr(), cre.T, upd.T
	return &e, nil
}

func eventTypesArg(ts []string) (string, error) {
	if ts == nil {
		ts = []string{}
	}
	b, err := json.Marshal(ts)
	return string(b), err
}

func (t *tx) InsertWebhookEndpoint(ctx context.Context, e *canopy.WebhookEndpoint) error {
	types, err := eventTypesArg(e.EventTypes)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO webhook_endpoints (`+endpointCols+`) VALUES (`+placeholders(13)+`)`,
		e.ID, e.AccountID, e.URL, e.Description, types, e.Enabled, e.DisabledReason, timePtrArg(e.FailingSince),
		e.Secret, e.PreviousSecret, timePtrArg(e.PreviousSecretExpiresAt), e.CreatedAt, e.UpdatedAt)
	if err != nil {
		return fmt.Errorf("insert webhook endpoint: %w", err)
	}
	return nil
}

func (t *tx) GetWebhookEndpoint(ctx context.Context, id string) (*canopy.WebhookEndpoint, error) {
	e, err := scanEndpoint(t.queryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = ?`, id))
	return e, t.db.mapErr(err)
}

func (t *tx) GetWebhookEndpoints(ctx context.Context, ids []string) ([]*canopy.WebhookEndpoint, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := padded(ids)
	return scanAll(ctx, t, scanEndpoint, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id IN (`+in+`)`, args...)
}

func (t *tx) UpdateWebhookEndpoint(ctx context.Context, e *canopy.WebhookEndpoint) error {
	types, err := eventTypesArg(e.EventTypes)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, enabled = ?,
		disabled_reason = ?, failing_since = ?, secret = ?, previous_secret = ?, previous_secret_expires_at = ?, updated_at = ?
		WHERE id = ?`,
		e.URL, e.Description, types, e.Enabled, e.DisabledReason, timePtrArg(e.FailingSince), e.Secret, e.PreviousSecret,
		timePtrArg(e.PreviousSecretExpiresAt), e.UpdatedAt, e.ID)
	if err != nil {
		return fmt.Errorf("update webhook endpoint: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = ?`, id); err != nil {
		return fmt.Errorf("delete webhook deliveries: %w", err)
	}
	res, err := t.exec(ctx, `DELETE FROM webhook_endpoints WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	return expectOne(res)
}

func (t *tx) ListWebhookEndpoints(ctx context.Context, accountID string, p store.Page) ([]*canopy.WebhookEndpoint, error) {
	return scanAll(ctx, t, scanEndpoint, `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`, accountID, p.After, p.Limit)
}

func (t *tx) EnabledWebhookEndpoints(ctx context.Context, accountIDs []string) ([]*canopy.WebhookEndpoint, error) {
	if len(accountIDs) == 0 {
		return nil, nil
	}
	in, args := padded(accountIDs)
	return scanAll(ctx, t, scanEndpoint, `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE account_id IN (`+in+`) AND enabled`, args...)
}

func (t *tx) AnyEnabledWebhookEndpoint(ctx context.Context) (bool, error) {
	var one int
	err := t.queryRow(ctx, `SELECT 1 FROM webhook_endpoints WHERE enabled LIMIT 1`).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find an enabled webhook endpoint: %w", err)
	}
	return true, nil
}

func (t *tx) SetEndpointsHealth(ctx context.Context, ok, failing []string, at time.Time) error {
	if len(ok) > 0 {
		in, args := padded(ok)
		if _, err := t.exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL
			WHERE id IN (`+in+`) AND failing_since IS NOT NULL`, args...); err != nil {
			return fmt.Errorf("record endpoints answering: %w", err)
		}
	}
	if len(failing) > 0 {
		in, args := padded(failing)
		if _, err := t.exec(ctx, `UPDATE webhook_endpoints SET failing_since = ?
			WHERE id IN (`+in+`) AND failing_since IS NULL`, append([]any{at}, args...)...); err != nil {
			return fmt.Errorf("record endpoints failing: %w", err)
		}
	}
	return nil
}

const deliveryCols = `id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, last_attempt_at,
	last_status, last_body, last_error, created_at, delivered_at`

func scanDelivery(r rowScanner) (*canopy.WebhookDelivery, error) {
	var (
		d                        canopy.WebhookDelivery
		next, last, cre, deliver dbTime
		status                   sql.NullInt64
		body                     string
	)
	if err := r.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &d.Attempts, &next, &last,
		&status, &body, &d.LastError, &cre, &deliver); err != nil {
		return nil, err
	}
	d.NextAttemptAt, d.LastAttemptAt, d.CreatedAt, d.DeliveredAt = next.T, last.ptr(), cre.T, deliver.ptr()
	if status.Valid {
		d.LastResponse = &canopy.WebhookResponse{Status: int(status.Int64), Body: body}
	}
	return &d, nil
}

func (t *tx) InsertWebhookDeliveries(ctx context.Context, ds ...*canopy.WebhookDelivery) error {
	for len(ds) > 0 {
		n := min(len(ds), 200)
		args := make([]any, 0, 13*n)
		for _, d := range ds[:n] {
			var status any
			body := ""
			if d.LastResponse != nil {
				status, body = d.LastResponse.Status, d.LastResponse.Body
			}
			args = append(args, d.ID, d.EndpointID, d.EventID, d.EventType, string(d.Status), d.Attempts, d.NextAttemptAt,
				timePtrArg(d.LastAttemptAt), status, body, d.LastError, d.CreatedAt, timePtrArg(d.DeliveredAt))
		}
		if _, err := t.exec(ctx, `INSERT INTO webhook_deliveries (`+deliveryCols+`) VALUES `+rows(n, 13), args...); err != nil {
			return fmt.Errorf("insert webhook deliveries: %w", err)
		}
		ds = ds[n:]
	}
	return nil
}

func (t *tx) GetWebhookDelivery(ctx context.Context, id string) (*canopy.WebhookDelivery, error) {
	d, err := scanDelivery(t.queryRow(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = ?`, id))
	return d, t.db.mapErr(err)
}

func (t *tx) ListWebhookDeliveries(ctx context.Context, f store.DeliveryFilter) ([]*canopy.WebhookDelivery, error) {
	q := `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE endpoint_id = ?`
	args := []any{f.EndpointID}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.EventID != "" {
		q += ` AND event_id = ?`
		args = append(args, f.EventID)
	}
	if f.Before != "" {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	return scanAll(ctx, t, scanDelivery, q, args...)
}

func (t *tx) ClaimWebhookDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*canopy.WebhookDelivery, error) {
	return scanAll(ctx, t, scanDelivery, `UPDATE webhook_deliveries SET claimed_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT d.id FROM webhook_deliveries d
			WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.claimed_until IS NULL OR d.claimed_until <= ?)
				AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.enabled)
			ORDER BY d.next_attempt_at, d.id LIMIT ?`+t.db.dialect.SkipLocked()+`)
		RETURNING `+deliveryCols, leaseUntil, now, now, limit)
}

func (t *tx) ReleaseWebhookDelivery(ctx context.Context, id string, attempts int) error {
	return releaseQueue(ctx, t, "webhook_deliveries", id, attempts)
}

func (t *tx) RecordWebhookOutcomes(ctx context.Context, os []store.DeliveryOutcome) ([]string, error) {
	var written []string
	for _, o := range os {
		var (
			status    any
			body      string
			delivered any
		)
		if o.Response != nil {
			status, body = o.Response.Status, o.Response.Body
		}
		if o.Status == canopy.DeliverySucceeded {
			delivered = o.At
		}
		res, err := t.exec(ctx, `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, claimed_until = NULL,
			last_attempt_at = ?, last_status = ?, last_body = ?, last_error = ?, delivered_at = ?
			WHERE id = ? AND attempts = ? AND status = 'pending' AND claimed_until IS NOT NULL`,
			string(o.Status), o.Next, o.At, status, body, o.Error, delivered, o.ID, o.Attempts)
		if err != nil {
			return nil, fmt.Errorf("record webhook delivery: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 1 {
			written = append(written, o.ID)
		}
	}
	return written, nil
}

func (t *tx) RequeueWebhookDelivery(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?,
		claimed_until = NULL, delivered_at = NULL WHERE id = ?`, at, id)
	if err != nil {
		return fmt.Errorf("requeue webhook delivery: %w", err)
	}
	return expectOne(res)
}
