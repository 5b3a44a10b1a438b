package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replication faults (issue 5, acceptance 3), through real thredis
// binaries: the link killed mid-full-sync, mid-stream and mid-transaction,
// a stalled master or replica (repl-timeout), the replica and the master
// restarted, a replica promoted with the old master re-pointed at it (with
// and without a diverged history), a chain of two hops, and WAIT. Most
// run 10k writes from concurrent writers (strings, counters, hashes, TTLs,
// MULTI/EXEC blocks in two databases, and SQL transactions in both)
// through the fault; afterwards every replica holds exactly the master's
// data: every key of every database, its type, value and PEXPIRETIME, the
// SQL hashes page by page, and the SQL databases pass PRAGMA
// integrity_check.

const (
	faultWrites = 10000 // writes under load through each fault
	faultRate   = 4000  // writes a second
)

// faultMasterArgs are the replication settings every node gets: a full
// sync starts at once, and the backlog covers everything a test writes,
// so a reconnect can always continue. No persistence unless asked.
func faultMasterArgs(extra ...string) []string {
	return append([]string{"--repl-diskless-sync-delay", "0", "--repl-backlog-size", "64mb",
		"--save", "", "--appendonly", "no"}, extra...)
}

// faultReplicaArgs are faultMasterArgs for a replica of the node on
// masterPort.
func faultReplicaArgs(masterPort int, extra ...string) []string {
	return faultMasterArgs(append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(masterPort)}, extra...)...)
}

// faultNode is a thredis process that can be stopped and started again
// with the same port, working directory and arguments.
type faultNode struct {
	name string
	port int
	dir  string
	args []string
	p    *proc
	c    *redis.Client // database 0
}

func faultStart(t *testing.T, name string, args ...string) *faultNode {
	t.Helper()
	n := &faultNode{name: name, port: freePort(t), dir: t.TempDir(), args: args}
	n.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s (port %d) log:\n%s", n.name, n.port, faultTail(n.p.stderr.String(), 60))
		}
	})
	return n
}

// faultTail returns the last n lines of s.
func faultTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (n *faultNode) start(t *testing.T) {
	t.Helper()
	full := append([]string{"--port", strconv.Itoa(n.port)}, n.args...)
	n.p = waitListening(t, runThredisIn(t, n.dir, nil, full...), n.port)
	n.c = persistClient(t, n.port)
}

func (n *faultNode) sigterm(t *testing.T) {
	t.Helper()
	if err := n.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.p.wait(t); code != 0 {
		t.Fatalf("%s: exit code %d after SIGTERM; stderr:\n%s", n.name, code, n.p.stderr.String())
	}
}

func (n *faultNode) kill(t *testing.T) {
	t.Helper()
	if err := n.p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not die after SIGKILL", n.name)
	}
}

// dbClient is a client of database db, closed at the end of the test.
func (n *faultNode) dbClient(t *testing.T, db int) *redis.Client {
	t.Helper()
	return goRedis(t, n.port, redis.Options{Protocol: 2, DB: db, MaxRetries: -1, DialTimeout: 2 * time.Second,
		ReadTimeout: 60 * time.Second, WriteTimeout: 30 * time.Second})
}

// info returns the fields of an INFO section.
func (n *faultNode) info(t *testing.T, section string) map[string]string {
	t.Helper()
	s, err := n.c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("%s: INFO %s: %v", n.name, section, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// faultSyncStats are a master's INFO stats counters of replica syncs.
type faultSyncStats struct{ full, partialOK, partialErr int64 }

func (n *faultNode) syncStats(t *testing.T) faultSyncStats {
	t.Helper()
	st := n.info(t, "stats")
	get := func(name string) int64 {
		i, err := strconv.ParseInt(st[name], 10, 64)
		if err != nil {
			t.Fatalf("%s: INFO stats %s:%q: %v", n.name, name, st[name], err)
		}
		return i
	}
	return faultSyncStats{get("sync_full"), get("sync_partial_ok"), get("sync_partial_err")}
}

func (s faultSyncStats) minus(base faultSyncStats) faultSyncStats {
	return faultSyncStats{s.full - base.full, s.partialOK - base.partialOK, s.partialErr - base.partialErr}
}

func (s faultSyncStats) String() string {
	return fmt.Sprintf("sync_full=%d sync_partial_ok=%d sync_partial_err=%d", s.full, s.partialOK, s.partialErr)
}

// faultDo runs a command on n and fails the test on an error.
func faultDo(t *testing.T, n *faultNode, args ...any) any {
	t.Helper()
	v, err := n.c.Do(context.Background(), args...).Result()
	if err != nil {
		t.Fatalf("%s: %v: %v", n.name, args, err)
	}
	return v
}

// faultPoll calls cond every few milliseconds until it reports done, and
// fails the test with cond's last description after timeout.
func faultPoll(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still waiting for %s: %s", timeout, what, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// faultWaitLinked waits until replica's link to its master is up.
func faultWaitLinked(t *testing.T, replica *faultNode) {
	t.Helper()
	faultPoll(t, 30*time.Second, replica.name+"'s link up", func() (bool, string) {
		inf := replica.info(t, "replication")
		return inf["master_link_status"] == "up", fmt.Sprintf("master_link_status:%s master_sync_in_progress:%s",
			inf["master_link_status"], inf["master_sync_in_progress"])
	})
}

// faultWaitSynced waits until every replica (direct or down a chain) is
// linked and has processed the master's whole stream.
func faultWaitSynced(t *testing.T, master *faultNode, replicas ...*faultNode) {
	t.Helper()
	faultPoll(t, 30*time.Second, "replicas at the master's offset", func() (bool, string) {
		want := master.info(t, "replication")["master_repl_offset"]
		var state []string
		ok := true
		for _, r := range replicas {
			inf := r.info(t, "replication")
			if inf["master_link_status"] != "up" || inf["slave_repl_offset"] != want {
				ok = false
			}
			state = append(state, fmt.Sprintf("%s: link %s, offset %s", r.name, inf["master_link_status"], inf["slave_repl_offset"]))
		}
		return ok, fmt.Sprintf("master offset %s; %s", want, strings.Join(state, "; "))
	})
}

// faultKill runs CLIENT KILL TYPE typ on n and checks it killed a client.
func faultKill(t *testing.T, n *faultNode, typ string) {
	t.Helper()
	if got := faultDo(t, n, "CLIENT", "KILL", "TYPE", typ); got != int64(1) {
		t.Fatalf("%s: CLIENT KILL TYPE %s = %v, want 1 killed", n.name, typ, got)
	}
}

// faultStop stops n with SIGSTOP and waits until every thread of it is
// stopped (kill returns before they all are).
func faultStop(t *testing.T, n *faultNode) {
	t.Helper()
	pid := n.p.cmd.Process.Pid
	if err := n.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.p.cmd.Process.Signal(syscall.SIGCONT) })
	faultPoll(t, 10*time.Second, n.name+" stopped", func() (bool, string) {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return false, err.Error()
		}
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			if err != nil {
				return false, err.Error()
			}
			// pid (comm) state …: the state follows the last ')'.
			st := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			if len(st) == 0 || (st[0] != "T" && st[0] != "t") {
				return false, fmt.Sprintf("thread %s in state %v", task.Name(), st[:min(1, len(st))])
			}
		}
		return true, ""
	})
}

// faultCont resumes a node stopped by faultStop.
func faultCont(t *testing.T, n *faultNode) {
	t.Helper()
	if err := n.p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// faultAck is one write a WAIT 1 acknowledged.
type faultAck struct {
	kind  byte // 's' SET, 'i' INCR, 'h' HSET, 'q' SQL transaction
	db    int
	key   string
	field string
	val   string
	n     int64 // INCR's result, the SQL transaction's id
}

// faultLoad is a set of concurrent writers against the node on port (which
// can be changed, e.g. to a promoted replica). A writer that loses its
// connection (a killed or restarted master) retries until stopped.
type faultLoad struct {
	port     atomic.Int64
	writes   atomic.Int64 // acknowledged writes
	connErrs atomic.Int64
	nextID   atomic.Int64
	gate     sync.RWMutex // writers hold it shared per write; pause takes it
	paused   atomic.Bool
	stopped  atomic.Bool
	wg       sync.WaitGroup
	waitMode bool // each write followed by WAIT 1 (unique keys, no overwrites)
	// The writers stop after limit writes, paced to rate a second: the
	// stream they produce (about 2 KB a write, the SQL pages mostly)
	// fits the backlog, and the faults happen while they write.
	limit int64
	start time.Time
	slots atomic.Int64

	mu        sync.Mutex
	replyErrs []string
	acks      []faultAck
	waitZero  int // writes WAIT did not acknowledge
}

// faultSQLTxn is the writers' SQL transaction: two rows of one id, the
// table created by the first (a restarted master may start empty).
// IMMEDIATE: the transaction reads (IF NOT EXISTS) before it writes, and a
// deferred one could not upgrade a read made stale by another client's
// commit (SQLITE_BUSY, as in SQLite).
const faultSQLTxn = "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS t (id INTEGER NOT NULL, w INTEGER NOT NULL, part INTEGER NOT NULL, pad BLOB); " +
	"INSERT INTO t VALUES (?, ?, 1, randomblob(40)); INSERT INTO t VALUES (?, ?, 2, randomblob(40)); COMMIT"

func faultStartLoad(t *testing.T, port, writers int, waitMode bool) *faultLoad {
	l := &faultLoad{waitMode: waitMode, limit: faultWrites, start: time.Now()}
	l.port.Store(int64(port))
	for w := range writers {
		l.wg.Go(func() { l.writer(w) })
	}
	t.Cleanup(l.stop)
	return l
}

func faultWriterClient(port int64, db int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.FormatInt(port, 10), Protocol: 2, DB: db,
		PoolSize: 1, MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second})
}

func (l *faultLoad) writer(w int) {
	ctx := context.Background()
	var c0, c3 *redis.Client
	port := int64(0)
	defer func() {
		if c0 != nil {
			c0.Close()
			c3.Close()
		}
	}()
	for i := 0; !l.stopped.Load() && l.writes.Load() < l.limit; i++ {
		slot := l.slots.Add(1)
		time.Sleep(time.Until(l.start.Add(time.Duration(slot) * time.Second / faultRate)))
		l.gate.RLock()
		if p := l.port.Load(); p != port {
			if c0 != nil {
				c0.Close()
				c3.Close()
			}
			port, c0, c3 = p, faultWriterClient(p, 0), faultWriterClient(p, 3)
		}
		var err error
		if l.waitMode {
			err = l.waitOp(ctx, w, i, c0, c3)
		} else {
			err = l.op(ctx, w, i, c0, c3)
		}
		l.gate.RUnlock()
		var rerr redis.Error
		switch {
		case err == nil:
			l.writes.Add(1)
		case errors.As(err, &rerr):
			l.mu.Lock()
			l.replyErrs = append(l.replyErrs, err.Error())
			l.mu.Unlock()
		default: // the connection: the master is gone or restarting
			l.connErrs.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// op is one write of writer w: strings (overwritten, deleted, with
// TTLs), a counter, hashes, MULTI/EXEC blocks, in databases 0 and 3, and
// SQL transactions in both.
func (l *faultLoad) op(ctx context.Context, w, i int, c0, c3 *redis.Client) error {
	val := fmt.Sprintf("v%d.%d-%s", w, i, strings.Repeat("x", i%50))
	switch i % 8 {
	case 0:
		return c0.Set(ctx, fmt.Sprintf("s:%d:%d", w, i%400), val, 0).Err()
	case 1:
		return c0.Incr(ctx, fmt.Sprintf("ctr:%d", w)).Err()
	case 2:
		return c3.HSet(ctx, fmt.Sprintf("h:%d:%d", w, i%16), fmt.Sprintf("f%d", i%64), val).Err()
	case 3:
		return c3.Set(ctx, fmt.Sprintf("t:%d:%d", w, i%300), val, time.Hour).Err()
	case 4, 6:
		c := c0
		if i%8 == 6 {
			c = c3
		}
		id := l.nextID.Add(1)
		return c.Do(ctx, "SQL", faultSQLTxn, id, w, id, w).Err()
	case 5:
		if i%16 == 13 { // a MULTI/EXEC block: one atomic entry of the stream
			_, err := c0.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HIncrBy(ctx, fmt.Sprintf("hc:%d", w), "tx", 1)
				p.Set(ctx, fmt.Sprintf("s:%d:%d", w, i%400), val, 0)
				p.Incr(ctx, fmt.Sprintf("ctr:%d", w))
				return nil
			})
			return err
		}
		return c0.HIncrBy(ctx, fmt.Sprintf("hc:%d", w), fmt.Sprintf("f%d", i%8), 1).Err()
	default:
		if i%16 == 7 {
			return c0.Del(ctx, fmt.Sprintf("s:%d:%d", w, (i*7)%400)).Err()
		}
		return c0.PExpire(ctx, fmt.Sprintf("s:%d:%d", w, (i*3)%400), 2*time.Hour).Err()
	}
}

// waitOp is one write followed by WAIT 1 on the same connection (one
// pipeline): when WAIT answers 1 the write is recorded as acknowledged.
// Keys and fields are never reused, so each acknowledged write can be
// checked on its own.
func (l *faultLoad) waitOp(ctx context.Context, w, i int, c0, c3 *redis.Client) error {
	val := fmt.Sprintf("v%d.%d", w, i)
	c := c0
	a := faultAck{kind: "sihq"[i%4], key: fmt.Sprintf("w:%d:%d", w, i), val: val}
	if a.kind == 'h' {
		c, a.db, a.key, a.field = c3, 3, fmt.Sprintf("wh:%d:%d", w, i/100), fmt.Sprintf("f%d", i)
	}
	if a.kind == 'i' {
		a.key = fmt.Sprintf("wctr:%d", w)
	}
	pipe := c.Pipeline()
	var write *redis.Cmd
	switch a.kind {
	case 's':
		write = pipe.Do(ctx, "SET", a.key, a.val)
	case 'i':
		write = pipe.Do(ctx, "INCR", a.key)
	case 'h':
		write = pipe.Do(ctx, "HSET", a.key, a.field, a.val)
	case 'q':
		a.n = l.nextID.Add(1)
		write = pipe.Do(ctx, "SQL", faultSQLTxn, a.n, w, a.n, w)
	}
	wait := pipe.Do(ctx, "WAIT", 1, 3000)
	if _, err := pipe.Exec(ctx); err != nil {
		if write.Err() != nil {
			return write.Err()
		}
		return err
	}
	if a.kind == 'i' {
		a.n, _ = write.Int64()
	}
	n, err := wait.Int64()
	if err != nil {
		return err
	}
	l.mu.Lock()
	if n >= 1 {
		l.acks = append(l.acks, a)
	} else {
		l.waitZero++
	}
	l.mu.Unlock()
	return nil
}

// waitWrites waits until the writers have n acknowledged writes; an error
// reply (never expected) ends the test at once.
func (l *faultLoad) waitWrites(t *testing.T, n int64) {
	t.Helper()
	faultPoll(t, 60*time.Second, fmt.Sprintf("%d writes", n), func() (bool, string) {
		return l.writes.Load() >= n || len(l.errors()) > 0, fmt.Sprintf("%d writes, %d connection errors",
			l.writes.Load(), l.connErrs.Load())
	})
	if errs := l.errors(); len(errs) > 0 {
		t.Fatalf("writers got %d error replies, e.g. %q", len(errs), errs[:min(len(errs), 5)])
	}
}

func (l *faultLoad) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.replyErrs)
}

// waitDone waits until the writers made their limit of writes.
func (l *faultLoad) waitDone(t *testing.T) {
	t.Helper()
	l.waitWrites(t, l.limit)
}

// pause waits for the writes in flight and holds the next ones.
func (l *faultLoad) pause() {
	l.gate.Lock()
	l.paused.Store(true)
}

func (l *faultLoad) resume() {
	l.paused.Store(false)
	l.gate.Unlock()
}

// stop ends the writers (also paused ones: a test that failed while they
// were paused) and waits for them.
func (l *faultLoad) stop() {
	if l.stopped.Swap(true) {
		return
	}
	if l.paused.Load() {
		l.resume()
	}
	l.wg.Wait()
}

// finish stops the writers and checks none got an error reply.
func (l *faultLoad) finish(t *testing.T) {
	t.Helper()
	l.stop()
	if errs := l.errors(); len(errs) > 0 {
		t.Errorf("writers got %d error replies, e.g. %q", len(errs), errs[:min(len(errs), 5)])
	}
	t.Logf("load: %d writes acknowledged, %d connection errors", l.writes.Load(), l.connErrs.Load())
}

// faultReader reads a replica's SQL tables (databases 0 and 3) in a loop
// while the faults happen: every read must succeed (before the table exists
// or after an empty master's sync, "no such table") and see whole
// transactions only, an even number of rows (each writes two).
type faultReader struct {
	stopped atomic.Bool
	wg      sync.WaitGroup
	reads   atomic.Int64 // successful (the table existed)
	noTable atomic.Int64
	mu      sync.Mutex
	bad     []string
	slowest time.Duration
}

func faultStartReader(t *testing.T, n *faultNode) *faultReader {
	rd := &faultReader{}
	for _, db := range []int{0, 3} {
		c := n.dbClient(t, db)
		rd.wg.Go(func() {
			ctx := context.Background()
			for !rd.stopped.Load() {
				t0 := time.Now()
				v, err := c.Do(ctx, "SQL.EXEC", defaultSQLKey, "SELECT count(*) FROM t").Result()
				if d := time.Since(t0); err == nil || !isConnErr(err) {
					rd.mu.Lock()
					rd.slowest = max(rd.slowest, d)
					rd.mu.Unlock()
				}
				var rerr redis.Error
				switch {
				case errors.As(err, &rerr):
					if !strings.Contains(err.Error(), "no such table") {
						rd.note(fmt.Sprintf("db %d: %v", db, err))
					}
					rd.noTable.Add(1)
				case err != nil: // the connection (a restarted replica)
					time.Sleep(20 * time.Millisecond)
				default:
					rows, _ := v.([]any)
					var row []any
					if len(rows) == 2 {
						row, _ = rows[1].([]any)
					}
					if len(row) != 1 {
						rd.note(fmt.Sprintf("db %d: reply %v", db, v))
					} else if cnt, _ := row[0].(int64); cnt%2 != 0 {
						rd.note(fmt.Sprintf("db %d: %d rows, half a transaction", db, cnt))
					}
					rd.reads.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	t.Cleanup(rd.stop)
	return rd
}

func (rd *faultReader) note(s string) {
	rd.mu.Lock()
	rd.bad = append(rd.bad, s)
	rd.mu.Unlock()
}

func (rd *faultReader) stop() {
	rd.stopped.Store(true)
	rd.wg.Wait()
}

// finish stops the reader and checks what it saw.
func (rd *faultReader) finish(t *testing.T, name string) {
	t.Helper()
	rd.stop()
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if len(rd.bad) > 0 {
		t.Errorf("SQL reads on %s: %d bad, e.g. %q", name, len(rd.bad), rd.bad[:min(len(rd.bad), 5)])
	}
	t.Logf("SQL reads on %s: %d, %d before the table existed; slowest %v", name, rd.reads.Load(), rd.noTable.Load(),
		rd.slowest.Round(time.Millisecond))
}

// isConnErr reports whether err is not an error reply.
func isConnErr(err error) bool {
	var rerr redis.Error
	return err != nil && !errors.As(err, &rerr)
}

// faultItem is one key as a dump holds it.
type faultItem struct {
	typ  string
	pexp int64 // PEXPIRETIME
	val  any   // string, map[string]string (hash), []string (list, sorted set, zset)
}

// faultDump is every key of every database: db -> key -> item.
type faultDump map[int]map[string]faultItem

// faultDBs returns the databases holding keys on any of the nodes.
func faultDBs(t *testing.T, nodes ...*faultNode) []int {
	t.Helper()
	set := map[int]bool{}
	for _, n := range nodes {
		for k := range n.info(t, "keyspace") {
			if d, ok := strings.CutPrefix(k, "db"); ok {
				if i, err := strconv.Atoi(d); err == nil {
					set[i] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// faultDumpNode reads every key of the databases dbs: SCAN, TYPE,
// PEXPIRETIME and the value.
func faultDumpNode(t *testing.T, n *faultNode, dbs []int) faultDump {
	t.Helper()
	ctx := context.Background()
	d := faultDump{}
	for _, db := range dbs {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(n.port), Protocol: 2, DB: db,
			MaxRetries: -1, ReadTimeout: 60 * time.Second})
		keys := map[string]bool{}
		var cursor uint64
		for {
			ks, next, err := c.Scan(ctx, cursor, "", 1000).Result()
			if err != nil {
				c.Close()
				t.Fatalf("%s: SCAN db %d: %v", n.name, db, err)
			}
			for _, k := range ks {
				keys[k] = true
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		items := map[string]faultItem{}
		sorted := slices.Sorted(maps.Keys(keys))
		for len(sorted) > 0 {
			batch := sorted[:min(len(sorted), 500)]
			sorted = sorted[len(batch):]
			pipe := c.Pipeline()
			types := make([]*redis.StatusCmd, len(batch))
			pexps := make([]*redis.Cmd, len(batch))
			for i, k := range batch {
				types[i] = pipe.Type(ctx, k)
				pexps[i] = pipe.Do(ctx, "PEXPIRETIME", k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				c.Close()
				t.Fatalf("%s: db %d: TYPE/PEXPIRETIME: %v", n.name, db, err)
			}
			pipe = c.Pipeline()
			vals := make([]redis.Cmder, len(batch))
			for i, k := range batch {
				switch types[i].Val() {
				case "string":
					vals[i] = pipe.Get(ctx, k)
				case "hash":
					vals[i] = pipe.HGetAll(ctx, k)
				case "list":
					vals[i] = pipe.LRange(ctx, k, 0, -1)
				case "set":
					vals[i] = pipe.SMembers(ctx, k)
				case "zset":
					vals[i] = pipe.Do(ctx, "ZRANGE", k, 0, -1, "WITHSCORES")
				}
			}
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				c.Close()
				t.Fatalf("%s: db %d: reading values: %v", n.name, db, err)
			}
			for i, k := range batch {
				it := faultItem{typ: types[i].Val()}
				it.pexp, _ = pexps[i].Int64()
				switch v := vals[i].(type) {
				case *redis.StringCmd:
					it.val = v.Val()
				case *redis.MapStringStringCmd:
					it.val = v.Val()
				case *redis.StringSliceCmd:
					s := v.Val()
					if it.typ == "set" {
						slices.Sort(s)
					}
					it.val = s
				case *redis.Cmd:
					it.val = fmt.Sprint(v.Val())
				}
				if it.typ == "none" {
					continue // expired or deleted meanwhile (never, with the writers stopped)
				}
				items[k] = it
			}
		}
		c.Close()
		d[db] = items
	}
	return d
}

// faultDiff describes how got differs from want, at most limit items.
func faultDiff(want, got faultDump, limit int) []string {
	var diff []string
	add := func(s string) {
		if len(diff) < limit {
			diff = append(diff, s)
		} else if len(diff) == limit {
			diff = append(diff, "…")
		}
	}
	dbs := map[int]bool{}
	for db := range want {
		dbs[db] = true
	}
	for db := range got {
		dbs[db] = true
	}
	for _, db := range slices.Sorted(maps.Keys(dbs)) {
		w, g := want[db], got[db]
		if len(w) != len(g) {
			add(fmt.Sprintf("db %d: %d keys, want %d", db, len(g), len(w)))
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			wi := w[k]
			gi, ok := g[k]
			switch {
			case !ok:
				add(fmt.Sprintf("db %d: %q missing", db, k))
			case gi.typ != wi.typ:
				add(fmt.Sprintf("db %d: %q is a %s, want %s", db, k, gi.typ, wi.typ))
			case gi.pexp != wi.pexp:
				add(fmt.Sprintf("db %d: %q PEXPIRETIME %d, want %d", db, k, gi.pexp, wi.pexp))
			case !reflect.DeepEqual(gi.val, wi.val):
				if wh, ok := wi.val.(map[string]string); ok {
					add(fmt.Sprintf("db %d: hash %q: %s", db, k, describeDiff(wh, gi.val)))
				} else {
					add(fmt.Sprintf("db %d: %q = %.80q, want %.80q", db, k, fmt.Sprint(gi.val), fmt.Sprint(wi.val)))
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(g)) {
			if _, ok := w[k]; !ok {
				add(fmt.Sprintf("db %d: extra key %q", db, k))
			}
		}
	}
	return diff
}

// faultAssertIdentical waits until the replicas have the master's whole
// stream, then compares full dumps of every database and checks every SQL
// database's integrity on each replica.
func faultAssertIdentical(t *testing.T, master *faultNode, replicas ...*faultNode) {
	t.Helper()
	faultWaitSynced(t, master, replicas...)
	dbs := faultDBs(t, append([]*faultNode{master}, replicas...)...)
	want := faultDumpNode(t, master, dbs)
	var sizes []string
	pages := 0
	for _, db := range dbs {
		sizes = append(sizes, fmt.Sprintf("db%d=%d", db, len(want[db])))
		for _, it := range want[db] {
			if h, ok := it.val.(map[string]string); ok && it.typ == "hash" {
				if _, ok := h["0"]; ok {
					pages += len(h)
				}
			}
		}
	}
	t.Logf("%s: keys %s, %d SQL pages", master.name, strings.Join(sizes, " "), pages)
	if len(want) == 0 {
		t.Errorf("%s holds no data: nothing was compared", master.name)
	}
	for _, r := range replicas {
		got := faultDumpNode(t, r, dbs)
		if diff := faultDiff(want, got, 12); len(diff) > 0 {
			t.Errorf("%s differs from %s:\n  %s", r.name, master.name, strings.Join(diff, "\n  "))
		}
		for _, db := range dbs {
			for k, it := range got[db] {
				if h, ok := it.val.(map[string]string); ok && it.typ == "hash" && h["0"] != "" &&
					strings.HasPrefix(h["0"], "SQLite format 3\x00") {
					c := r.dbClient(t, db)
					checkIntegrity(t, c, k)
				}
			}
		}
	}
}

// faultFillBig gives master a sizable data set: 100k string keys in
// database 1 and a SQL database of about 24 MB at key "bigsql", so a full
// sync takes long enough to be interrupted.
func faultFillBig(t *testing.T, m *faultNode) {
	t.Helper()
	ctx := context.Background()
	c1 := m.dbClient(t, 1)
	pipe := c1.Pipeline()
	pad := strings.Repeat("p", 100)
	for b := range 100 {
		args := make([]any, 0, 2000)
		for i := range 1000 {
			args = append(args, fmt.Sprintf("bulk:%d:%d", b, i), pad+strconv.Itoa(i))
		}
		pipe.MSet(ctx, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	faultDo(t, m, "SQL.EXEC", "bigsql", "CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB)")
	faultDo(t, m, "SQL.EXEC", "bigsql", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 12000) "+
		"INSERT INTO b SELECT x, randomblob(2000) FROM c")
}

// TestReplFaultKillFullSync: the link is killed while the replica loads a
// 100k-key, 24 MB SQL snapshot (master_sync_in_progress:1 and bytes read),
// with writers running: twice with the diskless ($EOF) form, once with the
// RDB file sent in the $<len> form. The replica starts over with a full
// sync each time (no partial resync of a half-loaded snapshot) and ends
// identical.
func TestReplFaultKillFullSync(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		kills int
	}{
		{"diskless", nil, 2},
		{"disk", []string{"--repl-diskless-sync", "no"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := faultStart(t, "master", faultMasterArgs(tc.args...)...)
			faultFillBig(t, m)
			load := faultStartLoad(t, m.port, 4, false)
			load.waitWrites(t, 500)
			r := faultStart(t, "replica", faultReplicaArgs(m.port)...)
			sqlReader := faultStartReader(t, r)
			for kill := range tc.kills {
				// Mid-transfer: the master started the (kill+1)th full
				// sync and the replica reports it in progress with bytes
				// read.
				faultPoll(t, 30*time.Second, "the replica loading the snapshot", func() (bool, string) {
					full := m.syncStats(t).full
					inf := r.info(t, "replication")
					read, _ := strconv.ParseInt(inf["master_sync_read_bytes"], 10, 64)
					return full == int64(kill+1) && inf["master_sync_in_progress"] == "1" && read > 0,
						fmt.Sprintf("master's sync_full %d; replica: link %s, sync in progress %s, read %s of %s", full,
							inf["master_link_status"], inf["master_sync_in_progress"], inf["master_sync_read_bytes"],
							inf["master_sync_total_bytes"])
				})
				faultKill(t, m, "replica")
				t.Logf("kill %d: link killed mid-sync after %d writes", kill, load.writes.Load())
			}
			faultWaitLinked(t, r)
			// The interrupted full syncs and the one that finished.
			if st := m.syncStats(t); st.full != int64(tc.kills+1) || st.partialOK != 0 {
				t.Errorf("master's %v, want %d full syncs and no partial one (was a kill after the load?)", st, tc.kills+1)
			}
			load.waitDone(t)
			load.finish(t)
			sqlReader.finish(t, r.name)
			faultAssertIdentical(t, m, r)
		})
	}
}

// TestReplFaultKillStream: the link is killed four times mid-stream, from
// either end, under load; each time the replica continues with a partial
// resync (INFO stats sync_partial_ok), never a full one, and ends
// identical.
func TestReplFaultKillStream(t *testing.T) {
	m := faultStart(t, "master", faultMasterArgs()...)
	r := faultStart(t, "replica", faultReplicaArgs(m.port)...)
	faultWaitLinked(t, r)
	sqlReader := faultStartReader(t, r)
	base := m.syncStats(t)
	load := faultStartLoad(t, m.port, 4, false)
	for kill := range 4 {
		load.waitWrites(t, int64(kill+1)*2000)
		if kill%2 == 0 {
			faultKill(t, r, "master")
		} else {
			faultKill(t, m, "replica")
		}
		faultPoll(t, 30*time.Second, "a partial resync", func() (bool, string) {
			d := m.syncStats(t).minus(base)
			return d.partialOK == int64(kill+1) && r.info(t, "replication")["master_link_status"] == "up", d.String()
		})
	}
	load.waitDone(t)
	load.finish(t)
	if d := m.syncStats(t).minus(base); d != (faultSyncStats{0, 4, 0}) {
		t.Errorf("master's stats changed by %v, want 4 partial resyncs only", d)
	}
	sqlReader.finish(t, r.name)
	faultAssertIdentical(t, m, r)
}

// TestReplFaultRestartReplica: the replica process is stopped (SIGTERM,
// then SIGKILL) and started again with the same arguments under load, in
// memory and with an AOF (it restarts with its data, which the sync then
// replaces); it synchronizes again and ends identical.
func TestReplFaultRestartReplica(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"in-memory", nil},
		{"appendonly", []string{"--appendonly", "yes", "--appendfsync", "everysec", "--dir", "."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := faultStart(t, "master", faultMasterArgs()...)
			r := faultStart(t, "replica", faultReplicaArgs(m.port, tc.args...)...)
			faultWaitLinked(t, r)
			base := m.syncStats(t)
			load := faultStartLoad(t, m.port, 4, false)
			load.waitWrites(t, 2500)
			r.sigterm(t)
			r.start(t)
			faultWaitLinked(t, r)
			load.waitWrites(t, 6000)
			r.kill(t)
			r.start(t)
			faultWaitLinked(t, r)
			load.waitDone(t)
			load.finish(t)
			d := m.syncStats(t).minus(base)
			if d.full+d.partialOK != 2 {
				t.Errorf("master's stats changed by %v, want two synchronizations", d)
			}
			t.Logf("master's stats changed by %v", d)
			faultAssertIdentical(t, m, r)
		})
	}
}

// TestReplFaultRestartMaster: the master process is restarted under load
// (a new process: a new replication id), so the replica's PSYNC cannot
// continue and it does a full sync from the new master, and so does the
// replica chained behind it. Without persistence the new master starts
// empty and so must the replicas; with an AOF it restarts with its data
// and the replicas get it back.
func TestReplFaultRestartMaster(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		stop     func(*faultNode, *testing.T)
		keepData bool
	}{
		{"in-memory-sigkill", nil, (*faultNode).kill, false},
		{"appendonly-sigterm", []string{"--appendonly", "yes", "--appendfsync", "everysec", "--dir", "."}, (*faultNode).sigterm, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := faultStart(t, "master", faultMasterArgs(tc.args...)...)
			r := faultStart(t, "replica", faultReplicaArgs(m.port)...)
			faultWaitLinked(t, r)
			r2 := faultStart(t, "chained", faultReplicaArgs(r.port)...)
			faultWaitLinked(t, r2)
			sqlReader := faultStartReader(t, r2)
			faultDo(t, m, "SET", "marker", "from the first master")
			load := faultStartLoad(t, m.port, 4, false)
			load.waitWrites(t, 3000)
			faultWaitSynced(t, m, r, r2)
			if got, _ := r.c.Get(context.Background(), "marker").Result(); got != "from the first master" {
				t.Fatalf("replica's marker = %q before the restart", got)
			}
			if !tc.keepData {
				// Writes wait while the master is down, so the replica
				// can be seen empty after its sync with the new master.
				load.pause()
			}
			oldID := m.info(t, "replication")["master_replid"]
			tc.stop(m, t)
			m.start(t)
			newID := m.info(t, "replication")["master_replid"]
			if newID == oldID {
				t.Fatalf("the restarted master kept replid %s", oldID)
			}
			faultPoll(t, 30*time.Second, "the replica following the new master", func() (bool, string) {
				inf := r.info(t, "replication")
				return inf["master_link_status"] == "up" && inf["master_replid"] == newID,
					fmt.Sprintf("link %s, replid %s (new master's %s)", inf["master_link_status"], inf["master_replid"], newID)
			})
			if st := m.syncStats(t); st.full != 1 || st.partialOK != 0 {
				t.Errorf("new master's %v, want exactly one full sync", st)
			}
			if !tc.keepData {
				faultWaitSynced(t, m, r, r2)
				if dbs := faultDBs(t, r, r2); len(dbs) != 0 {
					t.Errorf("replicas of the empty new master hold keys in databases %v", dbs)
				}
				load.resume()
			}
			load.waitDone(t)
			load.finish(t)
			sqlReader.finish(t, r2.name)
			faultAssertIdentical(t, m, r, r2)
			got, err := r.c.Get(context.Background(), "marker").Result()
			if tc.keepData && got != "from the first master" {
				t.Errorf("replica's marker = %q, %v; want the data the master restarted with", got, err)
			}
			if !tc.keepData && !errors.Is(err, redis.Nil) {
				t.Errorf("replica's marker = %q, %v; want it gone with the empty master's full sync", got, err)
			}
		})
	}
}

// TestReplFaultPromote: with writes paused and the replicas caught up, a
// replica is promoted (REPLICAOF NO ONE) and the writers move to it; the
// old master and the other replica are re-pointed at it and both continue
// with partial resyncs through its replid2 (the old master's replid).
func TestReplFaultPromote(t *testing.T) {
	// No PINGs in the stream: the old master's offset must not move
	// between the check that the replicas caught up and the promotion.
	quiet := []string{"--repl-ping-replica-period", "3600"}
	m := faultStart(t, "old-master", faultMasterArgs(quiet...)...)
	r1 := faultStart(t, "promoted", faultReplicaArgs(m.port, quiet...)...)
	r2 := faultStart(t, "replica2", faultReplicaArgs(m.port, quiet...)...)
	sqlReader := faultStartReader(t, r2)
	load := faultStartLoad(t, m.port, 4, false)
	load.waitWrites(t, 4000)
	load.pause()
	faultWaitSynced(t, m, r1, r2)
	oldID := m.info(t, "replication")["master_replid"]
	base := r1.syncStats(t)
	faultDo(t, r1, "REPLICAOF", "NO", "ONE")
	load.port.Store(int64(r1.port))
	load.resume()
	if inf := r1.info(t, "replication"); inf["role"] != "master" || inf["master_replid2"] != oldID {
		t.Errorf("promoted: role %s, master_replid2 %s; want master, the old master's replid %s",
			inf["role"], inf["master_replid2"], oldID)
	}
	faultDo(t, m, "REPLICAOF", "127.0.0.1", strconv.Itoa(r1.port))
	faultDo(t, r2, "REPLICAOF", "127.0.0.1", strconv.Itoa(r1.port))
	faultPoll(t, 30*time.Second, "both re-pointed nodes continuing", func() (bool, string) {
		d := r1.syncStats(t).minus(base)
		return d.partialOK >= 2 && r1.info(t, "replication")["connected_slaves"] == "2", d.String()
	})
	load.waitDone(t)
	load.finish(t)
	if d := r1.syncStats(t).minus(base); d != (faultSyncStats{0, 2, 0}) {
		t.Errorf("promoted replica's stats changed by %v, want 2 partial resyncs (old master, replica2) only", d)
	}
	newID := r1.info(t, "replication")["master_replid"]
	for _, n := range []*faultNode{m, r2} {
		if inf := n.info(t, "replication"); inf["role"] != "slave" || inf["master_replid"] != newID {
			t.Errorf("%s: role %s, master_replid %s; want slave following %s", n.name, inf["role"], inf["master_replid"], newID)
		}
	}
	sqlReader.finish(t, r2.name)
	faultAssertIdentical(t, r1, m, r2)
}

// TestReplFaultChain: master → replica1 → replica2. Writes on the master
// reach replica2; killing the link replica1→master and then the link
// replica2→replica1 mid-stream is repaired by partial resyncs at each hop,
// and all three end identical. Then replica1 is promoted and replica2
// continues with it partially.
func TestReplFaultChain(t *testing.T) {
	m := faultStart(t, "master", faultMasterArgs()...)
	r1 := faultStart(t, "replica1", faultReplicaArgs(m.port)...)
	faultWaitLinked(t, r1)
	// replica1's stream has database 3 selected when replica2 syncs from
	// it: replica2 must apply what follows (no SELECT) to database 3 too
	// (the snapshot's repl-stream-db).
	ctx := context.Background()
	if err := m.dbClient(t, 3).Set(ctx, "chain:a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	faultWaitSynced(t, m, r1)
	r2 := faultStart(t, "replica2", faultReplicaArgs(r1.port)...)
	faultWaitSynced(t, m, r1, r2)
	if err := m.dbClient(t, 3).Set(ctx, "chain:b", "2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	faultWaitSynced(t, m, r1, r2)
	if got, err := r2.dbClient(t, 3).Get(ctx, "chain:b").Result(); got != "2" {
		t.Errorf("replica2: GET chain:b in db 3 = %q, %v; want 2 (a write after its sync, with db 3 selected)", got, err)
	}
	baseM, base1 := m.syncStats(t), r1.syncStats(t)
	sqlReader := faultStartReader(t, r2)
	load := faultStartLoad(t, m.port, 4, false)
	load.waitWrites(t, 3000)
	faultKill(t, r1, "master")
	faultPoll(t, 30*time.Second, "replica1's partial resync", func() (bool, string) {
		d := m.syncStats(t).minus(baseM)
		return d.partialOK == 1 && r1.info(t, "replication")["master_link_status"] == "up", d.String()
	})
	load.waitWrites(t, 6000)
	faultKill(t, r2, "master")
	faultPoll(t, 30*time.Second, "replica2's partial resync", func() (bool, string) {
		d := r1.syncStats(t).minus(base1)
		return d.partialOK == 1 && r2.info(t, "replication")["master_link_status"] == "up", d.String()
	})
	load.waitWrites(t, 8000)
	faultKill(t, m, "replica") // replica1's link again, replica2 attached
	faultPoll(t, 30*time.Second, "replica1's second partial resync", func() (bool, string) {
		d := m.syncStats(t).minus(baseM)
		return d.partialOK == 2 && r1.info(t, "replication")["master_link_status"] == "up", d.String()
	})
	load.waitDone(t)
	load.finish(t)
	if d := m.syncStats(t).minus(baseM); d != (faultSyncStats{0, 2, 0}) {
		t.Errorf("master's stats changed by %v, want 2 partial resyncs only", d)
	}
	if d := r1.syncStats(t).minus(base1); d != (faultSyncStats{0, 1, 0}) {
		t.Errorf("replica1's stats changed by %v, want 1 partial resync only", d)
	}
	if got := r2.info(t, "replication")["master_port"]; got != strconv.Itoa(r1.port) {
		t.Errorf("replica2's master_port = %s, want replica1's %d", got, r1.port)
	}
	sqlReader.finish(t, r2.name)
	faultAssertIdentical(t, m, r1, r2)

	// replica1 promoted: replica2, told of the new replid, continues
	// partially and gets replica1's own writes.
	base1 = r1.syncStats(t)
	faultDo(t, r1, "REPLICAOF", "NO", "ONE")
	faultPoll(t, 30*time.Second, "replica2 continuing with the promoted replica1", func() (bool, string) {
		d := r1.syncStats(t).minus(base1)
		inf := r2.info(t, "replication")
		return d.partialOK == 1 && inf["master_link_status"] == "up" && inf["master_replid"] == r1.info(t, "replication")["master_replid"],
			fmt.Sprintf("%v; replica2's link %s", d, inf["master_link_status"])
	})
	if err := r1.dbClient(t, 3).Set(ctx, "chain:promoted", "3", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if d := r1.syncStats(t).minus(base1); d != (faultSyncStats{0, 1, 0}) {
		t.Errorf("promoted replica1's stats changed by %v, want 1 partial resync only", d)
	}
	faultAssertIdentical(t, r1, r2)
}

// TestReplFaultWaitAcked: every write is followed by WAIT 1 on its
// connection; the link is killed from both ends, the replica is stopped
// for a moment (WAIT must then time out with 0), and finally the master is
// SIGKILLed with writers running. The replica must hold every write WAIT
// acknowledged.
func TestReplFaultWaitAcked(t *testing.T) {
	m := faultStart(t, "master", faultMasterArgs()...)
	r := faultStart(t, "replica", faultReplicaArgs(m.port)...)
	faultWaitLinked(t, r)
	load := faultStartLoad(t, m.port, 8, true)
	load.waitWrites(t, 3000)
	faultKill(t, m, "replica")
	load.waitWrites(t, 5000)
	faultWaitLinked(t, r)
	faultKill(t, r, "master")
	load.waitWrites(t, 7000)
	faultWaitLinked(t, r)

	// WAIT counts only replicas that acknowledged: with the replica
	// stopped (SIGSTOP), a write's WAIT 1 times out with 0, and once it
	// runs again WAIT 1 returns 1.
	ctx := context.Background()
	probe := m.c.Conn()
	defer probe.Close()
	faultStop(t, r)
	if err := probe.Set(ctx, "probe", "while stopped", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := probe.Do(ctx, "WAIT", 1, 300).Int64()
	r.p.cmd.Process.Signal(syscall.SIGCONT)
	if err != nil || got != 0 {
		t.Errorf("WAIT 1 300 with the replica stopped = %d, %v; want 0", got, err)
	}
	if got, err := probe.Do(ctx, "WAIT", 1, 10000).Int64(); err != nil || got != 1 {
		t.Errorf("WAIT 1 10000 with the replica running again = %d, %v; want 1", got, err)
	}
	load.waitWrites(t, faultWrites-1000)
	m.kill(t) // with the writers still writing
	load.finish(t)

	load.mu.Lock()
	acks, zero := load.acks, load.waitZero
	load.mu.Unlock()
	t.Logf("%d writes acknowledged by WAIT 1, %d not", len(acks), zero)
	if len(acks) < faultWrites/2 {
		t.Errorf("only %d writes acknowledged by WAIT: the test checks too little", len(acks))
	}
	c0, c3 := r.dbClient(t, 0), r.dbClient(t, 3)
	ids := map[int64]bool{}
	for _, row := range sqlRows(t, c0, defaultSQLKey, "SELECT id, count(*) FROM t GROUP BY id") {
		if row[1] != int64(2) {
			t.Errorf("replica: SQL id %v has %v rows, want 2", row[0], row[1])
		}
		ids[row[0].(int64)] = true
	}
	lost := 0
	report := func(format string, args ...any) {
		if lost++; lost <= 10 {
			t.Errorf("acknowledged by WAIT, not on the replica: "+format, args...)
		}
	}
	pipe0, pipe3 := c0.Pipeline(), c3.Pipeline()
	cmds := make([]*redis.Cmd, len(acks))
	for i, a := range acks {
		switch a.kind {
		case 's', 'i':
			cmds[i] = pipe0.Do(ctx, "GET", a.key)
		case 'h':
			cmds[i] = pipe3.Do(ctx, "HGET", a.key, a.field)
		}
	}
	pipe0.Exec(ctx)
	pipe3.Exec(ctx)
	for i, a := range acks {
		switch a.kind {
		case 's', 'h':
			if got, err := cmds[i].Text(); got != a.val {
				report("%c %q %q = %q, %v; want %q", a.kind, a.key, a.field, got, err, a.val)
			}
		case 'i':
			if got, err := cmds[i].Int64(); got < a.n {
				report("INCR %q returned %d, the replica has %d, %v", a.key, a.n, got, err)
			}
		case 'q':
			if !ids[a.n] {
				report("SQL transaction id %d", a.n)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes lost", lost, len(acks))
	}
	checkIntegrity(t, c0, defaultSQLKey)
	checkIntegrity(t, c3, defaultSQLKey)
}

// TestReplFaultKillMidTransaction: the link breaks when the replica has
// read only the start of a MULTI/EXEC block of the stream: the replica is
// stopped (SIGSTOP) while the master executes a 30 MB transaction, the
// master kills the link, and the replica runs again and reads what its
// socket got before the end. After the partial resync it must hold the
// whole transaction: like Redis (which does not count a transaction's
// commands in the replica's offset before its EXEC), a partially received
// transaction is not part of the offset it continues from.
func TestReplFaultKillMidTransaction(t *testing.T) {
	m := faultStart(t, "master", faultMasterArgs()...)
	r := faultStart(t, "replica", faultReplicaArgs(m.port)...)
	faultWaitLinked(t, r)
	ctx := context.Background()
	faultDo(t, m, "SET", "before", "1")
	faultWaitSynced(t, m, r)
	base := m.syncStats(t)
	faultStop(t, r)
	big := strings.Repeat("x", 100000)
	if _, err := m.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 300 {
			p.Set(ctx, fmt.Sprintf("big:%d", i), big, 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	faultKill(t, m, "replica")
	faultCont(t, r)
	faultPoll(t, 30*time.Second, "a partial resync", func() (bool, string) {
		d := m.syncStats(t).minus(base)
		return d.partialOK == 1 && r.info(t, "replication")["master_link_status"] == "up", d.String()
	})
	faultAssertIdentical(t, m, r)
	if strings.Contains(r.p.stderr.String(), "EXEC without MULTI") {
		t.Errorf("the replica applied the end of a transaction without its start (EXEC without MULTI in its log)")
	}
}

// TestReplFaultPromoteDiverged: a replica is promoted while the writers
// still write to the old master, which so holds writes the promoted one
// never got; re-pointed at it, the old master cannot continue (its offset
// is past the promoted one's replid2 history): it does a full sync, drops
// its own writes and ends identical to the new master.
func TestReplFaultPromoteDiverged(t *testing.T) {
	m := faultStart(t, "old-master", faultMasterArgs()...)
	r1 := faultStart(t, "promoted", faultReplicaArgs(m.port)...)
	faultWaitLinked(t, r1)
	load := faultStartLoad(t, m.port, 4, false)
	load.waitWrites(t, 3000)
	faultDo(t, r1, "REPLICAOF", "NO", "ONE")
	faultDo(t, m, "SET", "diverged", "only on the old master")
	load.waitWrites(t, 4000) // more writes the promoted replica never sees
	load.pause()
	load.port.Store(int64(r1.port))
	load.resume()
	base := r1.syncStats(t)
	faultDo(t, m, "REPLICAOF", "127.0.0.1", strconv.Itoa(r1.port))
	faultPoll(t, 30*time.Second, "the old master's full sync", func() (bool, string) {
		d := r1.syncStats(t).minus(base)
		inf := m.info(t, "replication")
		return d.full == 1 && inf["master_link_status"] == "up", fmt.Sprintf("%v; old master's link %s", d, inf["master_link_status"])
	})
	load.waitDone(t)
	load.finish(t)
	if d := r1.syncStats(t).minus(base); d != (faultSyncStats{1, 0, 1}) {
		t.Errorf("promoted replica's stats changed by %v, want 1 refused PSYNC and 1 full sync", d)
	}
	faultAssertIdentical(t, r1, m)
	if n, err := m.c.Exists(context.Background(), "diverged").Result(); err != nil || n != 0 {
		t.Errorf("old master: EXISTS diverged = %d, %v; want 0 (its own writes are replaced by the sync)", n, err)
	}
}

// TestReplFaultStalled: one end of the link stops answering (SIGSTOP)
// under load for longer than repl-timeout. A stopped master: the replica
// notices the silence (master_link_status:down), and once the master runs
// again continues with a partial resync. A stopped replica: the master
// drops it as timed out (connected_slaves:0), and once it runs again it
// continues with a partial resync. Both end identical.
func TestReplFaultStalled(t *testing.T) {
	// PINGs every second keep an idle link alive under a 3 s timeout.
	args := []string{"--repl-timeout", "3", "--repl-ping-replica-period", "1"}
	for _, stopMaster := range []bool{true, false} {
		name := map[bool]string{true: "master-stopped", false: "replica-stopped"}[stopMaster]
		t.Run(name, func(t *testing.T) {
			m := faultStart(t, "master", faultMasterArgs(args...)...)
			r := faultStart(t, "replica", faultReplicaArgs(m.port, args...)...)
			faultWaitLinked(t, r)
			base := m.syncStats(t)
			load := faultStartLoad(t, m.port, 4, false)
			load.waitWrites(t, 3000)
			if stopMaster {
				faultStop(t, m)
				faultPoll(t, 30*time.Second, "the replica noticing the silent master", func() (bool, string) {
					st := r.info(t, "replication")["master_link_status"]
					return st == "down", "master_link_status:" + st
				})
				faultCont(t, m)
			} else {
				faultStop(t, r)
				faultPoll(t, 30*time.Second, "the master dropping the silent replica", func() (bool, string) {
					n := m.info(t, "replication")["connected_slaves"]
					return n == "0", "connected_slaves:" + n
				})
				faultCont(t, r)
			}
			faultPoll(t, 30*time.Second, "a partial resync", func() (bool, string) {
				d := m.syncStats(t).minus(base)
				return d.partialOK >= 1 && r.info(t, "replication")["master_link_status"] == "up", d.String()
			})
			load.waitDone(t)
			load.finish(t)
			if d := m.syncStats(t).minus(base); d.full != 0 || d.partialOK < 1 {
				t.Errorf("master's stats changed by %v, want partial resyncs only", d)
			}
			faultAssertIdentical(t, m, r)
		})
	}
}
