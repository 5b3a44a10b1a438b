package server

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// replWait polls cond until it holds or the deadline passes.
func replWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replInfo returns one field of INFO replication.
func replInfo(t *testing.T, ts *testServer, name string) string {
	t.Helper()
	return infoField(t, ts.client(t), "replication", name)
}

func portOf(ts *testServer) string {
	_, p, _ := net.SplitHostPort(ts.addr)
	return p
}

func TestReplicationCommandReplies(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	expectRaw(t, r, "-ERR syntax error\r\n", "REPLCONF", "listening-port")
	expectRaw(t, r, "-ERR Unrecognized REPLCONF option: foo\r\n", "REPLCONF", "foo", "bar")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "REPLCONF", "listening-port", "x")
	expectRaw(t, r, "+OK\r\n", "REPLCONF", "listening-port", "7000", "capa", "eof")
	// ACK from a client that is not a replica: ignored, no reply.
	r.write("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n5\r\n")
	expectRaw(t, r, "+PONG\r\n", "PING")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "WAIT", "x", "0")
	expectRaw(t, r, "-ERR timeout is negative\r\n", "WAIT", "1", "-1")
	expectRaw(t, r, ":0\r\n", "WAIT", "0", "0")
	start := time.Now()
	expectRaw(t, r, ":0\r\n", "WAIT", "1", "100")
	if time.Since(start) < 90*time.Millisecond {
		t.Fatal("WAIT returned before its timeout")
	}
	expectRaw(t, r, "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n", "ROLE")
	expectRaw(t, r, "-ERR Invalid master port\r\n", "REPLICAOF", "127.0.0.1", "99999")
	expectRaw(t, r, "+OK\r\n", "REPLICAOF", "NO", "ONE")
	expectRaw(t, r, "-ERR wrong number of arguments for 'replicaof' command\r\n", "REPLICAOF", "x")
	expectRaw(t, r, "+OK\r\n", "MULTI")
	expectRaw(t, r, "-ERR Command not allowed inside a transaction\r\n", "PSYNC", "?", "-1")
	expectRaw(t, r, "+OK\r\n", "DISCARD")
}

// TestMinReplicasToWrite: writes (commands and writing SQL) are refused
// until enough replicas acknowledge; reads are not.
func TestMinReplicasToWrite(t *testing.T) {
	ctx := context.Background()
	master := startServer(t, func(c *Config) {
		c.Set("min-replicas-to-write", "1")
		c.Set("repl-diskless-sync-delay", "0")
	})
	mc := master.client(t)
	if err := mc.Set(ctx, "k", "v", 0).Err(); err == nil || err.Error() != "NOREPLICAS Not enough good replicas to write." {
		t.Fatalf("SET without replicas: %v", err)
	}
	if err := mc.Do(ctx, "SQL", "CREATE TABLE t(x)").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOREPLICAS") {
		t.Fatalf("writing SQL without replicas: %v", err)
	}
	if err := mc.Do(ctx, "SQL", "SELECT 1").Err(); err != nil {
		t.Fatalf("reading SQL: %v", err)
	}
	if err := mc.Get(ctx, "k").Err(); err == nil || err.Error() != "redis: nil" {
		t.Fatalf("GET: %v", err)
	}
	replica := startServer(t)
	if err := replica.client(t).Do(ctx, "REPLICAOF", "127.0.0.1", portOf(master)).Err(); err != nil {
		t.Fatal(err)
	}
	replWait(t, "a good replica", func() bool { return replInfo(t, master, "min_slaves_good_slaves") == "1" })
	if err := mc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET with a replica: %v", err)
	}
	if n, err := mc.Do(ctx, "WAIT", "1", "5000").Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v", n, err)
	}
	if v, _ := replica.client(t).Get(ctx, "k").Result(); v != "v" {
		t.Fatalf("replica has %q", v)
	}
}

// stuckReplica starts a master with the given replica output limits and
// attaches a replica connection that never reads; with ack it sends one
// REPLCONF ACK first, so the master streams to its socket instead of
// holding the stream back after the diskless snapshot.
func stuckReplica(t *testing.T, limit string, ack bool) *testServer {
	t.Helper()
	master := startServer(t, func(c *Config) {
		c.Set("client-output-buffer-limit", limit)
		c.Set("repl-diskless-sync-delay", "0")
	})
	stuck := master.raw(t)
	expectRaw(t, stuck, "+OK\r\n", "REPLCONF", "capa", "eof")
	stuck.write("*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
	replWait(t, "the replica to be online", func() bool {
		return strings.Contains(replInfo(t, master, "slave0"), "state=online")
	})
	if ack {
		stuck.write("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n1\r\n")
		replWait(t, "the ACK", func() bool { return strings.Contains(replInfo(t, master, "slave0"), "offset=1,") })
	}
	return master
}

// TestReplicaOutputLimit: a replica that stops reading is dropped when its
// unsent stream passes client-output-buffer-limit replica's hard limit,
// long before repl-timeout: both while the stream is held for it (a
// diskless snapshot not yet acknowledged) and once it is queued for its
// socket.
func TestReplicaOutputLimit(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run("ack="+strconv.FormatBool(ack), func(t *testing.T) {
			ctx := context.Background()
			master := stuckReplica(t, "replica 256kb 0 0", ack)
			mc := master.client(t)
			val := strings.Repeat("x", 64<<10)
			for i := 0; i < 2000 && replInfo(t, master, "connected_slaves") != "0"; i++ {
				if err := mc.Set(ctx, "k"+strconv.Itoa(i), val, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			if replInfo(t, master, "connected_slaves") != "0" {
				t.Fatal("the stuck replica was not dropped after 128 MB")
			}
		})
	}
}

// TestReplicaOutputSoftLimit: a replica whose queue stays over the soft
// limit longer than its seconds is dropped; a shorter excursion is not.
func TestReplicaOutputSoftLimit(t *testing.T) {
	ctx := context.Background()
	master := stuckReplica(t, "replica 0 256kb 1", true)
	mc := master.client(t)
	val := strings.Repeat("x", 64<<10)
	start := time.Now()
	for i := 0; replInfo(t, master, "connected_slaves") != "0"; i++ {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the replica over its soft limit was not dropped")
		}
		if err := mc.Set(ctx, "k"+strconv.Itoa(i), val, 0).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("dropped after %v, before the soft limit's second", d)
	}
}

// TestReplicaServeStaleData: a replica whose master is unreachable serves
// its data unless replica-serve-stale-data is no.
func TestReplicaServeStaleData(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ts := startServer(t)
	r := ts.raw(t)
	expectRaw(t, r, "+OK\r\n", "SET", "k", "v")
	expectRaw(t, r, "+OK\r\n", "REPLICAOF", "127.0.0.1", dead)
	expectRaw(t, r, "+OK Already connected to specified master\r\n", "REPLICAOF", "127.0.0.1", dead)
	expectRaw(t, r, "$1\r\nv\r\n", "GET", "k")
	expectRaw(t, r, "-READONLY You can't write against a read only replica.\r\n", "SET", "k", "w")
	expectRaw(t, r, "+OK\r\n", "CONFIG", "SET", "replica-serve-stale-data", "no")
	expectRaw(t, r, "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n", "GET", "k")
	if got := replInfo(t, ts, "master_link_status"); got != "down" {
		t.Fatalf("master_link_status %q", got)
	}
	expectRaw(t, r, "+OK\r\n", "REPLICAOF", "NO", "ONE")
	expectRaw(t, r, "+OK\r\n", "SET", "k", "w")
	if got := replInfo(t, ts, "role"); got != "master" {
		t.Fatalf("role %q", got)
	}
}
