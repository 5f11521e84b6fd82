package canopy

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Event is a typed fact about a change, for integrations: the products
// that embed Canopy read them (GET /v1/events) or receive them signed at
// their webhook endpoints. Every audited change that is an event shares
// its audit event's id; events no audit event records (a balance running
// low) have ids of their own from the same sequence.
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurredAt"`
	// AccountID is the account the change happened in: the event belongs
	// to its subtree's listings and endpoints (rule 2, docs/rules.md).
	AccountID string      `json:"accountId"`
	Actor     Actor       `json:"actor"`
	Target    EventTarget `json:"target"`
	RequestID string      `json:"requestId"`
	// Data holds the facts of the change, by type (an object, never null).
	Data json.RawMessage `json:"data"`
}

// EventTarget names what an event is about.
type EventTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// The event types. Each names a resource and what happened to it, in
// lower case with underscores within a word ("credits.low_balance").
const (
	EventAccountCreated     = "account.created"
	EventAccountUpdated     = "account.updated"
	EventAccountSuspended   = "account.suspended"
	EventAccountReactivated = "account.reactivated"
	EventAccountClosed      = "account.closed"
	EventAccountMoved       = "account.moved"
	EventAccountSignedUp    = "account.signed_up"

	EventLinkUpdated         = "link.updated"
	EventSubAccountJoined    = "sub_account.joined"
	EventSubAccountLeft      = "sub_account.left"
	EventSubAccountReleased  = "sub_account.released"
	EventInvitationCreated   = "invitation.created"
	EventInvitationAccepted  = "invitation.accepted"
	EventInvitationDeclined  = "invitation.declined"
	EventInvitationCancelled = "invitation.cancelled"
	EventInvitationExpired   = "invitation.expired"
	EventInvitationResent    = "invitation.resent"

	EventMembershipCreated          = "membership.created"
	EventMembershipUpdated          = "membership.updated"
	EventMembershipDeleted          = "membership.deleted"
	EventMembershipDisabled         = "membership.disabled"
	EventMembershipEnabled          = "membership.enabled"
	EventMembershipJoined           = "membership.joined"
	EventMembershipDeclined         = "membership.declined"
	EventMembershipInvitationResent = "membership.invitation_resent"
	EventMembershipEmailChanged     = "membership.email_changed"

	EventAPIKeyCreated = "api_key.created"
	EventAPIKeyRevoked = "api_key.revoked"

	EventConfigurationUpdated = "configuration.updated"
	EventConfigurationDeleted = "configuration.deleted"
	EventWorkflowsUpdated     = "workflows.updated"

	EventContactCreated = "contact.created"
	EventContactUpdated = "contact.updated"
	EventContactDeleted = "contact.deleted"

	EventFormCreated    = "form.created"
	EventFormUpdated    = "form.updated"
	EventFormDeleted    = "form.deleted"
	EventFormCopied     = "form.copied"
	EventFormShared     = "form.shared"
	EventFormUnshared   = "form.unshared"
	EventFormExampleSet = "form.example_set"

	EventRecordCreated = "record.created"
	EventRecordUpdated = "record.updated"
	EventRecordDeleted = "record.deleted"

	EventCreditsGranted      = "credits.granted"
	EventCreditsTransferred  = "credits.transferred"
	EventCreditsLimitSet     = "credits.limit_set"
	EventCreditsLimitDeleted = "credits.limit_deleted"
	EventCreditsLowBalance   = "credits.low_balance"
	EventCreditsLimitReached = "credits.limit_reached"

	EventFormLinkCreated = "form.link_created"
	EventFormLinkRevoked = "form.link_revoked"

	EventSMSCodeSet          = "sms.code_set"
	EventSMSCollectorsAdded  = "sms.collectors_added"
	EventSMSCollectorRemoved = "sms.collector_removed"
	EventSMSSent             = "sms.sent"
	EventSMSFailed           = "sms.failed"

	EventWebhookEndpointCreated       = "webhook_endpoint.created"
	EventWebhookEndpointUpdated       = "webhook_endpoint.updated"
	EventWebhookEndpointDeleted       = "webhook_endpoint.deleted"
	EventWebhookEndpointSecretRotated = "webhook_endpoint.secret_rotated"
	EventWebhookEndpointDisabled      = "webhook_endpoint.disabled"
)

// EventTypes lists every event type, sorted.
var EventTypes = func() []string {
	ts := []string{
		EventAccountCreated, EventAccountUpdated, EventAccountSuspended, EventAccountReactivated, EventAccountClosed,
		EventAccountMoved, EventAccountSignedUp,
		EventLinkUpdated, EventSubAccountJoined, EventSubAccountLeft, EventSubAccountReleased,
		EventInvitationCreated, EventInvitationAccepted, EventInvitationDeclined, EventInvitationCancelled,
		EventInvitationExpired, EventInvitationResent,
		EventMembershipCreated, EventMembershipUpdated, EventMembershipDeleted, EventMembershipDisabled,
		EventMembershipEnabled, EventMembershipJoined, EventMembershipDeclined, EventMembershipInvitationResent,
		EventMembershipEmailChanged,
		EventAPIKeyCreated, EventAPIKeyRevoked,
		EventConfigurationUpdated, EventConfigurationDeleted, EventWorkflowsUpdated,
		EventContactCreated, EventContactUpdated, EventContactDeleted,
		EventFormCreated, EventFormUpdated, EventFormDeleted, EventFormCopied, EventFormShared, EventFormUnshared,
		EventFormExampleSet,
		EventRecordCreated, EventRecordUpdated, EventRecordDeleted,
		EventCreditsGranted, EventCreditsTransferred, EventCreditsLimitSet, EventCreditsLimitDeleted,
		EventCreditsLowBalance, EventCreditsLimitReached,
		EventFormLinkCreated, EventFormLinkRevoked,
		EventSMSCodeSet, EventSMSCollectorsAdded, EventSMSCollectorRemoved, EventSMSSent, EventSMSFailed,
		EventWebhookEndpointCreated, EventWebhookEndpointUpdated, EventWebhookEndpointDeleted,
		EventWebhookEndpointSecretRotated, EventWebhookEndpointDisabled,
	}
	slices.Sort(ts)
	return ts
}()

// EventTypeFilter selects event types: exact types ("account.created")
// and families ("invitation.*", every type of that resource). The empty
// filter selects every type.
type EventTypeFilter struct {
	Types    []string
	Families []string // resource names with their dot: "invitation."
}

// ParseEventTypes checks a list of event types and families, naming the
// first that is neither by its index in the list (-1 when all are
// known).
func ParseEventTypes(list []string) (f EventTypeFilter, bad int) {
	for i, t := range list {
		if family, ok := strings.CutSuffix(t, ".*"); ok {
			if !slices.ContainsFunc(EventTypes, func(known string) bool { return strings.HasPrefix(known, family+".") }) {
				return EventTypeFilter{}, i
			}
			f.Families = append(f.Families, family+".")
			continue
		}
		if _, found := slices.BinarySearch(EventTypes, t); !found {
			return EventTypeFilter{}, i
		}
		f.Types = append(f.Types, t)
	}
	return f, -1
}

// Matches reports whether the filter selects the event type t.
func (f EventTypeFilter) Matches(t string) bool {
	if len(f.Types) == 0 && len(f.Families) == 0 {
		return true
	}
	return slices.Contains(f.Types, t) || slices.ContainsFunc(f.Families, func(p string) bool { return strings.HasPrefix(t, p) })
}

// MatchesEventType reports whether a list of types and families (as an
// endpoint stores it; empty: every type) selects the event type t.
func MatchesEventType(list []string, t string) bool {
	if len(list) == 0 {
		return true
	}
	for _, want := range list {
		if family, ok := strings.CutSuffix(want, ".*"); ok && strings.HasPrefix(t, family+".") || want == t {
			return true
		}
	}
	return false
}
