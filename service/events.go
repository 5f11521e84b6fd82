package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// auditEvents maps every audit action to the event type it emits, or to
// "" for the few that are deliberately not events. The map is the whole
// list: a test finds every action the service audits and fails on one
// missing here.
var auditEvents = map[string]string{
	"account.created":     canopy.EventAccountCreated,
	"account.updated":     canopy.EventAccountUpdated,
	"account.suspended":   canopy.EventAccountSuspended,
	"account.reactivated": canopy.EventAccountReactivated,
	"account.closed":      canopy.EventAccountClosed,
	"account.moved":       canopy.EventAccountMoved,
	"signup.completed":    canopy.EventAccountSignedUp,

	"link.updated":         canopy.EventLinkUpdated,
	"subAccount.joined":    canopy.EventSubAccountJoined,
	"subAccount.left":      canopy.EventSubAccountLeft,
	"subAccount.released":  canopy.EventSubAccountReleased,
	"invitation.created":   canopy.EventInvitationCreated,
	"invitation.accepted":  canopy.EventInvitationAccepted,
	"invitation.declined":  canopy.EventInvitationDeclined,
	"invitation.cancelled": canopy.EventInvitationCancelled,
	"invitation.expired":   canopy.EventInvitationExpired,
	"invitation.resent":    canopy.EventInvitationResent,

	"user.created":          canopy.EventMembershipCreated,
	"user.updated":          canopy.EventMembershipUpdated,
	"user.deleted":          canopy.EventMembershipDeleted,
	"user.disabled":         canopy.EventMembershipDisabled,
	"user.enabled":          canopy.EventMembershipEnabled,
	"user.joined":           canopy.EventMembershipJoined,
	"user.declined":         canopy.EventMembershipDeclined,
	"user.invitationResent": canopy.EventMembershipInvitationResent,
	"user.emailChanged":     canopy.EventMembershipEmailChanged,

	"apiKey.created": canopy.EventAPIKeyCreated,
	"apiKey.revoked": canopy.EventAPIKeyRevoked,

	"configuration.updated": canopy.EventConfigurationUpdated,
	"configuration.deleted": canopy.EventConfigurationDeleted,
	"workflows.updated":     canopy.EventWorkflowsUpdated,

	"contact.created": canopy.EventContactCreated,
	"contact.updated": canopy.EventContactUpdated,
	"contact.deleted": canopy.EventContactDeleted,

	"form.created":     canopy.EventFormCreated,
	"form.updated":     canopy.EventFormUpdated,
	"form.deleted":     canopy.EventFormDeleted,
	"form.copied":      canopy.EventFormCopied,
	"form.shared":      canopy.EventFormShared,
	"form.unshared":    canopy.EventFormUnshared,
	"form.exampleSet":  canopy.EventFormExampleSet,
	"form.linkCreated": canopy.EventFormLinkCreated,
	"form.linkRevoked": canopy.EventFormLinkRevoked,

	"form.smsCodeSet":          canopy.EventSMSCodeSet,
	"form.smsCollectorsAdded":  canopy.EventSMSCollectorsAdded,
	"form.smsCollectorRemoved": canopy.EventSMSCollectorRemoved,

	"record.created": canopy.EventRecordCreated,
	"record.updated": canopy.EventRecordUpdated,
	"record.deleted": canopy.EventRecordDeleted,

	"credits.granted":      canopy.EventCreditsGranted,
	"credits.transferred":  canopy.EventCreditsTransferred,
	"credits.limitSet":     canopy.EventCreditsLimitSet,
	"credits.limitDeleted": canopy.EventCreditsLimitDeleted,

	"webhookEndpoint.created":       canopy.EventWebhookEndpointCreated,
	"webhookEndpoint.updated":       canopy.EventWebhookEndpointUpdated,
	"webhookEndpoint.deleted":       canopy.EventWebhookEndpointDeleted,
	"webhookEndpoint.secretRotated": canopy.EventWebhookEndpointSecretRotated,
	"webhookEndpoint.disabled":      canopy.EventWebhookEndpointDisabled,
	// A replay is the endpoint's own business, not a change of the
	// account's: as an event it would be delivered beside what it replays.
	"webhookDelivery.retried": "",

	// Not events. Sign-ins, sign-outs and password changes are a person's
	// credentials, not the account's data: they stay in the audit trail.
	// A sign-up with a taken address and a reset request are recorded so
	// the operator can see abuse; as events they would tell an
	// integration that an address exists (rule 11, docs/rules.md). The
	// platform is bootstrapped before anyone could listen.
	"session.created":             "",
	"session.revoked":             "",
	"user.passwordSet":            "",
	"user.passwordResetRequested": "",
	"signup.attempted":            "",
	"platform.bootstrapped":       "",
}

// eventOf is the event an audit event emits, or nil.
func eventOf(a *canopy.AuditEvent) *canopy.Event {
	// An action missing from the map emits nothing: the test that reads
	// every audited action fails on it first.
	typ := auditEvents[a.Action]
	if typ == "" {
		return nil
	}
	data := a.Details
	if len(data) == 0 || string(data) == "null" {
		data = json.RawMessage(`{}`)
	}
	return &canopy.Event{
		ID: a.ID, Type: typ, OccurredAt: a.OccurredAt, AccountID: a.AccountID, Actor: a.Actor,
		Target: canopy.EventTarget{Type: a.TargetType, ID: a.TargetID}, RequestID: a.RequestID, Data: data,
	}
}

// emit records an event no audit event records, written with the change.
func (o *op) emit(accountID, typ, targetType, targetID string, data any) {
	o.emitted = append(o.emitted, o.s.newEvent(o.now, o.caller.RequestID, canopy.Actor{Type: "system", ID: "canopy"},
		accountID, typ, targetType, targetID, data))
}

// newEvent makes an event no audit event records.
func (s *Service) newEvent(now time.Time, requestID string, actor canopy.Actor, accountID, typ, targetType, targetID string, data any) *canopy.Event {
	raw := json.RawMessage(`{}`)
	if data != nil {
		if b, err := json.Marshal(data); err == nil {
			raw = b
		}
	}
	return &canopy.Event{
		ID: s.ids.New(canopy.PrefixAuditEvent), Type: typ, OccurredAt: now, AccountID: accountID, Actor: actor,
		Target: canopy.EventTarget{Type: targetType, ID: targetID}, RequestID: requestID, Data: raw,
	}
}

// flush writes the op's audit events, the events they emit and the events
// it emitted, in its transaction: an event exists exactly when its change
// does.
func (o *op) flush() error {
	audits, evs := o.events, o.emitted
	o.events, o.emitted = nil, nil
	if o.s.eventsOff {
		evs = nil
	} else {
		for _, a := range audits {
			if e := eventOf(a); e != nil {
				evs = append(evs, e)
			}
		}
	}
	return o.tx.InsertAuditAndEvents(o.ctx, audits, evs)
}

// EventQuery narrows an event listing: Types are event types and
// "resource.*" families; After is an event id the caller has seen.
type EventQuery struct {
	Types []string
	After string
}

// ListEvents lists the events of the accounts the acting account acts on
// in its subtree — an invited sub-account's are its own, as its audit
// trail is (rule 2, docs/rules.md) — oldest first, after q.After.
//
// Event ids follow the time of their change, and a change commits a
// little after its id is made, so an event may appear after a later one
// was listed: a client polling with after= should ask again from a point
// a few seconds before the last id it saw (webhooks have no such gap).
func (s *Service) ListEvents(ctx context.Context, c Caller, q EventQuery, pr PageRequest) (Page[*canopy.Event], error) {
	types, bad := canopy.ParseEventTypes(q.Types)
	if bad >= 0 {
		return Page[*canopy.Event]{}, canopy.BadParam("type", "unknown-event-type",
			"%q is not an event type nor a family such as invitation.*", q.Types[bad])
	}
	if q.After != "" && !canopy.ValidID(canopy.PrefixAuditEvent, q.After) {
		return Page[*canopy.Event]{}, canopy.BadParam("after", canopy.CodeInvalidID, "%q is not an event id", q.After)
	}
	kind := cursorKind(c, "events", strings.Join(q.Types, ","), q.After)
	after, err := s.decodeIDCursor(kind, canopy.PrefixAuditEvent, pr.Cursor)
	if err != nil {
		return Page[*canopy.Event]{}, err
	}
	if after == "" {
		after = q.After
	}
	var rows []*canopy.Event
	err = s.read(ctx, func(tx store.Tx) error {
		acting, cuts, err := actingWithCuts(ctx, tx, c)
		if err != nil {
			return err
		}
		rows, err = tx.ListEvents(ctx, store.EventFilter{
			Subtree: acting.Path, Except: cuts, Types: types, After: after, Limit: pr.limit() + 1,
		})
		return err
	})
	if err != nil {
		return Page[*canopy.Event]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(e *canopy.Event) string { return e.ID }), nil
}

// DefaultEventRetention is how long events and webhook deliveries are
// kept unless configured otherwise (canopy serve --event-retention).
const DefaultEventRetention = 30 * 24 * time.Hour

// PruneEvents deletes events, and webhook deliveries, older than age, a
// batch at a time.
func (s *Service) PruneEvents(ctx context.Context, age time.Duration) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.store.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.DeleteEventsBefore(ctx, s.now().Add(-age), 1000)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune events: %w", err)
		}
		total += n
		if n < 1000 {
			return total, nil
		}
	}
}

// emitCreditsEvent records an event about an account's credits that no
// audit event records, written with the debit that caused it.
func (s *Service) emitCreditsEvent(ctx context.Context, tx store.Tx, now time.Time, accountID, typ string, data json.RawMessage) error {
	if s.eventsOff {
		return nil
	}
	return tx.InsertEvents(ctx, s.newEvent(now, "", canopy.Actor{Type: "system", ID: "credits"}, accountID, typ, "account", accountID, data))
}

// limitReachedData is a credits.limit_reached event's data.
type limitReachedData struct {
	Type    canopy.CreditType `json:"type"`
	Month   string            `json:"month"`
	Monthly int64             `json:"monthly"`
	Used    int64             `json:"used"`
	SetBy   string            `json:"setBy"`
}

// noticeLimitReached emits credits.limit_reached when a debit brings an
// account's month to its cap: the next debit there will be refused. The
// debit holds the month's count locked, so exactly one debit reaches it.
func (s *Service) noticeLimitReached(ctx context.Context, tx store.Tx, now time.Time, l store.CreditLimit, month string, before, after int64) error {
	if before >= l.Monthly || after < l.Monthly {
		return nil
	}
	data, err := json.Marshal(limitReachedData{Type: l.Type, Month: month, Monthly: l.Monthly, Used: after, SetBy: l.SetBy})
	if err != nil {
		return err
	}
	return s.emitCreditsEvent(ctx, tx, now, l.AccountID, canopy.EventCreditsLimitReached, data)
}

// smsEventData is an sms.sent or sms.failed event's data: which message of
// which sharing, and for a failure why (its credit was refunded).
type smsEventData struct {
	MessageID string `json:"messageId"`
	BatchID   string `json:"batchId"`
	FormID    string `json:"formId"`
	Error     string `json:"error,omitempty"`
}

// emitSMSEvent records what became of a shared text, in the account that
// shared it, written with its delivery's outcome.
func (s *Service) emitSMSEvent(ctx context.Context, tx store.Tx, m *canopy.SMSMessage, typ, lastErr string) error {
	if s.eventsOff {
		return nil
	}
	return tx.InsertEvents(ctx, s.smsEvent(m, typ, lastErr))
}

// smsEvent is the event of type typ about message m.
func (s *Service) smsEvent(m *canopy.SMSMessage, typ, lastErr string) *canopy.Event {
	return s.newEvent(s.now(), "", canopy.Actor{Type: "system", ID: "sms"}, m.AccountID, typ, "sms", m.ID,
		smsEventData{MessageID: m.ID, BatchID: m.BatchID, FormID: m.FormID, Error: lastErr})
}
