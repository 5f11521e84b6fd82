package password

import (
	"bufio"
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// MinLength is the shortest password accepted, in characters (runes).
const MinLength = 12

// MaxBytes is the longest password accepted, in bytes of UTF-8. It bounds the
// work Check does; it is far above anything a person types.
const MaxBytes = 1024

// The reasons Check gives. Each completes the sentence "Your password …";
// reasonShort and reasonLong spell out MinLength and MaxBytes.
const (
	reasonShort      = "must be at least 12 characters"
	reasonLong       = "must be at most 1024 bytes"
	reasonEncoding   = "must be valid UTF-8 text"
	reasonFewChars   = "must contain at least 4 different characters"
	reasonRepeats    = "must not be mostly repeated characters"
	reasonSequence   = "must not be a keyboard, letter or number sequence"
	reasonPersonal   = "must not contain your name, username or email address"
	reasonCommon     = "is too common"
	minPersonalRunes = 4
	minDistinctRunes = 4
)

// Check applies the password policy and returns a reason a person can act on,
// or "" when the password is acceptable. personal holds strings the password
// must not be or contain (case-insensitively): the user's email, its local
// part, the username, the user's name. Strings shorter than 4 characters are
// ignored; an email's local part and the words of a name are also checked on
// their own.
//
// The rules, in the order they are applied: at least MinLength characters;
// at most MaxBytes bytes of valid UTF-8; at least 4 different characters;
// not mostly repeated characters or keyboard, alphabet or number sequences
// ("aaaa1111bbbbcccc", "qwertyuiopas", "123456789012"); nothing personal;
// and not a common password, also after lowercasing, removing digits and
// punctuation around it, and undoing repetition and leetspeak
// ("P@ssw0rd12345" is refused as "password").
func Check(pw string, personal ...string) string {
	switch {
	case utf8.RuneCountInString(pw) < MinLength:
		return reasonShort
	case len(pw) > MaxBytes:
		return reasonLong
	case !utf8.ValidString(pw):
		return reasonEncoding
	}
	l := strings.ToLower(pw)
	if distinct(l) < minDistinctRunes {
		return reasonFewChars
	}
	if reason := predictable(l); reason != "" {
		return reason
	}
	if containsPersonal(l, personal) {
		return reasonPersonal
	}
	if isCommon(l) {
		return reasonCommon
	}
	return ""
}

// distinct counts the different runes in s.
func distinct(s string) int {
	seen := make(map[rune]bool)
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}

// sequences are the runs people type without thinking: the alphabet, digits
// (wrapping 9 to 0), keyboard rows, the rows run together, keyboard columns
// walked left to right ("1qaz2wsx"), and numeric keypad rows and columns.
// Both directions count.
var sequences = []string{
	"abcdefghijklmnopqrstuvwxyz",
	"01234567890",
	"`1234567890-=",
	"~!@#$%^&*()_+",
	"qwertyuiop[]\\",
	"asdfghjkl;'",
	"zxcvbnm,./",
	"qwertyuiopasdfghjklzxcvbnm",
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
	"!qaz@wsx#edc$rfv%tgb^yhn&ujm*ik<(ol>)p:?",
	"789456123",
	"147258369",
}

// adjacent holds each ordered pair of runes that are neighbours in a
// sequence.
var adjacent = sync.OnceValue(func() map[[2]rune]bool {
	m := make(map[[2]rune]bool)
	for _, s := range sequences {
		rs := []rune(s)
		for i := 1; i < len(rs); i++ {
			m[[2]rune{rs[i-1], rs[i]}] = true
			m[[2]rune{rs[i], rs[i-1]}] = true
		}
	}
	return m
})

// predictable returns a reason when at least three steps in four from one
// character of the lowercased password l to the next repeat the character or
// move to its neighbour in a sequence, as in "qwertyuiop12", "abcdabcdabcd"
// and "aaaa1111bbbbcccc". Random passwords rarely look like that: in samples
// of 100,000, 3 of 12 random lowercase letters and none of 12 random
// printable characters, but about 4% of 12 random digits, whose keypad
// neighbours make every digit adjacent to several others; digits alone are
// the weakest 12-character passwords anyway.
func predictable(l string) string {
	adj := adjacent()
	var steps, repeats, seq int
	prev := rune(-1)
	for _, r := range l {
		if prev >= 0 {
			steps++
			switch {
			case r == prev:
				repeats++
			case adj[[2]rune{prev, r}]:
				seq++
			}
		}
		prev = r
	}
	if breaks := steps - repeats - seq; breaks*4 > steps {
		return ""
	}
	if repeats > seq {
		return reasonRepeats
	}
	return reasonSequence
}

// containsPersonal reports whether the lowercased password l, as typed or
// with leetspeak undone and separators removed, contains any of the personal
// strings or their parts.
func containsPersonal(l string, personal []string) bool {
	var needles []string
	add := func(s string) {
		if utf8.RuneCountInString(s) >= minPersonalRunes {
			needles = append(needles, s)
		}
	}
	for _, s := range personal {
		s = strings.ToLower(strings.TrimSpace(s))
		if at := strings.LastIndexByte(s, '@'); at > 0 {
			add(s)
			add(alnum(s))
			s = s[:at] // the local part's words are personal; the domain's are not
		}
		add(s)
		add(alnum(s))
		for _, w := range strings.FieldsFunc(s, notAlnum) {
			add(w)
		}
	}
	if len(needles) == 0 {
		return false
	}
	var hay []string
	for _, d := range unleet(l) {
		hay = append(hay, d, alnum(d))
	}
	for _, h := range hay {
		for _, n := range needles {
			if strings.Contains(h, n) {
				return true
			}
		}
	}
	return false
}

//go:embed common.txt
var commonTxt string

// common is the set of common passwords and base words in common.txt, one a
// line, lowercase; blank lines and lines starting with # are skipped. Each
// entry is also stored with its leetspeak undone, as candidates are, so that
// "tru$tn01" meets "trustno1" at "trustnoi".
var common = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, 3*4096)
	sc := bufio.NewScanner(strings.NewReader(commonTxt))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			for _, d := range unleet(line) {
				m[d] = true
			}
		}
	}
	return m
})

// isCommon reports whether the lowercased password l, or what is left of it
// once the usual disguises are undone, is on the common list. The disguises:
// the same word repeated ("passwordpassword"), digits and punctuation before
// or after it ("!!password2024"), separators inside it ("pass word"), and
// leetspeak ("p@55w0rd"). Leetspeak at the ends of a word looks like the
// digits and punctuation around it ("n@t@$h@1234"), so each split between
// word and surroundings is tried.
func isCommon(l string) bool {
	list := common()
	hit := func(s string) bool { return list[s] || list[period(s)] }
	for _, base := range []string{l, period(l)} {
		for _, core := range cores(base) {
			for _, d := range unleet(core) {
				if hit(d) || hit(letters(d)) {
					return true
				}
			}
		}
	}
	return false
}

// maxGlued is how many of the non-letters next to a word cores keeps, at
// most, on each side: enough for leetspeak endings and digit runs such as
// "a123456789", and a bound on the work for a long password.
const maxGlued = 12

// cores returns s and the substrings of s that drop some of the non-letters
// (digits, punctuation, spaces) before its first letter and after its last,
// keeping all of them or at most maxGlued on each side. In a password without
// letters the digits are the word and the punctuation around it is dropped.
func cores(s string) []string {
	word := unicode.IsLetter
	if !strings.ContainsFunc(s, word) {
		word = unicode.IsDigit
	}
	first := strings.IndexFunc(s, word)
	if first < 0 {
		return []string{s}
	}
	last := strings.LastIndexFunc(s, word)
	_, size := utf8.DecodeRuneInString(s[last:])
	end := last + size
	starts := []int{first}
	for i, n := first, 0; i > 0 && n < maxGlued; n++ {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
		starts = append(starts, i)
	}
	ends := []int{end}
	for i, n := end, 0; i < len(s) && n < maxGlued; n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		ends = append(ends, i)
	}
	starts = append(starts, 0) // all of the head, however long
	ends = append(ends, len(s))
	var out []string
	for _, a := range starts {
		for _, b := range ends {
			out = append(out, s[a:b])
		}
	}
	return out
}

// period returns the shortest s0 such that s is s0 repeated, or s itself.
func period(s string) string {
	n := len(s)
	for p := 1; p <= n/2; p++ {
		if n%p == 0 && strings.Repeat(s[:p], n/p) == s {
			return s[:p]
		}
	}
	return s
}

// leetI and leetL map leetspeak characters to the letters they stand for;
// they differ only in reading 1 as i or as l.
var (
	leetI = strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "9", "g",
		"@", "a", "$", "s", "!", "i", "|", "l", "+", "t")
	leetL = strings.NewReplacer("0", "o", "1", "l", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "9", "g",
		"@", "a", "$", "s", "!", "i", "|", "l", "+", "t")
)

// unleet returns s as typed and with leetspeak undone both ways.
func unleet(s string) []string {
	return []string{s, leetI.Replace(s), leetL.Replace(s)}
}

func notLetter(r rune) bool { return !unicode.IsLetter(r) }
func notAlnum(r rune) bool  { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// letters keeps only the letters of s.
func letters(s string) string { return drop(s, notLetter) }

// alnum keeps only the letters and digits of s.
func alnum(s string) string { return drop(s, notAlnum) }

// drop removes the runes of s for which f is true.
func drop(s string, f func(rune) bool) string {
	return strings.Map(func(r rune) rune {
		if f(r) {
			return -1
		}
		return r
	}, s)
}
