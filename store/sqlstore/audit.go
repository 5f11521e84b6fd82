package sqlstore

import (
	"context"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const auditCols = `id, occurred_at, account_id, acting_account_id, actor_type, actor_id, actor_account_id, action,
	target_type, target_id, channel, username, request_id, details`

func scanAudit(r rowScanner) (*canopy.AuditEvent, error) {
	var (
		e       canopy.AuditEvent
		at      dbTime
		details string
	)
	if err := r.Scan(&e.ID, &at, &e.AccountID, &e.ActingAccountID, &e.Actor.Type, &e.Actor.ID, &e.Actor.AccountID, &e.Action,
		&e.TargetType, &e.TargetID, &e.Channel, &e.Username, &e.RequestID, &details); err != nil {
		return nil, err
	}
	e.OccurredAt, e.Details = at.T, []byte(details)
	e.OnBehalf = e.Actor.AccountID != "" && e.Actor.AccountID != e.ActingAccountID
	return &e, nil
}

// auditArgs are an event's values in auditCols order (InsertAuditEvents
// writes many).
func auditArgs(e *canopy.AuditEvent) []any {
	details := string(e.Details)
	if details == "" {
		details = "{}"
	}
	return []any{e.ID, e.OccurredAt, e.AccountID, e.ActingAccountID, e.Actor.Type, e.Actor.ID, e.Actor.AccountID, e.Action,
		e.TargetType, e.TargetID, e.Channel, e.Username, e.RequestID, details}
}

func (t *tx) InsertAuditEvent(ctx context.Context, e *canopy.AuditEvent) error {
	_, err := t.exec(ctx, `INSERT INTO audit_events (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, auditArgs(e)...)
	if err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// inSubtree extends a query of rows aliased e, which carry an account_id,
// to those whose account lies in subtree and outside every except subtree
// (as it is now: the rows follow their account when it moves).
func inSubtree(selectFrom string, subtree canopy.Path, except []canopy.Path) (string, []any) {
	q := selectFrom + ` JOIN accounts a ON a.id = e.account_id WHERE a.path >= ? AND a.path < ?`
	args := []any{string(subtree), string(subtree.SubtreeEnd())}
	cond, out := outside("a.path", except)
	return q + cond, append(args, out...)
}

func (t *tx) ListAuditEvents(ctx context.Context, f store.AuditFilter) ([]*canopy.AuditEvent, error) {
	q, args := inSubtree(`SELECT `+prefixed("e.", auditCols)+` FROM audit_events e`, f.Subtree, f.Except)
	if f.Action != "" {
		q += ` AND e.action = ?`
		args = append(args, f.Action)
	}
	if f.TargetID != "" {
		q += ` AND e.target_id = ?`
		args = append(args, f.TargetID)
	}
	if f.ActorID != "" {
		q += ` AND e.actor_id = ?`
		args = append(args, f.ActorID)
	}
	if f.OnBehalf != nil {
		// As scanAudit decides it: a credential of another account.
		onBehalf := `(e.actor_account_id <> '' AND e.actor_account_id <> e.acting_account_id)`
		if *f.OnBehalf {
			q += ` AND ` + onBehalf
		} else {
			q += ` AND NOT ` + onBehalf
		}
	}
	if f.Before != "" {
		q += ` AND e.id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY e.id DESC LIMIT ?`
	args = append(args, f.Limit)
	return scanAll(ctx, t, scanAudit, q, args...)
}
