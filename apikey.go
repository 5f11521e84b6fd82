package canopy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// APIKey is a credential that belongs to one account. Only a hash of the
// secret is stored; the secret is shown once, when the key is made.
type APIKey struct {
	ID         string     `json:"id"`
	AccountID  string     `json:"accountId"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"createdAt"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	CreatedBy  string     `json:"createdBy,omitempty"`
	SecretHash string     `json:"-"`
	// CreatedByAccount is the account whose credential made the key: when
	// an invited link ends, keys that accounts above it made below it stop
	// working (rule 9). Internal: it may name an ancestor.
	CreatedByAccount string `json:"-"`
}

// SecretPrefix starts every generated API key, so leaked keys are easy to
// recognise by secret scanners.
const SecretPrefix = "cnp_"

// MinSecretLen is the shortest secret an operator may choose for the root
// key through CANOPY_ROOT_API_KEY.
const MinSecretLen = 20

// MaxSecretLen bounds a bearer secret or one-time token a request may
// present (Canopy's own are 56 characters; an operator's root key is at
// most this long). Longer ones are refused before they are hashed.
const MaxSecretLen = 256

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewAPIKeySecret returns a fresh random secret with 256 bits of entropy.
func NewAPIKeySecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return SecretPrefix + strings.ToLower(keyEncoding.EncodeToString(b[:])), nil
}

// HashSecret returns the stored form of a secret. A fast hash is right here:
// secrets are long random strings, not passwords, and every request hashes
// one.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// DisplayPrefix returns the part of a secret that is safe to show again,
// so people can tell their keys apart.
func DisplayPrefix(secret string) string {
	n := len(SecretPrefix) + 6
	if len(secret) < n {
		n = len(secret) / 2
	}
	return secret[:n]
}
