// Package sdsquote is Redis's sds quoting: sdssplitargs and sdscatrepr,
// used for config files, the AOF manifest and MONITOR.
//
// Split reverses AppendRepr: for any bytes x, Split(Repr(x)) is [x].
package sdsquote

import (
	"errors"
	"strings"
)

// Errors returned by Split. Redis reports both as one failure (a NULL
// result); callers that need Redis's wording translate them.
var (
	// ErrUnbalancedQuotes is a quoted word with no closing quote.
	ErrUnbalancedQuotes = errors.New("unbalanced quotes")
	// ErrClosingQuote is a closing quote followed by something other
	// than white space or the end of the line, as in "foo"bar.
	ErrClosingQuote = errors.New("closing quote must be followed by a space")
)

// isSpace is C's isspace in the "C" locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// isPrint is C's isprint in the "C" locale.
func isPrint(c byte) bool { return c >= 0x20 && c <= 0x7e }

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexValue(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Split splits line into words exactly as Redis's sdssplitargs does:
//
//   - words are separated by white space (C's isspace: space, \t, \n, \v,
//     \f, \r), though an unquoted word ends only at space, \t, \n or \r;
//   - "double quotes" support \xHH (two hex digits), \n \r \t \b \a, and
//     \<any> for that character itself;
//   - 'single quotes' support \' only;
//   - quotes may start mid-word (ab"cd" is abcd), and a closing quote must
//     be followed by white space or the end of the line.
//
// Redis works on a C string, so a NUL byte ends the line. An empty or
// blank line gives no words and no error.
func Split(line string) ([]string, error) {
	if i := strings.IndexByte(line, 0); i >= 0 {
		line = line[:i] // the C string ends at its first NUL
	}
	// at is the C string's byte at i: 0 past the end.
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	var args []string
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return args, nil
		}
		var cur []byte
		inq, insq := false, false
		for done := false; !done; {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHexDigit(at(p+2)) && isHexDigit(at(p+3)):
					cur = append(cur, hexValue(at(p+2))<<4|hexValue(at(p+3)))
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					switch e := line[p]; e {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, e)
					}
				case c == '"':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return nil, ErrClosingQuote
					}
					done = true
				case c == 0:
					return nil, ErrUnbalancedQuotes
				default:
					cur = append(cur, c)
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					cur = append(cur, '\'')
				case c == '\'':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return nil, ErrClosingQuote
					}
					done = true
				case c == 0:
					return nil, ErrUnbalancedQuotes
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, c)
				}
			}
			if p < len(line) {
				p++
			}
		}
		args = append(args, string(cur))
	}
}

// AppendRepr appends s to dst quoted as Redis's sdscatrepr does: in
// double quotes, with \\ \" \n \r \t \a \b escaped and any other byte
// outside printable ASCII written as \xHH (lower-case hex).
func AppendRepr[S ~string | ~[]byte](dst []byte, s S) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\a':
			dst = append(dst, '\\', 'a')
		case '\b':
			dst = append(dst, '\\', 'b')
		default:
			if isPrint(c) {
				dst = append(dst, c)
			} else {
				dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			}
		}
	}
	return append(dst, '"')
}

// Repr returns s quoted by AppendRepr.
func Repr(s string) string {
	return string(AppendRepr(make([]byte, 0, len(s)+2), s))
}

// NeedsRepr is Redis's sdsneedsrepr: whether s contains a byte that
// AppendRepr escapes, or white space, so that it must be quoted to read
// back as one word. Like Redis it does not check for the single quote
// (nor for the empty string), which Split also treats specially.
func NeedsRepr(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' || c == '"' || c == '\n' || c == '\r' || c == '\t' || c == '\a' || c == '\b' ||
			!isPrint(c) || isSpace(c) {
			return true
		}
	}
	return false
}
