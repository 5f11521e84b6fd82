package password

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

// cheap keeps tests fast; only the tests of Default itself hash with Default.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// phc is the PHC string format with a 16-byte salt and a 32-byte key.
var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=[1-9][0-9]*,t=[1-9][0-9]*,p=[1-9][0-9]*\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	// Hash takes any string; length limits are Check's business.
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd ünïcode 🔑", strings.Repeat("x", 4096)} {
		h, err := Hash(pw, cheap)
		require.NoError(t, err)
		ok, rehash, err := Verify(pw, h, cheap)
		require.NoError(t, err)
		require.True(t, ok, "password %q", pw)
		require.False(t, rehash)
	}
}

func TestVerifyWrongPassword(t *testing.T) {
	t.Parallel()
	h, err := Hash("correct horse battery staple", cheap)
	require.NoError(t, err)
	for _, pw := range []string{"", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "} {
		ok, rehash, err := Verify(pw, h, cheap)
		require.NoError(t, err)
		require.False(t, ok, "password %q", pw)
		require.False(t, rehash)
	}
}

// Hashes made by the reference C implementation (libargon2 20171227, through
// argon2id_hash_encoded) verify here: the format and the key derivation
// agree with other systems that store argon2id.
func TestVerifyReferenceHashes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pw, encoded string
		params      Params
	}{
		{"correct horse battery staple",
			"$argon2id$v=19$m=64,t=2,p=1$Y2Fub3B5LXNhbHQtMDEyMw$xyfTmE/GA4F0I3ZV9bMET7yTjziiyjILhhCJYRnPZVM",
			Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"correct horse battery staple",
			"$argon2id$v=19$m=256,t=3,p=2$Y2Fub3B5LXNhbHQtMDEyMw$JjT6N4chXIs0/j0pysMN05Isad6mY6UcMbw0c7FAiXQ",
			Params{Memory: 256, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}},
		{"pässwörd-ünïcode",
			"$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$pVtaqcBdGoHNfaocgC1K4/Rn9ppsaWgGo81KFCXmlto",
			Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
	}
	for _, tt := range tests {
		ok, rehash, err := Verify(tt.pw, tt.encoded, tt.params)
		require.NoError(t, err)
		require.True(t, ok)
		require.False(t, rehash)

		ok, _, err = Verify(tt.pw+"x", tt.encoded, tt.params)
		require.NoError(t, err)
		require.False(t, ok)
	}
}

func TestVerifyRehash(t *testing.T) {
	t.Parallel()
	with := func(f func(*Params)) Params { p := cheap; f(&p); return p }
	tests := []struct {
		name       string
		hashedWith Params
		current    Params
		want       bool
	}{
		{"same params", cheap, cheap, false},
		{"more memory now", cheap, with(func(p *Params) { p.Memory = 128 }), true},
		{"less memory now", with(func(p *Params) { p.Memory = 128 }), cheap, true},
		{"more time now", cheap, with(func(p *Params) { p.Time = 2 }), true},
		{"more threads now", cheap, with(func(p *Params) { p.Threads = 2 }), true},
		{"longer salt now", cheap, with(func(p *Params) { p.SaltLen = 32 }), true},
		{"shorter key now", cheap, with(func(p *Params) { p.KeyLen = 16 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := Hash("correct horse battery staple", tt.hashedWith)
			require.NoError(t, err)

			ok, rehash, err := Verify("correct horse battery staple", h, tt.current)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, tt.want, rehash)

			// A wrong password never asks for a rehash: the caller would
			// store the attacker's guess.
			ok, rehash, err = Verify("wrong password", h, tt.current)
			require.NoError(t, err)
			require.False(t, ok)
			require.False(t, rehash)
		})
	}
}

func TestHashFormat(t *testing.T) {
	t.Parallel()
	h, err := Hash("correct horse battery staple", cheap)
	require.NoError(t, err)
	require.Regexp(t, phc, h)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$"), h)

	p, salt, key, err := parse(h)
	require.NoError(t, err)
	require.Equal(t, cheap, p)
	require.Len(t, salt, 16)
	require.Equal(t, argon2.IDKey([]byte("correct horse battery staple"), salt, 1, 64, 1, 32), key)
}

func TestHashIsSalted(t *testing.T) {
	t.Parallel()
	a, err := Hash("correct horse battery staple", cheap)
	require.NoError(t, err)
	b, err := Hash("correct horse battery staple", cheap)
	require.NoError(t, err)
	require.NotEqual(t, a, b)

	_, saltA, _, err := parse(a)
	require.NoError(t, err)
	_, saltB, _, err := parse(b)
	require.NoError(t, err)
	require.NotEqual(t, saltA, saltB)
}

func TestHashRejectsBadParams(t *testing.T) {
	t.Parallel()
	with := func(f func(*Params)) Params { p := cheap; f(&p); return p }
	tests := []struct {
		name   string
		params Params
	}{
		{"zero", Params{}},
		{"no time", with(func(p *Params) { p.Time = 0 })},
		{"too much time", with(func(p *Params) { p.Time = maxTime + 1 })},
		{"no threads", with(func(p *Params) { p.Threads = 0 })},
		{"under 8 KiB per thread", with(func(p *Params) { p.Memory = 15; p.Threads = 2 })},
		{"over 1 GiB", with(func(p *Params) { p.Memory = maxMemory + 1 })},
		{"short salt", with(func(p *Params) { p.SaltLen = 7 })},
		{"long salt", with(func(p *Params) { p.SaltLen = maxLen + 1 })},
		{"short key", with(func(p *Params) { p.KeyLen = 15 })},
		{"long key", with(func(p *Params) { p.KeyLen = maxLen + 1 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := Hash("correct horse battery staple", tt.params)
			require.Error(t, err)
			require.Empty(t, h)
		})
	}
}

// A stored hash that is not exactly what Hash writes, or that asks for
// absurd work, is an error before any hashing happens: no panic, no huge
// allocation.
func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	const (
		salt = "Y2Fub3B5LXNhbHQtMDEyMw"
		key  = "xyfTmE/GA4F0I3ZV9bMET7yTjziiyjILhhCJYRnPZVM"
	)
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"plain text", "correct horse battery staple"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"upper case algorithm", "$ARGON2ID$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=2,p=1$" + salt + "$" + key},
		{"version 20", "$argon2id$v=20$m=64,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=2,p=1$" + salt + "$" + key},
		{"no params", "$argon2id$v=19$" + salt + "$" + key},
		{"no key", "$argon2id$v=19$m=64,t=2,p=1$" + salt},
		{"empty key", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$"},
		{"extra field", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key + "$" + key},
		{"no leading $", "argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key},
		{"trailing newline", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key + "\n"},
		{"params reordered", "$argon2id$v=19$t=2,m=64,p=1$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=64,t=2,p=1,keyid=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=2$" + salt + "$" + key},
		{"empty number", "$argon2id$v=19$m=,t=2,p=1$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=064,t=2,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+64,t=2,p=1$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=-64,t=2,p=1$" + salt + "$" + key},
		{"space", "$argon2id$v=19$m= 64,t=2,p=1$" + salt + "$" + key},
		{"m=0", "$argon2id$v=19$m=0,t=2,p=1$" + salt + "$" + key},
		{"m under 8 KiB per lane", "$argon2id$v=19$m=15,t=2,p=2$" + salt + "$" + key},
		{"m over 1 GiB", "$argon2id$v=19$m=1048577,t=2,p=1$" + salt + "$" + key},
		{"m just under 4 GiB", "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key},
		{"m over 4 GiB", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key},
		{"m huge", "$argon2id$v=19$m=99999999999999999999999,t=2,p=1$" + salt + "$" + key},
		{"t=0", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"t over 100", "$argon2id$v=19$m=64,t=101,p=1$" + salt + "$" + key},
		{"t huge", "$argon2id$v=19$m=64,t=4294967295,p=1$" + salt + "$" + key},
		{"p=0", "$argon2id$v=19$m=64,t=2,p=0$" + salt + "$" + key},
		{"p over 255", "$argon2id$v=19$m=4096,t=2,p=256$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=64,t=2,p=1$!!!!!!!!$" + key},
		{"salt padded", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "==$" + key},
		{"salt url-safe alphabet", "$argon2id$v=19$m=64,t=2,p=1$Y2Fub3B5LXNhbHQtMDEyM_$" + key},
		{"salt with newline", "$argon2id$v=19$m=64,t=2,p=1$Y2Fub3B5LXNh\nbHQtMDEyMw$" + key},
		{"salt with trailing bits", "$argon2id$v=19$m=64,t=2,p=1$Y2Fub3B5LXNhbHQtMDEyMx$" + key},
		{"salt impossible length", "$argon2id$v=19$m=64,t=2,p=1$Y2Fub3B5LXNhbHQtMDEyM$" + key},
		{"salt under 8 bytes", "$argon2id$v=19$m=64,t=2,p=1$c2FsdA$" + key},
		{"salt over 1 KiB", "$argon2id$v=19$m=64,t=2,p=1$" + strings.Repeat("A", 1400) + "$" + key},
		{"key under 16 bytes", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$xyfTmE/GA4F0I3ZV9bME"},
		{"key over 1 KiB", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + strings.Repeat("A", 1400)},
		{"key not base64", "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + strings.Repeat("*", 43)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := Verify("correct horse battery staple", tt.encoded, cheap)
			require.ErrorIs(t, err, ErrMalformed)
			require.False(t, ok)
			require.False(t, rehash)
		})
	}
}

// Default is chosen by measurement (see its doc comment); this pins it
// inside OWASP's argon2id guidance so a later edit cannot weaken it quietly.
func TestDefaultMeetsOWASP(t *testing.T) {
	t.Parallel()
	require.NoError(t, Default.validate())
	// OWASP's equivalent minimums: 46 MiB with t=1, 19 MiB with t=2,
	// 12 MiB with t=3, 9 MiB with t=4, 7 MiB with t=5; all with p=1.
	owasp := map[uint32]uint32{1: 47104, 2: 19456, 3: 12288, 4: 9216}
	minMemory, ok := owasp[Default.Time]
	if !ok {
		minMemory = 7168
	}
	require.GreaterOrEqual(t, Default.Memory, minMemory)
	require.LessOrEqual(t, Default.Memory, uint32(64*1024), "keep memory modest: a login server runs several hashes at once")
	require.Equal(t, uint32(16), Default.SaltLen)
	require.Equal(t, uint32(32), Default.KeyLen)
}

func TestDummyHash(t *testing.T) {
	t.Parallel()
	h := DummyHash()
	require.Equal(t, h, DummyHash(), "computed once")
	require.Regexp(t, phc, h)

	p, _, _, err := parse(h)
	require.NoError(t, err)
	require.Equal(t, Default, p, "costs what a current hash costs")

	ok, rehash, err := Verify("correct horse battery staple", h, Default)
	require.NoError(t, err)
	require.False(t, ok)
	require.False(t, rehash)
}

// FuzzVerify checks that Verify never panics on arbitrary stored strings,
// that errors never come with ok or rehash, and that every string it accepts
// is exactly what Hash would write for the same values.
func FuzzVerify(f *testing.F) {
	salt := []byte("canopy-salt-0123")
	f.Add("correct horse battery staple", format(cheap, salt, argon2.IDKey([]byte("correct horse battery staple"), salt, 1, 64, 1, 32)))
	f.Add("pw", "$argon2id$v=19$m=64,t=2,p=1$Y2Fub3B5LXNhbHQtMDEyMw$xyfTmE/GA4F0I3ZV9bMET7yTjziiyjILhhCJYRnPZVM")
	f.Add("pw", "$argon2id$v=19$m=4294967296,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw")
	f.Add("pw", "$argon2id$v=19$m=64,t=0,p=1$$")
	f.Add("", "$$$$$")
	f.Fuzz(func(t *testing.T, pw, encoded string) {
		p, salt, key, err := parse(encoded)
		if err == nil {
			require.Equal(t, encoded, format(p, salt, key), "only canonical strings parse")
			if uint64(p.Memory)*uint64(p.Time) > 1<<16 {
				t.Skip("valid but too slow to hash while fuzzing")
			}
		}
		ok, rehash, err := Verify(pw, encoded, cheap)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			require.False(t, ok)
		}
		if rehash {
			require.True(t, ok)
		}
	})
}

// BenchmarkHash measures one hash with Default: the cost of a sign-up, a
// password change or a rehash, and of each guess for an attacker.
func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("correct horse battery staple", Default); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashParallel measures throughput with every core hashing, as a
// login server under load does.
func BenchmarkHashParallel(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Hash("correct horse battery staple", Default); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerify measures one login against a Default hash.
func BenchmarkVerify(b *testing.B) {
	h, err := Hash("correct horse battery staple", Default)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := Verify("correct horse battery staple", h, Default); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
