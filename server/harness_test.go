package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/thredis/thredis/cmdlog"
)

// testServer is an in-process thredis listening on a random loopback port.
type testServer struct {
	*Server
	addr string
}

// startServer starts a server with default config (port 0 = random free
// port on 127.0.0.1); mutate lets a test adjust the config first.
func startServer(t testing.TB, mutate ...func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	// An in-memory server in its own directory: no save points (a test
	// writing 10000 keys for a minute must not start saving), and any file
	// a test does write goes to a temporary directory.
	for _, kv := range [][2]string{{"port", "0"}, {"save", ""}, {"dir", t.TempDir()}} {
		if err := cfg.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range mutate {
		m(cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := New(cfg, logger)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return &testServer{Server: s, addr: s.Addr().String()}
}

// client returns a go-redis client with default options (RESP3 handshake).
func (ts *testServer) client(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: ts.addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// rawConn is a plain TCP connection for byte-exact protocol assertions.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	rd *bufio.Reader
}

func (ts *testServer) raw(t testing.TB) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

// do sends a command as a RESP array and returns the raw reply text.
func (r *rawConn) do(args ...string) string {
	r.t.Helper()
	var b strings.Builder
	b.WriteString("*" + itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	r.write(b.String())
	return r.readReply()
}

func (r *rawConn) write(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// readReply reads one complete RESP2/RESP3 reply and returns its raw text.
func (r *rawConn) readReply() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	r.readInto(&b)
	return b.String()
}

func (r *rawConn) readInto(b *strings.Builder) {
	line, err := r.rd.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read reply: %v (so far %q)", err, b.String())
	}
	b.WriteString(line)
	body := strings.TrimSuffix(line[1:], "\r\n")
	switch line[0] {
	case '$', '=', '!':
		n := atoiT(r.t, body)
		if n < 0 {
			return
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.rd, buf); err != nil {
			r.t.Fatal(err)
		}
		b.Write(buf)
	case '*', '~', '>':
		n := atoiT(r.t, body)
		for i := 0; i < n; i++ {
			r.readInto(b)
		}
	case '%':
		n := atoiT(r.t, body)
		for i := 0; i < 2*n; i++ {
			r.readInto(b)
		}
	}
}

func atoiT(t testing.TB, s string) int {
	n, ok := parseInt([]byte(s))
	if !ok {
		t.Fatalf("bad length %q", s)
	}
	return int(n)
}

var ctx = context.Background()

// recordLog subscribes a recorder to ts's command log for the test.
func recordLog(t testing.TB, ts *testServer) *cmdlog.Recorder {
	t.Helper()
	rec := &cmdlog.Recorder{}
	ts.Log().Subscribe(rec)
	t.Cleanup(func() { ts.Log().Unsubscribe(rec) })
	return rec
}

// opLine renders a logged op as a space-joined command line, prefixed with
// "db:" when withDB.
func opLine(op cmdlog.Op, withDB bool) string {
	parts := make([]string, len(op.Argv))
	for i, a := range op.Argv {
		parts[i] = string(a)
	}
	line := strings.Join(parts, " ")
	if withDB {
		line = itoa(op.DB) + ":" + line
	}
	return line
}

// loggedOps flattens every recorded op to a command line (see opLine).
func loggedOps(rec *cmdlog.Recorder, withDB bool) []string {
	var out []string
	for _, e := range rec.Entries() {
		for _, op := range e.Ops {
			out = append(out, opLine(op, withDB))
		}
	}
	return out
}

// expectRaw sends args on r and compares the raw reply byte for byte.
func expectRaw(t *testing.T, r *rawConn, want string, args ...string) {
	t.Helper()
	if got := r.do(args...); got != want {
		t.Errorf("%q:\n got %q\nwant %q", args, got, want)
	}
}
