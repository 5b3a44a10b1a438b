package glob

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Cases checked against redis-server 7.0.15 with KEYS (case-sensitive) or
// CONFIG GET (nocase); the expected values are Redis's answers, including
// its quirks (signed-char ranges, unterminated classes, "*" not matching
// the empty string).
var matchCases = []struct {
	pattern, str string
	nocase       bool
	want         bool
}{
	// Literals and the empty string.
	{"", "", false, true},
	{"", "a", false, false},
	{"a", "", false, false},
	{"abc", "abc", false, true},
	{"abc", "abd", false, false},
	{"abc", "ab", false, false},
	{"ab", "abc", false, false},
	{"ABC", "abc", false, false},
	{"ABC", "abc", true, true},
	// '*' never matches an empty string (KEYS special-cases a lone "*").
	{"*", "", false, false},
	{"**", "", false, false},
	{"*", "x", false, true},
	{"**", "x", false, true},
	{"a*", "a", false, true},
	{"a**", "a", false, true},
	{"*a", "a", false, true},
	{"*a", "ba", false, true},
	{"*a", "ab", false, false},
	{"a*c", "abbbc", false, true},
	{"a*c", "abbbd", false, false},
	{"a*b*c", "a_b_c", false, true},
	{"a*b*c", "a_c_b", false, false},
	{"*foo*", "xfooy", false, true},
	{"h*llo", "hllo", false, true},
	{"h*llo", "heeeello", false, true},
	// '?'.
	{"?", "", false, false},
	{"?", "a", false, true},
	{"?", "ab", false, false},
	{"h?llo", "hello", false, true},
	{"h?llo", "hllo", false, false},
	{"??", "\x00\xff", false, true},
	// Classes.
	{"h[ae]llo", "hello", false, true},
	{"h[ae]llo", "hallo", false, true},
	{"h[ae]llo", "hillo", false, false},
	{"h[^e]llo", "hallo", false, true},
	{"h[^e]llo", "hello", false, false},
	{"h[a-b]llo", "hbllo", false, true},
	{"h[a-b]llo", "hcllo", false, false},
	{"[b-a]", "a", false, true}, // reversed range
	{"[z-a]", "m", false, true},
	{"[A-Z]", "q", false, false},
	{"[A-Z]", "q", true, true},
	{"[a-z]", "Q", true, true},
	{"[abc]", "B", true, true},
	{"[abc]", "B", false, false},
	{"[^abc]", "B", true, false},
	{"[]", "]", false, false},
	{"[]]", "]", false, false},
	{"[\\]]", "]", false, true},
	{"[\\-]", "-", false, true},
	{"[\\-]", "\\", false, false},
	{"[--]", "-", false, true},
	{"[--]", "[", false, true}, // range '-'..']'
	{"[--]", "b", false, false},
	{"[!-/]", "-", false, true},
	{"[^-]", "-", false, false},
	{"[^-]", "x", false, true},
	{"[a-]", "]", false, true}, // range 'a'..']' swallows the ']'
	{"[a-]", "^", false, true},
	{"[a-]", "b", false, false},
	{"[a-]", "-", false, false},
	// Unterminated classes: the end of the pattern closes them.
	{"[", "a", false, false},
	{"[", "", false, false},
	{"[^", "a", false, true},
	{"[^", "ab", false, false},
	{"[b", "b", false, true},
	{"[b", "a", false, false},
	{"[\\", "\\", false, true},
	{"x[ab", "xb", false, true},
	// Signed-char ranges: bytes >= 0x80 sort below ASCII in Redis.
	{"[a-\xff]", "b", false, false},
	{"[a-\xff]", "[", false, true},
	{"[a-\xff]", "\xff", false, true},
	{"[a-\xff]", "\xc3", false, false},
	{"[\xff-a]", "-", false, true},
	{"[\x80-\xff]", "\xc3", false, true},
	{"[\x80-\xff]", "a", false, false},
	{"[\x80-\xff]", "\x7f", false, false},
	{"[\xc0-\xc5]", "\xc3", true, true},
	// Escapes.
	{"\\*", "*", false, true},
	{"\\*", "a", false, false},
	{"\\?", "?", false, true},
	{"\\?", "a", false, false},
	{"\\[a]", "[a]", false, true},
	{"\\a", "a", false, true},
	{"\\", "\\", false, true}, // a trailing backslash is literal
	{"b\\", "b\\", false, true},
	{"b\\", "b", false, false},
	{"*\\*", "ab*", false, true},
	{"*\\*", "ab", false, false},
	// Binary safety.
	{"a\x00*", "a\x00bc", false, true},
	{"a\x00*", "a\x01bc", false, false},
	{"*\x00", "xyz\x00", false, true},
	// nocase literal and '*' combinations.
	{"FOO*", "foobar", true, true},
	{"*BAR", "foobar", true, true},
	{"maxmemory*", "maxmemory-policy", true, true},
}

func TestMatchCases(t *testing.T) {
	for _, tc := range matchCases {
		if got := Match([]byte(tc.pattern), []byte(tc.str), tc.nocase); got != tc.want {
			t.Errorf("Match(%q, %q, nocase=%v) = %v, want %v", tc.pattern, tc.str, tc.nocase, got, tc.want)
		}
		if got := refMatch([]byte(tc.pattern), []byte(tc.str), tc.nocase); got != tc.want {
			t.Errorf("reference(%q, %q, nocase=%v) = %v, want %v (bad test case?)", tc.pattern, tc.str, tc.nocase, got, tc.want)
		}
	}
}

// TestMatchManyStars makes sure hostile patterns finish quickly: the
// skip-longer-matches rule keeps "*a*a*a...b" polynomial, and the nesting
// limit bounds recursion on patterns with thousands of stars.
func TestMatchManyStars(t *testing.T) {
	start := time.Now()
	str := []byte(strings.Repeat("a", 5000))
	for _, p := range []string{
		strings.Repeat("*a", 50) + "b",
		strings.Repeat("a*", 3000) + "b",
		strings.Repeat("*?", 40) + "b",
		strings.Repeat("*", 100000) + "b",
	} {
		if Match([]byte(p), str, false) {
			t.Errorf("pattern of %d bytes unexpectedly matched", len(p))
		}
	}
	// Within the nesting limit a many-star pattern still matches.
	if !Match([]byte(strings.Repeat("a*", 500)), str, false) {
		t.Error("500 'a*' segments should match 5000 a's")
	}
	// Beyond it Redis gives up and reports no match.
	if Match([]byte(strings.Repeat("a*", 1200)), str, false) {
		t.Error("1200 nested stars should exceed the nesting limit")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hostile patterns took %v", d)
	}
}

// TestMatchRandomAgainstReference compares Match with a line-by-line
// transliteration of Redis's stringmatchlen on random short patterns over a
// small alphabet that exercises every special character.
func TestMatchRandomAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alpha = "ab*?[]^-\\\xc3Z"
	gen := func(n int) []byte {
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return b
	}
	for i := 0; i < 200000; i++ {
		p, s := gen(8), gen(6)
		nocase := rng.IntN(2) == 0
		if got, want := Match(p, s, nocase), refMatch(p, s, nocase); got != want {
			t.Fatalf("Match(%q, %q, nocase=%v) = %v, reference says %v", p, s, nocase, got, want)
		}
	}
}

// FuzzMatch checks Match against the reference on arbitrary input.
func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pattern, tc.str, tc.nocase)
	}
	f.Fuzz(func(t *testing.T, pattern, str string, nocase bool) {
		if len(pattern) > 64 || len(str) > 64 {
			return
		}
		if got, want := Match([]byte(pattern), []byte(str), nocase), refMatch([]byte(pattern), []byte(str), nocase); got != want {
			t.Fatalf("Match(%q, %q, nocase=%v) = %v, reference says %v", pattern, str, nocase, got, want)
		}
	})
}

// refMatch is a deliberately literal transliteration of Redis 7.0's
// stringmatchlen_impl (util.c): pointer arithmetic becomes indexes, the
// pattern gets the NUL terminator an sds has (the C code reads it), and C's
// signed char and tolower are reproduced. It is the oracle for the random
// and fuzz tests, so it must stay close to the C text, not to glob.go.
func refMatch(pattern, str []byte, nocase bool) bool {
	pat := append(append([]byte{}, pattern...), 0)
	skip := false
	return refMatchImpl(pat, 0, len(pattern), str, 0, len(str), nocase, &skip, 0)
}

func cchar(b byte) int { return int(int8(b)) }

func ctolower(c int) int {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

func refMatchImpl(pat []byte, pi, plen int, str []byte, si, slen int, nocase bool, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	for plen > 0 && slen > 0 {
		switch pat[pi] {
		case '*':
			for plen > 0 && pat[pi+1] == '*' {
				pi++
				plen--
			}
			if plen == 1 {
				return true
			}
			for slen > 0 {
				if refMatchImpl(pat, pi+1, plen-1, str, si, slen, nocase, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				si++
				slen--
			}
			*skipLonger = true
			return false
		case '?':
			si++
			slen--
		case '[':
			pi++
			plen--
			not := pat[pi] == '^'
			if not {
				pi++
				plen--
			}
			match := false
			for {
				if pat[pi] == '\\' && plen >= 2 {
					pi++
					plen--
					if pat[pi] == str[si] {
						match = true
					}
				} else if pat[pi] == ']' {
					break
				} else if plen == 0 {
					pi--
					plen++
					break
				} else if plen >= 3 && pat[pi+1] == '-' {
					start, end, c := cchar(pat[pi]), cchar(pat[pi+2]), cchar(str[si])
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = ctolower(start), ctolower(end), ctolower(c)
					}
					pi += 2
					plen -= 2
					if c >= start && c <= end {
						match = true
					}
				} else if !nocase {
					if pat[pi] == str[si] {
						match = true
					}
				} else if ctolower(cchar(pat[pi])) == ctolower(cchar(str[si])) {
					match = true
				}
				pi++
				plen--
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			si++
			slen--
		case '\\':
			if plen >= 2 {
				pi++
				plen--
			}
			fallthrough
		default:
			if !nocase {
				if pat[pi] != str[si] {
					return false
				}
			} else if ctolower(cchar(pat[pi])) != ctolower(cchar(str[si])) {
				return false
			}
			si++
			slen--
		}
		pi++
		plen--
		if slen == 0 {
			for pat[pi] == '*' {
				pi++
				plen--
			}
			break
		}
	}
	return plen == 0 && slen == 0
}
