package server

import (
	"math/big"
)

// Redis computes INCRBYFLOAT (and HINCRBYFLOAT) in C's long double, which on
// x86-64 is the 80-bit x87 extended format: a 64-bit significand and a
// 15-bit exponent. float64 would give visibly different results (Redis
// answers 0.1+0.2 with "0.3", float64 with "0.30000000000000004"), so the
// arithmetic is emulated with math/big at exactly that precision and range:
// inputs are parsed like glibc's strtold (correctly rounded) and results are
// printed like printf("%.17Lf") with trailing zeros removed (Redis's
// ld2string in LD_STR_HUMAN mode).

// Parameters of the x87 extended format, in big.Float's MantExp convention
// (x = mant × 2^exp with 0.5 ≤ mant < 1).
const (
	ldPrec      = 64
	ldMaxExp    = 16384  // the largest finite value is just below 2^16384
	ldMinExp    = -16381 // the smallest normal value is 2^-16382
	ldMinSubExp = -16444 // the smallest subnormal value is 2^-16445
	// maxLongDoubleChars is Redis's MAX_LONG_DOUBLE_CHARS: longer inputs
	// are not floats to Redis.
	maxLongDoubleChars = 5 * 1024
	// Decimal exponents beyond which a non-zero input certainly overflows
	// or underflows (max ≈ 1.19e4932, smallest subnormal ≈ 3.65e-4951).
	ldMaxDecExp = 4932
	ldMinDecExp = -4952
)

// ldStatus classifies the outcome of incrLongDouble.
type ldStatus int

const (
	ldOK        ldStatus = iota
	ldInvalid            // an operand is not a valid float
	ldNotFinite          // the result would be NaN or infinite
)

// incrLongDouble adds incr to cur, both given as strings, the way Redis's
// INCRBYFLOAT does, and returns the result formatted for storage.
func incrLongDouble(cur, incr []byte) ([]byte, ldStatus) {
	a, ok := parseLongDouble(cur)
	if !ok {
		return nil, ldInvalid
	}
	b, ok := parseLongDouble(incr)
	if !ok {
		return nil, ldInvalid
	}
	if a.IsInf() || b.IsInf() {
		// inf+x is inf and inf-inf is NaN: both are refused.
		return nil, ldNotFinite
	}
	sum := new(big.Float).SetPrec(ldPrec).Add(a, b)
	if sum.Sign() != 0 && sum.MantExp(nil) > ldMaxExp {
		return nil, ldNotFinite
	}
	// The sum of two multiples of the smallest subnormal is exact when it
	// lands in the subnormal range, so no extra rounding is needed there.
	return formatLongDouble(sum), ldOK
}

// formatLongDouble prints f like printf("%.17Lf") and then strips trailing
// zeros, the decimal point if nothing follows it, and the sign of "-0".
func formatLongDouble(f *big.Float) []byte {
	s := []byte(f.Text('f', 17))
	end := len(s)
	for end > 0 && s[end-1] == '0' {
		end--
	}
	if end > 0 && s[end-1] == '.' {
		end--
	}
	s = s[:end]
	if string(s) == "-0" {
		return []byte("0")
	}
	return s
}

// parseLongDouble parses s as glibc's strtold would, with Redis's extra
// rules (string2ld): the whole string must be consumed, no leading space,
// NaN is refused, and so is a value out of range (overflow, or an underflow
// to zero). Accepted forms: an optional sign, then a decimal number with
// optional exponent, a hexadecimal number (0x...) with optional binary
// exponent, or inf/infinity.
func parseLongDouble(s []byte) (*big.Float, bool) {
	if len(s) == 0 || len(s) >= maxLongDoubleChars {
		return nil, false
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if eqFold(s, "inf") || eqFold(s, "infinity") {
		return new(big.Float).SetInf(neg), true
	}
	var r *big.Rat
	var ok bool
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		r, ok = parseHexRat(s[2:])
	} else {
		r, ok = parseDecRat(s)
	}
	if !ok {
		return nil, false
	}
	f, ok := roundLongDouble(r)
	if !ok {
		return nil, false
	}
	if neg {
		f.Neg(f)
	}
	return f, true
}

// digitsMantissa scans digits with at most one '.' (at least one digit
// overall). It returns the digits without the point, how many followed the
// point, and the unparsed rest.
func digitsMantissa(s []byte, isDigit func(byte) bool) (digits []byte, frac int, rest []byte, ok bool) {
	seenPoint := false
	i := 0
	for ; i < len(s); i++ {
		switch ch := s[i]; {
		case isDigit(ch):
			digits = append(digits, ch)
			if seenPoint {
				frac++
			}
		case ch == '.' && !seenPoint:
			seenPoint = true
		default:
			return digits, frac, s[i:], len(digits) > 0
		}
	}
	return digits, frac, nil, len(digits) > 0
}

// parseExponent parses "[+-]digits" making up all of s, saturating far
// beyond any exponent that matters.
func parseExponent(s []byte) (int64, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	var n int64
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		if n < 1<<40 {
			n = n*10 + int64(ch-'0')
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

func ldIsDecDigit(ch byte) bool { return '0' <= ch && ch <= '9' }

func ldIsHexDigit(ch byte) bool {
	return ldIsDecDigit(ch) || ('a' <= ch && ch <= 'f') || ('A' <= ch && ch <= 'F')
}

// parseDecRat parses an unsigned decimal float into its exact value; values
// that certainly overflow are refused here, values that certainly underflow
// come back as a tiny non-zero marker that rounds to zero.
func parseDecRat(s []byte) (*big.Rat, bool) {
	digits, frac, rest, ok := digitsMantissa(s, ldIsDecDigit)
	if !ok {
		return nil, false
	}
	var exp int64
	if len(rest) > 0 {
		if rest[0] != 'e' && rest[0] != 'E' {
			return nil, false
		}
		if exp, ok = parseExponent(rest[1:]); !ok {
			return nil, false
		}
	}
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return new(big.Rat), true
	}
	exp -= int64(frac)
	// The value lies in [10^(len-1+exp), 10^(len+exp)).
	switch {
	case int64(len(digits))-1+exp > ldMaxDecExp:
		return nil, false
	case int64(len(digits))+exp < ldMinDecExp:
		return tinyRat(), true
	}
	mant, _ := new(big.Int).SetString(string(digits), 10)
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(ldAbs64(exp)), nil)
	if exp >= 0 {
		return new(big.Rat).SetInt(mant.Mul(mant, pow)), true
	}
	return new(big.Rat).SetFrac(mant, pow), true
}

// parseHexRat parses an unsigned hexadecimal float (after "0x") into its
// exact value, like parseDecRat.
func parseHexRat(s []byte) (*big.Rat, bool) {
	digits, frac, rest, ok := digitsMantissa(s, ldIsHexDigit)
	if !ok {
		return nil, false
	}
	var exp int64
	if len(rest) > 0 {
		if rest[0] != 'p' && rest[0] != 'P' {
			return nil, false
		}
		if exp, ok = parseExponent(rest[1:]); !ok {
			return nil, false
		}
	}
	mant, _ := new(big.Int).SetString(string(digits), 16)
	if mant.Sign() == 0 {
		return new(big.Rat), true
	}
	exp -= 4 * int64(frac)
	// The value lies in [2^(bitlen-1+exp), 2^(bitlen+exp)).
	switch top := int64(mant.BitLen()) + exp; {
	case top > ldMaxExp+1:
		return nil, false
	case top < ldMinSubExp-2:
		return tinyRat(), true
	}
	if exp >= 0 {
		return new(big.Rat).SetInt(mant.Lsh(mant, uint(exp))), true
	}
	return new(big.Rat).SetFrac(mant, new(big.Int).Lsh(big.NewInt(1), uint(-exp))), true
}

// tinyRat is a positive value far below half the smallest subnormal: it
// rounds to zero, which strtold reports as an underflow.
func tinyRat() *big.Rat {
	return new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), -ldMinSubExp+10))
}

func ldAbs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// roundLongDouble rounds the exact non-negative value r to the nearest long
// double (ties to even), including the reduced precision of subnormals. ok
// is false on overflow and on a non-zero value that rounds to zero.
func roundLongDouble(r *big.Rat) (*big.Float, bool) {
	f := new(big.Float).SetPrec(ldPrec).SetRat(r)
	if f.Sign() == 0 {
		return f, true // exactly zero
	}
	e := f.MantExp(nil)
	switch {
	case e > ldMaxExp:
		return nil, false
	case e >= ldMinExp:
		return f, true
	case e >= ldMinSubExp:
		// A subnormal keeps only the bits above 2^-16445.
		p := uint(ldPrec + e - ldMinExp)
		g := new(big.Float).SetPrec(p).SetRat(r)
		return g.SetPrec(ldPrec), true
	}
	// Below the smallest subnormal: it rounds up to it only from above
	// half of it (a tie goes to the even neighbour, zero).
	half := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), -ldMinSubExp+2))
	if e == ldMinSubExp-1 && r.Cmp(half) > 0 {
		return new(big.Float).SetPrec(ldPrec).SetMantExp(big.NewFloat(0.5), ldMinSubExp), true
	}
	return nil, false
}
