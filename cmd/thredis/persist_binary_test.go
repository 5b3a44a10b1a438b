package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/redis/go-redis/v9"
)

// Persistence (RDB + AOF) driven through the real binary: crashes
// (SIGKILL) under appendfsync always and everysec, clean restarts in each
// persistence mode, the export-sql / import-sql subcommands with
// SQL.DUMP / SQL.RESTORE, and the defaults a bare command line gets.

const defaultSQLKey = "_sql:redis_db"

// pserver is a running thredis with a go-redis client.
type pserver struct {
	p    *proc
	port int
	c    *redis.Client
}

// startPersist starts thredis on a free port with --dir dir (omitted when
// dir is "") and the extra arguments, and waits until it listens.
func startPersist(t *testing.T, dir string, args ...string) *pserver {
	t.Helper()
	port := freePort(t)
	full := []string{"--port", strconv.Itoa(port)}
	if dir != "" {
		full = append(full, "--dir", dir)
	}
	p := startThredis(t, port, append(full, args...)...)
	return &pserver{p: p, port: port, c: persistClient(t, port)}
}

// persistClient is a RESP2 go-redis client that never retries a command:
// a retried INCR could be applied twice, and the crash tests count every
// acknowledgement.
func persistClient(t *testing.T, port int) *redis.Client {
	t.Helper()
	return goRedis(t, port, redis.Options{Protocol: 2, MaxRetries: -1, DialTimeout: 2 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second})
}

// kill SIGKILLs the process and waits for it to be gone.
func (s *pserver) kill(t *testing.T) {
	t.Helper()
	if err := s.p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("thredis did not die after SIGKILL")
	}
}

// sigterm stops the process with SIGTERM and checks it exits 0.
func (s *pserver) sigterm(t *testing.T) {
	t.Helper()
	if err := s.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.p.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; stderr:\n%s", code, s.p.stderr.String())
	}
}

// shutdown stops the process with the SHUTDOWN command (which closes the
// connection without a reply) and checks it exits 0.
func (s *pserver) shutdown(t *testing.T) {
	t.Helper()
	err := s.c.Do(context.Background(), "SHUTDOWN").Err()
	var rerr redis.Error
	if errors.As(err, &rerr) {
		t.Fatalf("SHUTDOWN replied %v", err)
	}
	if code := s.p.wait(t); code != 0 {
		t.Fatalf("exit code %d after SHUTDOWN; stderr:\n%s", code, s.p.stderr.String())
	}
}

// do runs a command and fails the test on any error.
func do(t *testing.T, c *redis.Client, args ...any) any {
	t.Helper()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// sqlRows runs a SQL.EXEC on key and returns the result rows (the header
// dropped).
func sqlRows(t *testing.T, c *redis.Client, key, query string, params ...any) [][]any {
	t.Helper()
	v := do(t, c, append([]any{"SQL.EXEC", key, query}, params...)...)
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		t.Fatalf("SQL.EXEC %s %q = %#v, want a header and rows", key, query, v)
	}
	rows := make([][]any, 0, len(arr)-1)
	for _, r := range arr[1:] {
		row, ok := r.([]any)
		if !ok {
			t.Fatalf("SQL.EXEC %s %q: row %#v is not an array", key, query, r)
		}
		rows = append(rows, row)
	}
	return rows
}

// checkIntegrity runs PRAGMA integrity_check on the database at key.
func checkIntegrity(t *testing.T, c *redis.Client, key string) {
	t.Helper()
	rows := sqlRows(t, c, key, "PRAGMA integrity_check")
	if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] != "ok" {
		t.Errorf("PRAGMA integrity_check on %s = %v, want ok", key, rows)
	}
}

// infoField returns one field of INFO section.
func infoField(t *testing.T, c *redis.Client, section, name string) string {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO %s has no %s field:\n%s", section, name, info)
	return ""
}

// waitNoJob waits until no BGSAVE or AOF rewrite is running.
func waitNoJob(t *testing.T, c *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for infoField(t, c, "persistence", "aof_rewrite_in_progress") != "0" ||
		infoField(t, c, "persistence", "rdb_bgsave_in_progress") != "0" {
		if time.Now().After(deadline) {
			t.Fatal("background job still running after 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// crashConfig describes one crash test.
type crashConfig struct {
	args           []string      // persistence arguments besides --port and --dir
	rounds         int           // kill/restart cycles
	minRun, maxRun time.Duration // how long the writers run before the kill
	// lossWindow is 0 when no acknowledged write may be lost; otherwise
	// the writes lost by a kill may be at most those acknowledged in the
	// lossWindow before it.
	lossWindow time.Duration
	// rewriteEvery: every so many rounds a BGREWRITEAOF is started at a
	// random moment while the writers run, so some kills hit a rewrite.
	rewriteEvery int
}

// crashWrite is one acknowledged write: an INCR (id 0) or the SQL
// transaction inserting the two rows of id.
type crashWrite struct {
	at time.Time
	id int64
}

// crashRound is what the writers of one round did.
type crashRound struct {
	mu       sync.Mutex
	acked    []crashWrite
	ackIncr  int64
	inflight int64          // INCRs sent without an acknowledgement
	sent     map[int64]bool // SQL ids sent (acknowledged or not)
	ackIDs   map[int64]bool
	errs     []string     // error replies (never expected)
	failures []crashWrite // when writers got a connection error (expected only at the kill)
	failErrs []string
}

// runCrashTest creates a table once, then for cfg.rounds rounds runs 1-4
// writers doing acknowledged INCRs and two-row SQL transactions, SIGKILLs
// thredis after a random time, restarts it on the same directory and
// checks that nothing acknowledged was lost (beyond cfg.lossWindow),
// nothing unacknowledged appeared from nowhere, no transaction is half
// applied, and the database is intact.
func runCrashTest(t *testing.T, cfg crashConfig) {
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("random seed %d", seed)
	ctx := context.Background()
	srv := startPersist(t, dir, cfg.args...)
	do(t, srv.c, "SQL", "CREATE TABLE t (id INTEGER NOT NULL, part INTEGER NOT NULL, pad BLOB)")
	do(t, srv.c, "SQL", "CREATE INDEX t_id ON t (id)")

	var nextID atomic.Int64
	counter := int64(0)           // the counter as of the last restart
	present := map[int64]bool{}   // ids whose two rows exist as of the last restart
	var totalAcked, totalLost int // cumulative, for the log
	var totalAckIncr, totalInflight int64
	start := time.Now()
	for round := range cfg.rounds {
		r := &crashRound{sent: map[int64]bool{}, ackIDs: map[int64]bool{}}
		roundStart := time.Now()
		writers := 1 + rng.IntN(4)
		var wg sync.WaitGroup
		for range writers {
			c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(srv.port), Protocol: 2,
				MaxRetries: -1, PoolSize: 1, DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
				WriteTimeout: 10 * time.Second})
			wg.Go(func() {
				defer c.Close()
				for i := 0; ; i++ {
					if i%2 == 0 {
						err := c.Incr(ctx, "counter").Err()
						now := time.Now()
						r.mu.Lock()
						if err != nil {
							r.inflight++
							r.noteErr(err, now)
							r.mu.Unlock()
							return
						}
						r.ackIncr++
						r.acked = append(r.acked, crashWrite{at: now})
						r.mu.Unlock()
						continue
					}
					id := nextID.Add(1)
					r.mu.Lock()
					r.sent[id] = true
					r.mu.Unlock()
					err := c.Do(ctx, "SQL", "BEGIN; INSERT INTO t VALUES (?, 1, randomblob(48)); "+
						"INSERT INTO t VALUES (?, 2, randomblob(48)); COMMIT", id, id).Err()
					now := time.Now()
					r.mu.Lock()
					if err != nil {
						r.noteErr(err, now)
						r.mu.Unlock()
						return
					}
					r.ackIDs[id] = true
					r.acked = append(r.acked, crashWrite{at: now, id: id})
					r.mu.Unlock()
				}
			})
		}
		run := cfg.minRun + time.Duration(rng.Int64N(int64(cfg.maxRun-cfg.minRun)+1))
		rewrite := cfg.rewriteEvery > 0 && round%cfg.rewriteEvery == cfg.rewriteEvery-1
		rewriteNote := ""
		if rewrite {
			time.Sleep(time.Duration(rng.Int64N(int64(run))))
			if err := srv.c.Do(ctx, "BGREWRITEAOF").Err(); err != nil {
				t.Logf("round %d: BGREWRITEAOF: %v", round, err)
			}
			time.Sleep(time.Duration(rng.Int64N(int64(run)/2 + 1)))
			if infoField(t, srv.c, "persistence", "aof_rewrite_in_progress") == "1" {
				rewriteNote = " (killed during BGREWRITEAOF)"
			} else {
				rewriteNote = " (after BGREWRITEAOF)"
			}
		} else {
			time.Sleep(run)
		}
		killAt := time.Now()
		srv.kill(t)
		wg.Wait()

		restartAt := time.Now()
		srv = startPersist(t, dir, cfg.args...)
		restart := time.Since(restartAt)
		r.mu.Lock()
		if len(r.errs) > 0 {
			t.Errorf("round %d: error replies: %q", round, r.errs)
		}
		for i, f := range r.failures {
			if f.at.Before(killAt) {
				t.Errorf("round %d: a writer lost its connection %v before the kill: %s",
					round, killAt.Sub(f.at).Round(time.Millisecond), r.failErrs[i])
			}
		}
		inWindow := 0 // acknowledged writes in the loss window before the kill
		for _, w := range r.acked {
			if cfg.lossWindow > 0 && w.at.After(killAt.Add(-cfg.lossWindow)) {
				inWindow++
			}
		}

		// The counter: every acknowledged INCR (up to the loss window),
		// and no more than were sent.
		got, err := srv.c.Get(ctx, "counter").Int64()
		if errors.Is(err, redis.Nil) {
			got, err = 0, nil
		}
		if err != nil {
			t.Fatalf("round %d: GET counter: %v", round, err)
		}
		lo, hi := counter+r.ackIncr, counter+r.ackIncr+r.inflight
		lost := 0
		if got < lo {
			lost += int(lo - got)
			if cfg.lossWindow == 0 || got < counter {
				t.Errorf("round %d: counter = %d after restart, want >= %d (%d before the round + %d acknowledged INCRs)",
					round, got, lo, counter, r.ackIncr)
			}
		}
		if got > hi {
			t.Errorf("round %d: counter = %d after restart, want <= %d (%d before + %d acknowledged + %d in flight)",
				round, got, hi, counter, r.ackIncr, r.inflight)
		}

		// The rows: both of each id or neither; every id from before the
		// round and every acknowledged id; nothing never sent.
		rows := sqlRows(t, srv.c, defaultSQLKey,
			"SELECT id, count(*), min(part), max(part), min(length(pad)) FROM t GROUP BY id ORDER BY id")
		now := map[int64]bool{}
		for _, row := range rows {
			id := row[0].(int64)
			if fmt.Sprint(row[1:]) != "[2 1 2 48]" {
				t.Errorf("round %d: id %d half applied: count, min(part), max(part), min(length(pad)) = %v", round, id, row[1:])
			}
			if !present[id] && !r.sent[id] {
				t.Errorf("round %d: id %d present but never sent in this round (or lost before)", round, id)
			}
			now[id] = true
		}
		for id := range present {
			if !now[id] {
				t.Errorf("round %d: id %d, present after the previous restart, is gone", round, id)
			}
		}
		ackAge := map[int64]time.Duration{}
		for _, w := range r.acked {
			if w.id != 0 {
				ackAge[w.id] = killAt.Sub(w.at)
			}
		}
		var lostAges []string
		for id := range r.ackIDs {
			if !now[id] {
				lostAges = append(lostAges, ackAge[id].String())
				lost++
				if cfg.lossWindow == 0 {
					t.Errorf("round %d: acknowledged id %d lost", round, id)
				}
			}
		}
		if cfg.lossWindow > 0 && lost > inWindow {
			t.Errorf("round %d: %d acknowledged writes lost, more than the %d acknowledged in the last %v before the kill",
				round, lost, inWindow, cfg.lossWindow)
		}
		checkIntegrity(t, srv.c, defaultSQLKey)
		t.Logf("round %d: %d writers for %v%s: %d INCRs + %d transactions acknowledged, %d INCRs in flight; "+
			"counter %d, %d ids; lost %d %v; restart took %v",
			round, writers, killAt.Sub(roundStart).Round(time.Millisecond), rewriteNote,
			r.ackIncr, len(r.ackIDs), r.inflight, got, len(now), lost, lostAges, restart.Round(time.Millisecond))
		totalAcked += len(r.acked)
		totalLost += lost
		totalAckIncr += r.ackIncr
		totalInflight += r.inflight
		counter, present = got, now
		r.mu.Unlock()
		if t.Failed() {
			t.Logf("stderr of the restarted server:\n%s", srv.p.stderr.String())
			t.FailNow()
		}
	}
	// Cumulatively too: the counter is between all acknowledged INCRs
	// (less what the loss window allowed) and all sent.
	if counter > totalAckIncr+totalInflight || (cfg.lossWindow == 0 && counter < totalAckIncr) {
		t.Errorf("counter %d, want between %d acknowledged and %d sent INCRs", counter, totalAckIncr, totalAckIncr+totalInflight)
	}
	size := infoField(t, srv.c, "persistence", "aof_current_size")
	t.Logf("%d rounds in %v: %d writes acknowledged, %d lost; final AOF %s bytes",
		cfg.rounds, time.Since(start).Round(time.Millisecond), totalAcked, totalLost, size)
}

// noteErr records an error: an error reply is never expected; a
// connection error is the expected end of a writer, at the kill. Lock held.
func (r *crashRound) noteErr(err error, at time.Time) {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		r.errs = append(r.errs, err.Error())
		return
	}
	r.failures = append(r.failures, crashWrite{at: at})
	r.failErrs = append(r.failErrs, err.Error())
}

// TestCrashAOFAlways (acceptance criterion): with appendfsync always, a
// write is acknowledged only once it is in the AOF, so a SIGKILL at any
// moment loses nothing acknowledged and leaves no SQL transaction half
// applied.
func TestCrashAOFAlways(t *testing.T) {
	runCrashTest(t, crashConfig{
		args:   []string{"--appendfsync", "always", "--save", ""},
		rounds: 20, minRun: 50 * time.Millisecond, maxRun: 400 * time.Millisecond,
		rewriteEvery: 3,
	})
}

// TestCrashAOFEverysec: with appendfsync everysec only a power loss or an
// OS crash may lose acknowledged writes (at most the last second's, not yet
// fsynced). A killed process loses none: like Redis, a reply goes out only
// after the AOF has written its entry, and written data survives a SIGKILL
// in the page cache.
func TestCrashAOFEverysec(t *testing.T) {
	runCrashTest(t, crashConfig{
		args:   []string{"--appendfsync", "everysec", "--save", "", "--auto-aof-rewrite-min-size", "16mb"},
		rounds: 5, minRun: 300 * time.Millisecond, maxRun: 1500 * time.Millisecond,
		rewriteEvery: 2,
	})
}

// fillRestartData writes strings (binary, empty, big), hashes, a key with
// a TTL, a key that expires at once, SQL databases at the default key and
// at "other" in database 0, and at the default key in database 5 (c5).
// The second half (half 1) shrinks the main database with VACUUM, so its
// pages are cut (HDEL) and the log must carry that.
func fillRestartData(t *testing.T, c, c5 *redis.Client, half int) {
	t.Helper()
	ctx := context.Background()
	pre := strconv.Itoa(half)
	for k, v := range map[string]string{
		"str" + pre: "hello world", "bin" + pre: "\x00\x01\xff\r\n\"binary\"", "empty" + pre: "",
		"big" + pre: strings.Repeat("x", 100000) + pre, "int" + pre: "12345678901",
	} {
		if err := c.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	do(t, c, "INCRBY", "int"+pre, 5)
	do(t, c, "HSET", "h"+pre, "f1", "v1", "bin\x00field", "\x00\xfe", "long", strings.Repeat("ab", 300))
	for i := range 200 {
		do(t, c, "HSET", "bighash"+pre, "field:"+strconv.Itoa(i), i*i)
	}
	do(t, c, "SET", "ttl"+pre, "expires later", "PX", 3600_000)
	do(t, c, "SET", "gone"+pre, "expires soon", "PX", 150)
	do(t, c5, "SET", "s5"+pre, "in db 5", "EX", 7200)

	if half == 0 {
		do(t, c, "SQL", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT)")
		do(t, c, "SQL", "CREATE INDEX items_name ON items (name)")
		do(t, c, "SQL.EXEC", "other", "CREATE TABLE kv (k TEXT PRIMARY KEY, v)")
		do(t, c5, "SQL", "CREATE TABLE d5 (x)")
	}
	for i := range 150 {
		id := half*1000 + i
		do(t, c, "SQL", "INSERT INTO items VALUES (?, ?, ?, randomblob(?), ?)",
			id, "name-"+strconv.Itoa(id), fmt.Sprintf("%d.25", id), 1+i*20, "note "+strconv.Itoa(i%3))
	}
	do(t, c, "SQL", "BEGIN; UPDATE items SET note = 'updated' WHERE id % 7 = 0; DELETE FROM items WHERE id % 11 = 5; COMMIT")
	do(t, c, "SQL.EXEC", "other", "INSERT INTO kv VALUES (?, ?), (?, ?)", "a"+pre, "x", "b"+pre, 42)
	do(t, c5, "SQL", "INSERT INTO d5 VALUES (?), (randomblob(5000))", "half "+pre)
	if half == 1 {
		n0, _ := c.HLen(ctx, defaultSQLKey).Result()
		do(t, c, "SQL", "DELETE FROM items WHERE id >= 1050")
		do(t, c, "SQL", "VACUUM")
		if n1, _ := c.HLen(ctx, defaultSQLKey).Result(); n1 >= n0 {
			t.Fatalf("VACUUM did not shrink the database: %d pages, were %d", n1, n0)
		}
	}
}

// captureState reads everything fillRestartData wrote, by a name for each
// thing compared.
func captureState(t *testing.T, c, c5 *redis.Client) map[string]any {
	t.Helper()
	ctx := context.Background()
	st := map[string]any{}
	get := func(name string, cmd *redis.Cmd) {
		t.Helper()
		v, err := cmd.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("%s: %v", name, err)
		}
		st[name] = v
	}
	// HGETALL as a map: the order of a hash's fields is not kept.
	hgetall := func(c *redis.Client, name, key string) {
		t.Helper()
		v, err := c.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st[name] = v
	}
	for _, half := range []string{"0", "1"} {
		for _, k := range []string{"str", "bin", "empty", "big", "int", "ttl", "gone"} {
			get("GET "+k+half, c.Do(ctx, "GET", k+half))
		}
		get("db5 GET s5"+half, c5.Do(ctx, "GET", "s5"+half))
		get("db5 PEXPIRETIME s5"+half, c5.Do(ctx, "PEXPIRETIME", "s5"+half))
		for _, k := range []string{"h", "bighash"} {
			hgetall(c, "HGETALL "+k+half, k+half)
		}
	}
	get("PEXPIRETIME ttl1", c.Do(ctx, "PEXPIRETIME", "ttl1"))
	get("PEXPIRETIME ttl0", c.Do(ctx, "PEXPIRETIME", "ttl0"))
	hgetall(c, "HGETALL "+defaultSQLKey, defaultSQLKey)
	hgetall(c, "HGETALL other", "other")
	hgetall(c5, "db5 HGETALL "+defaultSQLKey, defaultSQLKey)
	st["items rows"] = sqlRows(t, c, defaultSQLKey, "SELECT id, name, price, hex(data), note, typeof(price) FROM items ORDER BY id")
	st["kv rows"] = sqlRows(t, c, "other", "SELECT k, v, typeof(v) FROM kv ORDER BY k")
	st["db5 d5 rows"] = sqlRows(t, c5, defaultSQLKey, "SELECT hex(x) FROM d5 ORDER BY rowid")
	return st
}

// describeDiff says briefly how got differs from want: for hashes (SQL
// pages among them) the fields that differ, else both values, shortened.
func describeDiff(want, got any) string {
	w, ok1 := want.(map[string]string)
	g, ok2 := got.(map[string]string)
	if !ok1 || !ok2 {
		return fmt.Sprintf("\n got %.200q\nwant %.200q", fmt.Sprint(got), fmt.Sprint(want))
	}
	var diff []string
	for _, f := range slices.Sorted(maps.Keys(w)) {
		if gv, ok := g[f]; !ok {
			diff = append(diff, "missing "+strconv.Quote(f))
		} else if gv != w[f] {
			diff = append(diff, "changed "+strconv.Quote(f))
		}
	}
	for _, f := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[f]; !ok {
			diff = append(diff, "extra "+strconv.Quote(f))
		}
	}
	if len(diff) > 10 {
		diff = append(diff[:10], "…")
	}
	return fmt.Sprintf("%d fields, were %d: %s", len(g), len(w), strings.Join(diff, ", "))
}

// TestRestartModes restarts thredis in each persistence mode and checks
// the data comes back identical: strings (binary, big, empty), hashes, TTLs
// (same PEXPIRETIME, still counting down), keys that expired before the
// stop or while thredis was down, keys of database 5, three SQL databases
// (same rows, byte-identical pages, also after a VACUUM cut pages).
func TestRestartModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		stop func(*pserver, *testing.T)
		// files that must and must not exist in dir after the stop
		want, notWant []string
	}{
		{"rdb-only", []string{"--appendonly", "no", "--save", "3600 1"}, (*pserver).shutdown,
			[]string{"dump.rdb"}, []string{"appendonlydir"}},
		{"aof-only", []string{"--save", ""}, (*pserver).sigterm,
			[]string{"appendonlydir/appendonly.aof.manifest"}, []string{"dump.rdb"}},
		{"rdb-and-aof", nil, (*pserver).sigterm,
			[]string{"dump.rdb", "appendonlydir/appendonly.aof.manifest"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			srv := startPersist(t, dir, tc.args...)
			c5 := goRedis(t, srv.port, redis.Options{Protocol: 2, DB: 5, MaxRetries: -1})
			fillRestartData(t, srv.c, c5, 0)
			if infoField(t, srv.c, "persistence", "aof_enabled") == "1" {
				// Half the data in the AOF's base, half in its
				// incremental file.
				do(t, srv.c, "BGREWRITEAOF")
				waitNoJob(t, srv.c)
			}
			fillRestartData(t, srv.c, c5, 1)
			time.Sleep(200 * time.Millisecond) // gone0 and gone1 expire
			before := captureState(t, srv.c, c5)
			if before["GET gone1"] != nil || before["GET ttl1"] != "expires later" {
				t.Fatalf("before the restart: gone1 = %q, ttl1 = %q", before["GET gone1"], before["GET ttl1"])
			}
			if n := len(before["items rows"].([][]any)); n < 150 {
				t.Fatalf("before the restart: %d rows", n)
			}
			checkIntegrity(t, srv.c, defaultSQLKey)
			// A key alive at the stop that expires while thredis is down.
			do(t, srv.c, "SET", "brief", "v", "PX", 300)
			setAt := time.Now()
			tc.stop(srv, t)
			for _, f := range tc.want {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("after the stop: %v", err)
				}
			}
			for _, f := range tc.notWant {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("after the stop: %s exists", f)
				}
			}
			time.Sleep(time.Until(setAt.Add(400 * time.Millisecond)))

			srv = startPersist(t, dir, tc.args...)
			c5 = goRedis(t, srv.port, redis.Options{Protocol: 2, DB: 5, MaxRetries: -1})
			after := captureState(t, srv.c, c5)
			for _, name := range slices.Sorted(maps.Keys(before)) {
				if !reflect.DeepEqual(before[name], after[name]) {
					t.Errorf("%s differs after the restart: %s", name, describeDiff(before[name], after[name]))
				}
			}
			t1, err := srv.c.PTTL(ctx, "ttl1").Result()
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond)
			t2, _ := srv.c.PTTL(ctx, "ttl1").Result()
			if t1 <= 0 || t1 > time.Hour || t2 >= t1 {
				t.Errorf("PTTL ttl1 = %v then %v 30ms later, want positive and decreasing", t1, t2)
			}
			for _, k := range []string{"gone0", "gone1", "brief"} {
				if n, _ := srv.c.Exists(ctx, k).Result(); n != 0 {
					t.Errorf("%s, expired before the restart, exists after it", k)
				}
			}
			if n, _ := srv.c.DBSize(ctx).Result(); n != 18 {
				keys, _ := srv.c.Keys(ctx, "*").Result()
				t.Errorf("DBSIZE = %d, want 18: %q", n, keys)
			}
			checkIntegrity(t, srv.c, defaultSQLKey)
			checkIntegrity(t, srv.c, "other")
			checkIntegrity(t, c5, defaultSQLKey)
			// The SQL databases still take writes after the restart.
			do(t, srv.c, "SQL", "INSERT INTO items (id, name) VALUES (99999, 'after')")
			want := int64(len(before["items rows"].([][]any)) + 1)
			if rows := sqlRows(t, srv.c, defaultSQLKey, "SELECT count(*) FROM items"); rows[0][0] != want {
				t.Errorf("count after an insert = %v, want %d", rows[0][0], want)
			}
			if t.Failed() {
				t.Logf("stderr of the restarted server:\n%s", srv.p.stderr.String())
			}
		})
	}
}

// readSQLite opens a SQLite file read-only with the standard driver and
// returns every row of query, each value formatted with %v.
func readSQLite(t *testing.T, path, query string) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %q: %v", path, query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, formatRow(vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// respRows formats SQL rows from RESP like readSQLite does.
func respRows(rows [][]any) []string {
	var out []string
	for _, r := range rows {
		out = append(out, formatRow(r))
	}
	return out
}

// formatRow renders a row's values separated by "|" (a blob as its bytes).
func formatRow(vals []any) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, "|")
}

// runSubcommand runs a thredis subcommand and checks it exits 0.
func runSubcommand(t *testing.T, args ...string) string {
	t.Helper()
	p := runThredis(t, args...)
	if code := p.wait(t); code != 0 {
		t.Fatalf("thredis %q: exit code %d; stderr:\n%s", args, code, p.stderr.String())
	}
	return p.stdout.String()
}

// TestExportImportSQL: a SQL table saved in dump.rdb is exported as a
// standard SQLite file (readable by the stock driver, the same bytes as
// SQL.DUMP), imported back into an RDB file under another key that a new
// thredis loads, and a SQLite file made by the stock driver goes the same
// way; SQL.RESTORE loads a dumped image into a new key.
func TestExportImportSQL(t *testing.T) {
	ctx := context.Background()
	d, e, work := t.TempDir(), t.TempDir(), t.TempDir()
	srv := startPersist(t, d)
	do(t, srv.c, "SQL", "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL, photo BLOB)")
	for i := range 300 {
		do(t, srv.c, "SQL", "INSERT INTO people VALUES (?, ?, ?, ?)", i, "person "+strconv.Itoa(i),
			fmt.Sprintf("%d.5", i), strings.Repeat(string(rune('a'+i%26)), i%50))
	}
	const q = "SELECT id, name, score, photo FROM people ORDER BY id"
	want := respRows(sqlRows(t, srv.c, defaultSQLKey, q))
	if len(want) != 300 {
		t.Fatalf("%d rows, want 300", len(want))
	}
	last0, err := srv.c.LastSave(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(last0+1, 0))) // LASTSAVE has 1s resolution
	if got := do(t, srv.c, "SAVE"); got != "OK" {
		t.Fatalf("SAVE = %v", got)
	}
	if last, _ := srv.c.LastSave(ctx).Result(); last <= last0 {
		t.Errorf("LASTSAVE = %d after SAVE, was %d", last, last0)
	}
	if v := infoField(t, srv.c, "persistence", "rdb_changes_since_last_save"); v != "0" {
		t.Errorf("rdb_changes_since_last_save = %s after SAVE", v)
	}

	// export-sql: the default key of dump.rdb as x.sqlite.
	x := filepath.Join(work, "x.sqlite")
	out := runSubcommand(t, "export-sql", "--rdb", filepath.Join(d, "dump.rdb"), "-o", x)
	if !strings.Contains(out, "wrote "+x) {
		t.Errorf("export-sql output = %q", out)
	}
	if got := readSQLite(t, x, q); !reflect.DeepEqual(got, want) {
		t.Errorf("x.sqlite rows differ from the server's: %d rows, first %.80q", len(got), got[:min(1, len(got))])
	}
	if got := readSQLite(t, x, "PRAGMA integrity_check"); fmt.Sprint(got) != "[ok]" {
		t.Errorf("x.sqlite integrity_check = %v", got)
	}
	img, err := os.ReadFile(x)
	if err != nil {
		t.Fatal(err)
	}
	// A key that is not there, or not a database: exit 1 and a message.
	for _, tc := range []struct{ key, want string }{{"nope", `no key "nope" in database 0`}, {"s", `key "s" holds a string`}} {
		if tc.key == "s" {
			do(t, srv.c, "SET", "s", "v")
			do(t, srv.c, "SAVE")
		}
		p := runThredis(t, "export-sql", "--rdb", filepath.Join(d, "dump.rdb"), "--key", tc.key, "-o", filepath.Join(work, "bad.sqlite"))
		if code := p.wait(t); code != 1 || !strings.Contains(p.stderr.String(), tc.want) {
			t.Errorf("export-sql --key %s: exit %d, stderr %q; want 1 and %q", tc.key, code, p.stderr.String(), tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "bad.sqlite")); err == nil {
		t.Error("a failed export-sql wrote its output file")
	}
	// The AOF's base (an RDB file after BGREWRITEAOF) exports the same.
	do(t, srv.c, "BGREWRITEAOF")
	waitNoJob(t, srv.c)
	bases, _ := filepath.Glob(filepath.Join(d, "appendonlydir", "*.base.rdb"))
	if len(bases) != 1 {
		t.Fatalf("AOF base files: %q", bases)
	}
	xb := filepath.Join(work, "from-base.sqlite")
	runSubcommand(t, "export-sql", "--rdb", bases[0], "-o", xb)
	if b, err := os.ReadFile(xb); err != nil || !bytes.Equal(b, img) {
		t.Errorf("export from the AOF base %s differs from the export of dump.rdb (%v)", filepath.Base(bases[0]), err)
	}

	// SQL.DUMP over RESP: the same bytes, page by page.
	dump, err := srv.c.Do(ctx, "SQL.DUMP", defaultSQLKey).Text()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal([]byte(dump), img) {
		t.Errorf("SQL.DUMP gives %d bytes, x.sqlite has %d; equal prefix %d", len(dump), len(img), commonPrefix([]byte(dump), img))
	}
	pages, err := srv.c.HGetAll(ctx, defaultSQLKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	for off, page := range pages {
		o, _ := strconv.Atoi(off)
		if o+len(page) > len(img) || string(img[o:o+len(page)]) != page {
			t.Errorf("page %s of the hash is not at offset %s of x.sqlite", off, off)
		}
	}
	if len(pages)*4096 != len(img) {
		t.Errorf("%d pages of 4096 bytes, x.sqlite has %d bytes", len(pages), len(img))
	}

	// SQL.RESTORE: into a new key; BUSYKEY without REPLACE; REPLACE.
	if got := do(t, srv.c, "SQL.RESTORE", "copy", img); got != "OK" {
		t.Fatalf("SQL.RESTORE = %v", got)
	}
	if got := respRows(sqlRows(t, srv.c, "copy", q)); !reflect.DeepEqual(got, want) {
		t.Errorf("restored key: %d rows differ", len(got))
	}
	if got, _ := srv.c.HGetAll(ctx, "copy").Result(); !reflect.DeepEqual(got, pages) {
		t.Errorf("HGETALL copy differs from HGETALL %s", defaultSQLKey)
	}
	if err := srv.c.Do(ctx, "SQL.RESTORE", "copy", img).Err(); err == nil || err.Error() != "BUSYKEY Target key name already exists." {
		t.Errorf("SQL.RESTORE onto an existing key: %v", err)
	}
	do(t, srv.c, "SQL.EXEC", "copy", "DELETE FROM people WHERE id >= 10")
	if got := do(t, srv.c, "SQL.RESTORE", "copy", img, "REPLACE"); got != "OK" {
		t.Fatalf("SQL.RESTORE REPLACE = %v", got)
	}
	if got := respRows(sqlRows(t, srv.c, "copy", q)); !reflect.DeepEqual(got, want) {
		t.Errorf("after SQL.RESTORE REPLACE (a session had the key open): %d rows, want %d", len(got), len(want))
	}
	do(t, srv.c, "SQL.EXEC", "copy", "INSERT INTO people (id, name) VALUES (1000, 'new')")
	checkIntegrity(t, srv.c, "copy")
	if err := srv.c.Do(ctx, "SQL.RESTORE", "junk", "not a database").Err(); err == nil {
		t.Error("SQL.RESTORE of junk succeeded")
	}

	// import-sql: x.sqlite into y.rdb under key "other", loaded by a new
	// server with --dbfilename y.rdb.
	y := filepath.Join(e, "y.rdb")
	out = runSubcommand(t, "import-sql", "--sqlite", x, "--key", "other", "-o", y)
	if !strings.Contains(out, "wrote "+y) {
		t.Errorf("import-sql output = %q", out)
	}
	srv2 := startPersist(t, e, "--dbfilename", "y.rdb", "--appendonly", "no")
	if got := respRows(sqlRows(t, srv2.c, "other", q)); !reflect.DeepEqual(got, want) {
		t.Errorf("SQL.EXEC other on the imported RDB: %d rows differ", len(got))
	}
	if typ, _ := srv2.c.Type(ctx, "other").Result(); typ != "hash" {
		t.Errorf("TYPE other = %q", typ)
	}
	if got, _ := srv2.c.HGetAll(ctx, "other").Result(); !reflect.DeepEqual(got, pages) {
		t.Errorf("HGETALL other (imported) differs from the original pages")
	}
	checkIntegrity(t, srv2.c, "other")

	// Round trip: exporting y.rdb's key gives x.sqlite's bytes.
	x2 := filepath.Join(work, "x2.sqlite")
	runSubcommand(t, "export-sql", "--rdb", y, "--key", "other", "-o", x2)
	if img2, err := os.ReadFile(x2); err != nil || !bytes.Equal(img2, img) {
		t.Errorf("export of the imported RDB differs from x.sqlite (%v)", err)
	}

	// A SQLite file written by the stock driver, imported into db 3.
	s := filepath.Join(work, "stock.sqlite")
	db, err := sql.Open("sqlite3", s)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
		"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 500) " +
			"INSERT INTO notes (body) SELECT 'note ' || x FROM n",
	} {
		if _, err := db.Exec(stmt); err != nil {
			db.Close()
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	z := filepath.Join(e, "z.rdb")
	runSubcommand(t, "import-sql", "--sqlite", s, "--key", "notes", "--db", "3", "-o", z)
	srv3 := startPersist(t, e, "--dbfilename", "z.rdb", "--appendonly", "no")
	c3 := goRedis(t, srv3.port, redis.Options{Protocol: 2, DB: 3})
	rows := sqlRows(t, c3, "notes", "SELECT count(*), max(body) FROM notes")
	if fmt.Sprint(rows) != "[[500 note 99]]" {
		t.Errorf("imported stock SQLite file: %v", rows)
	}
	checkIntegrity(t, c3, "notes")
	if n, _ := srv3.c.Exists(ctx, "notes").Result(); n != 0 {
		t.Error("notes imported with --db 3 appears in db 0")
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestPersistenceDefaults: a bare command line is an in-memory server
// (says so, writes nothing); --dir turns on the AOF and Redis's save
// points.
func TestPersistenceDefaults(t *testing.T) {
	ctx := context.Background()
	t.Run("no-dir", func(t *testing.T) {
		cwd := t.TempDir()
		port := freePort(t)
		p := startThredisIn(t, port, cwd, nil, "--port", strconv.Itoa(port))
		c := persistClient(t, port)
		if v := infoField(t, c, "persistence", "aof_enabled"); v != "0" {
			t.Errorf("aof_enabled = %s, want 0", v)
		}
		if got, err := c.ConfigGet(ctx, "save").Result(); err != nil || got["save"] != "" {
			t.Errorf("CONFIG GET save = %q, %v; want empty", got, err)
		}
		if got, _ := c.ConfigGet(ctx, "appendonly").Result(); got["appendonly"] != "no" {
			t.Errorf("CONFIG GET appendonly = %q", got)
		}
		if !strings.Contains(p.stderr.String(), "persistence is off") {
			t.Errorf("stderr does not say persistence is off:\n%s", p.stderr.String())
		}
		do(t, c, "SET", "k", "v")
		do(t, c, "SQL", "CREATE TABLE t (a)")
		srv := &pserver{p: p, port: port, c: c}
		srv.shutdown(t)
		if ents := dirEntries(t, cwd); len(ents) > 0 {
			t.Errorf("an in-memory server left files in its working directory: %q", ents)
		}
	})
	t.Run("config-file", func(t *testing.T) {
		// A config file, like --dir, means the data matters: the AOF and
		// the save points are on, in the working directory (dir ".").
		cwd := t.TempDir()
		port := freePort(t)
		conf := writeFile(t, t.TempDir(), "thredis.conf", fmt.Sprintf("port %d\n", port))
		p := startThredisIn(t, port, cwd, nil, "--config", conf)
		c := persistClient(t, port)
		if v := infoField(t, c, "persistence", "aof_enabled"); v != "1" {
			t.Errorf("aof_enabled = %s, want 1", v)
		}
		if got, _ := c.ConfigGet(ctx, "save").Result(); got["save"] != "3600 1 300 100 60 10000" {
			t.Errorf("CONFIG GET save = %q", got)
		}
		if _, err := os.Stat(filepath.Join(cwd, "appendonlydir", "appendonly.aof.manifest")); err != nil {
			t.Errorf("manifest in the working directory: %v", err)
		}
		if strings.Contains(p.stderr.String(), "persistence is off") {
			t.Errorf("stderr says persistence is off with a config file:\n%s", p.stderr.String())
		}
		(&pserver{p: p, port: port, c: c}).sigterm(t)
	})
	t.Run("dir", func(t *testing.T) {
		d, cwd := t.TempDir(), t.TempDir()
		port := freePort(t)
		p := startThredisIn(t, port, cwd, nil, "--port", strconv.Itoa(port), "--dir", d)
		c := persistClient(t, port)
		if v := infoField(t, c, "persistence", "aof_enabled"); v != "1" {
			t.Errorf("aof_enabled = %s, want 1", v)
		}
		for name, want := range map[string]string{
			"save": "3600 1 300 100 60 10000", "appendonly": "yes", "appendfsync": "everysec", "dir": d,
		} {
			if got, err := c.ConfigGet(ctx, name).Result(); err != nil || got[name] != want {
				t.Errorf("CONFIG GET %s = %q, %v; want %q", name, got, err, want)
			}
		}
		if _, err := os.Stat(filepath.Join(d, "appendonlydir", "appendonly.aof.manifest")); err != nil {
			t.Errorf("manifest: %v", err)
		}
		if strings.Contains(p.stderr.String(), "persistence is off") {
			t.Errorf("stderr says persistence is off with --dir:\n%s", p.stderr.String())
		}
		do(t, c, "SET", "k", "v")
		srv := &pserver{p: p, port: port, c: c}
		srv.sigterm(t)
		// SIGTERM saved (save points exist); nothing went to the working
		// directory.
		if _, err := os.Stat(filepath.Join(d, "dump.rdb")); err != nil {
			t.Errorf("no dump.rdb after SIGTERM: %v", err)
		}
		if ents := dirEntries(t, cwd); len(ents) > 0 {
			t.Errorf("files in the working directory, not --dir: %q", ents)
		}
		// The restart has the data back.
		srv = startPersist(t, d)
		if v, err := srv.c.Get(ctx, "k").Result(); err != nil || v != "v" {
			t.Errorf("GET k after restart = %q, %v", v, err)
		}
		if ents := slices.Sorted(slices.Values(dirEntries(t, d))); !slices.Contains(ents, "appendonlydir") {
			t.Errorf("dir entries %q", ents)
		}
	})
}
