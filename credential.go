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
	PurposeSetPassword TokenPurpose = "set-password" // first password of a new or invited person
	PurposeReset       TokenPurpose = "reset"        // a password reset the person asked for
	PurposeEmailChange TokenPurpose = "email-change" // confirms a new address, sent to it
)

// UserToken is a one-time link token. Only its hash is stored. It belongs
// to a person and names the address it was sent to: it works only while
// that address is the person's (or, for an email change, the pending one),
// so links sent to an old address stop working when the address changes.
type UserToken struct {
	ID       string
	PersonID string
	// UserID is the membership a welcome or invitation link answers: setting
	// the password from it joins that account.
	UserID    string
	Purpose   TokenPurpose
	Email     string // normalised address the link was sent to
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Session is a signed-in person's bearer token. Only its hash is stored.
// UserID is the membership signed in to: requests that name no account
// act there.
type Session struct {
	ID         string
	PersonID   string
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
