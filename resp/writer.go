// Package resp encodes replies in the Redis serialization protocol, RESP2 or
// RESP3 depending on what the client negotiated with HELLO. Replies are
// built in memory and handed to the connection as raw bytes, one write per
// pipeline batch (requests are parsed by the server's own reader).
package resp

import (
	"math"
	"strconv"
)

// Writer appends RESP replies to an in-memory buffer. The zero value writes
// RESP2.
type Writer struct {
	buf   []byte
	Proto int // 2 or 3
}

// Bytes returns the encoded replies.
func (w *Writer) Bytes() []byte { return w.buf }

// Len returns the number of buffered bytes.
func (w *Writer) Len() int { return len(w.buf) }

// Reset empties the buffer, keeping its capacity unless it grew very large.
func (w *Writer) Reset() {
	if cap(w.buf) > 1<<20 {
		w.buf = nil
		return
	}
	w.buf = w.buf[:0]
}

// Truncate cuts the buffer back to n bytes (used to discard a partial reply).
func (w *Writer) Truncate(n int) { w.buf = w.buf[:n] }

// RESP3 reports whether the client speaks RESP3.
func (w *Writer) RESP3() bool { return w.Proto == 3 }

func (w *Writer) header(prefix byte, n int64) {
	w.buf = append(w.buf, prefix)
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.buf = append(w.buf, '\r', '\n')
}

// Simple writes a simple string (+OK).
func (w *Writer) Simple(s string) {
	w.buf = append(w.buf, '+')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// OK writes +OK.
func (w *Writer) OK() { w.buf = append(w.buf, "+OK\r\n"...) }

// Error writes an error reply. msg must include its code ("ERR ...",
// "WRONGTYPE ..."); newlines are replaced so the reply stays one line.
func (w *Writer) Error(msg string) {
	w.buf = append(w.buf, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.buf = append(w.buf, c)
	}
	w.buf = append(w.buf, '\r', '\n')
}

// Int writes an integer reply.
func (w *Writer) Int(n int64) { w.header(':', n) }

// Bulk writes a bulk string.
func (w *Writer) Bulk(b []byte) {
	w.header('$', int64(len(b)))
	w.buf = append(w.buf, b...)
	w.buf = append(w.buf, '\r', '\n')
}

// BulkString writes a bulk string.
func (w *Writer) BulkString(s string) {
	w.header('$', int64(len(s)))
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// BulkInt writes an integer as a bulk string.
func (w *Writer) BulkInt(n int64) {
	var tmp [24]byte
	w.Bulk(strconv.AppendInt(tmp[:0], n, 10))
}

// Null writes a null bulk ($-1) in RESP2, null (_) in RESP3.
func (w *Writer) Null() {
	if w.Proto == 3 {
		w.buf = append(w.buf, "_\r\n"...)
		return
	}
	w.buf = append(w.buf, "$-1\r\n"...)
}

// NullArray writes a null array (*-1) in RESP2, null (_) in RESP3.
func (w *Writer) NullArray() {
	if w.Proto == 3 {
		w.buf = append(w.buf, "_\r\n"...)
		return
	}
	w.buf = append(w.buf, "*-1\r\n"...)
}

// Array writes an array header for n elements.
func (w *Writer) Array(n int) { w.header('*', int64(n)) }

// Map writes a map header for n key/value pairs (an array of 2n in RESP2).
func (w *Writer) Map(n int) {
	if w.Proto == 3 {
		w.header('%', int64(n))
		return
	}
	w.header('*', int64(2*n))
}

// Set writes a set header (an array in RESP2).
func (w *Writer) Set(n int) {
	if w.Proto == 3 {
		w.header('~', int64(n))
		return
	}
	w.header('*', int64(n))
}

// Push writes an out-of-band push header (an array in RESP2).
func (w *Writer) Push(n int) {
	if w.Proto == 3 {
		w.header('>', int64(n))
		return
	}
	w.header('*', int64(n))
}

// Double writes a floating point reply: a double in RESP3, a bulk string in
// RESP2, formatted as Redis does (%.17g, inf/-inf).
func (w *Writer) Double(f float64) {
	if w.Proto == 3 {
		w.buf = append(w.buf, ',')
		w.buf = AppendDouble(w.buf, f)
		w.buf = append(w.buf, '\r', '\n')
		return
	}
	var tmp [32]byte
	w.Bulk(AppendDouble(tmp[:0], f))
}

// Bool writes a boolean (RESP3) or 1/0 integer (RESP2).
func (w *Writer) Bool(b bool) {
	if w.Proto == 3 {
		if b {
			w.buf = append(w.buf, "#t\r\n"...)
		} else {
			w.buf = append(w.buf, "#f\r\n"...)
		}
		return
	}
	if b {
		w.Int(1)
	} else {
		w.Int(0)
	}
}

// Verbatim writes a verbatim string (RESP3 "=len\r\ntxt:...") or a bulk
// string in RESP2.
func (w *Writer) Verbatim(s string) {
	if w.Proto == 3 {
		w.header('=', int64(len(s)+4))
		w.buf = append(w.buf, "txt:"...)
		w.buf = append(w.buf, s...)
		w.buf = append(w.buf, '\r', '\n')
		return
	}
	w.BulkString(s)
}

// Raw appends pre-encoded RESP.
func (w *Writer) Raw(b []byte) { w.buf = append(w.buf, b...) }

// AppendDouble formats f as Redis does for replies: "inf", "-inf", "nan"
// or %.17g.
func AppendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

// AppendHumanFloat formats f like Redis's INCRBYFLOAT/HINCRBYFLOAT results
// (long double "%.17Lg" without trailing zeros, never exponent form for
// ordinary magnitudes).
func AppendHumanFloat(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return AppendDouble(dst, f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e17 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}
