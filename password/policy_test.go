package password

import (
	"bufio"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	me := []string{"john.smith@example.com", "john.smith", "jsmith", "John Smith"}
	tests := []struct {
		rule     string
		pw       string
		personal []string
		want     string
	}{
		// Length counts characters, not bytes.
		{"length: 12 ASCII characters", "gjQ8vzR2mwLk", nil, ""},
		{"length: 11 characters", "gjQ8vzR2mwL", nil, reasonShort},
		{"length: empty", "", nil, reasonShort},
		{"length: 11 runes in 31 bytes", "日本語のパスワードです", nil, reasonShort},
		{"length: 12 runes in 34 bytes", "日本語のパスワードですね", nil, ""},
		{"length: 12 runes with accents", "ñandú-pájaro", nil, ""},
		{"length: emoji count once each", "🐢🦊🐙🦉🐝🦀🐌🦔🐳🦜🐞🦎", nil, ""},
		{"length: 11 emoji", "🐢🦊🐙🦉🐝🦀🐌🦔🐳🦜🐞", nil, reasonShort},
		{"length: exactly MaxBytes", strings.Repeat("Tk9#", MaxBytes/4), nil, ""},
		{"length: over MaxBytes", strings.Repeat("correct horse ", 80), nil, reasonLong},
		{"encoding: invalid UTF-8", "gjQ8vzR2mwLk\xff", nil, reasonEncoding},

		// Few different characters.
		{"distinct: one repeated character", "aaaaaaaaaaaa", nil, reasonFewChars},
		{"distinct: one repeated space", "            ", nil, reasonFewChars},
		{"distinct: case does not count", "aAaAaAaAbBbB", nil, reasonFewChars},
		{"distinct: three characters", "abcabcabcabc", nil, reasonFewChars},
		{"distinct: three digits", "121212333333", nil, reasonFewChars},

		// Repeats and sequences.
		{"sequence: digits", "123456789012", nil, reasonSequence},
		{"sequence: digits backwards", "098765432109", nil, reasonSequence},
		{"sequence: keyboard row into the next", "qwertyuiopas", nil, reasonSequence},
		{"sequence: keyboard row backwards", "poiuytrewqlk", nil, reasonSequence},
		{"sequence: alphabet", "abcdefghijkl", nil, reasonSequence},
		{"sequence: alphabet, upper case", "ABCDEFGHIJKL", nil, reasonSequence},
		{"sequence: keyboard columns", "1qaz2wsx3edc", nil, reasonSequence},
		{"sequence: shifted number row", "!@#$%^&*()_+", nil, reasonSequence},
		{"sequence: two sequences joined", "abcdef123456", nil, reasonSequence},
		{"sequence: a sequence repeated", "abcdabcdabcd", nil, reasonSequence},
		{"sequence: with a short tail", "qwertyuiop12", nil, reasonSequence},
		{"sequence: keypad", "147258369147", nil, reasonSequence},
		{"repeats: runs of characters", "aaaa1111bbbbcccc", nil, reasonRepeats},
		{"repeats: mostly one character", "aaaaaaaaaaaaaaab7x", nil, reasonRepeats},
		{"repeats: mostly one character, then noise", "zzzzzzzzzzzzzzzzzzzzzzzz3fq", nil, reasonRepeats},

		// Personal information, case-insensitively, in any position.
		{"personal: email", "john.smith@example.com", me, reasonPersonal},
		{"personal: email inside", "my-JOHN.SMITH@EXAMPLE.COM-pw", me, reasonPersonal},
		{"personal: local part without the dot", "johnsmith-rocks", me, reasonPersonal},
		{"personal: username", "xx-jsmith-2024", me, reasonPersonal},
		{"personal: name in leetspeak", "j0hn5m1th!!!!", me, reasonPersonal},
		{"personal: one word of the name", "blacksmith-forge-anvil", []string{"John Smith"}, reasonPersonal},
		{"personal: local part derived from the email", "kt-mcgregor-rocks", []string{"kt.mcgregor@example.com"}, reasonPersonal},
		{"personal: email domain is not personal", "example-kp7q-zv2w", []string{"kt.mcgregor@example.com"}, ""},
		{"personal: strings under 4 characters are ignored", "ann-kp7q-zv2w-lee", []string{"ann", "lee", "Ann Lee"}, ""},
		{"personal: none given", "johnsmith-rocks", nil, ""},
		{"personal: others' details are fine", "john-kp7q-zv2w", []string{"mary.jones@example.com", "mjones", "Mary Jones"}, ""},

		// Common passwords, disguised.
		{"common: on the list", "passwordpassword", nil, reasonCommon},
		{"common: long entry", "correcthorsebatterystaple", nil, reasonCommon},
		{"common: spaced phrase", "correct horse battery staple", nil, reasonCommon},
		{"common: upper case", "IloveyouForever", nil, reasonCommon},
		{"common: trailing digits", "password1234", nil, reasonCommon},
		{"common: leetspeak and digits", "P@ssw0rd12345", nil, reasonCommon},
		{"common: leetspeak ending in a digit", "hell0-hell0-hell0", nil, reasonCommon},
		{"common: 1 read as l", "1etmein-1etmein", nil, reasonCommon},
		{"common: digits and punctuation around", "!!2024monkey2024!!", nil, reasonCommon},
		{"common: base word with year", "Summer2024!!", nil, reasonCommon},
		{"common: entry ending in a digit", "trustno1!!!!", nil, reasonCommon},
		{"common: leetspeak at the end of the word", "n@t@$h@12341234", nil, reasonCommon},
		{"common: entry starting with a digit", "!!123abc!!!!", nil, reasonCommon},
		{"common: repeated entry", "hunter2hunter2", nil, reasonCommon},
		{"common: name with digits", "Jessica19871987", nil, reasonCommon},
		{"common: digits in punctuation", "!!!8675309!!!", nil, reasonCommon},

		// Acceptable.
		{"ok: random", "x7#kP9!mQ2$z", nil, ""},
		{"ok: passphrase", "purple-elephant-dances-slowly", nil, ""},
		{"ok: two words", "kitten mittens", nil, ""},
		{"ok: common word inside a longer phrase", "my dragon eats tacos", nil, ""},
		{"ok: leetspeak of an uncommon phrase", "Tr0ub4dor&3xyz", nil, ""},
		{"ok: long random", "gjQ8vzR2mwLkP4nT7sYc", me, ""},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Check(tt.pw, tt.personal...), "password %q", tt.pw)
		})
	}
}

func TestReasonsSpellOutLimits(t *testing.T) {
	t.Parallel()
	require.Contains(t, reasonShort, " "+strconv.Itoa(MinLength)+" ")
	require.Contains(t, reasonLong, " "+strconv.Itoa(MaxBytes)+" ")
}

// Every entry on the list, stretched to 12 characters in the usual ways, is
// refused for some reason. An entry of digits alone is only padded with
// punctuation: digits after digits do not show where the word ends.
func TestCheckRefusesListedPasswords(t *testing.T) {
	t.Parallel()
	leet := strings.NewReplacer("a", "@", "o", "0", "e", "3", "s", "$")
	for _, entry := range listed(t) {
		if !strings.ContainsFunc(entry, unicode.IsLetter) {
			require.NotEmpty(t, Check(pad(entry, "!")), "password %q", pad(entry, "!"))
			continue
		}
		for _, pw := range []string{
			pad(entry, "1"),
			pad(entry, "!"),
			pad(strings.ToUpper(entry[:1])+entry[1:], "2024!"),
			pad(leet.Replace(entry), "1234"),
			strings.Repeat("!", max(1, MinLength-utf8.RuneCountInString(entry))) + entry,
		} {
			require.NotEmpty(t, Check(pw), "password %q from %q", pw, entry)
		}
	}
}

// pad appends tail to s, at least once, until s is at least MinLength
// characters.
func pad(s, tail string) string {
	s += tail
	for utf8.RuneCountInString(s) < MinLength {
		s += tail
	}
	return s
}

// listed returns the entries of common.txt as written.
func listed(t *testing.T) []string {
	var entries []string
	sc := bufio.NewScanner(strings.NewReader(commonTxt))
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, "#") {
			entries = append(entries, line)
		}
	}
	require.NoError(t, sc.Err())
	return entries
}

// common.txt stays easy to review: sorted, unique, lowercase, one entry a
// line, and long enough to matter.
func TestCommonList(t *testing.T) {
	t.Parallel()
	entries := listed(t)
	for _, e := range entries {
		require.Equal(t, strings.ToLower(strings.TrimSpace(e)), e, "entry %q", e)
		require.NotContains(t, e, " ")
		require.GreaterOrEqual(t, utf8.RuneCountInString(e), 3, "entry %q", e)
	}
	require.True(t, slices.IsSorted(entries), "sorted")
	require.Len(t, slices.Compact(slices.Clone(entries)), len(entries), "unique")
	require.GreaterOrEqual(t, len(entries), 2000)
	for _, e := range entries {
		require.True(t, common()[e], e)
	}
	for _, want := range []string{"password", "qwerty", "iloveyou", "dragon", "monkey", "letmein", "football", "baseball", "welcome", "admin", "sunshine", "princess", "password1234", "qwertyuiop123"} {
		require.True(t, common()[want], want)
	}
}

func BenchmarkCheck(b *testing.B) {
	personal := []string{"john.smith@example.com", "john.smith", "jsmith", "John Smith"}
	for b.Loop() {
		Check("purple-elephant-dances-slowly", personal...)
	}
}
