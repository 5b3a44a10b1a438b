package server

import (
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/keyspace"
)

// logOp renders an op as "db:ARGS..." for assertions.
func logOp(op cmdlog.Op) string { return opLine(op, true) }

// logEntries renders entries one per line, atomic ones in brackets.
func logEntries(es []cmdlog.Entry) []string {
	var out []string
	for _, e := range es {
		ops := make([]string, len(e.Ops))
		for i, op := range e.Ops {
			ops[i] = logOp(op)
		}
		s := strings.Join(ops, " | ")
		if e.Atomic {
			s = "[" + s + "]"
		}
		out = append(out, s)
	}
	return out
}

// logSnapshot renders the logical contents of every database (values and
// absolute expiry times), for comparing two servers.
func logSnapshot(ts *testServer) []string {
	var out []string
	ts.Exec(func(ks *keyspace.Keyspace) {
		for i := 0; i < ks.NumDBs(); i++ {
			db := ks.DB(i)
			var keys []string
			db.Keys(func(k []byte) bool {
				keys = append(keys, string(k))
				return true
			})
			for _, k := range keys {
				kb := []byte(k)
				var val string
				switch db.Type(kb) {
				case keyspace.KindString:
					v, _, _ := db.GetString(kb)
					val = "string:" + string(v)
				case keyspace.KindHash:
					h, _ := db.Hash(kb)
					var fields []string
					h.Range(func(f, v string) bool {
						fields = append(fields, f+"="+v)
						return true
					})
					sort.Strings(fields)
					val = "hash:" + strings.Join(fields, ",")
				default:
					val = "other"
				}
				ttl := "persist"
				if when, ok, _ := db.TTL(kb); ok {
					ttl = strconv.FormatInt(when, 10)
				}
				out = append(out, fmt.Sprintf("%d/%s %s ttl=%s", i, k, val, ttl))
			}
		}
	})
	sort.Strings(out)
	return out
}

// logReplay encodes entries the way the AOF and replication will, sends
// the stream to ts and checks that every command succeeds.
func logReplay(t *testing.T, ts *testServer, entries []cmdlog.Entry) {
	t.Helper()
	enc := cmdlog.NewEncoder()
	var stream []byte
	for i := range entries {
		stream = enc.Append(stream, &entries[i])
	}
	cmds, msg := feedReader([][]byte{stream}, true, 512<<20)
	if msg != "" {
		t.Fatalf("encoded stream does not parse: %s", msg)
	}
	n := len(cmds)
	r := ts.raw(t)
	go r.c.Write(stream) // replies are read concurrently below
	for i := 0; i < n; i++ {
		reply := r.readReply()
		if strings.HasPrefix(reply, "-") || strings.Contains(reply, "\r\n-") {
			t.Fatalf("replayed command %d failed: %q", i, reply)
		}
	}
}

// The log holds every write in execution order: replaying it into a fresh
// server reproduces the exact state that many concurrent clients built,
// with order-sensitive operations (APPEND, overwriting SETs, HSET of the
// same fields), transactions, SELECT, rewritten commands (SET EX,
// INCRBYFLOAT, EXPIRE, GETDEL) and expiry deletions mixed in.
func TestCmdlogReplayReproducesConcurrentHistory(t *testing.T) {
	src := startServer(t)
	rec := recordLog(t, src)

	const clients, iterations = 16, 150
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for id := 0; id < clients; id++ {
		r := src.raw(t)
		wg.Add(1)
		go func(id int, r *rawConn) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(id)))
			failed := false
			fail := func(msg string) {
				if !failed { // one report per client: errs has room for that
					failed = true
					errs <- msg
				}
			}
			do := func(args ...string) {
				if got := r.do(args...); strings.HasPrefix(got, "-") {
					fail(fmt.Sprintf("client %d: %q: %q", id, args, got))
				}
			}
			for i := 0; i < iterations; i++ {
				tok := fmt.Sprintf("%d.%d;", id, i)
				s := fmt.Sprintf("s%d", rng.Intn(4))
				switch rng.Intn(14) {
				case 0:
					do("APPEND", s, tok)
				case 1:
					do("SET", s, tok)
				case 2:
					do("SET", "t"+s, tok, "EX", "1000")
				case 3:
					do("INCR", fmt.Sprintf("n%d", rng.Intn(3)))
				case 4:
					do("INCRBYFLOAT", "f", "1.5")
				case 5:
					do("HSET", fmt.Sprintf("h%d", rng.Intn(2)), fmt.Sprintf("f%d", rng.Intn(3)), tok)
				case 6:
					do("HINCRBY", "h0", "count", "1")
				case 7:
					r.do("DEL", s)
				case 8:
					r.do("EXPIRE", s, "1000")
				case 9:
					// A key that expires at once; reading it later logs a DEL.
					do("SET", fmt.Sprintf("e%d", rng.Intn(3)), tok, "PX", "1")
				case 10:
					r.do("GET", fmt.Sprintf("e%d", rng.Intn(3)))
				case 11:
					do("SELECT", strconv.Itoa(rng.Intn(3)))
				case 12:
					r.do("GETDEL", s)
				default:
					do("MULTI")
					do("APPEND", s, tok)
					do("SELECT", strconv.Itoa(rng.Intn(3)))
					do("APPEND", s, tok)
					do("INCR", "n0")
					if got := r.do("EXEC"); !strings.HasPrefix(got, "*4\r\n") {
						fail(fmt.Sprintf("client %d: EXEC: %q", id, got))
					}
				}
			}
		}(id, r)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	// Let the expiring keys expire on the source too, then compare.
	time.Sleep(5 * time.Millisecond)
	want := logSnapshot(src)
	entries := rec.Entries()
	if len(entries) < clients*iterations/2 {
		t.Fatalf("only %d log entries for %d commands", len(entries), clients*iterations)
	}
	dst := startServer(t)
	logReplay(t, dst, entries)
	got := logSnapshot(dst)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("replayed state differs\nsource:\n%s\nreplay:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	// The order-sensitive keys carry many clients' writes.
	if len(want) < 10 {
		t.Fatalf("suspiciously small final state: %v", want)
	}
}

// A MULTI/EXEC block is one atomic entry holding exactly its own writes,
// in order, even while other clients write concurrently.
func TestCmdlogTransactionIsOneAtomicEntry(t *testing.T) {
	ts := startServer(t)
	rec := recordLog(t, ts)
	const txClients, noiseClients, rounds = 8, 8, 100
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < noiseClients; i++ {
		r := ts.raw(t)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r.do("INCR", fmt.Sprintf("noise%d", i))
			}
		}(i)
	}
	var txWG sync.WaitGroup
	for id := 0; id < txClients; id++ {
		rdb := ts.client(t)
		txWG.Add(1)
		go func(id int) {
			defer txWG.Done()
			for i := 0; i < rounds; i++ {
				_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Append(ctx, "log", fmt.Sprintf("%d.%d;", id, i))
					p.Get(ctx, "log") // a read: no op in the entry
					p.Incr(ctx, fmt.Sprintf("tx%d", id))
					p.Set(ctx, fmt.Sprintf("last%d", id), i, 0)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(id)
	}
	txWG.Wait()
	close(stop)
	wg.Wait()

	atomic := 0
	next := make([]int, txClients) // each client's transactions appear in order
	for _, e := range rec.Entries() {
		if !e.Atomic {
			if len(e.Ops) != 1 || !strings.HasPrefix(strings.ToLower(logOp(e.Ops[0])), "0:incr noise") {
				t.Fatalf("unexpected non-atomic entry %v", logEntries([]cmdlog.Entry{e}))
			}
			continue
		}
		atomic++
		var id, i int
		if len(e.Ops) != 3 {
			t.Fatalf("transaction entry with %d ops: %v", len(e.Ops), logEntries([]cmdlog.Entry{e}))
		}
		if _, err := fmt.Sscanf(string(e.Ops[0].Argv[2]), "%d.%d;", &id, &i); err != nil {
			t.Fatalf("entry %v: %v", logEntries([]cmdlog.Entry{e}), err)
		}
		want := []string{
			fmt.Sprintf("0:append log %d.%d;", id, i),
			fmt.Sprintf("0:incr tx%d", id),
			fmt.Sprintf("0:set last%d %d", id, i),
		}
		for k, op := range e.Ops {
			if !strings.EqualFold(logOp(op), want[k]) {
				t.Fatalf("transaction entry %v, want %v", logEntries([]cmdlog.Entry{e}), want)
			}
		}
		if i != next[id] {
			t.Fatalf("client %d: transaction %d logged after %d", id, i, next[id]-1)
		}
		next[id]++
	}
	if atomic != txClients*rounds {
		t.Fatalf("%d atomic entries, want %d", atomic, txClients*rounds)
	}
}

func TestCmdlogTransactionShapes(t *testing.T) {
	ts := startServer(t)
	rec := recordLog(t, ts)
	r := ts.raw(t)
	seq := ts.Log().Seq()
	txExpect(t, r,
		// SELECT inside MULTI: each op carries its database.
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET a 1", "+QUEUED\r\n"},
		[2]string{"SELECT 3", "+QUEUED\r\n"},
		[2]string{"SET b 2", "+QUEUED\r\n"},
		[2]string{"GET b", "+QUEUED\r\n"},
		[2]string{"EXEC", "*4\r\n+OK\r\n+OK\r\n+OK\r\n$1\r\n2\r\n"},
		// The client stays in the database it selected.
		[2]string{"SET c 3", "+OK\r\n"},
		// A read-only transaction logs nothing.
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"GET a", "+QUEUED\r\n"},
		[2]string{"EXEC", "*1\r\n$-1\r\n"},
		// A failed command contributes nothing; the rest is one entry.
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"INCR b", "+QUEUED\r\n"},
		[2]string{"SET b x", "+QUEUED\r\n"},
		[2]string{"INCR b", "+QUEUED\r\n"},
		[2]string{"EXEC", "*3\r\n:3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n"},
		// Aborted and discarded transactions log nothing.
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET z 1", "+QUEUED\r\n"},
		[2]string{"DISCARD", "+OK\r\n"},
		[2]string{"MULTI", "+OK\r\n"},
		[2]string{"SET z 1", "+QUEUED\r\n"},
		[2]string{"NOPE", "-ERR unknown command 'NOPE', with args beginning with: \r\n"},
		[2]string{"EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"},
	)
	got := logEntries(rec.Entries())
	want := []string{
		"[0:SET a 1 | 3:SET b 2]",
		"3:SET c 3",
		"[3:INCR b | 3:SET b x]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := ts.Log().Seq() - seq; d != 3 {
		t.Fatalf("Seq advanced by %d, want 3", d)
	}
}

// Reads, and writes that change nothing, are not logged (and not
// propagated), exactly as Redis decides.
func TestCmdlogSkipsReadsAndNoops(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	txExpect(t, r,
		[2]string{"SET k v", "+OK\r\n"},
		[2]string{"HSET h f v", ":1\r\n"},
		[2]string{"SET other v", "+OK\r\n"},
		[2]string{"EXPIRE other 1000", ":1\r\n"},
	)
	rec := recordLog(t, ts)
	noops := []string{
		"GET k", "MGET k nokey", "EXISTS k", "STRLEN k", "GETRANGE k 0 -1", "TYPE k", "TTL k", "HGET h f",
		"HGETALL h", "DBSIZE", "KEYS *", "SCAN 0", "PING", "ECHO x", "SELECT 1", "SELECT 0",
		"DEL nokey", "UNLINK nokey", "SETNX k w", "SET k w NX", "SET nokey w XX", "MSETNX a 1 k 2",
		"GETDEL nokey", "PERSIST k", "EXPIRE nokey 10", "EXPIRE other 10 NX", "HDEL h nofield",
		"HDEL nokey f", "HSETNX h f w", "SETRANGE k 0 \"\"", "GETEX k", "RENAMENX k other",
		"MULTI", "GET k", "EXEC", "WATCH k", "UNWATCH",
	}
	for _, cmd := range noops {
		if got := r.do(splitWords(cmd)...); strings.HasPrefix(got, "-") {
			t.Fatalf("%s: %q", cmd, got)
		}
		if es := rec.Entries(); len(es) > 0 {
			t.Fatalf("%s was logged: %v", cmd, logEntries(es))
		}
	}
}

// Commands Redis rewrites for propagation are logged in their rewritten,
// replay-safe form; expiry deletions are logged as DEL.
func TestCmdlogRewrites(t *testing.T) {
	ts := startServer(t)
	rec := recordLog(t, ts)
	r := ts.raw(t)
	now := time.Now().UnixMilli()
	steps := []struct{ cmd, want string }{
		{"SET a v EX 100", "0:SET a v PXAT ~100000"},
		{"SET a v PX 100000 NX GET", ""}, // NX failed: nothing
		{"SET b v PX 100000 GET", "0:SET b v PXAT ~100000"},
		{"SETEX c 100 v", "0:SET c v PXAT ~100000"},
		{"PSETEX d 100000 v", "0:SET d v PXAT ~100000"},
		{"SET e v EXAT 99999999999", "0:SET e v PXAT 99999999999000"},
		{"INCRBYFLOAT f 1.5", "0:SET f 1.5 KEEPTTL"},
		{"GETEX a EX 100", "0:PEXPIREAT a ~100000"},
		{"GETEX a PERSIST", "0:PERSIST a"},
		{"EXPIRE a 100", "0:PEXPIREAT a ~100000"},
		{"PEXPIRE a 100000", "0:PEXPIREAT a ~100000"},
		{"EXPIREAT a 99999999999", "0:PEXPIREAT a 99999999999000"},
		{"EXPIRE a -1", "0:DEL a"},
		{"GETDEL b", "0:DEL b"},
		{"SET p v PX 1", "0:SET p v PXAT ~1"},
	}
	for _, st := range steps {
		before := len(rec.Entries())
		if got := r.do(splitWords(st.cmd)...); strings.HasPrefix(got, "-") {
			t.Fatalf("%s: %q", st.cmd, got)
		}
		es := rec.Entries()[before:]
		if st.want == "" {
			if len(es) != 0 {
				t.Fatalf("%s logged %v", st.cmd, logEntries(es))
			}
			continue
		}
		if len(es) != 1 || len(es[0].Ops) != 1 {
			t.Fatalf("%s logged %v, want %s", st.cmd, logEntries(es), st.want)
		}
		got := logOp(es[0].Ops[0])
		if i := strings.Index(st.want, "~"); i >= 0 {
			// An absolute time computed from the command's clock.
			delta, _ := strconv.ParseInt(st.want[i+1:], 10, 64)
			j := strings.LastIndexByte(got, ' ')
			at, err := strconv.ParseInt(got[j+1:], 10, 64)
			if err != nil || !strings.EqualFold(got[:j+1], st.want[:i]) || at < now+delta || at > time.Now().UnixMilli()+delta {
				t.Fatalf("%s logged %q, want %s", st.cmd, got, st.want)
			}
			continue
		}
		if !strings.EqualFold(got, st.want) {
			t.Fatalf("%s logged %q, want %q", st.cmd, got, st.want)
		}
	}
	// The key set with PX 1 expires; the access that finds it expired logs
	// its deletion (and the read itself nothing more).
	time.Sleep(10 * time.Millisecond)
	before := len(rec.Entries())
	txExpect(t, r, [2]string{"GET p", "$-1\r\n"})
	es := rec.Entries()[before:]
	if got := logEntries(es); len(got) != 1 || got[0] != "0:DEL p" {
		t.Fatalf("expired key access logged %v, want [0:DEL p]", got)
	}
	// A key nobody reads is reclaimed by the active expiry cycle, which
	// logs the deletion too.
	before = len(rec.Entries())
	txExpect(t, r, [2]string{"SET q v PX 1", "+OK\r\n"})
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := logEntries(rec.Entries()[before:])
		if len(got) == 2 && got[1] == "0:DEL q" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("active expiry logged %v, want [SET q ..., 0:DEL q]", got)
		}
	}
	// FLUSHDB is logged even on an empty database (Redis forces it).
	txExpect(t, r, [2]string{"SELECT 5", "+OK\r\n"})
	before = len(rec.Entries())
	txExpect(t, r, [2]string{"FLUSHDB", "+OK\r\n"})
	if got := logEntries(rec.Entries()[before:]); len(got) != 1 || !strings.EqualFold(got[0], "5:FLUSHDB") {
		t.Fatalf("FLUSHDB on an empty database logged %v", got)
	}
}
