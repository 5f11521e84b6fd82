package canopy

import (
	"encoding/json"
	"time"
)

// Actor says who made a change, as authenticated: an API key, a person
// acting through a membership ("user", its usr_ id), or the system.
type Actor struct {
	Type string `json:"type"` // "apiKey", "user" or "system"
	ID   string `json:"id"`
	// AccountID is the account the credential belongs to (the key's, or the
	// membership's); empty for the system.
	AccountID string `json:"accountId,omitempty"`
}

// AuditEvent records one write: who did what, in which account, on whose
// behalf and through which channel (rule 10, docs/rules.md). Actor is who
// authenticated; Channel and Username are only what the caller claimed
// (X-Channel, X-Username), kept apart and never taken for the actor.
type AuditEvent struct {
	ID              string    `json:"id"`
	OccurredAt      time.Time `json:"occurredAt"`
	AccountID       string    `json:"accountId"`
	ActingAccountID string    `json:"actingAccountId"`
	Actor           Actor     `json:"actor"`
	Action          string    `json:"action"`
	TargetType      string    `json:"targetType"`
	TargetID        string    `json:"targetId"`
	// OnBehalf is true when the actor's credential belongs to another
	// account than the one it acted as (an ancestor acting for it).
	OnBehalf  bool            `json:"onBehalf"`
	Channel   string          `json:"channel"`
	Username  string          `json:"username"`
	RequestID string          `json:"requestId"`
	Details   json.RawMessage `json:"details"`
}

// MaxChannelLen is where X-Channel is cut, as the seed API documents.
const MaxChannelLen = 64

// TruncateChannel cuts a channel name to MaxChannelLen characters without
// splitting a character.
func TruncateChannel(s string) string {
	n := 0
	for i := range s {
		if n == MaxChannelLen {
			return s[:i]
		}
		n++
	}
	return s
}
