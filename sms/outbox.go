package sms

import (
	"context"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// Outbox is what the worker needs of the service: the SMS outbox's claim
// and outcomes, and nothing else, so that what delivery may do is read
// here rather than in the whole service.
type Outbox interface {
	// ClaimSMS leases up to limit due messages to this worker.
	ClaimSMS(ctx context.Context, limit int) ([]*canopy.SMSMessage, error)
	// SMSSent records a delivered message and the provider's id for it.
	SMSSent(ctx context.Context, m *canopy.SMSMessage, providerID string) error
	// SMSFailed records a failed attempt, refunding a message that failed
	// for good, and reports whether it did.
	SMSFailed(ctx context.Context, m *canopy.SMSMessage, cause error) (final bool, err error)
	// ReleaseSMS gives back claimed messages that were not tried.
	ReleaseSMS(ctx context.Context, msgs []service.Claimed) (int, error)
}

var _ Outbox = (*service.Service)(nil)
