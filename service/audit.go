package service

import (
	"context"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// AuditQuery narrows an audit listing.
type AuditQuery struct {
	Action   string
	TargetID string
}

// ListAuditEvents lists the audit events of the accounts the acting
// account acts on in its subtree, newest first.
func (s *Service) ListAuditEvents(ctx context.Context, c Caller, q AuditQuery, pr PageRequest) (Page[*canopy.AuditEvent], error) {
	kind := cursorKind(c, "audit", q.Action, q.TargetID)
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
		})
		return err
	})
	if err != nil {
		return Page[*canopy.AuditEvent]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(e *canopy.AuditEvent) string { return e.ID }), nil
}
