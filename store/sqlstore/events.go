package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const eventCols = `id, type, occurred_at, account_id, actor_type, actor_id, actor_account_id, target_type, target_id,
	request_id, data`

func scanEvent(r rowScanner) (*canopy.Event, error) {
	var (
		e    canopy.Event
		at   dbTime
		data string
	)
	if err := r.Scan(&e.ID, &e.Type, &at, &e.AccountID, &e.Actor.Type, &e.Actor.ID, &e.Actor.AccountID,
		&e.Target.Type, &e.Target.ID, &e.RequestID, &data); err != nil {
		return nil, err
	}
	e.OccurredAt, e.Data = at.T, []byte(data)
	return &e, nil
}

func eventArgs(es []*canopy.Event) []any {
	args := make([]any, 0, 11*len(es))
	for _, e := range es {
		data := string(e.Data)
		if data == "" {
			data = "{}"
		}
		args = append(args, e.ID, e.Type, e.OccurredAt, e.AccountID, e.Actor.Type, e.Actor.ID, e.Actor.AccountID,
			e.Target.Type, e.Target.ID, e.RequestID, data)
	}
	return args
}

func (t *tx) InsertEvents(ctx context.Context, es ...*canopy.Event) error {
	if len(es) == 0 {
		return nil
	}
	if _, err := t.exec(ctx, `INSERT INTO events (`+eventCols+`) VALUES `+rows(len(es), 11), eventArgs(es)...); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}

func (t *tx) InsertAuditAndEvents(ctx context.Context, audits []*canopy.AuditEvent, es []*canopy.Event) error {
	if len(audits) == 0 || len(es) == 0 || t.db.dialect.Engine() != "postgres" {
		if err := t.InsertAuditEvents(ctx, audits); err != nil {
			return err
		}
		return t.InsertEvents(ctx, es...)
	}
	// A data-modifying WITH runs whether or not the statement reads it.
	args := make([]any, 0, 14*len(audits)+11*len(es))
	for _, a := range audits {
		args = append(args, auditArgs(a)...)
	}
	args = append(args, eventArgs(es)...)
	q := `WITH audit AS (INSERT INTO audit_events (` + auditCols + `) VALUES ` + rows(len(audits), 14) + `)
		INSERT INTO events (` + eventCols + `) VALUES ` + rows(len(es), 11)
	if _, err := t.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("insert audit events and events: %w", err)
	}
	return nil
}

func (t *tx) ListEvents(ctx context.Context, f store.EventFilter) ([]*canopy.Event, error) {
	q, args := inSubtree(`SELECT `+prefixed("e.", eventCols)+` FROM events e`, f.Subtree, f.Except)
	var types []string
	for _, ty := range f.Types.Types {
		types = append(types, `e.type = ?`)
		args = append(args, ty)
	}
	for _, family := range f.Types.Families {
		// substr, not LIKE: "_" in a type is a LIKE wildcard.
		types = append(types, `substr(e.type, 1, ?) = ?`)
		args = append(args, len(family), family)
	}
	if len(types) > 0 {
		q += ` AND (` + strings.Join(types, ` OR `) + `)`
	}
	if f.After != "" {
		q += ` AND e.id > ?`
		args = append(args, f.After)
	}
	q += ` ORDER BY e.id LIMIT ?`
	args = append(args, f.Limit)
	return scanAll(ctx, t, scanEvent, q, args...)
}

func (t *tx) GetEvents(ctx context.Context, ids []string) ([]*canopy.Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := padded(ids)
	return scanAll(ctx, t, scanEvent, `SELECT `+eventCols+` FROM events WHERE id IN (`+in+`)`, args...)
}

func (t *tx) PendingEvents(ctx context.Context, limit int) ([]store.PendingEvent, error) {
	// The pending rows are locked (PostgreSQL) in a statement of their own:
	// the account's path comes from a second read, so that a lock on the
	// account row is never taken here.
	evs, err := scanAll(ctx, t, scanEvent, `SELECT `+eventCols+` FROM events WHERE pending ORDER BY id LIMIT ?`+
		t.db.dialect.SkipLocked(), limit)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, e := range evs {
		if !seen[e.AccountID] {
			seen[e.AccountID] = true
			ids = append(ids, e.AccountID)
		}
	}
	in, args := padded(ids)
	paths := map[string]canopy.Path{}
	err = scanEach(ctx, t, `SELECT id, path FROM accounts WHERE id IN (`+in+`)`, args, func(r rowScanner) error {
		var id, path string
		if err := r.Scan(&id, &path); err != nil {
			return err
		}
		paths[id] = canopy.Path(path)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.PendingEvent, len(evs))
	for i, e := range evs {
		out[i] = store.PendingEvent{Event: e, Path: paths[e.AccountID]}
	}
	return out, nil
}

// scanEach runs a query and calls fn for each row.
func scanEach(ctx context.Context, t *tx, q string, args []any, fn func(rowScanner) error) error {
	_, err := scanAll(ctx, t, func(r rowScanner) (struct{}, error) { return struct{}{}, fn(r) }, q, args...)
	return err
}

func (t *tx) MarkEventsFannedOut(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		in, args := padded(ids[:n])
		if _, err := t.exec(ctx, `UPDATE events SET pending = ? WHERE id IN (`+in+`)`, append([]any{false}, args...)...); err != nil {
			return fmt.Errorf("mark events fanned out: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

func (t *tx) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	// Deliveries go by their own time: each was made after its event.
	if _, err := t.exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (
		SELECT id FROM webhook_deliveries WHERE id < ? ORDER BY id LIMIT ?)`, canopy.FirstIDAt(canopy.PrefixWebhookDelivery, before), limit); err != nil {
		return 0, fmt.Errorf("delete old deliveries: %w", err)
	}
	res, err := t.exec(ctx, `DELETE FROM events WHERE id IN (
		SELECT id FROM events WHERE id < ? ORDER BY id LIMIT ?)`, canopy.FirstIDAt(canopy.PrefixAuditEvent, before), limit)
	if err != nil {
		return 0, fmt.Errorf("delete old events: %w", err)
	}
	return res.RowsAffected()
}
