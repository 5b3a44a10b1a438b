package server

import (
	"bytes"
	"errors"
	"io"
)

// Limits Redis applies to request framing (networking.c).
const (
	maxInlineSize      = 64 * 1024 // PROTO_INLINE_MAX_SIZE: inline lines and unterminated headers
	maxMultibulkLen    = 1<<31 - 1 // INT_MAX
	unauthMultibulkLen = 10
	unauthBulkLen      = 16384
	// maxNumLen is the longest header number string2ll accepts: it refuses
	// LONG_STR_SIZE (21) bytes or more.
	maxNumLen = 20
)

// Redis's protocol error texts (sent as "-ERR <text>").
const (
	protoErrInvalidMB    = "Protocol error: invalid multibulk length"
	protoErrInvalidBulk  = "Protocol error: invalid bulk length"
	protoErrUnauthMB     = "Protocol error: unauthenticated multibulk length"
	protoErrUnauthBulk   = "Protocol error: unauthenticated bulk length"
	protoErrBigInline    = "Protocol error: too big inline request"
	protoErrBigMBCount   = "Protocol error: too big mbulk count string"
	protoErrBigBulkCount = "Protocol error: too big bulk count string"
	protoErrQuotes       = "Protocol error: unbalanced quotes in request"
	protoErrExpectDollar = "Protocol error: expected '$', got '"
)

// Query buffer sizing. A connection starts with a small buffer; a large
// bulk grows it, and a buffer over readBufKeep is given back once the
// client's requests no longer need it (see shrinkIdle), as Redis's
// clientsCronResizeQueryBuffer does.
const (
	readBufInit = 16 << 10
	readBufKeep = 64 << 10
	// minRead is the least free space a read is offered, so a nearly
	// full buffer is compacted instead of read into a few bytes at a time.
	minRead = 4 << 10
	// maxPresize bounds the space reserved ahead of data for a declared
	// bulk: a large value is read straight into a buffer sized for it,
	// but a bare "$536870912" header does not make us allocate 512 MB —
	// beyond this the buffer grows geometrically as the bytes arrive.
	maxPresize = 1 << 20
)

// errQueryBufLimit ends a connection whose unfinished request outgrew
// client-query-buffer-limit; Redis closes such a client without a reply.
var errQueryBufLimit = errors.New("max query buffer length reached")

// Framing states of reqReader.
const (
	rsStart  = iota // at a request boundary
	rsInline        // inside an inline (telnet-style) line
	rsHeader        // inside a "*N" or "$N" header line
	rsBody          // inside a bulk payload or the two bytes after it
)

// argSpan locates one argument of the request being parsed, relative to
// the request's first byte, so it survives the buffer being compacted or
// reallocated while the rest of the request arrives.
type argSpan struct{ off, n int }

// reqReader reads one connection's request stream into a growable buffer
// and parses it with Redis's exact framing rules (processInputBuffer,
// processInlineBuffer and processMultibulkBuffer in networking.c): the
// size limits and the stricter ones before AUTH, inline commands with
// sdssplitargs quoting, empty multibulks ignored, the same error texts.
//
// The parser is incremental: it keeps its position across reads, so a
// request arriving in many pieces is examined once, not re-parsed from its
// start on every read. Arguments are returned as slices of the buffer
// itself — parsing an ordinary RESP request allocates nothing — and stay
// valid until the next call of next or fill; whoever keeps them longer
// (MULTI's queue, for instance) must copy them.
type reqReader struct {
	// buf[:len(buf)] is the data read so far; buf[:start] is consumed.
	buf   []byte
	start int // first byte of the request being parsed
	at    int // next byte to examine
	state int
	line  int  // where the current inline line or header line begins
	nul   bool // a NUL byte came before the current line's terminator
	bulk  bool // the header being parsed is a bulk ("$") header
	left  int  // bulks still expected in the current multibulk
	blen  int  // length of the payload being read (rsBody)
	spans []argSpan
	argv  [][]byte // the last request's arguments, reused
	inl   []byte   // unescaped inline arguments, reused
	ends  []int    // where each inline argument ends in inl
	// peak is the most request bytes held at once since the last time
	// shrinkIdle looked; it tells whether a big buffer is still in use.
	peak int
}

// next parses the next complete request from the buffered data. It
// returns the request's arguments; or nil and "" when more data is
// needed; or nil and a protocol error text, after which the stream cannot
// be parsed any further. authed selects Redis's limits for
// unauthenticated clients; maxBulk is proto-max-bulk-len.
//
// Callers execute each request before asking for the next one: whether
// the next request may exceed the unauthenticated limits depends on
// whether the previous one was a successful AUTH.
func (r *reqReader) next(authed bool, maxBulk int64) ([][]byte, string) {
	for {
		switch r.state {
		case rsStart:
			r.start = r.at // the requests before are consumed
			if r.at >= len(r.buf) {
				return nil, ""
			}
			r.line, r.nul = r.at, false
			if r.buf[r.at] != '*' {
				r.state = rsInline
				continue
			}
			r.state, r.bulk = rsHeader, false
			r.spans = r.spans[:0]
		case rsInline:
			args, done, msg := r.inline()
			if !done {
				return nil, msg
			}
			r.state = rsStart
			if len(args) > 0 {
				return args, ""
			}
			// An empty line is ignored.
		case rsHeader:
			n, done, msg := r.header()
			if msg != "" || !done {
				return nil, msg
			}
			if !r.bulk {
				switch {
				case n > maxMultibulkLen:
					return nil, protoErrInvalidMB
				case n > unauthMultibulkLen && !authed:
					return nil, protoErrUnauthMB
				case n <= 0:
					r.state = rsStart // an empty request is ignored
					continue
				}
				r.left, r.bulk = int(n), true
				r.line, r.nul = r.at, false
				continue
			}
			switch {
			case n < 0 || n > maxBulk:
				return nil, protoErrInvalidBulk
			case n > unauthBulkLen && !authed:
				return nil, protoErrUnauthBulk
			}
			// A length no buffer can reach (possible only with an absurd
			// proto-max-bulk-len) is clamped so offsets cannot overflow;
			// the request still never completes.
			r.blen, r.state = int(min(n, 1<<61)), rsBody
		case rsBody:
			// Redis skips the two bytes after a payload without looking
			// at them.
			if len(r.buf)-r.at < r.blen+2 {
				return nil, ""
			}
			r.spans = append(r.spans, argSpan{r.at - r.start, r.blen})
			r.at += r.blen + 2
			if r.left--; r.left > 0 {
				r.state, r.line, r.nul = rsHeader, r.at, false
				continue
			}
			r.state = rsStart
			return r.args(), ""
		}
	}
}

// header parses the header line at r.line: "*<count>" or "$<length>",
// ended by '\r' and one more byte of any value. done is false while the
// line is incomplete; msg is set if the line is invalid.
func (r *reqReader) header() (n int64, done bool, msg string) {
	b, h := r.buf, r.line
	if v, end := fastNum(b, h+1); end > 0 && (!r.bulk || b[h] == '$') {
		// The common case: canonical digits and CRLF.
		r.at = end
		return v, true, ""
	}
	// Redis finds the line's end with strchr(…, '\r'), which stops at a
	// NUL byte: a header with a NUL in it never ends and can only grow
	// until it is too big.
	if !r.nul {
		seg := b[r.at:]
		i := bytes.IndexByte(seg, '\r')
		if i >= 0 {
			seg = seg[:i]
		}
		if bytes.IndexByte(seg, 0) >= 0 {
			r.nul = true
		} else if i >= 0 {
			p := r.at + i
			if p-h > maxInlineSize {
				return 0, false, r.bigHeaderError()
			}
			if p+1 >= len(b) {
				r.at = p // the byte after '\r' has not arrived
				return 0, false, ""
			}
			r.at = p + 2
			if r.bulk && b[h] != '$' {
				return 0, false, protoErrExpectDollar + string([]byte{sanitizeErrByte(b[h])}) + "'"
			}
			digits := b[min(h+1, p):p]
			v, ok := parseInt(digits)
			if !ok || len(digits) > maxNumLen {
				return 0, false, r.invalidNumber()
			}
			return v, true, ""
		}
	}
	r.at = len(b)
	if len(b)-h > maxInlineSize {
		return 0, false, r.bigHeaderError()
	}
	return 0, false, ""
}

// invalidNumber is the error for a header number string2ll refuses.
func (r *reqReader) invalidNumber() string {
	if r.bulk {
		return protoErrInvalidBulk
	}
	return protoErrInvalidMB
}

func (r *reqReader) bigHeaderError() string {
	if r.bulk {
		return protoErrBigBulkCount
	}
	return protoErrBigMBCount
}

// inline parses the inline request line at r.line. done is false while
// the line is incomplete or on an error.
func (r *reqReader) inline() (args [][]byte, done bool, msg string) {
	b, h := r.buf, r.line
	if !r.nul {
		// Like a header, a line with a NUL before its '\n' never ends.
		seg := b[r.at:]
		i := bytes.IndexByte(seg, '\n')
		if i >= 0 {
			seg = seg[:i]
		}
		if bytes.IndexByte(seg, 0) >= 0 {
			r.nul = true
		} else if i >= 0 {
			e := r.at + i
			if e-h > maxInlineSize {
				return nil, false, protoErrBigInline
			}
			line := b[h:e]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			r.at = e + 1
			var ok bool
			r.inl, r.ends, ok = splitInlineInto(r.inl[:0], r.ends[:0], line)
			if !ok {
				return nil, false, protoErrQuotes
			}
			r.argv = r.argv[:0]
			from := 0
			for _, end := range r.ends {
				r.argv = append(r.argv, r.inl[from:end:end])
				from = end
			}
			return r.argv, true, ""
		}
	}
	r.at = len(b)
	if len(b)-h > maxInlineSize {
		return nil, false, protoErrBigInline
	}
	return nil, false, ""
}

// args returns the completed multibulk request's arguments. Each slice's
// capacity ends with the argument, so a handler appending to one cannot
// overwrite the bytes that follow it in the buffer.
func (r *reqReader) args() [][]byte {
	base := r.buf[r.start:]
	r.argv = r.argv[:0]
	for _, s := range r.spans {
		end := s.off + s.n
		r.argv = append(r.argv, base[s.off:end:end])
	}
	return r.argv
}

// fastNum parses a canonical decimal of at most 18 digits at b[i:]
// followed by CRLF, returning it and the index after the CRLF, or -1, 0.
// Every number it accepts, string2ll accepts with the same value, so it is
// purely a shortcut past the general header scan.
func fastNum(b []byte, i int) (int64, int) {
	var n int64
	j := i
	for ; j < len(b) && j-i <= 18; j++ {
		c := b[j]
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	d := j - i
	if d == 0 || d > 18 || b[i] == '0' && d > 1 || j+1 >= len(b) || b[j] != '\r' || b[j+1] != '\n' {
		return -1, 0
	}
	return n, j + 2
}

// held returns the bytes of the unfinished request: everything read and
// not consumed, since complete requests are executed before reading more.
func (r *reqReader) held() int { return len(r.buf) - r.start }

// fill reads more of the stream from src, making room first: compacting
// the unfinished request to the front of the buffer or growing the buffer.
// While a bulk of up to maxPresize bytes is being received, the buffer is
// sized for all of it at once, so the value is read in place rather than
// copied as the buffer doubles; a bigger one grows the buffer
// geometrically, so what a bare header can make us allocate is bounded.
func (r *reqReader) fill(src io.Reader) (int, error) {
	if r.start == len(r.buf) && r.start > 0 {
		// Everything read was consumed: start over at the front.
		r.shift(r.start)
		r.buf = r.buf[:0]
	}
	want, grow := minRead, minRead
	if r.state == rsBody {
		missing := r.at + r.blen + 2 - len(r.buf)
		if missing <= maxPresize {
			// Room for the rest of the payload and then some: made
			// once, it lasts until the payload's last bytes come.
			want = missing + minRead
		}
		// A larger payload grows the buffer geometrically as it
		// arrives, starting with a maxPresize step.
		grow = max(want, min(missing, maxPresize))
	}
	if cap(r.buf)-len(r.buf) < want {
		r.makeRoom(grow)
	}
	n, err := src.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	r.peak = max(r.peak, r.held())
	return n, err
}

// makeRoom ensures want bytes of free space after the data, moving the
// unfinished request to the front of the buffer.
func (r *reqReader) makeRoom(want int) {
	held := r.held()
	need := held + want
	if need <= cap(r.buf) {
		copy(r.buf, r.buf[r.start:])
	} else {
		nb := make([]byte, held, max(need, 2*cap(r.buf), readBufInit))
		copy(nb, r.buf[r.start:])
		r.buf = nb
	}
	r.buf = r.buf[:held]
	r.shift(r.start)
}

// shift moves the parser's positions back by d bytes after the data moved
// (argument spans are relative to the request and do not move).
func (r *reqReader) shift(d int) {
	r.start -= d
	r.at -= d
	r.line -= d
}

// shrinkIdle is called before waiting for more data. When everything read
// has been consumed and the buffer is over readBufKeep, it drops a buffer
// the recent requests did not need (peak use under half of it) and
// reports false; it reports true when a big buffer is still in use, so the
// caller should call release if the client then stays idle.
func (r *reqReader) shrinkIdle() bool {
	if r.start != len(r.buf) || cap(r.buf) <= readBufKeep {
		return false
	}
	if r.peak*2 < cap(r.buf) {
		r.release()
		return false
	}
	r.peak = 0
	return true
}

// release drops the buffer of an idle reader; the next fill allocates a
// small one.
func (r *reqReader) release() {
	if r.start == len(r.buf) {
		r.shift(r.start)
		r.buf, r.peak = nil, 0
	}
}

// sanitizeErrByte maps CR and LF to spaces, as Redis does for error
// replies so they cannot break the protocol.
func sanitizeErrByte(b byte) byte {
	if b == '\r' || b == '\n' {
		return ' '
	}
	return b
}

// cStringPrefix is what C's "%.*s" prints of b: up to max bytes, ending
// at the first NUL. Error texts that Redis formats from arguments use it.
func cStringPrefix(b []byte, max int) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}
