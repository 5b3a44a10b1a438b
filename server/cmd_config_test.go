package server

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/sdsquote"
)

// admExpect sends a command on a raw connection and checks the exact reply.
func admExpect(t *testing.T, r *rawConn, want string, args ...string) {
	t.Helper()
	if got := r.do(args...); got != want {
		t.Fatalf("%q:\n got %q\nwant %q", args, got, want)
	}
}

func TestConfigGetSetRoundTrip(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	admExpect(t, r, "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG", "GET", "maxmemory")
	admExpect(t, r, "+OK\r\n", "CONFIG", "SET", "maxmemory", "1mb", "maxmemory-policy", "ALLKEYS-LRU", "slave-read-only", "no")
	admExpect(t, r, "*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n", "CONFIG", "GET", "maxmemory")
	// Several patterns (7.0), aliases, case-insensitive names.
	rdb := ts.client(t)
	got, err := rdb.ConfigGet(ctx, "maxmemory-p*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["maxmemory-policy"] != "allkeys-lru" {
		t.Fatalf("maxmemory-p* = %v", got)
	}
	res, err := rdb.Do(ctx, "CONFIG", "GET", "replica-read-only", "slave-read-only", "hz").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := res.(map[any]any)
	if m["replica-read-only"] != "no" || m["slave-read-only"] != "no" || m["hz"] != "10" || len(m) != 3 {
		t.Fatalf("multi-pattern get = %v", m)
	}
	// Hidden directives are found by exact name only.
	if got := rdb.ConfigGet(ctx, "rdb-key-save-delay").Val(); got["rdb-key-save-delay"] != "0" {
		t.Fatalf("hidden exact = %v", got)
	}
	if got := rdb.ConfigGet(ctx, "rdb-key-*").Val(); len(got) != 0 {
		t.Fatalf("hidden by pattern = %v", got)
	}
	// Value normalizations as Redis does them.
	for _, c := range []struct{ name, set, want string }{
		{"hz", "1000", "500"},
		{"notify-keyspace-events", "KEA", "AKE"},
		{"maxmemory-clients", "50%", "50%"},
		{"client-output-buffer-limit", "normal 1mb 2mb 3", "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
		{"save", "100 10 20 5", "100 10 20 5"},
		{"latency-tracking-info-percentiles", "50 99.90", "50 99.9"},
		{"shutdown-on-sigint", "default now", "now"},
		{"oom-score-adj", "relative", "yes"},
	} {
		if err := rdb.ConfigSet(ctx, c.name, c.set).Err(); err != nil {
			t.Fatalf("set %s %q: %v", c.name, c.set, err)
		}
		if got := rdb.ConfigGet(ctx, c.name).Val()[c.name]; got != c.want {
			t.Fatalf("%s after %q = %q, want %q", c.name, c.set, got, c.want)
		}
	}
	// Every directive of Redis 7.0.15 (CONFIG GET * there lists 192 names
	// and aliases) plus thredis's five sql-* directives.
	all := rdb.ConfigGet(ctx, "*").Val()
	if len(all) != 192+5 {
		t.Fatalf("CONFIG GET * has %d names, want 197", len(all))
	}
	for _, name := range []string{"sql-default-key", "sql-page-size", "sql-busy-timeout", "sql-time-limit", "sql-max-reply-bytes"} {
		if _, ok := all[name]; !ok {
			t.Fatalf("CONFIG GET * lacks %s", name)
		}
	}
}

func TestConfigSetErrors(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	cases := []struct {
		want string
		args []string
	}{
		{"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n", []string{"CONFIG", "SET", "nosuch", "1"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n", []string{"CONFIG", "SET", "daemonize", "no"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n", []string{"CONFIG", "SET", "dir", "/tmp"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n", []string{"CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'replica-priority') - duplicate parameter\r\n", []string{"CONFIG", "SET", "slave-priority", "1", "replica-priority", "2"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n", []string{"CONFIG", "SET", "maxmemory", "abc"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n", []string{"CONFIG", "SET", "hz", "abc"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n", []string{"CONFIG", "SET", "timeout", "-1"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning\r\n", []string{"CONFIG", "SET", "loglevel", "foo"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'activerehashing') - argument must be 'yes' or 'no'\r\n", []string{"CONFIG", "SET", "activerehashing", "1"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n", []string{"CONFIG", "SET", "save", "1 2 3"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100\r\n", []string{"CONFIG", "SET", "maxmemory-clients", "200%"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration.\r\n", []string{"CONFIG", "SET", "client-output-buffer-limit", "master 1 2 3"}},
		{"-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n", []string{"CONFIG", "SET", "notify-keyspace-events", "Q"}},
		{"-ERR syntax error\r\n", []string{"CONFIG", "SET", "maxmemory", "1", "hz"}},
		{"-ERR wrong number of arguments for 'config|set' command\r\n", []string{"CONFIG", "SET", "maxmemory"}},
		{"-ERR wrong number of arguments for 'config|get' command\r\n", []string{"CONFIG", "GET"}},
		{"-ERR wrong number of arguments for 'config' command\r\n", []string{"CONFIG"}},
		{"-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n", []string{"CONFIG", "foo"}},
	}
	for _, c := range cases {
		admExpect(t, r, c.want, c.args...)
	}
	// All or nothing: a bad later pair leaves the earlier one unapplied.
	admExpect(t, r, "-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n",
		"CONFIG", "SET", "maxmemory", "5mb", "hz", "x")
	admExpect(t, r, "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG", "GET", "maxmemory")
	// Protected configs become settable with enable-protected-configs.
	ts2 := startServer(t, func(c *Config) { c.Set("enable-protected-configs", "local") })
	dir := t.TempDir()
	admExpect(t, ts2.raw(t), "+OK\r\n", "CONFIG", "SET", "dir", dir)
	var got string
	ts2.Exec(func(*keyspace.Keyspace) { got = ts2.Config().Dir })
	if got != dir {
		t.Fatalf("Dir = %q, want %q", got, dir)
	}
	admExpect(t, ts2.raw(t), "-ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory\r\n",
		"CONFIG", "SET", "dir", filepath.Join(dir, "missing"))
}

func TestConfigSetWired(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	// requirepass: new connections must authenticate.
	if err := rdb.ConfigSet(ctx, "requirepass", "s3cret").Err(); err != nil {
		t.Fatal(err)
	}
	admExpect(t, ts.raw(t), "-NOAUTH Authentication required.\r\n", "GET", "k")
	other := redis.NewClient(&redis.Options{Addr: ts.addr, Password: "s3cret"})
	defer other.Close()
	if err := other.ConfigSet(ctx, "requirepass", "").Err(); err != nil {
		t.Fatal(err)
	}
	admExpect(t, ts.raw(t), "$-1\r\n", "GET", "k")
	// maxclients: connections beyond the limit are refused.
	limit := clientCount(ts) + 1
	if err := rdb.ConfigSet(ctx, "maxclients", strconv.Itoa(limit)).Err(); err != nil {
		t.Fatal(err)
	}
	c2 := ts.raw(t)
	admExpect(t, c2, "+PONG\r\n", "PING")
	c3 := ts.raw(t)
	if got := c3.readReply(); got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("over maxclients: %q", got)
	}
	c2.c.Close()
	waitFor(t, func() bool { return clientCount(ts) < limit })
	if err := rdb.ConfigSet(ctx, "maxclients", "10000").Err(); err != nil {
		t.Fatal(err)
	}
	// proto-max-bulk-len: a bigger bulk is refused by the request reader.
	if err := rdb.ConfigSet(ctx, "proto-max-bulk-len", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	c4 := ts.raw(t)
	c4.write("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
	if got := c4.readReply(); got != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Fatalf("over proto-max-bulk-len: %q", got)
	}
	// hz reaches the cron, and loglevel the logger's level.
	if err := rdb.ConfigSet(ctx, "hz", "50").Err(); err != nil {
		t.Fatal(err)
	}
	if ts.Config().HZ() != 50 {
		t.Fatalf("HZ = %d", ts.Config().HZ())
	}
	if err := rdb.ConfigSet(ctx, "loglevel", "warning").Err(); err != nil {
		t.Fatal(err)
	}
	if lv := ts.Config().LevelVar().Level(); lv.String() != "WARN" {
		t.Fatalf("level = %v", lv)
	}
}

// clientCount returns the number of connected clients.
func clientCount(ts *testServer) int {
	ts.clientMu.Lock()
	defer ts.clientMu.Unlock()
	return len(ts.clients)
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfigSetPortRebinds(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := rdb.ConfigSet(ctx, "port", strconv.Itoa(port)).Err(); err != nil {
		t.Fatal(err)
	}
	// Existing connections stay; new ones use the new port only.
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("new port: %v", err)
	}
	c.Close()
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.Close()
		t.Fatal("old port still accepts connections")
	}
	if p := infoField(t, rdb, "server", "tcp_port"); p != strconv.Itoa(port) {
		t.Fatalf("tcp_port = %s, want %d", p, port)
	}
	// A port that cannot be bound leaves everything as it was.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	err = rdb.ConfigSet(ctx, "port", busyPort).Err()
	if err == nil || err.Error() != "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs." {
		t.Fatalf("busy port: %v", err)
	}
	if got := rdb.ConfigGet(ctx, "port").Val()["port"]; got != strconv.Itoa(port) {
		t.Fatalf("port after failed set = %s", got)
	}
}

func TestConfigRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "thredis.conf")
	orig := "# my comment\n" +
		"maxmemory 10mb\n" +
		"\n" +
		"save 900 1\n" +
		"save 300 10\n" +
		"slave-read-only yes\n" +
		"include /nonexistent/extra.conf\n" +
		"hz 20\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *Config) {
		for _, line := range strings.Split(orig, "\n") {
			args, _ := sdsquote.Split(line)
			if len(args) == 0 || args[0] == "include" || strings.HasPrefix(args[0], "#") {
				continue
			}
			if err := c.Set(args[0], args[1:]...); err != nil {
				t.Fatal(err)
			}
		}
		c.File = path
	})
	rdb := ts.client(t)
	if got := rdb.ConfigGet(ctx, "save").Val()["save"]; got != "900 1 300 10" {
		t.Fatalf("save from file = %q", got)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "20mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Do(ctx, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru", "masterauth", `a"b`, "hz", "10").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigRewrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	want := []string{
		"# my comment",
		"maxmemory 20mb",
		"",
		"save 900 1",
		"save 300 10",
		"replica-read-only yes",
		"include /nonexistent/extra.conf",
		"hz 10", // back at its default, but already in the file: kept in place
		"",
		rewriteSignature,
	}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("line %d = %q, want %q\nfile:\n%s", i, lines[i], w, data)
		}
	}
	rest := strings.Join(lines[len(want):], "\n")
	for _, w := range []string{"maxmemory-policy allkeys-lru\n", `masterauth "a\"b"` + "\n", "dir \"" + ts.Config().Dir + "\"\n"} {
		if !strings.Contains(rest, w) {
			t.Fatalf("appended lines lack %q:\n%s", w, data)
		}
	}
	// The rewritten file loads back to the same configuration.
	cfg := DefaultConfig()
	for _, line := range strings.Split(string(data), "\n") {
		args, err := sdsquote.Split(line)
		if err != nil || len(args) == 0 || args[0][0] == '#' || args[0] == "include" {
			continue
		}
		if err := cfg.Set(args[0], args[1:]...); err != nil {
			t.Fatalf("reload %q: %v", line, err)
		}
	}
	for _, name := range []string{"maxmemory", "maxmemory-policy", "masterauth", "save", "replica-read-only", "hz"} {
		a, _ := cfg.Get(name)
		b, _ := ts.Config().Get(name)
		if a != b {
			t.Fatalf("%s reloaded %q, running %q", name, a, b)
		}
	}
	// Rewrites converge: like Redis, the second one only adds the file's
	// final empty line; after that nothing changes.
	for i := 0; i < 2; i++ {
		if err := rdb.ConfigRewrite(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	second, _ := os.ReadFile(path)
	if err := rdb.ConfigRewrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if third, _ := os.ReadFile(path); string(third) != string(second) {
		t.Fatalf("rewrite does not converge:\n%s\n---\n%s", second, third)
	}
}

func TestConfigRewriteWithoutFile(t *testing.T) {
	ts := startServer(t)
	admExpect(t, ts.raw(t), "-ERR The server is running without a config file\r\n", "CONFIG", "REWRITE")
}

func TestConfigResetStatAndHelp(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	rdb.Get(ctx, "nokey")
	rdb.Do(ctx, "NOSUCHCMD")
	if !strings.Contains(rdb.Info(ctx, "commandstats").Val(), "cmdstat_get:calls=1,") {
		t.Fatal("commandstats lacks get before RESETSTAT")
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	info := rdb.Info(ctx, "commandstats", "errorstats", "stats").Val()
	if strings.Contains(info, "cmdstat_get") || strings.Contains(info, "errorstat_ERR") {
		t.Fatalf("stats survived RESETSTAT:\n%s", info)
	}
	if v := infoField(t, rdb, "stats", "keyspace_misses"); v != "0" {
		t.Fatalf("keyspace_misses = %s", v)
	}
	help := ts.raw(t).do("CONFIG", "HELP")
	if !strings.HasPrefix(help, "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n") ||
		!strings.HasSuffix(help, "+HELP\r\n+    Prints this help.\r\n") {
		t.Fatalf("CONFIG HELP = %q", help)
	}
}

func TestConfigTimeoutClosesIdleClients(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.Set("hz", "100") })
	rdb := ts.client(t)
	if err := rdb.ConfigSet(ctx, "timeout", "1").Err(); err != nil {
		t.Fatal(err)
	}
	idle := ts.raw(t)
	admExpect(t, idle, "+PONG\r\n", "PING")
	idle.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := idle.rd.ReadByte(); err == nil {
		t.Fatal("idle client got data instead of being closed")
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 4*time.Second {
		t.Fatalf("idle client closed after %v", d)
	}
}

func TestConfigFileSetSemantics(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Set("nosuch", "1"); err == nil {
		t.Fatal("unknown directive accepted")
	}
	if err := cfg.Set("maxmemory", "1", "2"); err == nil || err.Error() != "wrong number of arguments" {
		t.Fatalf("two words for maxmemory: %v", err)
	}
	// From files, save lines accumulate after replacing the default.
	cfg.Set("save", "900", "1")
	cfg.Set("save", "300 10")
	if v, _ := cfg.Get("save"); v != "900 1 300 10" {
		t.Fatalf("save = %q", v)
	}
	if err := cfg.Set("cluster-enabled", "yes"); err == nil {
		t.Fatal("cluster mode accepted")
	}
	if err := cfg.Set("SLAVEOF", "10.0.0.1", "6380"); err != nil {
		t.Fatal(err)
	}
	if v, _ := cfg.Get("replicaof"); v != "10.0.0.1 6380" {
		t.Fatalf("replicaof = %q", v)
	}
	if err := cfg.Set("dir", "/nonexistent/dir"); err == nil {
		t.Fatal("missing dir accepted")
	}
}
