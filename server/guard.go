package server

import (
	"errors"
	"net"
	"sync/atomic"
)

// guardListener wraps accepted connections in guardConn.
type guardListener struct {
	net.Listener
	s *Server
}

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
	maxInlineSize         = 64 * 1024 // PROTO_INLINE_MAX_SIZE
	maxMultibulkLen       = 1<<31 - 1 // INT_MAX
	unauthMultibulkLen    = 10
	unauthBulkLen         = 16384
	maxHeaderDigits       = 20
	protoErrInvalidMB     = "Protocol error: invalid multibulk length"
	protoErrInvalidBulk   = "Protocol error: invalid bulk length"
	protoErrUnauthMB      = "Protocol error: unauthenticated multibulk length"
	protoErrUnauthBulk    = "Protocol error: unauthenticated bulk length"
	protoErrBigInline     = "Protocol error: too big inline request"
	protoErrExpectedDolla = "Protocol error: expected '$', got '"
)

// errProtocol is returned from Read after the client violated the framing
// limits; the error reply has already been written.
var errProtocol = errors.New("protocol error")

// Framing states of guardConn.
const (
	gsStart = iota
	gsMultibulkLen
	gsBulkStart
	gsBulkLen
	gsBulkBody
	gsInline
)

// guardConn watches the request stream's framing as it is read and rejects
// what redcon's reader would otherwise buffer without bound: a multibulk
// count or bulk length beyond proto-max-bulk-len (a "$4294967296" header is
// refused at once, not after 4 GB arrive), over-long inline requests, and
// Redis's tighter limits for clients that have not authenticated yet. It
// only parses headers and skips bulk payloads by count, so it costs little.
type guardConn struct {
	net.Conn
	s      *Server
	authed atomic.Bool // set once the client may send large requests

	state  int
	num    int64
	digits int
	neg    bool
	left   int64 // bulks left in the multibulk, or bytes left in a body
	bulks  int64
	err    error
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.s.stats.netInputBytes.Add(int64(n))
		if msg := g.scan(p[:n]); msg != "" {
			g.reject(msg)
			return 0, g.err
		}
	}
	return n, err
}

func (g *guardConn) Write(p []byte) (int, error) {
	n, err := g.Conn.Write(p)
	g.s.stats.netOutputBytes.Add(int64(n))
	return n, err
}

func (g *guardConn) reject(msg string) {
	g.err = errProtocol
	g.s.log.Debug("closing client after protocol error", "addr", g.RemoteAddr().String(), "error", msg)
	g.Conn.Write([]byte("-ERR " + msg + "\r\n"))
}

// scan advances the framing state over b and returns a protocol error
// message, or "".
func (g *guardConn) scan(b []byte) string {
	for i := 0; i < len(b); i++ {
		ch := b[i]
		switch g.state {
		case gsStart:
			if ch == '*' {
				g.state, g.num, g.digits, g.neg = gsMultibulkLen, 0, 0, false
			} else if ch != '\n' {
				g.state, g.left = gsInline, 1
			}
		case gsInline:
			if ch == '\n' {
				g.state = gsStart
				continue
			}
			// Skip quickly to the end of the line.
			j := i
			for j < len(b) && b[j] != '\n' {
				j++
			}
			g.left += int64(j - i)
			if g.left > maxInlineSize {
				return protoErrBigInline
			}
			i = j - 1
		case gsMultibulkLen, gsBulkLen:
			switch {
			case ch >= '0' && ch <= '9':
				g.digits++
				if g.digits > maxHeaderDigits {
					return g.lenError()
				}
				g.num = g.num*10 + int64(ch-'0')
				if g.num < 0 { // overflow
					return g.lenError()
				}
			case ch == '-' && g.digits == 0 && !g.neg:
				g.neg = true
			case ch == '\r':
			case ch == '\n':
				if msg := g.endHeader(); msg != "" {
					return msg
				}
			default:
				return g.lenError()
			}
		case gsBulkStart:
			if ch != '$' {
				return protoErrExpectedDolla + string(rune(ch)) + "'"
			}
			g.state, g.num, g.digits, g.neg = gsBulkLen, 0, 0, false
		case gsBulkBody:
			avail := int64(len(b) - i)
			if avail < g.left {
				g.left -= avail
				return ""
			}
			i += int(g.left) - 1
			g.left = 0
			g.bulks--
			if g.bulks == 0 {
				g.state = gsStart
			} else {
				g.state = gsBulkStart
			}
		}
	}
	return ""
}

func (g *guardConn) lenError() string {
	if g.state == gsMultibulkLen {
		return protoErrInvalidMB
	}
	return protoErrInvalidBulk
}

func (g *guardConn) endHeader() string {
	authed := g.authed.Load()
	if g.state == gsMultibulkLen {
		if g.neg || g.num <= 0 {
			// "*0" / "*-1": an empty request, which Redis ignores.
			g.state = gsStart
			return ""
		}
		if g.num > maxMultibulkLen {
			return protoErrInvalidMB
		}
		if !authed && g.num > unauthMultibulkLen {
			return protoErrUnauthMB
		}
		g.bulks = g.num
		g.state = gsBulkStart
		return ""
	}
	if g.neg || g.num > g.s.cfg.protoMaxBulkLen.Load() {
		return protoErrInvalidBulk
	}
	if !authed && g.num > unauthBulkLen {
		return protoErrUnauthBulk
	}
	g.left = g.num + 2
	g.state = gsBulkBody
	return ""
}
