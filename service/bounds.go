package service

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/canopyhq/canopy"
)

// MaxLoginLen bounds a sign-in's login: the longest email address (a
// username is shorter). A longer login cannot belong to anyone, and it is
// refused before it is hashed, looked up or counted.
const MaxLoginLen = canopy.MaxEmailLen

// validLogin checks a login's text and length.
func validLogin(v *canopy.Validator, login string) {
	if canopy.ValidText(v, "login", login) {
		v.Check(len(login) <= MaxLoginLen, "login", "too-long", "must be at most %d bytes", MaxLoginLen)
	}
}

// loginAttemptsKey is what failed sign-ins of a normalised login are
// counted under: a fixed-size digest, so the counter's key (and its index
// on PostgreSQL, which refuses keys of a few kilobytes) never grows with
// what a client sends.
func loginAttemptsKey(login string) string {
	sum := sha256.Sum256([]byte("login-attempts:" + login))
	return hex.EncodeToString(sum[:])
}

// validSecret reports whether s could be a secret with prefix that Canopy
// issued, before anything hashes it or looks it up.
func validSecret(s, prefix string) bool {
	return strings.HasPrefix(s, prefix) && len(s) <= canopy.MaxSecretLen
}
