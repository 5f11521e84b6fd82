package canopy

import (
	"regexp"
	"time"
)

// Id prefixes of outgoing texts: one per message, and one per batch (the
// messages one change queued, charged together).
const (
	PrefixSMS      = "sms"
	PrefixSMSBatch = "smb"
)

// SMSMode is how a collector sends a form's answers by SMS.
type SMSMode string

// The SMS modes.
const (
	// SMSStructured: one text holds every answer, in question order, after
	// the form's code ("HIVINFO#Ada#F#34").
	SMSStructured SMSMode = "structured"
	// SMSInteractive: each question is one text, answered by one reply.
	SMSInteractive SMSMode = "interactive"
)

// Valid reports whether m is a known mode.
func (m SMSMode) Valid() bool { return m == SMSStructured || m == SMSInteractive }

// MaxSMSRecipients bounds the numbers one request authorises.
const MaxSMSRecipients = 100

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidE164 reports whether s is a phone number in E.164 form: a plus,
// then 7 to 15 digits, the first not 0.
func ValidE164(s string) bool { return e164RE.MatchString(s) }

// SMSMessage is one text message to a collector (a one-time message, a
// question, a confirmation or an error), queued in the SMS outbox in the
// same transaction that charged its message credit, and delivered
// afterwards. A message that finally fails, or whose recipient has opted
// out, is refunded to the payer it was charged to.
type SMSMessage struct {
	ID        string       `json:"id"`
	BatchID   string       `json:"batchId"`
	FormID    string       `json:"formId"`
	AccountID string       `json:"accountId"` // the account that set the collection up (whose usage it is)
	To        string       `json:"to"`
	Mode      SMSMode      `json:"mode"`
	Body      string       `json:"body"`
	Status    OutboxStatus `json:"status"`
	Attempts  int          `json:"attempts"`
	// NextAttemptAt is when a pending message is due.
	NextAttemptAt time.Time `json:"nextAttemptAt"`
	LastError     string    `json:"lastError,omitempty"`
	// ProviderID is the provider's id of the sent message (a Twilio SID).
	ProviderID string `json:"providerId,omitempty"`
	// ChargeEntryID is the usage entry that paid for the message (one
	// entry per batch) and PayerID the account it debited; RefundEntryID
	// is the refund of a message that failed.
	ChargeEntryID string     `json:"chargeEntryId"`
	PayerID       string     `json:"payerId"`
	RefundEntryID string     `json:"refundEntryId,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	SentAt        *time.Time `json:"sentAt,omitempty"`
}
