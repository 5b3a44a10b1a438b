// Package glob implements Redis's glob-style pattern matching (KEYS, SCAN
// MATCH, CONFIG GET, ...): * ? [abc] [^a-z] and backslash escapes, with the
// same edge-case behaviour as Redis's stringmatchlen.
package glob

// Match reports whether str matches pattern. nocase folds ASCII case.
func Match(pattern, str []byte, nocase bool) bool {
	skipLongerMatches := false
	return match(pattern, str, nocase, &skipLongerMatches, 0)
}

// maxNesting bounds recursion on patterns with many stars, like Redis does,
// so a hostile pattern cannot blow the stack.
const maxNesting = 1000

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// lowerSigned folds ASCII case of a byte viewed as a signed C char; bytes
// >= 0x80 (negative) are left alone, as C's tolower does in the C locale.
func lowerSigned(c int8) int8 {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func match(p, s []byte, nocase bool, skipLonger *bool, nesting int) bool {
	if nesting > maxNesting {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if match(p[1:], s, nocase, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			matched := false
			for {
				if len(p) == 0 {
					break
				}
				if p[0] == '\\' && len(p) >= 2 {
					p = p[1:]
					if p[0] == s[0] {
						matched = true
					}
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					// Redis compares range bounds as C chars, which are
					// signed on the platforms it ships for: bytes >= 0x80
					// sort below ASCII, so [a-\xff] is the range
					// -1..'a'. Matching that keeps KEYS/SCAN MATCH results
					// identical for binary keys.
					start, end, c := int8(p[0]), int8(p[2]), int8(s[0])
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = lowerSigned(start), lowerSigned(end), lowerSigned(c)
					}
					p = p[2:]
					if c >= start && c <= end {
						matched = true
					}
				} else if nocase {
					if lower(p[0]) == lower(s[0]) {
						matched = true
					}
				} else if p[0] == s[0] {
					matched = true
				}
				p = p[1:]
			}
			if not {
				matched = !matched
			}
			if !matched {
				return false
			}
			s = s[1:]
			if len(p) == 0 {
				// Unterminated class: Redis treats the end of the
				// pattern as the closing ']', so the whole pattern is
				// consumed and only an exhausted string can match.
				continue
			}
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if nocase {
				if lower(p[0]) != lower(s[0]) {
					return false
				}
			} else if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}
