package server

import (
	"bytes"
	"math"
)

// scanOptions parses the options of the SCAN family (SCAN, HSCAN; later
// SSCAN and ZSCAN) from args[start:]: COUNT n (n >= 1), MATCH pattern and,
// with allowType, TYPE name, with Redis's error replies. A MATCH of "*"
// returns a nil pattern so callers skip matching altogether.
func (c *Client) scanOptions(args [][]byte, start int, allowType bool) (count int64, pattern, typ []byte, ok bool) {
	count = 10
	for i := start; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.replyError(errSyntax)
			return 0, nil, nil, false
		}
		switch opt := args[i]; {
		case eqFold(opt, "count"):
			n, ok := parseInt(args[i+1])
			if !ok {
				c.replyError(errNotInteger)
				return 0, nil, nil, false
			}
			if n < 1 {
				c.replyError(errSyntax)
				return 0, nil, nil, false
			}
			count = n
		case eqFold(opt, "match"):
			pattern = args[i+1]
			if len(pattern) == 1 && pattern[0] == '*' {
				pattern = nil
			}
		case allowType && eqFold(opt, "type"):
			typ = args[i+1]
		default:
			c.replyError(errSyntax)
			return 0, nil, nil, false
		}
	}
	return count, pattern, typ, true
}

// parseScanCursor parses a SCAN-family cursor the way Redis does (C's
// strtoul, base 10, whole string): an optional sign (a minus negates
// modulo 2^64), no leading space, no overflow. The empty string is cursor
// 0, and a NUL byte ends the number, because strtoul sees a C string.
func parseScanCursor(b []byte) (uint64, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, true
	}
	neg := false
	digits := b
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		digits = b[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	var v uint64
	for _, ch := range digits {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		d := uint64(ch - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}
