package server

import (
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A request whose unfinished part outgrows client-query-buffer-limit
// closes the connection without a reply, as in Redis; a request within
// the limit is fine, and other clients are not disturbed.
func TestConnQueryBufferLimit(t *testing.T) {
	ts := startServer(t, func(cfg *Config) {
		if err := cfg.Set("client-query-buffer-limit", "1mb"); err != nil {
			t.Fatal(err)
		}
	})
	defer badBystander(t, ts)()
	val := strings.Repeat("v", 900<<10)
	out, closed := badSend(t, ts, []byte(encode([]string{"SET", "k", val}, []string{"STRLEN", "k"})), 500*time.Millisecond)
	if closed || out != "+OK\r\n:921600\r\n" {
		t.Fatalf("request under the limit: %q (closed %v)", out, closed)
	}
	over := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n" + strings.Repeat("v", 1100<<10)
	out, closed = badSend(t, ts, []byte(over), 5*time.Second)
	if !closed || out != "" {
		t.Fatalf("request over the limit: %q (closed %v), want a silent close", out, closed)
	}
}

// QUIT from a monitor is answered before the connection closes, though
// a monitor's replies go through its asynchronous queue.
func TestConnMonitorQuit(t *testing.T) {
	ts := startServer(t)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("MONITOR\r\nQUIT\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(out), "+OK\r\n+OK\r\n") {
		t.Fatalf("MONITOR, QUIT: %q, %v", out, err)
	}
}

// INFO's traffic counters see exactly what the connections read, and the
// replies they wrote.
func TestConnNetStats(t *testing.T) {
	ts := startServer(t)
	info := ts.raw(t)
	stats := func() (in, out, conns int64) { // one INFO request
		t.Helper()
		text := info.do("INFO", "stats")
		get := func(name string) int64 {
			m := regexp.MustCompile(name + `:(\d+)`).FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("INFO stats has no %s", name)
			}
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return n
		}
		return get("total_net_input_bytes"), get("total_net_output_bytes"), get("total_connections_received")
	}
	in0, out0, conns0 := stats()
	r := ts.raw(t)
	r.write("PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n")
	expectReplies(t, r, "+PONG\r\n", "$3\r\nabc\r\n")
	infoReq := int64(len(encode([]string{"INFO", "stats"})))
	time.Sleep(50 * time.Millisecond) // the output counter is bumped after the write returns
	in1, out1, conns1 := stats()
	if d := in1 - in0; d != 6+23+infoReq {
		t.Fatalf("input bytes grew by %d, want %d", d, 6+23+infoReq)
	}
	if d := out1 - out0; d < 7+9 {
		t.Fatalf("output bytes grew by %d, want at least %d", d, 7+9)
	}
	if d := conns1 - conns0; d != 1 {
		t.Fatalf("connections received grew by %d", d)
	}
}
