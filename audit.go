package canopy

import (
	"encoding/json"
	"time"
)

// Actor says who made a change: an API key or, later, a user session.
type Actor struct {
	Type string `json:"type"` // "apiKey", "user" or "system"
	ID   string `json:"id"`
}

// AuditEvent records one write: who did what, in which account, on whose
// behalf and through which channel (DESIGN rule 10).
type AuditEvent struct {
	ID              string          `json:"id"`
	OccurredAt      time.Time       `json:"occurredAt"`
	AccountID       string          `json:"accountId"`
	ActingAccountID string          `json:"actingAccountId"`
	Actor           Actor           `json:"actor"`
	Action          string          `json:"action"`
	TargetType      string          `json:"targetType"`
	TargetID        string          `json:"targetId"`
	Channel         string          `json:"channel"`
	Username        string          `json:"username"`
	RequestID       string          `json:"requestId"`
	Details         json.RawMessage `json:"details"`
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
