package canopy

import (
	"encoding/json"
	"time"
)

// OutboxStatus is the delivery state of an outbox message.
type OutboxStatus string

// The outbox states.
const (
	OutboxPending OutboxStatus = "pending"
	OutboxSent    OutboxStatus = "sent"
	OutboxFailed  OutboxStatus = "failed"
)

// Email templates written to the outbox.
const (
	TemplateWelcome        = "welcome"         // a new account's master user: set your password
	TemplateUserInvitation = "user-invitation" // a further user invited into an account
	TemplatePasswordReset  = "password-reset"  // a user asked to reset their password
	// A person asked to change their address: the confirmation link goes to
	// the new address, a notice to the old one.
	TemplateEmailChange       = "email-change"
	TemplateEmailChangeNotice = "email-change-notice"

	TemplateInvitation          = "invitation"           // to the invitee: an umbrella invites it
	TemplateInvitationAccepted  = "invitation-accepted"  // to the umbrella's admins
	TemplateInvitationDeclined  = "invitation-declined"  // to the umbrella's admins
	TemplateInvitationCancelled = "invitation-cancelled" // to the invitee
	TemplateInvitationExpired   = "invitation-expired"   // to the umbrella's admins
	TemplateSignupAttempt       = "signup-attempt"       // to a user whose address someone tried to sign up with
	TemplateLowBalance          = "low-balance"          // to a payer's admins: its balance of a credit type fell to a threshold
	TemplateWebhookDisabled     = "webhook-disabled"     // to an account's admins: a webhook endpoint failed for days and was disabled
)

// OutboxMessage is an email (later also an SMS) written in the same
// transaction as the change that caused it, and delivered afterwards.
type OutboxMessage struct {
	ID            string          `json:"id"`
	Channel       string          `json:"channel"` // "email"
	AccountID     string          `json:"accountId"`
	UserID        string          `json:"userId,omitempty"`
	Recipient     string          `json:"recipient"`
	Template      string          `json:"template"`
	Data          json.RawMessage `json:"data"`
	Status        OutboxStatus    `json:"status"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt time.Time       `json:"nextAttemptAt"`
	LastError     string          `json:"lastError,omitempty"`
	CreatedAt     time.Time       `json:"createdAt"`
	SentAt        *time.Time      `json:"sentAt,omitempty"`
}
