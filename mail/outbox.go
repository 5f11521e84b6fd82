package mail

import (
	"context"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// Outbox is what the worker needs of the service: the email outbox's
// claim, content and outcomes, and nothing else, so that what delivery
// may do is read here rather than in the whole service.
type Outbox interface {
	// ClaimOutbox leases up to limit due messages to this worker.
	ClaimOutbox(ctx context.Context, limit int) ([]*canopy.OutboxMessage, error)
	// PrepareEmails returns each message's content, or its error.
	PrepareEmails(ctx context.Context, msgs []*canopy.OutboxMessage) ([]*service.PreparedEmail, []error)
	// OutboxSent records delivered messages.
	OutboxSent(ctx context.Context, ids []string) error
	// OutboxFailed records a failed attempt: a retry later, or the end.
	OutboxFailed(ctx context.Context, m *canopy.OutboxMessage, cause error) error
	// OutboxMaxAttempts is how many attempts a message gets.
	OutboxMaxAttempts() int
	// ReleaseOutbox gives back claimed messages that were not tried.
	ReleaseOutbox(ctx context.Context, msgs []service.Claimed) (int, error)
}

var _ Outbox = (*service.Service)(nil)
