// Package canonint parses integers written canonically, the way Redis's
// string2ll does: an optional '-', no '+', no leading zeros, no spaces,
// within int64. Redis uses it wherever a string "is" an integer (INCR's
// operand, int-encoded strings); thredis also uses it to decide that a SQL
// parameter binds as INTEGER.
package canonint

// Parse parses b as a canonical 64-bit integer.
func Parse(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
		if len(b) == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < len(b); i++ {
		ch := b[i]
		if ch < '0' || ch > '9' {
			return 0, false
		}
		nv := v*10 + uint64(ch-'0')
		if nv/10 != v {
			return 0, false
		}
		v = nv
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}
