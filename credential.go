package canopy

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// Secret prefixes say what a bearer secret is, so one Authorization header
// carries either kind and leaked secrets are easy to recognise.
const (
	SessionPrefix = "cns_" // a user's session token
	TokenPrefix   = "cnt_" // a one-time set-password or reset token
)

// NewSecret returns prefix followed by 256 random bits.
func NewSecret(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	return prefix + strings.ToLower(enc.EncodeToString(b[:])), nil
}

// TokenPurpose says what a one-time token is for.
type TokenPurpose string

// The token purposes.
const (
	PurposeSetPassword TokenPurpose = "set-password" // first password of a new or invited user
	PurposeReset       TokenPurpose = "reset"        // a password reset the user asked for
)

// UserToken is a one-time link token. Only its hash is stored.
type UserToken struct {
	ID        string
	UserID    string
	Purpose   TokenPurpose
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Session is a signed-in user's bearer token. Only its hash is stored.
type Session struct {
	ID         string
	UserID     string
	Hash       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
	RevokedAt  *time.Time
}

// LoginAttempts counts failed logins for one login string, whether or not
// any user has it.
type LoginAttempts struct {
	Login         string
	Failures      int
	LastFailureAt time.Time
	LockedUntil   *time.Time
}

// The prefixes of these ids.
const (
	PrefixToken   = "tok"
	PrefixSession = "ses"
)
