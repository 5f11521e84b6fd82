package store

import (
	"context"
	"time"

	"github.com/canopyhq/canopy"
)

// EventFilter narrows an event listing: events whose account lies in
// Subtree and outside every Except subtree, of the selected types, after
// the event After, oldest first.
type EventFilter struct {
	Subtree canopy.Path
	Except  []canopy.Path
	Types   canopy.EventTypeFilter
	After   string
	Limit   int
}

// PendingEvent is an event not yet fanned out to webhook endpoints, with
// the path its account has now (empty when the account is gone).
type PendingEvent struct {
	Event *canopy.Event
	Path  canopy.Path
}

// EventTx appends and reads events, and keeps the queue of events not yet
// fanned out to webhook endpoints.
type EventTx interface {
	// InsertEvents appends events, in one statement; each is pending.
	InsertEvents(ctx context.Context, es ...*canopy.Event) error
	// InsertAuditAndEvents appends a change's audit events and events
	// together: in one statement where the engine allows (PostgreSQL: one
	// round trip less for every audited write).
	InsertAuditAndEvents(ctx context.Context, audits []*canopy.AuditEvent, es []*canopy.Event) error
	ListEvents(ctx context.Context, f EventFilter) ([]*canopy.Event, error)
	// GetEvents returns the events with the given ids, in no order;
	// missing ids are skipped.
	GetEvents(ctx context.Context, ids []string) ([]*canopy.Event, error)
	// PendingEvents returns up to limit pending events, oldest first,
	// locking them so that a concurrent caller skips them (PostgreSQL).
	PendingEvents(ctx context.Context, limit int) ([]PendingEvent, error)
	// MarkEventsFannedOut takes events off the pending queue.
	MarkEventsFannedOut(ctx context.Context, ids []string) error
	// DeleteEventsBefore removes up to limit events that occurred before
	// t, and up to limit webhook deliveries made before t, and counts the
	// events. Both go by id: ids are ULIDs, which sort by time.
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int64, error)
}

// DeliveryFilter narrows a listing of one endpoint's deliveries, newest
// first.
type DeliveryFilter struct {
	EndpointID string
	Status     canopy.DeliveryStatus
	EventID    string
	Before     string
	Limit      int
}

// DeliveryOutcome is what one delivery attempt came to.
type DeliveryOutcome struct {
	ID       string
	Attempts int // the attempt the claim counted; a stale claim records nothing
	Status   canopy.DeliveryStatus
	At       time.Time
	// Next is when to try again (Status pending).
	Next     time.Time
	Response *canopy.WebhookResponse
	Error    string
}

// WebhookTx reads and writes webhook endpoints and their deliveries.
type WebhookTx interface {
	InsertWebhookEndpoint(ctx context.Context, e *canopy.WebhookEndpoint) error
	GetWebhookEndpoint(ctx context.Context, id string) (*canopy.WebhookEndpoint, error)
	// GetWebhookEndpoints returns the endpoints with the given ids, in no
	// order; missing ids are skipped.
	GetWebhookEndpoints(ctx context.Context, ids []string) ([]*canopy.WebhookEndpoint, error)
	// UpdateWebhookEndpoint writes every field of e but its account and
	// creation time.
	UpdateWebhookEndpoint(ctx context.Context, e *canopy.WebhookEndpoint) error
	// DeleteWebhookEndpoint removes an endpoint with its deliveries.
	DeleteWebhookEndpoint(ctx context.Context, id string) error
	ListWebhookEndpoints(ctx context.Context, accountID string, p Page) ([]*canopy.WebhookEndpoint, error)
	// EnabledWebhookEndpoints returns the enabled endpoints of any of the
	// accounts, in no order.
	EnabledWebhookEndpoints(ctx context.Context, accountIDs []string) ([]*canopy.WebhookEndpoint, error)
	// AnyEnabledWebhookEndpoint reports whether the installation has an
	// enabled endpoint at all.
	AnyEnabledWebhookEndpoint(ctx context.Context) (bool, error)
	// SetEndpointsHealth records a round's outcome per endpoint: those in
	// ok answered, so they are failing no more; those in failing did not,
	// so they are failing since at, unless they already were.
	SetEndpointsHealth(ctx context.Context, ok, failing []string, at time.Time) error

	// InsertWebhookDeliveries queues deliveries, in one statement.
	InsertWebhookDeliveries(ctx context.Context, ds ...*canopy.WebhookDelivery) error
	GetWebhookDelivery(ctx context.Context, id string) (*canopy.WebhookDelivery, error)
	ListWebhookDeliveries(ctx context.Context, f DeliveryFilter) ([]*canopy.WebhookDelivery, error)
	// ClaimWebhookDeliveries leases up to limit pending deliveries that are
	// due at now, not leased, and whose endpoint is enabled — the longest
	// due first — until leaseUntil, counting one attempt each, and returns
	// them in no order; concurrent claims never return the same delivery.
	ClaimWebhookDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*canopy.WebhookDelivery, error)
	// ReleaseWebhookDelivery gives back a claimed delivery that was not
	// tried, as ReleaseOutbox does.
	ReleaseWebhookDelivery(ctx context.Context, id string, attempts int) error
	// RecordWebhookOutcomes writes what attempts came to; an outcome whose
	// claim is stale (the delivery was claimed again since) is left out,
	// and the ids written are returned.
	RecordWebhookOutcomes(ctx context.Context, os []DeliveryOutcome) ([]string, error)
	// RequeueWebhookDelivery makes a delivery due at once again, whatever
	// its state, counting its attempts from zero.
	RequeueWebhookDelivery(ctx context.Context, id string, at time.Time) error
}
