package service

import (
	"context"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// AuditQuery narrows an audit listing.
type AuditQuery struct {
	Action   string
	TargetID string
	// ActorID keeps one actor's events; OnBehalf, when set, those made (or
	// not) by a credential of another account than the one it acted as.
	ActorID  string
	OnBehalf *bool
}

// ListAuditEvents lists the audit events of the accounts the acting
// account acts on in its subtree, newest first.
func (s *Service) ListAuditEvents(ctx context.Context, c Caller, q AuditQuery, pr PageRequest) (Page[*canopy.AuditEvent], error) {
	kind := cursorKind(c, "audit", q.Action, q.TargetID, q.ActorID, fmt.Sprint(q.OnBehalf != nil, q.OnBehalf != nil && *q.OnBehalf))
	before, err := s.decodeIDCursor(kind, canopy.PrefixAuditEvent, pr.Cursor)
	if err != nil {
		return Page[*canopy.AuditEvent]{}, err
	}
	var rows []*canopy.AuditEvent
	err = s.read(ctx, func(tx store.Tx) error {
		// An invited sub-account's audit trail is its own (rule 2).
		acting, cuts, err := actingWithCuts(ctx, tx, c)
		if err != nil {
			return err
		}
		rows, err = tx.ListAuditEvents(ctx, store.AuditFilter{
			Subtree: acting.Path, Except: cuts, Action: q.Action, TargetID: q.TargetID, Before: before, Limit: pr.limit() + 1,
			ActorID: q.ActorID, OnBehalf: q.OnBehalf,
		})
		return err
	})
	if err != nil {
		return Page[*canopy.AuditEvent]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(e *canopy.AuditEvent) string { return e.ID }), nil
}
