package server

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clientLineRE matches one CLIENT LIST line field by field, in Redis 7.0's
// order (plus lib-name/lib-ver).
var clientLineRE = regexp.MustCompile(`^id=(\d+) addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ name=(\S*) age=\d+ idle=\d+ ` +
	`flags=(\w+) db=(\d+) sub=0 psub=0 ssub=0 multi=(-?\d+) qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=\d+ ` +
	`rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ omem=\d+ tot-mem=\d+ events=rw? cmd=(\S+) user=default redir=-1 resp=([23]) ` +
	`lib-name=(\S*) lib-ver=(\S*)$`)

func TestClientIDNameInfo(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	hello := r.do("HELLO", "2")
	idText := regexp.MustCompile(`\$2\r\nid\r\n:(\d+)\r\n`).FindStringSubmatch(hello)
	if idText == nil {
		t.Fatalf("HELLO = %q", hello)
	}
	admExpect(t, r, ":"+idText[1]+"\r\n", "CLIENT", "ID")
	admExpect(t, r, "$-1\r\n", "CLIENT", "GETNAME")
	admExpect(t, r, "-ERR Client names cannot contain spaces, newlines or special characters.\r\n", "CLIENT", "SETNAME", "a b")
	admExpect(t, r, "+OK\r\n", "CLIENT", "SETNAME", "worker-1")
	admExpect(t, r, "$8\r\nworker-1\r\n", "CLIENT", "GETNAME")
	admExpect(t, r, "+OK\r\n", "SELECT", "3")
	admExpect(t, r, "+OK\r\n", "CLIENT", "SETINFO", "LIB-NAME", "mylib")
	admExpect(t, r, "+OK\r\n", "CLIENT", "SETINFO", "lib-ver", "1.2")
	admExpect(t, r, "-ERR Unrecognized option 'foo'\r\n", "CLIENT", "SETINFO", "foo", "bar")
	admExpect(t, r, "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n", "CLIENT", "SETINFO", "lib-name", "a b")
	info := r.do("CLIENT", "INFO")
	body := strings.TrimSuffix(strings.SplitN(info, "\r\n", 2)[1], "\n\r\n")
	m := clientLineRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("CLIENT INFO = %q", info)
	}
	if m[1] != idText[1] || m[2] != "worker-1" || m[3] != "N" || m[4] != "3" || m[5] != "-1" || m[6] != "client|info" || m[7] != "2" || m[8] != "mylib" || m[9] != "1.2" {
		t.Fatalf("CLIENT INFO fields %q", m[1:])
	}
	admExpect(t, r, "+OK\r\n", "CLIENT", "SETNAME", "")
	admExpect(t, r, "$-1\r\n", "CLIENT", "GETNAME")
	// RESP3: verbatim string.
	r.do("HELLO", "3")
	if got := r.do("CLIENT", "INFO"); !strings.HasPrefix(got, "=") || !strings.Contains(got, "\r\ntxt:id=") {
		t.Fatalf("RESP3 CLIENT INFO = %q", got)
	}
	// go-redis identifies itself with CLIENT SETINFO.
	rdb := ts.client(t)
	if lib := rdb.ClientInfo(ctx).Val(); lib == nil || !strings.HasPrefix(lib.LibName, "go-redis") {
		t.Fatalf("go-redis client info %+v", lib)
	}
}

func TestClientList(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	admExpect(t, b, "+OK\r\n", "CLIENT", "SETNAME", "bee")
	admExpect(t, b, "+OK\r\n", "MULTI")
	admExpect(t, b, "+QUEUED\r\n", "GET", "x")
	admExpect(t, b, "+QUEUED\r\n", "GET", "y")
	list := a.do("CLIENT", "LIST")
	lines := strings.Split(strings.TrimSuffix(strings.SplitN(list, "\r\n", 2)[1], "\r\n"), "\n")
	if len(lines) != 3 || lines[2] != "" {
		t.Fatalf("CLIENT LIST = %q", list)
	}
	var ids []int
	for _, l := range lines[:2] {
		m := clientLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q", l)
		}
		id, _ := strconv.Atoi(m[1])
		ids = append(ids, id)
		switch m[2] {
		case "":
			if m[6] != "client|list" || m[3] != "N" {
				t.Fatalf("caller line %q", l)
			}
		case "bee":
			if m[3] != "x" || m[5] != "2" || m[6] != "multi" {
				t.Fatalf("MULTI client line %q", l)
			}
		}
	}
	if ids[0] >= ids[1] {
		t.Fatalf("not ordered by id: %v", ids)
	}
	byID := a.do("CLIENT", "LIST", "ID", strconv.Itoa(ids[1]), "999999")
	if strings.Count(byID, "id=") != 1 || !strings.Contains(byID, "name=bee") {
		t.Fatalf("CLIENT LIST ID = %q", byID)
	}
	if got := a.do("CLIENT", "LIST", "TYPE", "normal"); strings.Count(got, "id=") != 2 {
		t.Fatalf("TYPE normal = %q", got)
	}
	admExpect(t, a, "$0\r\n\r\n", "CLIENT", "LIST", "TYPE", "master")
	admExpect(t, a, "-ERR Unknown client type 'foo'\r\n", "CLIENT", "LIST", "TYPE", "foo")
	admExpect(t, a, "-ERR Invalid client ID\r\n", "CLIENT", "LIST", "ID", "abc")
	admExpect(t, a, "-ERR syntax error\r\n", "CLIENT", "LIST", "foo")
	// go-redis parses it.
	rdb := ts.client(t)
	if got := rdb.ClientList(ctx).Val(); strings.Count(got, "\n") != 3 {
		t.Fatalf("go-redis CLIENT LIST %q", got)
	}
}

func TestClientKill(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	victim := ts.raw(t)
	admExpect(t, victim, "+OK\r\n", "CLIENT", "SETNAME", "victim")
	vid := victim.do("CLIENT", "ID")
	vid = strings.TrimSuffix(strings.TrimPrefix(vid, ":"), "\r\n")
	r := ts.raw(t)
	admExpect(t, r, "-ERR client-id should be greater than 0\r\n", "CLIENT", "KILL", "ID", "abc")
	admExpect(t, r, "-ERR Unknown client type 'foo'\r\n", "CLIENT", "KILL", "TYPE", "foo")
	admExpect(t, r, "-ERR No such user 'bob'\r\n", "CLIENT", "KILL", "USER", "bob")
	admExpect(t, r, "-ERR syntax error\r\n", "CLIENT", "KILL", "SKIPME", "maybe")
	admExpect(t, r, "-ERR syntax error\r\n", "CLIENT", "KILL", "ID", "1", "x")
	admExpect(t, r, "-ERR No such client\r\n", "CLIENT", "KILL", "1.2.3.4:5")
	admExpect(t, r, ":0\r\n", "CLIENT", "KILL", "ID", "999999")
	admExpect(t, r, ":1\r\n", "CLIENT", "KILL", "ID", vid)
	victim.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := victim.rd.ReadByte(); err == nil {
		t.Fatal("killed client still open")
	}
	if strings.Contains(rdb.ClientList(ctx).Val(), "name=victim") {
		t.Fatal("killed client still listed")
	}
	// Old form by address.
	v2 := ts.raw(t)
	admExpect(t, v2, "+PONG\r\n", "PING")
	admExpect(t, r, "+OK\r\n", "CLIENT", "KILL", v2.c.LocalAddr().String())
	v2.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := v2.rd.ReadByte(); err == nil {
		t.Fatal("client killed by address still open")
	}
	// New form kills by type, skipping the caller by default.
	v3 := ts.raw(t)
	admExpect(t, v3, "+PONG\r\n", "PING")
	n, err := rdb.ClientKillByFilter(ctx, "TYPE", "normal").Result()
	if err != nil || n != 2 { // r and v3; rdb's own connection is skipped
		t.Fatalf("KILL TYPE normal = %d, %v", n, err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal("caller was killed despite SKIPME yes")
	}
	// Killing oneself replies first, then closes.
	self := ts.raw(t)
	addr := self.c.LocalAddr().String()
	admExpect(t, self, ":1\r\n", "CLIENT", "KILL", "ADDR", addr, "SKIPME", "no")
	self.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := self.rd.ReadByte(); err == nil {
		t.Fatal("self-killed client still open")
	}
	// MAXAGE only kills clients older than the age.
	young := ts.raw(t)
	admExpect(t, young, "+PONG\r\n", "PING")
	if n := rdb.Do(ctx, "CLIENT", "KILL", "MAXAGE", "100").Val(); n != int64(0) {
		t.Fatalf("MAXAGE 100 killed %v", n)
	}
}

func TestClientReply(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	// OFF: nothing until ON, whose OK is sent.
	r.write("*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n")
	r.write("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n")
	r.write("*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n")
	r.write("*1\r\n$6\r\nNOSUCH\r\n") // even errors are dropped
	admExpect(t, r, "+OK\r\n", "CLIENT", "REPLY", "ON")
	admExpect(t, r, "$1\r\n1\r\n", "GET", "k")
	// SKIP: exactly the next command's reply is dropped, whatever it is.
	r.write("*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n")
	r.write("*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n")
	admExpect(t, r, "+PONG\r\n", "PING")
	admExpect(t, r, "-ERR syntax error\r\n", "CLIENT", "REPLY", "maybe")
	// SKIP twice: the second SKIP is skipped and re-arms for one more.
	r.write("*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n")
	r.write("*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n")
	r.write("*1\r\n$4\r\nPING\r\n")
	admExpect(t, r, "$2\r\nhi\r\n", "ECHO", "hi")
	// Inside MULTI/EXEC the block's replies are whole.
	admExpect(t, r, "+OK\r\n", "MULTI")
	admExpect(t, r, "+QUEUED\r\n", "CLIENT", "REPLY", "ON")
	admExpect(t, r, "+QUEUED\r\n", "PING")
	admExpect(t, r, "*2\r\n+OK\r\n+PONG\r\n", "EXEC")
	// A skipped command still runs.
	r.write("*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n")
	r.write("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n2\r\n")
	admExpect(t, r, "$1\r\n2\r\n", "GET", "k")
}

func TestClientNoEvictNoTouch(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.Set("enable-debug-command", "yes") })
	r := ts.raw(t)
	admExpect(t, r, "+OK\r\n", "CLIENT", "NO-EVICT", "on")
	admExpect(t, r, "+OK\r\n", "CLIENT", "NO-TOUCH", "on")
	admExpect(t, r, "-ERR syntax error\r\n", "CLIENT", "NO-TOUCH", "maybe")
	if got := r.do("CLIENT", "INFO"); !strings.Contains(got, " flags=eT ") {
		t.Fatalf("flags in %q", got)
	}
	admExpect(t, r, "+OK\r\n", "SET", "k", "v")
	idle := func() int {
		m := regexp.MustCompile(`lru_seconds_idle:(\d+)`).FindStringSubmatch(r.do("DEBUG", "OBJECT", "k"))
		n, _ := strconv.Atoi(m[1])
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for idle() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("key never became idle")
		}
		time.Sleep(100 * time.Millisecond)
	}
	admExpect(t, r, "$1\r\nv\r\n", "GET", "k")
	if n := idle(); n < 2 {
		t.Fatalf("GET under NO-TOUCH refreshed the key (idle %d)", n)
	}
	admExpect(t, r, ":1\r\n", "TOUCH", "k")
	if n := idle(); n != 0 {
		t.Fatalf("TOUCH under NO-TOUCH did not refresh (idle %d)", n)
	}
	admExpect(t, r, "+OK\r\n", "CLIENT", "NO-TOUCH", "off")
	if got := r.do("CLIENT", "INFO"); !strings.Contains(got, " flags=e ") {
		t.Fatalf("flags after NO-TOUCH off in %q", got)
	}
}

func TestClientHelpAndUnknown(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	admExpect(t, r, "-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n", "CLIENT", "nope")
	admExpect(t, r, "-ERR wrong number of arguments for 'client|setname' command\r\n", "CLIENT", "SETNAME")
	help := r.do("CLIENT", "HELP")
	if !strings.HasPrefix(help, "*") || !strings.Contains(help, "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n") ||
		!strings.Contains(help, "+REPLY (ON|OFF|SKIP)\r\n") {
		t.Fatalf("CLIENT HELP = %q", help)
	}
	rdb := redis.NewClient(&redis.Options{Addr: ts.addr})
	defer rdb.Close()
	if id := rdb.ClientID(ctx).Val(); id <= 0 {
		t.Fatalf("CLIENT ID = %d", id)
	}
}
