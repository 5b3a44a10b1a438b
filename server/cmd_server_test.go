package server

import (
	"bufio"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// infoField returns one INFO field's value ("" if absent).
func infoField(t *testing.T, rdb *redis.Client, section, name string) string {
	t.Helper()
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	return ""
}

func infoInt(t *testing.T, rdb *redis.Client, section, name string) int64 {
	t.Helper()
	v := infoField(t, rdb, section, name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s = %q", name, v)
	}
	return n
}

func TestInfoSections(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	headers := func(info string) []string {
		var out []string
		for _, line := range strings.Split(info, "\r\n") {
			if strings.HasPrefix(line, "# ") {
				out = append(out, line[2:])
			}
		}
		return out
	}
	def := strings.Join(headers(rdb.Info(ctx).Val()), ",")
	if def != "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Errorstats,Cluster,Keyspace,SQL" {
		t.Fatalf("default sections: %s", def)
	}
	if all := strings.Join(headers(rdb.Info(ctx, "all").Val()), ","); all != "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Commandstats,Errorstats,Cluster,Keyspace,SQL" {
		t.Fatalf("all sections: %s", all)
	}
	// Requested sections come out in Redis's fixed order; unknown ones
	// are ignored.
	if got := strings.Join(headers(rdb.Info(ctx, "cpu", "SERVER", "nosuch").Val()), ","); got != "Server,CPU" {
		t.Fatalf("server+cpu: %s", got)
	}
	// Byte layout: sections separated by an empty line, RESP2 bulk and
	// RESP3 verbatim.
	r := ts.raw(t)
	got := r.do("INFO", "cluster")
	if got != "$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n" {
		t.Fatalf("RESP2 INFO cluster = %q", got)
	}
	r.do("HELLO", "3")
	if got := r.do("INFO", "cluster"); got != "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n" {
		t.Fatalf("RESP3 INFO cluster = %q", got)
	}
	if got := r.do("INFO", "nosuch"); got != "=4\r\ntxt:\r\n" {
		t.Fatalf("RESP3 INFO nosuch = %q", got)
	}

	// Server fields.
	runID := infoField(t, rdb, "server", "run_id")
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(runID) || infoField(t, rdb, "server", "run_id") != runID {
		t.Fatalf("run_id %q not 40 stable hex chars", runID)
	}
	_, port, _ := net.SplitHostPort(ts.addr)
	for k, want := range map[string]string{"redis_version": Version, "redis_mode": "standalone", "tcp_port": port,
		"arch_bits": strconv.Itoa(strconv.IntSize), "hz": "10"} {
		if v := infoField(t, rdb, "server", k); v != want {
			t.Fatalf("%s = %q, want %q", k, v, want)
		}
	}
	if pid := infoInt(t, rdb, "server", "process_id"); pid <= 0 {
		t.Fatalf("process_id = %d", pid)
	}
	// Values that must move.
	cmds := infoInt(t, rdb, "stats", "total_commands_processed")
	rdb.Set(ctx, "k", "v", time.Minute)
	rdb.Get(ctx, "k")
	rdb.Get(ctx, "missing")
	if n := infoInt(t, rdb, "stats", "total_commands_processed"); n < cmds+3 {
		t.Fatalf("total_commands_processed %d -> %d", cmds, n)
	}
	if infoInt(t, rdb, "stats", "keyspace_hits") != 1 || infoInt(t, rdb, "stats", "keyspace_misses") != 1 {
		t.Fatal("keyspace hits/misses not counted")
	}
	if ks := infoField(t, rdb, "keyspace", "db0"); ks != "keys=1,expires=1,avg_ttl=0" {
		t.Fatalf("db0 = %q", ks)
	}
	if n := infoInt(t, rdb, "clients", "connected_clients"); n != 2 {
		t.Fatalf("connected_clients = %d", n)
	}
	if infoInt(t, rdb, "memory", "used_memory") <= 0 || infoInt(t, rdb, "memory", "used_memory_rss") <= 0 {
		t.Fatal("memory not reported")
	}
	if infoInt(t, rdb, "persistence", "rdb_changes_since_last_save") < 1 {
		t.Fatal("rdb_changes_since_last_save did not move")
	}
	if v := infoField(t, rdb, "replication", "role"); v != "master" {
		t.Fatalf("role = %q", v)
	}
	if v := infoField(t, rdb, "cpu", "used_cpu_user"); !regexp.MustCompile(`^\d+\.\d{6}$`).MatchString(v) {
		t.Fatalf("used_cpu_user = %q", v)
	}
	// commandstats / errorstats with subcommand names.
	errs := infoField(t, rdb, "errorstats", "errorstat_ERR")
	errCount, _ := strconv.Atoi(strings.TrimPrefix(errs, "count="))
	rdb.ConfigGet(ctx, "hz")
	rdb.Do(ctx, "GET")
	cs := rdb.Info(ctx, "commandstats", "errorstats").Val()
	for _, re := range []string{
		`cmdstat_get:calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0\r\n`,
		`cmdstat_config\|get:calls=1,`,
		`errorstat_ERR:count=` + strconv.Itoa(errCount+1) + `\r\n`,
	} {
		if !regexp.MustCompile(re).MatchString(cs) {
			t.Fatalf("missing %s in\n%s", re, cs)
		}
	}
}

func TestInfoInstantaneousOps(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.Set("hz", "100") })
	rdb := ts.client(t)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		pipe := rdb.Pipeline()
		for i := 0; i < 100; i++ {
			pipe.Incr(ctx, "n")
		}
		pipe.Exec(ctx)
		if infoInt(t, rdb, "stats", "instantaneous_ops_per_sec") > 0 {
			return
		}
	}
	t.Fatal("instantaneous_ops_per_sec stayed 0 under load")
}

func TestTimeAndLastSave(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	now := time.Now()
	tm, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if d := tm.Sub(now); d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("TIME off by %v", d)
	}
	if !regexp.MustCompile(`^\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d{1,6}\r\n$`).MatchString(ts.raw(t).do("TIME")) {
		t.Fatal("TIME reply shape")
	}
	ls, err := rdb.LastSave(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if d := now.Unix() - ls; d < 0 || d > 60 {
		t.Fatalf("LASTSAVE = %d, now %d", ls, now.Unix())
	}
}

func TestSlowlog(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	admExpect(t, r, "+OK\r\n", "CLIENT", "SETNAME", "slowpoke")
	admExpect(t, r, "+OK\r\n", "SLOWLOG", "RESET")
	admExpect(t, r, "+OK\r\n", "CONFIG", "SET", "slowlog-log-slower-than", "0")
	admExpect(t, r, "+OK\r\n", "SET", "k", strings.Repeat("x", 200))
	admExpect(t, r, "+OK\r\n", "CONFIG", "SET", "masterauth", "hunter2")
	got := r.do("SLOWLOG", "GET", "2")
	re := regexp.MustCompile(`^\*2\r\n` +
		`\*6\r\n:2\r\n:\d+\r\n:\d+\r\n\*4\r\n\$6\r\nCONFIG\r\n\$3\r\nSET\r\n\$10\r\nmasterauth\r\n\$10\r\n\(redacted\)\r\n\$15\r\n127\.0\.0\.1:\d+\r\n\$8\r\nslowpoke\r\n` +
		`\*6\r\n:1\r\n:\d+\r\n:\d+\r\n\*3\r\n\$3\r\nSET\r\n\$1\r\nk\r\n\$147\r\nx{128}\.\.\. \(72 more bytes\)\r\n\$15\r\n127\.0\.0\.1:\d+\r\n\$8\r\nslowpoke\r\n$`)
	if !re.MatchString(got) {
		t.Fatalf("SLOWLOG GET 2 = %q", got)
	}
	if n := rdb.SlowLogLen(ctx).Val(); n < 4 {
		t.Fatalf("SLOWLOG LEN = %d", n)
	}
	// go-redis parses the entries.
	logs, err := rdb.SlowLogGet(ctx, -1).Result()
	if err != nil || len(logs) < 4 {
		t.Fatalf("SlowLogGet: %v %v", logs, err)
	}
	admExpect(t, r, "+OK\r\n", "CONFIG", "SET", "slowlog-max-len", "2")
	admExpect(t, r, "+PONG\r\n", "PING")
	admExpect(t, r, ":2\r\n", "SLOWLOG", "LEN")
	admExpect(t, r, "+OK\r\n", "CONFIG", "SET", "slowlog-log-slower-than", "-1")
	admExpect(t, r, "+OK\r\n", "SLOWLOG", "RESET")
	admExpect(t, r, ":0\r\n", "SLOWLOG", "LEN")
	admExpect(t, r, "-ERR count should be greater than or equal to -1\r\n", "SLOWLOG", "GET", "-2")
	admExpect(t, r, "-ERR count should be greater than or equal to -1\r\n", "SLOWLOG", "GET", "abc")
	admExpect(t, r, "-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.\r\n", "SLOWLOG", "GET", "1", "2")
	admExpect(t, r, "-ERR wrong number of arguments for 'slowlog|len' command\r\n", "SLOWLOG", "LEN", "x")
	// Inside MULTI, SLOWLOG RESET is queued (it is not RESET).
	admExpect(t, r, "+OK\r\n", "MULTI")
	admExpect(t, r, "+QUEUED\r\n", "SLOWLOG", "RESET")
	admExpect(t, r, "*1\r\n+OK\r\n", "EXEC")
}

func TestMonitor(t *testing.T) {
	ts := startServer(t)
	mon := ts.raw(t)
	admExpect(t, mon, "+OK\r\n", "MONITOR")
	rdb := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: 2, DisableIdentity: true})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "a\"b\n", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.ConfigGet(ctx, "hz") // admin commands are not shown
	rdb.Get(ctx, "k")
	line := mon.readReply()
	re := regexp.MustCompile(`^\+\d{10}\.\d{6} \[0 127\.0\.0\.1:\d+\] "set" "k" "a\\"b\\n"\r\n$`)
	if !re.MatchString(line) {
		t.Fatalf("monitor line %q", line)
	}
	if line := mon.readReply(); !strings.HasSuffix(line, `"get" "k"`+"\r\n") {
		t.Fatalf("second monitor line %q", line)
	}
	// A command pipelined right behind MONITOR is answered after +OK,
	// and its monitor line follows its reply.
	mon2 := ts.raw(t)
	mon2.write("MONITOR\r\nPING\r\n")
	got := mon2.readReply() + mon2.readReply() + mon2.readReply()
	if !regexp.MustCompile(`^\+OK\r\n\+PONG\r\n\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "PING"\r\n$`).MatchString(got) {
		t.Fatalf("pipelined MONITOR, PING = %q", got)
	}
	// The monitor shows up in CLIENT LIST with flag O.
	if !regexp.MustCompile(`flags=O `).MatchString(rdb.ClientList(ctx).Val()) {
		t.Fatal("monitor has no O flag")
	}
}

func TestMonitorSlowReaderNeverBlocks(t *testing.T) {
	ts := startServer(t)
	mon, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if tc, ok := mon.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	mon.Write([]byte("MONITOR\r\n"))
	if l, _ := bufio.NewReader(mon).ReadString('\n'); l != "+OK\r\n" {
		t.Fatalf("MONITOR reply %q", l)
	}
	// The monitor never reads again; 20 MB of monitored traffic must not
	// slow other clients down.
	rdb := ts.client(t)
	val := strings.Repeat("v", 64<<10)
	start := time.Now()
	for i := 0; i < 320; i++ {
		if err := rdb.Set(ctx, "k", val, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("writers slowed down by a stuck monitor: %v", d)
	}
}

func TestDebug(t *testing.T) {
	off := startServer(t)
	admExpect(t, off.raw(t), "-"+errDebugNotAllowed+"\r\n", "DEBUG", "SLEEP", "0")

	ts := startServer(t, func(c *Config) { c.Set("enable-debug-command", "yes") })
	r := ts.raw(t)
	admExpect(t, r, "+OK\r\n", "SET", "n", "123")
	admExpect(t, r, "+OK\r\n", "SET", "s", "hello")
	admExpect(t, r, "+OK\r\n", "SET", "big", strings.Repeat("a", 100))
	re := regexp.MustCompile(`^\+Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\w+) serializedlength:(\d+) lru:\d+ lru_seconds_idle:\d+\r\n$`)
	for key, want := range map[string][]string{
		"n":   {"2147483647", "int", "2"},
		"s":   {"1", "embstr", "6"},
		"big": {"1", "raw", "102"},
	} {
		got := r.do("DEBUG", "OBJECT", key)
		m := re.FindStringSubmatch(got)
		if m == nil || m[1] != want[0] || m[2] != want[1] || m[3] != want[2] {
			t.Fatalf("DEBUG OBJECT %s = %q, want %v", key, got, want)
		}
	}
	admExpect(t, r, "-ERR no such key\r\n", "DEBUG", "OBJECT", "nokey")
	admExpect(t, r, "-ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP.\r\n", "DEBUG", "foo")
	admExpect(t, r, "-ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.\r\n", "DEBUG", "SLEEP")
	admExpect(t, r, "-MYERR custom\r\n", "DEBUG", "ERROR", "MYERR custom")
	admExpect(t, r, "+OK\r\n", "DEBUG", "SLEEP", "abc")
	admExpect(t, r, "+OK\r\n", "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	if !ts.admin.noActiveExpire.Load() {
		t.Fatal("active expire still on")
	}
	admExpect(t, r, "+OK\r\n", "DEBUG", "SET-ACTIVE-EXPIRE", "1")
	if help := r.do("DEBUG", "HELP"); !strings.Contains(help, "+SLEEP <seconds>\r\n") {
		t.Fatalf("DEBUG HELP = %q", help)
	}
}

func TestDebugSleepBlocksOthers(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Set("enable-debug-command", "yes") })
	sleeper := ts.raw(t)
	other := ts.client(t)
	other.Ping(ctx)
	// On a loaded machine the sleeper may start late, after the PING:
	// a few attempts, any of which shows the blocking, make that flake
	// impossible without hiding a real failure (a PING that never
	// waits fails every attempt).
	var waited []time.Duration
	for attempt := 0; attempt < 3; attempt++ {
		sleeper.write("*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.5\r\n")
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		if err := other.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		if got := sleeper.readReply(); got != "+OK\r\n" {
			t.Fatalf("DEBUG SLEEP reply %q", got)
		}
		if d >= 300*time.Millisecond {
			return
		}
		waited = append(waited, d)
	}
	t.Fatalf("PING during DEBUG SLEEP 0.5 took only %v", waited)
}

func TestShutdown(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	admExpect(t, r, "-ERR No shutdown in progress.\r\n", "SHUTDOWN", "ABORT")
	admExpect(t, r, "-ERR syntax error\r\n", "SHUTDOWN", "NOSAVE", "SAVE")
	admExpect(t, r, "-ERR syntax error\r\n", "SHUTDOWN", "ABORT", "NOW")
	admExpect(t, r, "-ERR syntax error\r\n", "SHUTDOWN", "foo")
	// A save that cannot be written keeps the server up.
	if err := os.RemoveAll(ts.Config().Dir); err != nil {
		t.Fatal(err)
	}
	admExpect(t, r, "-ERR Errors trying to SHUTDOWN. Check logs.\r\n", "SHUTDOWN", "SAVE")
	admExpect(t, r, "+OK\r\n", "MULTI")
	admExpect(t, r, "-ERR Command not allowed inside a transaction\r\n", "SHUTDOWN")
	admExpect(t, r, "+OK\r\n", "DISCARD")
	r.write("*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := r.rd.ReadByte(); err == nil {
		t.Fatalf("SHUTDOWN replied %q instead of closing", b)
	}
	select {
	case <-ts.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server still running after SHUTDOWN")
	}
}
