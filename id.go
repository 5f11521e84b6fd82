package canopy

import (
	"crypto/rand"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Id prefixes. Every public id is a prefix, an underscore and a ULID, so an
// id says what it names and sorts by creation time.
const (
	PrefixAccount     = "acc"
	PrefixUser        = "usr"
	PrefixAPIKey      = "key"
	PrefixAuditEvent  = "evt"
	PrefixOutbox      = "msg"
	PrefixExternalRef = "ref"
)

// IDs makes prefixed ULIDs. Clock and entropy are injected so tests are
// repeatable; ids made within one millisecond still increase.
type IDs struct {
	mu      sync.Mutex
	now     func() time.Time
	entropy *ulid.MonotonicEntropy
}

// NewIDs returns an id source using now and the random reader r (crypto/rand
// when nil).
func NewIDs(now func() time.Time, r io.Reader) *IDs {
	if r == nil {
		r = rand.Reader
	}
	if now == nil {
		now = time.Now
	}
	return &IDs{now: now, entropy: ulid.Monotonic(r, 0)}
}

// ULID returns a new bare ULID string, as used for request ids.
func (g *IDs) ULID() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ulid.MustNew(ulid.Timestamp(g.now()), g.entropy).String()
}

// New returns a new id with the given prefix.
func (g *IDs) New(prefix string) string {
	return prefix + "_" + g.ULID()
}

// FirstIDAt returns the smallest id with prefix made at t: every id made
// before t sorts below it, every id made at t or later not (ids are ULIDs,
// whose first part is their time in milliseconds).
func FirstIDAt(prefix string, t time.Time) string {
	return prefix + "_" + ulid.MustNew(ulid.Timestamp(t), zeros{}).String()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// ValidID reports whether s is a well-formed id with the given prefix.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	// Only the canonical upper-case form: ULID parsing would accept lower
	// case, which would name no stored row.
	if !ok || len(rest) != ulid.EncodedSize || rest != strings.ToUpper(rest) {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}
