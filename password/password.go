// Package password hashes and checks user passwords: argon2id hashes in the
// PHC string format, verification that tells the caller when a stored hash
// should be upgraded, and the policy a new password must meet.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. They are recorded in every hash, so
// they can be raised later without breaking old hashes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // iterations
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// Default is what new hashes use: argon2id with 32 MiB, 2 passes, 1 lane, a
// 16-byte salt and a 32-byte key. Treat it as a constant; nothing in this
// package modifies it.
//
// It was chosen by measurement (BenchmarkHash, Go 1.26, x/crypto v0.58.0,
// 2-core AMD EPYC): one hash takes 34 ms and allocates 32 MiB, inside our
// 20–60 ms budget. OWASP's argon2id minimums are 19 MiB with t=2 or 46 MiB
// with t=1; this has two thirds more memory than the first at the same pass
// count. Other settings measured: 19 MiB/t=2 20 ms (the floor), 46 MiB/t=1
// 25 ms, 64 MiB/t=1 37 ms, 46 MiB/t=2 54 ms, 32 MiB/t=3 54 ms, 64 MiB/t=2
// 74 ms (over budget).
//
// The trade-off: memory is what makes guessing expensive on GPUs and ASICs,
// but a login server holds it once per login in flight. With both cores
// hashing (BenchmarkHashParallel) this machine does about 57 hashes a second;
// ten logins in flight hold 320 MiB. 64 MiB with one pass costs about the
// same time per guess but doubles that memory, and a single pass leaves
// argon2id's data-independent first half most exposed to time–memory
// trade-off attacks, so we keep two passes. One lane keeps one login on one
// core, so concurrent logins do not contend inside a hash.
//
// Callers that serve many logins should bound how many hashes run at once.
// Raising Default later is safe: Verify reports rehash for older hashes.
var Default = Params{
	Memory:  32 * 1024,
	Time:    2,
	Threads: 1,
	SaltLen: 16,
	KeyLen:  32,
}

// Limits on parameters, for Hash and for hashes read back by Verify. A stored
// hash is data: bounding it means a corrupted or hostile row cannot make
// Verify allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB, 1 GiB
	maxTime    = 100
	minSaltLen = 8 // RFC 9106's minimum
	minKeyLen  = 16
	maxLen     = 1024 // bytes, for salt and key
)

// ErrMalformed is returned (wrapped) by Verify when the encoded hash cannot
// be parsed or records parameters outside the accepted limits.
var ErrMalformed = errors.New("password: malformed hash")

// validate reports why p cannot be used, or nil.
func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d not in 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB not in %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxLen:
		return fmt.Errorf("salt length %d not in %d..%d", p.SaltLen, minSaltLen, maxLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxLen:
		return fmt.Errorf("key length %d not in %d..%d", p.KeyLen, minKeyLen, maxLen)
	}
	return nil
}

// Hash returns an argon2id hash of pw in the PHC string format:
//
//	$argon2id$v=19$m=<mem>,t=<time>,p=<threads>$<salt b64>$<key b64>
//
// with unpadded standard base64. It returns an error if p is out of range
// (for example Time 0, or Memory under 8 KiB per thread or over 1 GiB).
func Hash(pw string, p Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("password: invalid params: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return format(p, salt, key), nil
}

// Verify reports whether pw matches encoded, comparing keys in constant time,
// and whether the hash was made with parameters other than current, so the
// caller re-hashes pw with current after a successful login. rehash is only
// ever true together with ok: a wrong password must never be stored.
//
// A malformed encoded string, or one whose parameters are outside the limits
// Hash accepts, is an error wrapping ErrMalformed; ok is then false.
func Verify(pw, encoded string, current Params) (ok, rehash bool, err error) {
	p, salt, key, err := parse(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != current, nil
}

// dummyHash is computed on first use: it costs one Default hash.
var dummyHash = sync.OnceValue(func() string {
	h, err := Hash(rand.Text(), Default)
	if err != nil {
		panic(err) // Default is valid and crypto/rand does not fail.
	}
	return h
})

// DummyHash is a valid hash of a random password made with Default, for
// verifying against when a login names no user, so both paths cost the same.
// The first call computes it; call it once at start-up to keep that cost off
// the first failed login.
func DummyHash() string { return dummyHash() }

// b64 is the PHC encoding. Strict rejects non-zero trailing bits; parse also
// re-encodes to reject the newlines the decoder would otherwise skip.
var b64 = base64.RawStdEncoding.Strict()

// format writes the PHC string for p, salt and key.
func format(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parse reads a PHC string written by format. It accepts only the canonical
// form: the fields in order, decimal numbers without leading zeros or signs,
// and unpadded base64 with no stray characters, so that every accepted
// string is exactly what format would write for its values.
func parse(encoded string) (p Params, salt, key []byte, err error) {
	fail := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("want 5 fields separated by $")
	}
	if parts[1] != "argon2id" {
		return fail("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported version")
	}
	ps := strings.Split(parts[3], ",")
	if len(ps) != 3 {
		return fail("want parameters m, t and p")
	}
	m, ok1 := number(ps[0], "m=", 32)
	t, ok2 := number(ps[1], "t=", 32)
	th, ok3 := number(ps[2], "p=", 8)
	if !ok1 || !ok2 || !ok3 {
		return fail("bad m, t or p")
	}
	if salt, err = decode(parts[4]); err != nil {
		return fail("bad salt encoding")
	}
	if key, err = decode(parts[5]); err != nil {
		return fail("bad key encoding")
	}
	p = Params{
		Memory:  uint32(m),
		Time:    uint32(t),
		Threads: uint8(th),
		SaltLen: uint32(len(salt)),
		KeyLen:  uint32(len(key)),
	}
	if err := p.validate(); err != nil {
		return fail(err.Error())
	}
	return p, salt, key, nil
}

// number parses "<prefix><decimal>" into an unsigned integer of the given
// bit size, accepting only the canonical decimal form.
func number(s, prefix string, bits int) (uint64, bool) {
	digits, found := strings.CutPrefix(s, prefix)
	if !found {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, bits)
	if err != nil || strconv.FormatUint(n, 10) != digits {
		return 0, false
	}
	return n, true
}

// decode reads canonical unpadded base64, bounded so a hostile string cannot
// make a huge salt or key.
func decode(s string) ([]byte, error) {
	if b64.DecodedLen(len(s)) > maxLen {
		return nil, errors.New("too long")
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if b64.EncodeToString(b) != s {
		return nil, errors.New("not canonical")
	}
	return b, nil
}
