package server

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// guardListener wraps accepted connections in guardConn.
type guardListener struct {
	net.Listener
	s *Server
}

// Accept implements net.Listener.
func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(true)
	}
	return &guardConn{Conn: c, s: l.s}, nil
}

// Limits Redis applies to request framing (networking.c).
const (
	maxInlineSize      = 64 * 1024 // PROTO_INLINE_MAX_SIZE: inline lines and unterminated headers
	maxMultibulkLen    = 1<<31 - 1 // INT_MAX
	unauthMultibulkLen = 10
	unauthBulkLen      = 16384
	// maxNumLen is the longest header number string2ll accepts: it refuses
	// LONG_STR_SIZE (21) bytes or more.
	maxNumLen = 20
	// holdMultibulkLen is the argument count above which a request is
	// handed to redcon only once complete (see guardConn.hold).
	holdMultibulkLen = 1024
	// maxHeldRequest bounds a held request, like Redis's default
	// client-query-buffer-limit (1 GB): a client over it is disconnected.
	maxHeldRequest = 1 << 30
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
	// errQueryBufLimit is scan's verdict for a request over maxHeldRequest;
	// Redis closes such a client without a reply.
	errQueryBufLimit = "query buffer limit"
)

// errProtocol is returned from Read after the client violated the framing
// rules; the error reply has already been written.
var errProtocol = errors.New("protocol error")

// Framing states of guardConn.
const (
	gsStart     = iota // at a request boundary
	gsInline           // inside an inline (telnet-style) line
	gsHeader           // inside a "*N" or "$N" header, before its '\r'
	gsHeaderEnd        // the header's '\r' was seen; the next byte ends it
	gsBody             // inside a bulk payload
	gsBodyEnd          // the two bytes after a payload (normally "\r\n")
)

// guardConn parses the request stream with Redis's exact framing rules as
// it is read, and hands redcon's reader a canonical RESP translation of it.
//
// Why translate instead of letting redcon parse the raw stream: redcon's
// reader differs from Redis at the edges — it refuses "*0" and "*-1" (Redis
// ignores them), buffers a "$4294967296" body before complaining, has no
// inline size limit, splits inline commands differently (no \x escapes,
// quotes only at token start), and words its errors differently. Here every
// request is checked the way networking.c checks it — limits, the
// unauthenticated limits, the error texts — and only well-formed requests
// reach redcon, so its reader never sees anything it could disagree about.
//
// It is cheap for ordinary traffic: canonical RESP passes through in place
// (the translation of a chunk is the chunk itself) and payloads are skipped
// by count, so only headers are looked at byte by byte. Inline commands,
// empty multibulks and non-canonical framing are rewritten into a side
// buffer.
//
// A protocol error is reported like Redis: the requests before it are
// executed and answered, then "-ERR Protocol error: ..." is written and the
// connection is closed.
type guardConn struct {
	net.Conn
	s      *Server
	authed atomic.Bool // set once the client may send large requests

	// Framing state, carried across reads.
	state  int
	bulk   bool // the header is a bulk ("$") header, else a multibulk ("*") one
	lead   byte // first byte of a bulk header; must be '$'
	hdr    [maxNumLen + 1]byte
	hdrLen int // digits seen (may exceed len(hdr): then the header is invalid)
	// reqLen counts the bytes of the current unterminated header or inline
	// line, for Redis's 64 KB limit.
	reqLen int
	// nul is set when a NUL byte came before the terminator. Redis finds
	// terminators with strchr, which stops at NUL, so such a request can
	// only grow until it hits the size limit; we do the same.
	nul   bool
	bulks int64  // bulks left in the multibulk
	left  int64  // payload bytes left (gsBody) or trailer bytes left (gsBodyEnd)
	line  []byte // inline line so far, when it spans reads

	// Translation output of the chunk being scanned. While ident is set the
	// output is exactly chunk[:identEnd] and nothing is copied; the first
	// deviation materializes it into out.
	hdrStart int // where the current header began in the chunk, -1 if in an earlier one
	ident    bool
	identEnd int
	out      []byte
	outPos   int
	// hold is set while a request of more than holdMultibulkLen arguments
	// is being received: its translation, out[holdFrom:], is only handed
	// on once complete. redcon's reader re-parses an incomplete request
	// from its start on every read and walks all N declared arguments
	// even when their bytes have not arrived, so "*2147483647" followed by
	// a trickle of bytes would cost billions of steps per read.
	hold     bool
	holdFrom int

	in   []byte // read but not yet scanned (one request per Read before AUTH)
	fail string // protocol error to report once out is drained
	err  error  // sticky read error
}

// Read implements net.Conn: it returns translated request bytes.
func (g *guardConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if n := g.take(p); n > 0 {
			return n, nil
		}
		if g.fail != "" {
			g.reject()
			return 0, g.err
		}
		if len(g.in) > 0 {
			in := g.in
			used, msg := g.scan(in, g.authed.Load())
			if g.ident {
				g.materialize(in)
			}
			g.in = in[:copy(in, in[used:])]
			if msg != "" {
				g.fail, g.in = msg, nil
			}
			continue
		}
		if g.err != nil {
			return 0, g.err
		}
		n, err := g.Conn.Read(p)
		if err != nil {
			g.err = err // returned once what was read before it is consumed
		}
		if n == 0 {
			continue
		}
		g.s.stats.netInputBytes.Add(int64(n))
		used, msg := g.scan(p[:n], g.authed.Load())
		if msg != "" {
			g.fail = msg
		} else if used < n {
			g.in = append(g.in, p[used:n]...)
		}
		if g.ident && g.identEnd > 0 {
			// The translation is the chunk's own prefix, already in p.
			return g.identEnd, nil
		}
		// Otherwise the output (if any) is in out; p is free to receive it.
	}
}

// take copies translated output that may be handed on into p.
func (g *guardConn) take(p []byte) int {
	avail := len(g.out)
	if g.hold {
		avail = g.holdFrom
	}
	if g.outPos >= avail {
		return 0
	}
	n := copy(p, g.out[g.outPos:avail])
	g.outPos += n
	switch {
	case g.outPos < avail:
	case g.hold:
		// Keep only the held request.
		g.out = g.out[:copy(g.out, g.out[g.outPos:])]
		g.holdFrom, g.outPos = 0, 0
	case cap(g.out) > 64<<10:
		// Drop a buffer a large payload grew, so an idle connection
		// does not pin the memory.
		g.out, g.outPos = nil, 0
	default:
		g.out, g.outPos = g.out[:0], 0
	}
	return n
}

// Write implements net.Conn, counting output bytes.
func (g *guardConn) Write(p []byte) (int, error) {
	n, err := g.Conn.Write(p)
	g.s.stats.netOutputBytes.Add(int64(n))
	return n, err
}

// reject sends the pending protocol error and fails the connection.
func (g *guardConn) reject() {
	msg := g.fail
	g.fail = ""
	g.err = errProtocol
	if msg == errQueryBufLimit {
		g.s.log.Warn("closing client that reached max query buffer length", "addr", g.RemoteAddr().String())
		return
	}
	g.s.countError("ERR " + msg)
	g.s.log.Debug("closing client after protocol error", "addr", g.RemoteAddr().String(), "error", msg)
	// A client that does not read must not pin this goroutine forever.
	g.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	g.Write([]byte("-ERR " + msg + "\r\n"))
	// Closing a socket with unread input makes the kernel send a reset,
	// which can destroy the error reply before the client reads it. Redis
	// has usually read what the client sent by then, so its clients see
	// the reply and a clean EOF; give ours the same by sending FIN now and
	// briefly discarding what is still in flight.
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		g.Conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		buf := make([]byte, 16<<10)
		for total := 0; total < 4<<20; {
			n, err := g.Conn.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
	}
}

// emitSpan outputs b[i:j] unchanged.
func (g *guardConn) emitSpan(b []byte, i, j int) {
	if g.ident {
		if i == g.identEnd {
			g.identEnd = j
			return
		}
		g.materialize(b)
	}
	g.out = append(g.out, b[i:j]...)
}

// materialize leaves the in-place mode: the output so far is copied to out.
func (g *guardConn) materialize(b []byte) {
	g.out = append(g.out, b[:g.identEnd]...)
	g.ident = false
}

// emitHeader outputs a canonical "*N\r\n" or "$N\r\n" header that ends at
// b[i]: in place if the client sent exactly that, else rewritten.
func (g *guardConn) emitHeader(b []byte, i int, prefix byte, n int64) {
	if g.hdrStart >= 0 && b[i] == '\n' {
		// string2ll accepted the digits, so they are canonical.
		g.emitSpan(b, g.hdrStart, i+1)
		return
	}
	if g.ident {
		g.materialize(b)
	}
	g.out = append(g.out, prefix)
	g.out = strconv.AppendInt(g.out, n, 10)
	g.out = append(g.out, '\r', '\n')
}

// startHeader begins a header whose first byte is b[i] (for a multibulk,
// the '*' has been consumed; for a bulk the first byte is still to come).
func (g *guardConn) startHeader(bulk bool, i int) {
	g.state, g.bulk, g.hdrLen, g.nul, g.hdrStart = gsHeader, bulk, 0, false, i
	if bulk {
		g.reqLen = 0
	} else {
		g.reqLen = 1 // the '*'
	}
}

// scan consumes b, appending its translation (see ident), and returns how
// many bytes it used and a protocol error message or "". Before AUTH
// (authed false) it stops after each complete request, so the limits for
// the next one are applied knowing whether that request authenticated, as
// Redis does by executing each request before parsing the next.
func (g *guardConn) scan(b []byte, authed bool) (int, string) {
	g.ident, g.identEnd, g.hdrStart = !g.hold, 0, -1
	if g.state == gsHeader && g.bulk && g.reqLen == 0 {
		g.hdrStart = 0 // the header starts with this chunk
	}
	maxBulk := g.s.cfg.protoMaxBulkLen.Load()
	for i := 0; i < len(b); i++ {
		ch := b[i]
		switch g.state {
		case gsStart:
			if ch == '*' {
				if end := fastRequest(b, i, authed, maxBulk); end > 0 {
					g.emitSpan(b, i, end)
					i = end - 1
					if !authed {
						return end, ""
					}
					continue
				}
				g.startHeader(false, i)
				continue
			}
			g.state, g.reqLen, g.nul = gsInline, 0, false
			if cap(g.line) > 4<<10 {
				g.line = nil // do not keep a 64 KB line's buffer for good
			}
			g.line = g.line[:0]
			i-- // the byte belongs to the line
		case gsInline:
			rest := b[i:]
			if g.nul {
				g.reqLen += len(rest)
				if g.reqLen > maxInlineSize {
					return i, protoErrBigInline
				}
				return len(b), ""
			}
			end := bytes.IndexByte(rest, '\n')
			seg := rest
			if end >= 0 {
				seg = rest[:end]
			}
			if bytes.IndexByte(seg, 0) >= 0 {
				g.nul = true
				i-- // recount the rest as an endless line
				continue
			}
			if end < 0 || g.reqLen+end > maxInlineSize {
				g.reqLen += len(seg)
				if g.reqLen > maxInlineSize {
					return i, protoErrBigInline
				}
				g.line = append(g.line, seg...)
				return len(b), ""
			}
			line := seg
			if len(g.line) > 0 {
				g.line = append(g.line, seg...)
				line = g.line
			}
			i += end
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			args, ok := splitInline(line)
			if !ok {
				return i, protoErrQuotes
			}
			g.state = gsStart
			if len(args) == 0 {
				continue // an empty line is ignored
			}
			if g.ident {
				g.materialize(b)
			}
			g.out = appendRESPArray(g.out, args)
			if !authed {
				return i + 1, ""
			}
		case gsHeader:
			if g.nul {
				g.reqLen += len(b) - i
				if g.reqLen > maxInlineSize {
					return i, g.bigHeaderError()
				}
				return len(b), ""
			}
			if g.bulk && g.reqLen == 0 {
				g.lead = ch // must be '$', checked when the line ends (as Redis does)
			}
			switch {
			case ch == '\r':
				g.state = gsHeaderEnd
				continue
			case ch == 0:
				g.nul = true
			case g.bulk && g.reqLen == 0:
			default:
				if g.hdrLen < len(g.hdr) {
					g.hdr[g.hdrLen] = ch
				}
				g.hdrLen++
			}
			g.reqLen++
			if g.reqLen > maxInlineSize {
				return i, g.bigHeaderError()
			}
		case gsHeaderEnd:
			// Redis skips the byte after '\r' without looking at it.
			n, ok := int64(0), g.hdrLen <= maxNumLen
			if ok {
				n, ok = parseInt(g.hdr[:g.hdrLen])
			}
			if !g.bulk {
				switch {
				case !ok || n > maxMultibulkLen:
					return i, protoErrInvalidMB
				case n > unauthMultibulkLen && !authed:
					return i, protoErrUnauthMB
				case n <= 0:
					g.state = gsStart // an empty request is ignored
					continue
				}
				if n > holdMultibulkLen {
					if g.ident {
						g.materialize(b)
					}
					g.hold, g.holdFrom = true, len(g.out)
				}
				g.emitHeader(b, i, '*', n)
				g.bulks = n
				g.startHeader(true, i+1)
				continue
			}
			switch {
			case g.lead != '$':
				return i, protoErrExpectDollar + string([]byte{sanitizeErrByte(g.lead)}) + "'"
			case !ok || n < 0 || n > maxBulk:
				return i, protoErrInvalidBulk
			case n > unauthBulkLen && !authed:
				return i, protoErrUnauthBulk
			}
			g.emitHeader(b, i, '$', n)
			g.left = n
			g.state = gsBody
			if n == 0 {
				g.state, g.left = gsBodyEnd, 2
			}
		case gsBody:
			k := int64(len(b) - i)
			if k > g.left {
				k = g.left
			}
			g.emitSpan(b, i, i+int(k))
			g.left -= k
			i += int(k) - 1
			if g.left == 0 {
				g.state, g.left = gsBodyEnd, 2
			}
		case gsBodyEnd:
			// Redis skips the two bytes after a payload without checking
			// them; the translation always has "\r\n" there.
			want := byte('\r')
			if g.left == 1 {
				want = '\n'
			}
			if ch == want {
				g.emitSpan(b, i, i+1)
			} else {
				if g.ident {
					g.materialize(b)
				}
				g.out = append(g.out, want)
			}
			g.left--
			if g.left > 0 {
				continue
			}
			g.bulks--
			if g.bulks > 0 {
				if g.hold && len(g.out)-g.holdFrom > maxHeldRequest {
					return i, errQueryBufLimit
				}
				g.startHeader(true, i+1)
				continue
			}
			g.state, g.hold = gsStart, false
			if !authed {
				return i + 1, ""
			}
		}
	}
	return len(b), ""
}

// fastRequest recognizes the common case in one pass: a complete request
// at b[i:] in canonical RESP (plain decimal lengths, every line ending in
// CRLF) within every limit. It returns the request's end, or -1 to leave
// the request to the general state machine — which accepts the same
// requests, byte by byte, so this is purely a shortcut.
func fastRequest(b []byte, i int, authed bool, maxBulk int64) int {
	n, j := fastNum(b, i+1)
	if n < 1 || n > holdMultibulkLen || !authed && n > unauthMultibulkLen {
		return -1
	}
	for ; n > 0; n-- {
		if j >= len(b) || b[j] != '$' {
			return -1
		}
		l, k := fastNum(b, j+1)
		if l < 0 || l > maxBulk || !authed && l > unauthBulkLen || l > int64(len(b)) {
			return -1
		}
		end := k + int(l)
		if end+1 >= len(b) || b[end] != '\r' || b[end+1] != '\n' {
			return -1
		}
		j = end + 2
	}
	return j
}

// fastNum parses a canonical decimal of at most 18 digits at b[i:]
// followed by CRLF, returning it and the index after the CRLF, or -1.
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

func (g *guardConn) bigHeaderError() string {
	if g.bulk {
		return protoErrBigBulkCount
	}
	return protoErrBigMBCount
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

// appendRESPArray appends args as a RESP multibulk request.
func appendRESPArray(dst []byte, args [][]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// splitInline splits an inline request line into arguments with the rules
// of Redis's sdssplitargs: blanks separate arguments; "double quotes"
// support \n \r \t \b \a \xHH and \<any> escapes; 'single quotes' support
// \' only; a closing quote must be followed by a blank or the end; a quote
// may also open in the middle of an argument (a"b c" is one argument). It
// reports false for unbalanced quotes.
func splitInline(line []byte) ([][]byte, bool) {
	var args [][]byte
	i := 0
	at := func(k int) byte { // the byte at k, or 0 past the end (C string semantics)
		if k < len(line) {
			return line[k]
		}
		return 0
	}
	for {
		for i < len(line) && isCSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return args, true
		}
		cur := []byte{}
		inq, insq := false, false
	token:
		for {
			c := at(i)
			switch {
			case inq:
				switch {
				case c == '\\' && at(i+1) == 'x':
					hi, ok1 := hexVal(at(i + 2))
					lo, ok2 := hexVal(at(i + 3))
					if ok1 && ok2 {
						cur = append(cur, hi<<4|lo)
						i += 4
						continue
					}
					cur = append(cur, 'x')
					i += 2
				case c == '\\' && at(i+1) != 0:
					e := at(i + 1)
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					cur = append(cur, e)
					i += 2
				case c == '"':
					if n := at(i + 1); n != 0 && !isCSpace(n) {
						return nil, false
					}
					i++
					break token
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
					i++
				}
			case insq:
				switch {
				case c == '\\' && at(i+1) == '\'':
					cur = append(cur, '\'')
					i += 2
				case c == '\'':
					if n := at(i + 1); n != 0 && !isCSpace(n) {
						return nil, false
					}
					i++
					break token
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
					i++
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					if c != 0 {
						i++
					}
					break token
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, c)
				}
				i++
			}
		}
		args = append(args, cur)
	}
}
