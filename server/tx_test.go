package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// txExpect sends each command on r and checks the raw replies, in order.
func txExpect(t *testing.T, r *rawConn, steps ...[2]string) {
	t.Helper()
	for _, st := range steps {
		args := splitWords(st[0])
		if got := r.do(args...); got != st[1] {
			t.Fatalf("%s: got %q, want %q", st[0], got, st[1])
		}
	}
}

// txMakeHash stores a small hash under key directly in the keyspace.
func txMakeHash(t *testing.T, ts *testServer, db int, key string) {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	h, err := ts.ks.DB(db).HashForWrite([]byte(key), true)
	if err != nil {
		t.Fatal(err)
	}
	h.Set([]byte("f"), []byte("v"))
	ts.ks.DB(db).Modified([]byte(key))
}

// splitWords splits a test command line on spaces ("" stands for an empty
// argument).
func splitWords(s string) []string {
	f := strings.Fields(s)
	for i, w := range f {
		if w == `""` {
			f[i] = ""
		}
	}
	return f
}

func TestMultiExecQueuesAndRuns(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	txExpect(t, r,
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET a 1", "+QUEUED\r\n"},
		[2]string{"INCR a", "+QUEUED\r\n"},
		[2]string{"GET a", "+QUEUED\r\n"},
		[2]string{"PING", "+QUEUED\r\n"},
		[2]string{"EXEC", "*4\r\n+OK\r\n:2\r\n$1\r\n2\r\n+PONG\r\n"},
		// An empty transaction.
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"EXEC", "*0\r\n"},
		// The connection is back to normal.
		[2]string{"GET a", "$1\r\n2\r\n"},
	)
}

func TestMultiQueueingErrorsAbortExec(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	txExpect(t, r,
		[2]string{"SET k before", "+OK\r\n"},
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET k after", "+QUEUED\r\n"},
		[2]string{"NOSUCHCMD x", "-ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' \r\n"},
		[2]string{"SET k", "-ERR wrong number of arguments for 'set' command\r\n"},
		[2]string{"INCR k", "+QUEUED\r\n"},
		[2]string{"EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		// Nothing ran, and the transaction is over.
		[2]string{"GET k", "$6\r\nbefore\r\n"},
		[2]string{"EXEC", "-ERR EXEC without MULTI\r\n"},
	)
}

func TestMultiRuntimeErrorsDoNotRollBack(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	txMakeHash(t, ts, 0, "h") // a hash, so string commands on it fail with WRONGTYPE
	txExpect(t, r,
		[2]string{"SET s notanumber", "+OK\r\n"},
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET x 1", "+QUEUED\r\n"},
		[2]string{"INCR s", "+QUEUED\r\n"},
		[2]string{"GET h", "+QUEUED\r\n"},
		[2]string{"INCR x", "+QUEUED\r\n"},
		[2]string{"EXEC", "*4\r\n+OK\r\n-ERR value is not an integer or out of range\r\n" +
			"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n"},
		[2]string{"GET x", "$1\r\n2\r\n"},
	)
}

func TestMultiStateErrors(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	txExpect(t, r,
		[2]string{"EXEC", "-ERR EXEC without MULTI\r\n"},
		[2]string{"DISCARD", "-ERR DISCARD without MULTI\r\n"},
		[2]string{"MULTI", "+OK\r\n"},
		// Neither error dooms the transaction (as in Redis).
		[2]string{"MULTI", "-ERR MULTI calls can not be nested\r\n"},
		[2]string{"WATCH k", "-ERR WATCH inside MULTI is not allowed\r\n"},
		// UNWATCH is queued like any command.
		[2]string{"UNWATCH", "+QUEUED\r\n"},
		[2]string{"EXEC", "*1\r\n+OK\r\n"},
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET d 1", "+QUEUED\r\n"},
		[2]string{"DISCARD", "+OK\r\n"},
		[2]string{"DISCARD", "-ERR DISCARD without MULTI\r\n"},
		[2]string{"GET d", "$-1\r\n"},
		// RESET ends a transaction.
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET d 1", "+QUEUED\r\n"},
		[2]string{"RESET", "+RESET\r\n"},
		[2]string{"EXEC", "-ERR EXEC without MULTI\r\n"},
		[2]string{"GET d", "$-1\r\n"},
	)
	// QUIT inside MULTI answers and closes.
	r2 := ts.raw(t)
	txExpect(t, r2, [2]string{"MULTI", "+OK\r\n"}, [2]string{"QUIT", "+OK\r\n"})
	r2.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r2.rd.ReadByte(); err == nil {
		t.Fatal("connection still open after QUIT")
	}
}

// A command flagged no-multi is refused inside MULTI and dooms it.
func TestMultiRefusesNoMultiCommands(t *testing.T) {
	ts := startServerTable(t, nil, func(tb *Table) {
		tb.cmds["testnomulti"] = &Command{Name: "testnomulti", Arity: 1, Flags: FlagNoMulti,
			Handler: func(c *Client, args [][]byte) { c.W.OK() }}
	})
	r := ts.raw(t)
	txExpect(t, r,
		[2]string{"TESTNOMULTI", "+OK\r\n"},
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"TESTNOMULTI", "-ERR Command not allowed inside a transaction\r\n"},
		[2]string{"EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		// SHUTDOWN is one of them in Redis: inside MULTI it is refused,
		// not run.
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SHUTDOWN", "-ERR Command not allowed inside a transaction\r\n"},
		[2]string{"EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		[2]string{"PING", "+PONG\r\n"},
	)
}

// txWatchExec runs WATCH key, lets between run, then MULTI/PING/EXEC and
// returns EXEC's raw reply.
func txWatchExec(t *testing.T, r *rawConn, key string, between func()) string {
	t.Helper()
	txExpect(t, r, [2]string{"WATCH " + key, "+OK\r\n"})
	between()
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"PING", "+QUEUED\r\n"})
	return r.do("EXEC")
}

const (
	execRan     = "*1\r\n+PONG\r\n"
	execAborted = "*-1\r\n"
)

func TestWatchSeesOtherClients(t *testing.T) {
	ts := startServer(t)
	r, o := ts.raw(t), ts.raw(t)
	cases := []struct {
		name    string
		setup   []string // run on o before WATCH
		between []string // run on o between WATCH and EXEC
		want    string
	}{
		{"untouched", []string{"SET k 1"}, nil, execRan},
		{"read by other", []string{"SET k 1"}, []string{"GET k"}, execRan},
		{"set by other", []string{"SET k 1"}, []string{"SET k 2"}, execAborted},
		{"same value", []string{"SET k 1"}, []string{"SET k 1"}, execAborted},
		{"incr by other", []string{"SET k 1"}, []string{"INCR k"}, execAborted},
		{"append empty", []string{"SET k 1"}, []string{`APPEND k ""`}, execAborted},
		{"created by other", []string{"DEL k"}, []string{"SET k 1"}, execAborted},
		{"created and deleted", []string{"DEL k"}, []string{"SET k 1", "DEL k"}, execAborted},
		{"delete missing", []string{"DEL k"}, []string{"DEL k"}, execRan},
		{"failed SET NX", []string{"SET k 1"}, []string{"SET k 2 NX"}, execRan},
		{"other key", []string{"SET k 1"}, []string{"SET k2 1"}, execRan},
		{"same name other db", []string{"SET k 1"}, []string{"SELECT 1", "SET k 2", "SELECT 0"}, execRan},
		{"expire set", []string{"SET k 1"}, []string{"EXPIRE k 100"}, execAborted},
		{"persist noop", []string{"SET k 1"}, []string{"PERSIST k"}, execRan},
		{"flushdb existing", []string{"SET k 1"}, []string{"FLUSHDB"}, execAborted},
		{"flushdb missing", []string{"DEL k", "SET other 1"}, []string{"FLUSHDB"}, execRan},
		{"flushall existing", []string{"SET k 1"}, []string{"FLUSHALL"}, execAborted},
		{"flushall other db", []string{"SET k 1", "SELECT 2", "SET z 1", "SELECT 0"}, []string{"SELECT 2", "FLUSHDB", "SELECT 0"}, execRan},
		{"swapdb away", []string{"FLUSHALL", "SET k 1"}, []string{"SWAPDB 0 1"}, execAborted},
		{"swapdb in", []string{"FLUSHALL", "SELECT 1", "SET k 1", "SELECT 0"}, []string{"SWAPDB 0 1"}, execAborted},
		{"swapdb unrelated", []string{"FLUSHALL", "SET k 1"}, []string{"SWAPDB 2 3"}, execRan},
	}
	for _, c := range cases {
		for _, cmd := range c.setup {
			if got := o.do(splitWords(cmd)...); strings.HasPrefix(got, "-") {
				t.Fatalf("%s: setup %s: %q", c.name, cmd, got)
			}
		}
		got := txWatchExec(t, r, "k", func() {
			for _, cmd := range c.between {
				if got := o.do(splitWords(cmd)...); strings.HasPrefix(got, "-") {
					t.Fatalf("%s: %s: %q", c.name, cmd, got)
				}
			}
		})
		if got != c.want {
			t.Errorf("%s: EXEC = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestWatchOwnChangesAndUnwatch(t *testing.T) {
	ts := startServer(t)
	r, o := ts.raw(t), ts.raw(t)
	// A client's own change to a key it watches aborts its transaction.
	if got := txWatchExec(t, r, "k", func() { txExpect(t, r, [2]string{"SET k 1", "+OK\r\n"}) }); got != execAborted {
		t.Fatalf("own change: EXEC = %q", got)
	}
	// UNWATCH forgets the keys.
	txExpect(t, r, [2]string{"WATCH k", "+OK\r\n"}, [2]string{"UNWATCH", "+OK\r\n"})
	o.do("SET", "k", "2")
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"EXEC", "*0\r\n"})
	// DISCARD and EXEC unwatch too: a later transaction is unaffected.
	txExpect(t, r, [2]string{"WATCH k", "+OK\r\n"}, [2]string{"MULTI", "+OK\r\n"}, [2]string{"DISCARD", "+OK\r\n"})
	o.do("SET", "k", "3")
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"EXEC", "*0\r\n"})
	txExpect(t, r, [2]string{"WATCH k", "+OK\r\n"}, [2]string{"MULTI", "+OK\r\n"}, [2]string{"EXEC", "*0\r\n"})
	o.do("SET", "k", "4")
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"EXEC", "*0\r\n"})
	// A failed transaction unwatches as well.
	txWatchExec(t, r, "k", func() { o.do("SET", "k", "5") })
	o.do("SET", "k", "6")
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"EXEC", "*0\r\n"})
	// Watching several keys (and one twice): a change to any aborts.
	txExpect(t, r, [2]string{"WATCH a b", "+OK\r\n"}, [2]string{"WATCH b c", "+OK\r\n"})
	o.do("SET", "c", "1")
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"EXEC", execAborted})
	// A transaction already doomed by WATCH still queues and answers.
	txExpect(t, r, [2]string{"WATCH a", "+OK\r\n"})
	o.do("SET", "a", "1")
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"SET a 2", "+QUEUED\r\n"}, [2]string{"EXEC", execAborted})
	txExpect(t, r, [2]string{"GET a", "$1\r\n1\r\n"})
	// EXECABORT wins over a touched WATCH.
	txExpect(t, r, [2]string{"WATCH a", "+OK\r\n"})
	o.do("SET", "a", "2")
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"NOPE", "-ERR unknown command 'NOPE', with args beginning with: \r\n"},
		[2]string{"EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"})
}

func TestWatchExpiry(t *testing.T) {
	ts := startServer(t)
	r, o := ts.raw(t), ts.raw(t)

	// A key that expires between WATCH and EXEC aborts the transaction,
	// even though nobody touched it.
	txExpect(t, r, [2]string{"SET k v PX 60", "+OK\r\n"})
	if got := txWatchExec(t, r, "k", func() { time.Sleep(120 * time.Millisecond) }); got != execAborted {
		t.Fatalf("expired between WATCH and EXEC: EXEC = %q", got)
	}

	// A key already expired when watched does not abort by expiring...
	txExpect(t, r, [2]string{"SET k v PX 1", "+OK\r\n"})
	time.Sleep(20 * time.Millisecond)
	if got := txWatchExec(t, r, "k", func() {}); got != execRan {
		t.Fatalf("expired before WATCH: EXEC = %q", got)
	}
	// ... nor by being reclaimed by another client's access ...
	txExpect(t, r, [2]string{"SET k v PX 1", "+OK\r\n"})
	time.Sleep(20 * time.Millisecond)
	if got := txWatchExec(t, r, "k", func() { txExpect(t, o, [2]string{"GET k", "$-1\r\n"}) }); got != execRan {
		t.Fatalf("expired before WATCH, then reclaimed: EXEC = %q", got)
	}
	// ... but a new value for it does.
	txExpect(t, r, [2]string{"SET k v PX 1", "+OK\r\n"})
	time.Sleep(20 * time.Millisecond)
	if got := txWatchExec(t, r, "k", func() { txExpect(t, o, [2]string{"SET k new", "+OK\r\n"}) }); got != execAborted {
		t.Fatalf("expired before WATCH, then set: EXEC = %q", got)
	}
}

// EXEC's abort reply is a null array: *-1 in RESP2, _ in RESP3.
func TestExecAbortNullArrayProtocols(t *testing.T) {
	ts := startServer(t)
	r, o := ts.raw(t), ts.raw(t)
	if got := txWatchExec(t, r, "k", func() { o.do("SET", "k", "1") }); got != "*-1\r\n" {
		t.Fatalf("RESP2: %q", got)
	}
	if got := r.do("HELLO", "3"); !strings.HasPrefix(got, "%") {
		t.Fatalf("HELLO 3: %q", got)
	}
	if got := txWatchExec(t, r, "k", func() { o.do("SET", "k", "2") }); got != "_\r\n" {
		t.Fatalf("RESP3: %q", got)
	}
	txExpect(t, r, [2]string{"MULTI", "+OK\r\n"}, [2]string{"GET k", "+QUEUED\r\n"}, [2]string{"EXEC", "*1\r\n$1\r\n2\r\n"})
}

func TestTxGoRedis(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)

	// TxPipelined: MULTI ... EXEC with typed results.
	var incr *redis.IntCmd
	var get *redis.StringCmd
	cmds, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "n", "10", 0)
		incr = p.Incr(ctx, "n")
		get = p.Get(ctx, "n")
		return nil
	})
	if err != nil || len(cmds) != 3 || incr.Val() != 11 || get.Val() != "11" {
		t.Fatalf("TxPipelined: %v %v incr=%d get=%q", cmds, err, incr.Val(), get.Val())
	}

	// A runtime error is reported for its command only.
	rdb.Set(ctx, "s", "abc", 0)
	cmds, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "s")
		p.Set(ctx, "after", "yes", 0)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "not an integer") || cmds[1].Err() != nil {
		t.Fatalf("runtime error: err=%v cmds=%v", err, cmds)
	}
	if v := rdb.Get(ctx, "after").Val(); v != "yes" {
		t.Fatalf("command after the failing one did not run: %q", v)
	}

	// Watch: an untouched key commits, a key changed by another client
	// makes the transaction fail with TxFailedErr.
	other := ts.client(t)
	for _, touch := range []bool{false, true} {
		err := rdb.Watch(ctx, func(tx *redis.Tx) error {
			v, err := tx.Get(ctx, "n").Int()
			if err != nil {
				return err
			}
			if touch {
				other.Incr(ctx, "n")
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "n", v*2, 0)
				return nil
			})
			return err
		}, "n")
		if touch && !errors.Is(err, redis.TxFailedErr) {
			t.Fatalf("touched watch: err = %v", err)
		}
		if !touch && err != nil {
			t.Fatalf("untouched watch: err = %v", err)
		}
	}
	if v := rdb.Get(ctx, "n").Val(); v != "23" { // 11*2, then +1 by the other client
		t.Fatalf("n = %q, want 23", v)
	}
}

// On a read-only replica writes are refused while queueing (dooming the
// transaction), and a transaction whose writes were queued before the
// server became read-only is refused whole by EXEC.
func TestMultiReadOnlyReplica(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	txExpect(t, r,
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET a 1", "+QUEUED\r\n"},
		[2]string{"GET a", "+QUEUED\r\n"},
	)
	ts.readOnly.Store(true)
	defer ts.readOnly.Store(false)
	txExpect(t, r,
		[2]string{"EXEC", "-EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica.\r\n"},
		[2]string{"GET a", "$-1\r\n"},
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"GET a", "+QUEUED\r\n"},
		[2]string{"SET a 1", "-READONLY You can't write against a read only replica.\r\n"},
		[2]string{"EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		// Reads alone still run.
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"GET a", "+QUEUED\r\n"},
		[2]string{"EXEC", "*1\r\n$-1\r\n"},
	)
}
