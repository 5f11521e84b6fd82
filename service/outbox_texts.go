package service

import (
	"context"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// ListTexts lists the SMS outbox of the acting account's subtree, newest
// first: as ListOutbox does the emails, for admins and API keys only.
func (s *Service) ListTexts(ctx context.Context, c Caller, q OutboxQuery, pr PageRequest) (Page[*canopy.SMSMessage], error) {
	if !c.MayManage() {
		return Page[*canopy.SMSMessage]{}, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden, "only admins may read the outbox")
	}
	if err := validOutboxStatus(q.Status); err != nil {
		return Page[*canopy.SMSMessage]{}, err
	}
	kind := cursorKind(c, "texts", string(q.Status))
	before, err := s.decodeIDCursor(kind, canopy.PrefixSMS, pr.Cursor)
	if err != nil {
		return Page[*canopy.SMSMessage]{}, err
	}
	var rows []*canopy.SMSMessage
	err = s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		rows, err = tx.ListSMS(ctx, store.OutboxFilter{Subtree: acting.Path, Status: q.Status, Before: before, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.SMSMessage]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(m *canopy.SMSMessage) string { return m.ID }), nil
}
