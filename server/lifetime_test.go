package server

import (
	"strings"
	"testing"
	"time"

	"github.com/thredis/thredis/cmdlog"
)

// encode renders commands as one pipelined RESP stream.
func encode(cmds ...[]string) string {
	var b []byte
	for _, c := range cmds {
		argv := make([][]byte, len(c))
		for i, a := range c {
			argv[i] = []byte(a)
		}
		b = cmdlog.AppendCommand(b, argv)
	}
	return string(b)
}

// expectReplies reads one reply per want, in order.
func expectReplies(t *testing.T, r *rawConn, want ...string) {
	t.Helper()
	for i, w := range want {
		if got := r.readReply(); got != w {
			t.Fatalf("reply %d: got %.200q, want %.200q", i, got, w)
		}
	}
}

// Request arguments alias the connection's read buffer, which the next
// requests overwrite. Whatever outlives a command must have copied them:
// MULTI's queue, the command log, WATCHed keys, the client name, SLOWLOG.
// Each step pushes other bytes through the buffer before the kept
// arguments are used again.
func TestArgsLifetime(t *testing.T) {
	ts := startServer(t)
	rec := recordLog(t, ts)
	r := ts.raw(t)
	big := strings.Repeat("z", 40<<10) // more than the initial read buffer

	// A whole transaction and commands around it in one write.
	r.write(encode(
		[]string{"MULTI"}, []string{"SET", "a", "va"}, []string{"HSET", "h", "f", "vf"}, []string{"INCRBY", "n", "5"},
		[]string{"EXEC"}, []string{"SET", "c", "vc"}, []string{"GET", "a"}))
	expectReplies(t, r, "+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n",
		"*3\r\n+OK\r\n:1\r\n:5\r\n", "+OK\r\n", "$2\r\nva\r\n")

	// Queued commands, then much more data through the buffer before EXEC.
	admExpect(t, r, "+OK\r\n", "MULTI")
	admExpect(t, r, "+QUEUED\r\n", "SET", "q1", "queued-value-1")
	for i := 0; i < 5; i++ {
		admExpect(t, r, "+QUEUED\r\n", "APPEND", "q2", big)
	}
	admExpect(t, r, "*6\r\n+OK\r\n:40960\r\n:81920\r\n:122880\r\n:163840\r\n:204800\r\n", "EXEC")
	admExpect(t, r, "$14\r\nqueued-value-1\r\n", "GET", "q1")
	admExpect(t, r, ":204800\r\n", "STRLEN", "q2")

	// A queued command split across writes, EXEC in the second one.
	r.write("MULTI\r\n*3\r\n$3\r\nSET\r\n$2\r\ns1\r\n$5\r\nva")
	expectReplies(t, r, "+OK\r\n")
	time.Sleep(20 * time.Millisecond)
	r.write("lue\r\n" + encode([]string{"ECHO", big}, []string{"EXEC"}))
	expectReplies(t, r, "+QUEUED\r\n", "+QUEUED\r\n", "*2\r\n+OK\r\n$40960\r\n"+big+"\r\n")
	admExpect(t, r, "$5\r\nvalue\r\n", "GET", "s1")

	// WATCH, CLIENT SETNAME and SLOWLOG keep their own copies.
	admExpect(t, r, "+OK\r\n", "CONFIG", "SET", "slowlog-log-slower-than", "0")
	admExpect(t, r, "+OK\r\n", "CLIENT", "SETNAME", "conn-name-1")
	admExpect(t, r, "+OK\r\n", "WATCH", "wkey-1")
	r.write(encode([]string{"ECHO", big}, []string{"ECHO", big}))
	expectReplies(t, r, "$40960\r\n"+big+"\r\n", "$40960\r\n"+big+"\r\n")
	admExpect(t, ts.raw(t), "+OK\r\n", "SET", "wkey-1", "changed")
	r.write(encode([]string{"MULTI"}, []string{"SET", "never", "1"}, []string{"EXEC"}))
	expectReplies(t, r, "+OK\r\n", "+QUEUED\r\n", "*-1\r\n")
	admExpect(t, r, "$11\r\nconn-name-1\r\n", "CLIENT", "GETNAME")
	slow := r.do("SLOWLOG", "GET", "-1")
	for _, want := range []string{"$7\r\nSETNAME\r\n$11\r\nconn-name-1\r\n", "$5\r\nWATCH\r\n$6\r\nwkey-1\r\n"} {
		if !strings.Contains(slow, want) {
			t.Errorf("SLOWLOG lacks %q", want)
		}
	}

	// The command log saw every write with its own arguments.
	bigs := strings.Repeat(" | 0:APPEND q2 "+big, 5)
	want := []string{
		"[0:SET a va | 0:HSET h f vf | 0:INCRBY n 5]",
		"0:SET c vc",
		"[0:SET q1 queued-value-1" + bigs + "]",
		"[0:SET s1 value]",
		"0:SET wkey-1 changed",
	}
	got := logEntries(rec.Entries())
	if len(got) != len(want) {
		t.Fatalf("%d log entries, want %d: %.300q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("log entry %d: got %.200q, want %.200q", i, got[i], want[i])
		}
	}
}
