package server

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startServerTable is startServer with a hook that edits the command table
// before the server starts (to add test-only commands or remove some).
func startServerTable(t testing.TB, mutateCfg func(*Config), mutateTable func(*Table)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	for _, kv := range [][2]string{{"port", "0"}, {"save", ""}, {"dir", t.TempDir()}} {
		if err := cfg.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if mutateCfg != nil {
		mutateCfg(cfg)
	}
	s := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if mutateTable != nil {
		mutateTable(s.table)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return &testServer{Server: s, addr: s.Addr().String()}
}

// badBystander runs a well-behaved client next to the misbehaving ones for
// the whole test: it must keep getting correct replies quickly. The
// returned function stops it and reports what it saw.
func badBystander(t *testing.T, ts *testServer) (stop func()) {
	t.Helper()
	rdb := ts.client(t)
	done := make(chan struct{})
	var (
		wg      sync.WaitGroup
		worst   time.Duration
		n       int
		failure string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			start := time.Now()
			val := strconv.Itoa(i)
			if err := rdb.Set(ctx, "bystander", val, 0).Err(); err != nil {
				failure = "SET: " + err.Error()
				return
			}
			if got, err := rdb.Get(ctx, "bystander").Result(); err != nil || got != val {
				failure = fmt.Sprintf("GET = %q, %v; want %q", got, err, val)
				return
			}
			worst = max(worst, time.Since(start))
			n++
			time.Sleep(time.Millisecond)
		}
	}()
	return func() {
		t.Helper()
		close(done)
		wg.Wait()
		if failure != "" {
			t.Fatalf("bystander client failed: %s", failure)
		}
		if n == 0 || worst > time.Second {
			t.Fatalf("bystander client: %d round trips, worst latency %v", n, worst)
		}
	}
}

// badSend writes in to a fresh connection and returns everything the
// server sends back until it closes the connection (closed true) or stays
// quiet for quiet.
func badSend(t *testing.T, ts *testServer, in []byte, quiet time.Duration) (out string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go c.Write(in) // may fail once the server hangs up
	var buf bytes.Buffer
	chunk := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(chunk)
		buf.Write(chunk[:n])
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return buf.String(), false
			}
			return buf.String(), true
		}
	}
}

// Malformed requests get Redis 7.0.15's exact error (recorded from
// redis-server) and a closed connection; what came before the bad bytes
// is executed and answered first.
func TestBadInputProtocolErrors(t *testing.T) {
	ts := startServer(t)
	defer badBystander(t, ts)()
	const (
		invalidMB   = "-ERR Protocol error: invalid multibulk length\r\n"
		invalidBulk = "-ERR Protocol error: invalid bulk length\r\n"
	)
	cases := []struct {
		name, in, want string
	}{
		{"multibulk count not a number", "*x\r\n", invalidMB},
		{"multibulk count with plus", "*+1\r\n$4\r\nPING\r\n", invalidMB},
		{"multibulk count with leading zero", "*01\r\n$4\r\nPING\r\n", invalidMB},
		{"multibulk count -0", "*-0\r\n", invalidMB},
		{"multibulk count with space", "*1 \r\n$4\r\nPING\r\n", invalidMB},
		{"empty multibulk count", "*\r\n$4\r\nPING\r\n", invalidMB},
		{"multibulk count over INT_MAX", "*2147483648\r\n", invalidMB},
		{"multibulk count *9999999999", "*9999999999\r\n", invalidMB},
		{"multibulk count overflows int64", "*99999999999999999999\r\n", invalidMB},
		{"LF without CR ends nothing", "*1\n$4\r\nPING\r\n", invalidMB},
		{"bulk without $", "*1\r\nPING\r\n", "-ERR Protocol error: expected '$', got 'P'\r\n"},
		{"nested array", "*2\r\n*3\r\n", "-ERR Protocol error: expected '$', got '*'\r\n"},
		{"blank line as bulk header", "*1\r\n\r\n", "-ERR Protocol error: expected '$', got ' '\r\n"},
		{"binary byte as bulk header", "*1\r\n\xff\r\n", "-ERR Protocol error: expected '$', got '\xff'\r\n"},
		{"negative bulk length", "*2\r\n$3\r\nGET\r\n$-1\r\n", invalidBulk},
		{"bulk length with leading zero", "*2\r\n$3\r\nGET\r\n$01\r\na\r\n", invalidBulk},
		{"bulk length not a number", "*1\r\n$abc\r\n", invalidBulk},
		{"bulk length with space", "*1\r\n$ 4\r\nPING\r\n", invalidBulk},
		{"bulk length over proto-max-bulk-len", "*1\r\n$536870913\r\n", invalidBulk},
		{"4 GB bulk length", "*1\r\n$4294967296\r\n", invalidBulk},
		{"unbalanced quotes inline", "SET a \"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"closing quote followed by text", "SET a \"b\"c\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"valid requests before the error are answered",
			"*1\r\n$4\r\nPING\r\nECHO hi\r\n*x\r\n", "+PONG\r\n$2\r\nhi\r\n" + invalidMB},
		{"too big inline request", strings.Repeat("x", 70000), "-ERR Protocol error: too big inline request\r\n"},
		{"too big multibulk count", "*" + strings.Repeat("1", 70000), "-ERR Protocol error: too big mbulk count string\r\n"},
		{"too big bulk count", "*1\r\n$" + strings.Repeat("1", 70000), "-ERR Protocol error: too big bulk count string\r\n"},
		{"NUL hides the newline", "GET a\x00b\r\n" + strings.Repeat("x", 70000), "-ERR Protocol error: too big inline request\r\n"},
	}
	for _, c := range cases {
		out, closed := badSend(t, ts, []byte(c.in), 2*time.Second)
		if out != c.want || !closed {
			t.Errorf("%s: got %q (closed %v), want %q and a closed connection", c.name, out, closed, c.want)
		}
	}
}

// Inputs Redis accepts that stricter RESP parsers refuse, and inputs
// Redis waits on: all must behave as in redis-server.
func TestBadInputTolerated(t *testing.T) {
	ts := startServer(t)
	cases := []struct {
		name, in, want string
	}{
		{"empty multibulks are ignored", "*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
		{"any byte after a header's CR", "*1\rX$4\r\nPING\r\n", "+PONG\r\n"},
		{"any two bytes after a payload", "*1\r\n$4\r\nPINGxyPING\r\n", "+PONG\r\n+PONG\r\n"},
		{"64 KB inline line is not yet too big", strings.Repeat("x", 65536), ""},
		{"NUL in a header: Redis keeps waiting", "*1\x00\r\n$4\r\nPING\r\n", ""},
		{"incomplete request: nothing yet", "*2\r\n$4\r\nECHO\r\n$3\r\nab", ""},
		{"a huge declared count just waits", "*2147483647\r\n$1\r\na\r\n", ""},
		{"largest proto-max-bulk-len payload just waits", "*1\r\n$536870912\r\n", ""},
	}
	for _, c := range cases {
		out, closed := badSend(t, ts, []byte(c.in), 200*time.Millisecond)
		if out != c.want || closed {
			t.Errorf("%s: got %q (closed %v), want %q on an open connection", c.name, out, closed, c.want)
		}
	}
}

// A multi-gigabyte declared length is refused as soon as the header
// arrives, while the client is still sending: nothing is buffered.
func TestBadInputHugeBulkRefusedAtOnce(t *testing.T) {
	ts := startServer(t)
	defer badBystander(t, ts)()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	go func() {
		c.Write([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4294967296\r\n"))
		junk := make([]byte, 1<<20)
		for i := 0; i < 256; i++ { // up to 256 MB, if the server kept reading
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if string(got) != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Fatalf("reply %q", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("refusal took %v", d)
	}
}

// Random binary garbage gets errors or a disconnect, never a crash or a
// hang, and the bystander is not disturbed.
func TestBadInputBinaryGarbage(t *testing.T) {
	ts := startServer(t)
	defer badBystander(t, ts)()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		junk := make([]byte, 100<<10) // over every 64 KB limit: it must end
		rng.Read(junk)
		if i%4 == 1 {
			junk[0] = '*' // start as a multibulk
		}
		if i%4 == 2 {
			for j := range junk { // text-like: inline commands and quotes
				junk[j] = " \r\n\"'\\xabcdefPING"[rng.Intn(17)]
			}
		}
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c.Write(junk)
			c.(*net.TCPConn).CloseWrite()
		}()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, err := io.ReadAll(c)
		c.Close()
		if err != nil && !isConnReset(err) {
			t.Fatalf("garbage %d: connection neither answered nor closed: %v (got %q...)", i, err, out[:min(len(out), 100)])
		}
		if len(out) > 0 && out[0] != '-' && out[0] != '+' && out[0] != '$' && out[0] != ':' && out[0] != '*' {
			t.Fatalf("garbage %d: reply is not RESP: %q", i, out[:min(len(out), 100)])
		}
	}
}

// 10,000 commands in one write: all executed, all replies correct and in
// order.
func TestBadInputTenThousandPipelined(t *testing.T) {
	ts := startServer(t)
	defer badBystander(t, ts)()
	const n = 10000
	var req, want strings.Builder
	for i := 0; i < n; i++ {
		v := strconv.Itoa(i)
		switch i % 4 {
		case 0:
			req.WriteString("*3\r\n$3\r\nSET\r\n$2\r\npk\r\n$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n")
			want.WriteString("+OK\r\n")
		case 1:
			req.WriteString("*2\r\n$3\r\nGET\r\n$2\r\npk\r\n")
			w := strconv.Itoa(i - 1)
			want.WriteString("$" + strconv.Itoa(len(w)) + "\r\n" + w + "\r\n")
		case 2:
			req.WriteString("*2\r\n$4\r\nINCR\r\n$2\r\npn\r\n")
			want.WriteString(":" + strconv.Itoa(i/4+1) + "\r\n")
		default:
			req.WriteString("ECHO " + v + "\r\n") // inline, mixed in
			want.WriteString("$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n")
		}
	}
	r := ts.raw(t)
	go r.c.Write([]byte(req.String()))
	r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(r.rd, got); err != nil {
		t.Fatalf("after %d bytes: %v", len(got), err)
	}
	if string(got) != want.String() {
		w := want.String()
		i := 0
		for i < len(got) && got[i] == w[i] {
			i++
		}
		t.Fatalf("replies differ at byte %d: got %q, want %q", i, got[i:min(i+60, len(got))], w[i:min(i+60, len(w))])
	}
	if got := r.do("PING"); got != "+PONG\r\n" {
		t.Fatalf("after the pipeline: %q", got)
	}
}

// A client that pushes many big GETs and never reads is held back by the
// socket (the server stops reading from it), so its replies cannot pile
// up in memory; other clients are unaffected; and once it reads, every
// reply is there, correct and in order.
func TestBadInputClientThatNeverReads(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	big := strings.Repeat("v", 1<<20)
	if err := rdb.Set(ctx, "big", big, 0).Err(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const gets = 300 // 300 MB of replies, far beyond any socket buffer
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wrote := make(chan int, 1)
	go func() {
		req := []byte("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
		i := 0
		for ; i < gets; i++ {
			if _, err := c.Write(req); err != nil {
				break
			}
		}
		wrote <- i
	}()
	stop := badBystander(t, ts)
	time.Sleep(time.Second)
	stop()

	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	if grew := int64(during.HeapInuse) - int64(before.HeapInuse); grew > 256<<20 {
		t.Fatalf("heap grew by %d MB while a client did not read", grew>>20)
	}

	// Now read everything: nothing was dropped or reordered.
	want := "$1048576\r\n" + big + "\r\n"
	buf := make([]byte, len(want))
	for i := 0; i < gets; i++ {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if string(buf) != want {
			t.Fatalf("reply %d is wrong: %q...", i, buf[:40])
		}
	}
	if n := <-wrote; n != gets {
		t.Fatalf("only %d requests written", n)
	}
}

// With client-output-buffer-limit set, a reply that exceeds the hard limit
// disconnects the client instead of being buffered.
func TestBadInputOutputBufferLimit(t *testing.T) {
	ts := startServer(t, func(cfg *Config) {
		if err := cfg.Set("client-output-buffer-limit", "normal", "1mb", "0", "0"); err != nil {
			t.Fatal(err)
		}
	})
	defer badBystander(t, ts)()
	rdb := ts.client(t)
	if err := rdb.Set(ctx, "big", strings.Repeat("v", 2<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	out, closed := badSend(t, ts, []byte("GET big\r\n"), 5*time.Second)
	if !closed || len(out) > 1<<20 {
		t.Fatalf("over-limit reply: %d bytes, closed %v", len(out), closed)
	}
	// A reply under the limit is fine.
	if err := rdb.Set(ctx, "small", strings.Repeat("v", 100<<10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	out, closed = badSend(t, ts, []byte("GET small\r\n"), 200*time.Millisecond)
	if closed || len(out) != 100<<10+len("$102400\r\n\r\n") {
		t.Fatalf("under-limit reply: %d bytes, closed %v", len(out), closed)
	}
}

// A panicking command is answered with an error and logged; the client,
// the server and everybody else carry on, and a transaction around it
// still gets one reply per command.
func TestBadInputPanicRecovered(t *testing.T) {
	ts := startServerTable(t, nil, func(tb *Table) {
		tb.cmds["testpanic"] = &Command{Name: "testpanic", Arity: -1, Flags: FlagFast,
			Handler: func(c *Client, args [][]byte) {
				c.W.Array(3) // a partial reply, which must be discarded
				c.W.Int(1)
				panic("boom")
			}}
	})
	defer badBystander(t, ts)()
	r := ts.raw(t)
	const panicked = "-ERR internal error while executing 'testpanic': boom\r\n"
	txExpect(t, r,
		[2]string{"TESTPANIC", panicked},
		[2]string{"PING", "+PONG\r\n"},
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET a 1", "+QUEUED\r\n"},
		[2]string{"TESTPANIC", "+QUEUED\r\n"},
		[2]string{"INCR a", "+QUEUED\r\n"},
		[2]string{"EXEC", "*3\r\n+OK\r\n" + panicked + ":2\r\n"},
	)
	// Pipelined around other commands.
	r.write("PING\r\nTESTPANIC\r\nECHO after\r\n")
	for _, want := range []string{"+PONG\r\n", panicked, "$5\r\nafter\r\n"} {
		if got := r.readReply(); got != want {
			t.Fatalf("pipelined: got %q, want %q", got, want)
		}
	}
	// Many clients panicking at once.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		rc := ts.raw(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if got := rc.do("TESTPANIC"); got != panicked {
					t.Errorf("concurrent panic: %q", got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Before AUTH (with requirepass set) requests are limited to 10 arguments
// and 16 KB bulks, like Redis; the limits apply per request, so a request
// right after a pipelined AUTH already enjoys the normal ones.
func TestBadInputUnauthenticatedLimits(t *testing.T) {
	ts := startServer(t, func(cfg *Config) {
		if err := cfg.Set("requirepass", "pw"); err != nil {
			t.Fatal(err)
		}
	})
	cases := []struct {
		name, in, want string
		closed         bool
	}{
		{"11 arguments", "*11\r\n", "-ERR Protocol error: unauthenticated multibulk length\r\n", true},
		{"16385-byte bulk", "*1\r\n$16385\r\n", "-ERR Protocol error: unauthenticated bulk length\r\n", true},
		{"within the limits", "*2\r\n$3\r\nGET\r\n$16384\r\n" + strings.Repeat("k", 16384) + "\r\n",
			"-NOAUTH Authentication required.\r\n", false},
		{"inline is not limited by count", "MGET " + strings.Repeat("a ", 20) + "\r\n", "-NOAUTH Authentication required.\r\n", false},
		{"after a pipelined AUTH", "AUTH pw\r\n*13\r\n$4\r\nMSET\r\n" + strings.Repeat("$1\r\nk\r\n", 11) + "$20000\r\n" + strings.Repeat("v", 20000) + "\r\n",
			"+OK\r\n+OK\r\n", false},
		{"after a pipelined RESP AUTH", "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$20000\r\n" + strings.Repeat("v", 20000) + "\r\n",
			"+OK\r\n-ERR unknown command '" + strings.Repeat("v", 128) + "', with args beginning with: \r\n", false},
		{"after a failed AUTH", "AUTH nope\r\n*11\r\n", "-WRONGPASS invalid username-password pair or user is disabled.\r\n" +
			"-ERR Protocol error: unauthenticated multibulk length\r\n", true},
		{"after HELLO AUTH", "HELLO 2 AUTH default pw\r\n*12\r\n", "", false},
	}
	for _, c := range cases {
		out, closed := badSend(t, ts, []byte(c.in), 300*time.Millisecond)
		if c.name == "after HELLO AUTH" {
			// HELLO's map reply, then the 12-argument header just waits.
			if !strings.HasPrefix(out, "*14\r\n$6\r\nserver\r\n") || closed {
				t.Errorf("%s: got %q (closed %v)", c.name, out, closed)
			}
			continue
		}
		if out != c.want || closed != c.closed {
			t.Errorf("%s: got %q (closed %v), want %q (closed %v)", c.name, out, closed, c.want, c.closed)
		}
	}
}

// Telnet-style inline commands, with Redis's quoting rules.
func TestBadInputInlineCommands(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	steps := []struct{ in, want string }{
		{"PING\r\n", "+PONG\r\n"},
		{"ping\n", "+PONG\r\n"}, // LF alone ends a line
		{"\r\n\n   \t \r\nPING\r\n", "+PONG\r\n"},
		{"SET k \"hello world\"\r\n", "+OK\r\n"},
		{"GET k\r\n", "$11\r\nhello world\r\n"},
		{"  SET\tk2   'it\\'s'  \r\n", "+OK\r\n"},
		{"GET k2\r\n", "$4\r\nit's\r\n"},
		{"ECHO \"\\x41\\x42\\n\\t\\\\\\\"\"\r\n", "$6\r\nAB\n\t\\\"\r\n"},
		{"ECHO \"\\xZZ\"\r\n", "$3\r\nxZZ\r\n"},
		{"ECHO 'no \\n escapes'\r\n", "$13\r\nno \\n escapes\r\n"},
		{"ECHO a\"b c\"d\r\n", ""}, // a closing quote needs a blank after it: error below
	}
	for _, st := range steps[:len(steps)-1] {
		r.write(st.in)
		if got := r.readReply(); got != st.want {
			t.Fatalf("%q: got %q, want %q", st.in, got, st.want)
		}
	}
	r.write("ECHO a\"b c\" d\r\n") // a quote may open inside a word
	if got := r.readReply(); got != "-ERR wrong number of arguments for 'echo' command\r\n" {
		t.Fatalf("quote inside a word: %q", got)
	}
	r.write("SET q a\"b c\"\r\nGET q\r\n")
	r.readReply()
	if got := r.readReply(); got != "$4\r\nab c\r\n" {
		t.Fatalf("quote inside a word: %q", got)
	}
	r.write(steps[len(steps)-1].in)
	if got := r.readReply(); got != "-ERR Protocol error: unbalanced quotes in request\r\n" {
		t.Fatalf("quote glued to a word: %q", got)
	}
}

// Unknown-command errors quote the request the way Redis's C formatting
// does: at most 128 bytes of name and of argument list, cut at NUL bytes,
// CR and LF shown as spaces.
func TestBadInputUnknownCommandText(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	ten := make([]string, 20)
	for i := range ten {
		ten[i] = "abcdefghij"
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"PI\x00G"}, "-ERR unknown command 'PI', with args beginning with: \r\n"},
		{[]string{"FOO", "a\x00b", "c"}, "-ERR unknown command 'FOO', with args beginning with: 'a' 'c' \r\n"},
		{[]string{"FOO", "a\r\nb"}, "-ERR unknown command 'FOO', with args beginning with: 'a  b' \r\n"},
		{append([]string{"FOO"}, ten...), "-ERR unknown command 'FOO', with args beginning with: " +
			strings.Repeat("'abcdefghij' ", 10) + "\r\n"},
		{[]string{strings.Repeat("x", 200), strings.Repeat("y", 200), "z"}, "-ERR unknown command '" +
			strings.Repeat("x", 128) + "', with args beginning with: '" + strings.Repeat("y", 128) + "' \r\n"},
		{[]string{"\xff\xfe"}, "-ERR unknown command '\xff\xfe', with args beginning with: \r\n"},
	}
	for _, c := range cases {
		if got := r.do(c.args...); got != c.want {
			t.Errorf("%q: got %q, want %q", c.args, got, c.want)
		}
	}
}
