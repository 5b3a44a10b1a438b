package server

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/redis/go-redis/v9"

	"github.com/thredis/thredis/keyspace"
)

// keyState is a deep copy of one key, for comparing keyspaces.
type keyState struct {
	str    string
	fields map[string]string
	expire int64 // absolute Unix ms, -1 none
}

// dumpKeyspace copies every key of every database, under the lock.
func dumpKeyspace(ts *testServer) map[string]keyState {
	out := map[string]keyState{}
	ts.Exec(func(ks *keyspace.Keyspace) {
		for i := 0; i < ks.NumDBs(); i++ {
			db := ks.DB(i)
			var keys []string
			db.Keys(func(k []byte) bool {
				keys = append(keys, string(k))
				return true
			})
			for _, k := range keys {
				st := keyState{expire: -1}
				if when, ok, _ := db.TTL([]byte(k)); ok {
					st.expire = when
				}
				if v, found, err := db.GetString([]byte(k)); found && err == nil {
					st.str = string(v)
				} else if h, _ := db.Hash([]byte(k)); h != nil {
					st.fields = map[string]string{}
					h.Range(func(f, v string) bool {
						st.fields[strings.Clone(f)] = strings.Clone(v)
						return true
					})
				}
				out[strconv.Itoa(i)+"/"+k] = st
			}
		}
	})
	return out
}

func diffKeyspaces(want, got map[string]keyState) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d keys, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return "missing key " + k
		}
		if w.str != g.str || w.expire != g.expire || (w.fields == nil) != (g.fields == nil) {
			return fmt.Sprintf("key %s: got str %.40q expire %d, want %.40q expire %d", k, g.str, g.expire, w.str, w.expire)
		}
		if d := sameHash(w.fields, g.fields); w.fields != nil && d != "" {
			return "key " + k + ": " + d
		}
	}
	return ""
}

// persistentServer starts a server on dir with the given directives.
func persistentServer(t *testing.T, dir string, kv ...string) *testServer {
	t.Helper()
	return startServer(t, func(cfg *Config) {
		if err := cfg.Set("dir", dir); err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if err := cfg.Set(kv[i], kv[i+1]); err != nil {
				t.Fatalf("%s %s: %v", kv[i], kv[i+1], err)
			}
		}
	})
}

// fillMixed writes strings (plain, integer, long compressible, binary),
// hashes (small and big), TTLs in two databases and a multi-page SQL
// database.
func fillMixed(t *testing.T, ts *testServer) {
	t.Helper()
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "SET", "plain", "hello")
	mustReply(t, r, "+OK\r\n", "SET", "int", "-12345")
	mustReply(t, r, "+OK\r\n", "SET", "long", strings.Repeat("abc", 5000))
	mustReply(t, r, "+OK\r\n", "SET", "bin", "\x00\xff\r\n\x01")
	mustReply(t, r, ":3\r\n", "APPEND", "grown", "abc")
	mustReply(t, r, ":2\r\n", "HSET", "small", "f1", "v1", "f2", "22")
	args := []string{"HSET", "big"}
	for i := 0; i < 1000; i++ {
		args = append(args, "field"+strconv.Itoa(i), strings.Repeat("x", i%100))
	}
	mustReply(t, r, ":1000\r\n", args...)
	mustReply(t, r, "+OK\r\n", "SET", "ttl", "v", "PX", "500000")
	mustReply(t, r, ":1\r\n", "PEXPIRE", "big", "800000")
	mustReply(t, r, "+OK\r\n", "SELECT", "3")
	mustReply(t, r, "+OK\r\n", "SET", "indb3", "x")
	mustReply(t, r, "+OK\r\n", "SELECT", "0")
	q(t, r, "SQL", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r REAL, b BLOB)")
	for i := 0; i < 20; i++ {
		q(t, r, "SQL", "INSERT INTO t(v, r, b) SELECT 'row'||?, random(), randomblob(300) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)", strconv.Itoa(i))
	}
	q(t, r, "SQL", "INSERT INTO t(v) VALUES (datetime('now'))")
}

// checkSQL asserts integrity and the row count of the default database.
func checkSQL(t *testing.T, ts *testServer, rows int64) {
	t.Helper()
	r := ts.raw(t)
	if v := sqlOne(t, r, "SQL", "PRAGMA integrity_check"); v != "ok" {
		t.Fatalf("integrity_check = %v", v)
	}
	if n := sqlCount(t, r, "_sql:redis_db", "t"); n != rows {
		t.Fatalf("t has %d rows, want %d", n, rows)
	}
}

// TestRestartKeepsEverything: strings, hashes, TTLs (absolute: they keep
// counting down) and the SQL database survive a restart with RDB only, AOF
// only, and both; the reloaded keyspace is identical, SQL pages included.
func TestRestartKeepsEverything(t *testing.T) {
	for _, mode := range []struct {
		name string
		kv   []string
	}{
		{"rdb", []string{"appendonly", "no", "save", "3600 1"}},
		{"aof", []string{"appendonly", "yes"}},
		{"aof-resp-base", []string{"appendonly", "yes", "aof-use-rdb-preamble", "no"}},
		{"both", []string{"appendonly", "yes", "save", "3600 1"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			ts := persistentServer(t, dir, mode.kv...)
			fillMixed(t, ts)
			if mode.name == "aof-resp-base" {
				// The base is rewritten as commands mid-way.
				r := ts.raw(t)
				mustReply(t, r, "+Background append only file rewriting started\r\n", "BGREWRITEAOF")
				waitInfo(t, r, "aof_rewrite_in_progress", "0")
				q(t, r, "SQL", "INSERT INTO t(v) VALUES ('after rewrite')")
				mustReply(t, r, "+OK\r\n", "SET", "after", "rewrite")
			}
			want := dumpKeyspace(ts)
			wantRows := sqlCount(t, ts.raw(t), "_sql:redis_db", "t")
			if err := ts.ShutdownSave(false, false, false); err != nil {
				t.Fatal(err)
			}
			ts2 := persistentServer(t, dir, mode.kv...)
			if d := diffKeyspaces(want, dumpKeyspace(ts2)); d != "" {
				t.Fatalf("after restart: %s", d)
			}
			checkSQL(t, ts2, wantRows)
			r := ts2.raw(t)
			if pttl := q(t, r, "PTTL", "ttl").(int64); pttl <= 0 || pttl > 500000 {
				t.Fatalf("PTTL after restart = %d", pttl)
			}
			// The SQL layer writes on top of the reloaded pages.
			q(t, r, "SQL", "INSERT INTO t(v) VALUES ('after restart')")
			checkSQL(t, ts2, wantRows+1)
		})
	}
}

// waitInfo polls INFO until field has the wanted value.
func waitInfo(t *testing.T, r *rawConn, field, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info := q(t, r, "INFO", "persistence").(string)
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, field+":"); ok && v == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("INFO %s never became %s:\n%s", field, want, info)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBgsaveIsPointInTime: writers keep rewriting every key with increasing
// generations, in key order, while BGSAVE runs; the saved file must be one
// cut of that history — keys before some position hold generation g+1, the
// rest g — and the concurrent SQL bank's total must be intact.
func TestBgsaveIsPointInTime(t *testing.T) {
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "no")
	const nkeys = 20000
	val := strings.Repeat("v", 200)
	c := ts.client(t)
	pipe := c.Pipeline()
	for i := 0; i < nkeys; i++ {
		pipe.Set(ctx, "k"+strconv.Itoa(i), "0:"+val, 0)
		if i%1000 == 999 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := ts.raw(t)
	q(t, r, "SQL", "CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER)")
	q(t, r, "SQL", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<200) INSERT INTO acct SELECT x, 100 FROM c")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // generations, key order
		defer wg.Done()
		wc := ts.client(t)
		for gen := 1; ; gen++ {
			p := wc.Pipeline()
			for i := 0; i < nkeys; i++ {
				p.Set(ctx, "k"+strconv.Itoa(i), strconv.Itoa(gen)+":"+val, 0)
				if i%500 == 499 {
					if _, err := p.Exec(ctx); err != nil {
						t.Error(err)
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			}
		}
	}()
	go func() { // SQL transfers
		defer wg.Done()
		wr := ts.raw(t)
		for {
			select {
			case <-stop:
				return
			default:
			}
			a, b := 1+rand.IntN(200), 1+rand.IntN(200)
			q(t, wr, "SQL", "BEGIN; UPDATE acct SET bal=bal-7 WHERE id=?; UPDATE acct SET bal=bal+7 WHERE id=?; COMMIT", strconv.Itoa(a), strconv.Itoa(b))
		}
	}()
	time.Sleep(50 * time.Millisecond)
	mustReply(t, r, "+Background saving started\r\n", "BGSAVE")
	waitInfo(t, r, "rdb_bgsave_in_progress", "0")
	close(stop)
	wg.Wait()
	waitInfo(t, r, "rdb_last_bgsave_status", "ok")
	ts.Shutdown()

	ts2 := persistentServer(t, dir, "appendonly", "no")
	gens := make([]int, nkeys)
	ts2.Exec(func(ks *keyspace.Keyspace) {
		for i := range gens {
			v, found, _ := ks.DB(0).GetString([]byte("k" + strconv.Itoa(i)))
			if !found {
				t.Errorf("k%d missing", i)
				return
			}
			g, _, _ := strings.Cut(string(v), ":")
			gens[i], _ = strconv.Atoi(g)
		}
	})
	hi := gens[0]
	cut := len(gens)
	for i, g := range gens {
		if g != hi {
			cut = i
			break
		}
	}
	for i := cut; i < len(gens); i++ {
		if gens[i] != hi-1 {
			t.Fatalf("not a point-in-time cut: k%d has generation %d; k0..k%d have %d", i, gens[i], cut-1, hi)
		}
	}
	r2 := ts2.raw(t)
	if v := sqlOne(t, r2, "SQL", "SELECT sum(bal) FROM acct"); v != int64(20000) {
		t.Fatalf("bank total in the snapshot = %v, want 20000", v)
	}
	if v := sqlOne(t, r2, "SQL", "PRAGMA integrity_check"); v != "ok" {
		t.Fatalf("integrity_check = %v", v)
	}
	t.Logf("snapshot generations: %d then %d from k%d", hi, hi-1, cut)
}

// TestAOFRewriteUnderLoad: BGREWRITEAOF runs twice while clients write
// strings, counters and SQL rows; after a restart the keyspace is exactly
// what it was.
func TestAOFRewriteUnderLoad(t *testing.T) {
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "yes")
	r := ts.raw(t)
	q(t, r, "SQL", "CREATE TABLE log(id INTEGER PRIMARY KEY, who INTEGER, at TEXT)")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ops atomic.Int64
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wr := ts.raw(t)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch i % 4 {
				case 0:
					q(t, wr, "INCR", "counter"+strconv.Itoa(w))
				case 1:
					q(t, wr, "HSET", "h"+strconv.Itoa(w), "f"+strconv.Itoa(i%300), strconv.Itoa(i))
				case 2:
					q(t, wr, "SQL", "INSERT INTO log(who, at) VALUES (?, datetime('now'))", strconv.Itoa(w))
				case 3:
					q(t, wr, "SET", "s"+strconv.Itoa(i%500), strconv.Itoa(i), "EX", "1000")
				}
				ops.Add(1)
			}
		}(w)
	}
	for round := 0; round < 2; round++ {
		time.Sleep(150 * time.Millisecond)
		mustReply(t, r, "+Background append only file rewriting started\r\n", "BGREWRITEAOF")
		waitInfo(t, r, "aof_rewrite_in_progress", "0")
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	waitInfo(t, r, "aof_last_bgrewrite_status", "ok")
	waitInfo(t, r, "aof_rewrites", "2")
	want := dumpKeyspace(ts)
	rows := sqlCount(t, r, "_sql:redis_db", "log")
	ts.Shutdown() // no final save: everything must come from the AOF
	files, _ := filepath.Glob(filepath.Join(dir, "appendonlydir", "*"))
	t.Logf("%d ops; files after two rewrites: %v", ops.Load(), files)

	ts2 := persistentServer(t, dir, "appendonly", "yes")
	if d := diffKeyspaces(want, dumpKeyspace(ts2)); d != "" {
		t.Fatalf("after restart: %s", d)
	}
	r2 := ts2.raw(t)
	if n := sqlCount(t, r2, "_sql:redis_db", "log"); n != rows {
		t.Fatalf("log has %d rows, want %d", n, rows)
	}
	if v := sqlOne(t, r2, "SQL", "PRAGMA integrity_check"); v != "ok" {
		t.Fatalf("integrity_check = %v", v)
	}
}

// TestMisconfAfterFailedBgsave: a background save that cannot write makes
// writes (and PING) fail with -MISCONF while stop-writes-on-bgsave-error is
// on; reads keep working; a successful save lifts it.
func TestMisconfAfterFailedBgsave(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ts := persistentServer(t, dir, "appendonly", "no", "save", "3600 1")
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "SET", "k", "v")
	q(t, r, "SQL", "CREATE TABLE t(a)")
	if err := os.RemoveAll(dir); err != nil { // the save's temporary file cannot be created
		t.Fatal(err)
	}
	mustReply(t, r, "+Background saving started\r\n", "BGSAVE")
	waitInfo(t, r, "rdb_last_bgsave_status", "err")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(r.do("SET", "k", "v2"), "-MISCONF") {
		if time.Now().After(deadline) {
			t.Fatal("writes not refused after a failed BGSAVE")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustReply(t, r, "-"+errMisconfRDB+"\r\n", "SET", "k", "v3")
	mustReply(t, r, "-"+errMisconfRDB+"\r\n", "PING")
	mustReply(t, r, "$1\r\nv\r\n", "GET", "k")
	if got := r.do("SQL", "INSERT INTO t VALUES (1)"); !strings.HasPrefix(got, "-MISCONF") {
		t.Fatalf("SQL write during MISCONF: %q", got)
	}
	sqlRows(t, r, "SQL", "SELECT * FROM t") // reads work
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "stop-writes-on-bgsave-error", "no")
	deadline = time.Now().Add(5 * time.Second)
	for r.do("SET", "k", "v4") != "+OK\r\n" {
		if time.Now().After(deadline) {
			t.Fatal("writes still refused with stop-writes-on-bgsave-error no")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// SHUTDOWN cannot save either: it fails and the server stays up.
	mustReply(t, r, "-ERR Errors trying to SHUTDOWN. Check logs.\r\n", "SHUTDOWN")
	mustReply(t, r, "+PONG\r\n", "PING")
}

// TestSaveCommandsAndInfo covers SAVE, BGSAVE (SCHEDULE), LASTSAVE and the
// INFO persistence fields around them.
func TestSaveCommandsAndInfo(t *testing.T) {
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "no", "save", "")
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "SET", "a", "1")
	mustReply(t, r, "+OK\r\n", "SET", "b", "2")
	info := q(t, r, "INFO", "persistence").(string)
	for _, want := range []string{"rdb_changes_since_last_save:2", "rdb_bgsave_in_progress:0", "rdb_last_bgsave_status:ok", "aof_enabled:0"} {
		if !strings.Contains(info, want+"\r\n") {
			t.Fatalf("INFO lacks %s:\n%s", want, info)
		}
	}
	before := q(t, r, "LASTSAVE").(int64)
	time.Sleep(1100 * time.Millisecond)
	mustReply(t, r, "+OK\r\n", "SAVE")
	if after := q(t, r, "LASTSAVE").(int64); after <= before {
		t.Fatalf("LASTSAVE %d after SAVE, was %d", after, before)
	}
	waitInfo(t, r, "rdb_changes_since_last_save", "0")
	if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err != nil {
		t.Fatal(err)
	}
	mustReply(t, r, "-ERR syntax error\r\n", "BGSAVE", "NOW")
	mustReply(t, r, "+Background saving started\r\n", "BGSAVE", "SCHEDULE")
	waitInfo(t, r, "rdb_bgsave_in_progress", "0")
	waitInfo(t, r, "rdb_saves", "2")
	mustReply(t, r, "-ERR wrong number of arguments for 'save' command\r\n", "SAVE", "x")
	// A save point triggers a background save by itself.
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "save", "1 1")
	mustReply(t, r, "+OK\r\n", "SET", "c", "3")
	time.Sleep(1100 * time.Millisecond)
	waitInfo(t, r, "rdb_saves", "3")
}

// TestSQLDumpRestore: SQL.DUMP returns a file SQLite opens; SQL.RESTORE
// loads one under another key, refusing a busy key without REPLACE and
// images that are not databases.
func TestSQLDumpRestore(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	q(t, r, "SQL", "CREATE TABLE t(a INTEGER, b TEXT)")
	q(t, r, "SQL", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<3000) INSERT INTO t SELECT x, hex(randomblob(20)) FROM c")
	img := q(t, r, "SQL.DUMP", "_sql:redis_db").(string)
	path := filepath.Join(t.TempDir(), "db.sqlite")
	if err := os.WriteFile(path, []byte(img), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var check string
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 3000 {
		t.Fatalf("sqlite3 on the dump: %d rows, %v", n, err)
	}
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check on the dump: %q %v", check, err)
	}
	mustReply(t, r, "+OK\r\n", "SQL.RESTORE", "copy", img)
	if got := sqlCount(t, r, "copy", "t"); got != 3000 {
		t.Fatalf("restored copy has %d rows", got)
	}
	if d := sameHash(hashSnap(ts, 0, "_sql:redis_db"), hashSnap(ts, 0, "copy")); d != "" {
		t.Fatalf("restored pages differ: %s", d)
	}
	mustReply(t, r, "-BUSYKEY Target key name already exists.\r\n", "SQL.RESTORE", "copy", img)
	q(t, r, "SQL.EXEC", "copy", "DELETE FROM t WHERE a > 10")
	mustReply(t, r, "+OK\r\n", "SQL.RESTORE", "copy", img, "REPLACE")
	if got := sqlCount(t, r, "copy", "t"); got != 3000 {
		t.Fatalf("after REPLACE the copy has %d rows", got)
	}
	if got := r.do("SQL.RESTORE", "bad", "not a database"); !strings.HasPrefix(got, "-ERR not a SQLite database image") {
		t.Fatalf("bad image: %q", got)
	}
	if got := r.do("SQL.RESTORE", "bad", img[:len(img)-10]); !strings.HasPrefix(got, "-ERR not a SQLite database image") {
		t.Fatalf("truncated image: %q", got)
	}
	mustReply(t, r, "$-1\r\n", "SQL.DUMP", "missing")
	mustReply(t, r, ":2\r\n", "HSET", "plainhash", "a", "1", "b", "2")
	mustReply(t, r, "-ERR key does not hold a SQL database\r\n", "SQL.DUMP", "plainhash")
}

// TestRDBInteropWithStockRedis: a file thredis writes passes
// redis-check-rdb and loads in a stock redis-server with every key, TTL and
// SQL page; a file redis-server writes loads in thredis.
func TestRDBInteropWithStockRedis(t *testing.T) {
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (make deps installs it)")
	}
	checkRDB, _ := exec.LookPath("redis-check-rdb")
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "no")
	fillMixed(t, ts)
	want := dumpKeyspace(ts)
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "SAVE")
	rdbFile := filepath.Join(dir, "dump.rdb")
	if checkRDB != "" {
		if out, err := exec.Command(checkRDB, rdbFile).CombinedOutput(); err != nil {
			t.Fatalf("redis-check-rdb: %v\n%s", err, out)
		}
	}

	// Stock Redis loads it: compare everything through RESP.
	port := freeTCPPort(t)
	cmd := exec.Command(redisServer, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--databases", "16")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), Protocol: 2})
	defer rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rc.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := map[string]keyState{}
	for name := range want {
		dbs, key, _ := strings.Cut(name, "/")
		dbn, _ := strconv.Atoi(dbs)
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DB: dbn, Protocol: 2})
		st := keyState{expire: -1}
		switch typ := c.Type(ctx, key).Val(); typ {
		case "string":
			st.str = c.Get(ctx, key).Val()
		case "hash":
			st.fields = c.HGetAll(ctx, key).Val()
		default:
			t.Fatalf("redis-server: key %s has type %q", name, typ)
		}
		if et := c.PExpireTime(ctx, key).Val(); et > 0 {
			st.expire = et.Milliseconds()
		}
		c.Close()
		got[name] = st
	}
	if d := diffKeyspaces(want, got); d != "" {
		t.Fatalf("stock redis-server loaded something else: %s", d)
	}

	// And back: redis-server's own save loads in thredis.
	if err := rc.Set(ctx, "from-redis", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rc.HSet(ctx, "redis-hash", "a", "1", "b", strings.Repeat("z", 100))
	if err := rc.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	want["0/from-redis"] = keyState{str: "yes", expire: -1}
	want["0/redis-hash"] = keyState{fields: map[string]string{"a": "1", "b": strings.Repeat("z", 100)}, expire: -1}
	ts.Shutdown()
	ts2 := persistentServer(t, dir, "appendonly", "no")
	if d := diffKeyspaces(want, dumpKeyspace(ts2)); d != "" {
		t.Fatalf("thredis loading redis-server's file: %s", d)
	}
	checkSQL(t, ts2, sqlCount(t, ts2.raw(t), "_sql:redis_db", "t"))
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestConfigSetAppendOnly: turning the AOF on at run time writes the data
// so far as its base (a rewrite), then appends; turning it off stops it.
func TestConfigSetAppendOnly(t *testing.T) {
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "no")
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "SET", "before", "1")
	q(t, r, "SQL", "CREATE TABLE t(a)")
	q(t, r, "SQL", "INSERT INTO t VALUES (1)")
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "appendonly", "yes")
	waitInfo(t, r, "aof_rewrites", "1")
	waitInfo(t, r, "aof_enabled", "1")
	mustReply(t, r, "+OK\r\n", "SET", "after", "2")
	q(t, r, "SQL", "INSERT INTO t VALUES (2)")
	want := dumpKeyspace(ts)
	ts.Shutdown()
	ts2 := persistentServer(t, dir, "appendonly", "yes")
	if d := diffKeyspaces(want, dumpKeyspace(ts2)); d != "" {
		t.Fatalf("after restart: %s", d)
	}
	r2 := ts2.raw(t)
	mustReply(t, r2, "+OK\r\n", "CONFIG", "SET", "appendonly", "no")
	waitInfo(t, r2, "aof_enabled", "0")
	mustReply(t, r2, "+OK\r\n", "SET", "not-logged", "3")
	ts2.Shutdown()
	ts3 := persistentServer(t, dir, "appendonly", "yes")
	if d := diffKeyspaces(want, dumpKeyspace(ts3)); d != "" {
		t.Fatalf("after appendonly no and a restart: %s", d)
	}
}

// TestConfigSetAppendOnlyDuringBgsave: turning the AOF on while a BGSAVE
// runs schedules the enabling rewrite for when the save ends (Redis's
// reply and INFO fields); the writes made meanwhile are in its base.
// rdb-key-save-delay keeps the save running.
func TestConfigSetAppendOnlyDuringBgsave(t *testing.T) {
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "no", "save", "")
	r := ts.raw(t)
	for i := 0; i < 100; i++ {
		mustReply(t, r, "+OK\r\n", "SET", fmt.Sprintf("k%d", i), "v")
	}
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "rdb-key-save-delay", "100000") // 0.1 s per key
	mustReply(t, r, "+Background saving started\r\n", "BGSAVE")
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "appendonly", "yes")
	info := q(t, r, "INFO", "persistence").(string)
	for _, want := range []string{"rdb_bgsave_in_progress:1", "aof_enabled:1", "aof_rewrite_scheduled:1", "aof_rewrite_in_progress:0"} {
		if !strings.Contains(info, want+"\r\n") {
			t.Fatalf("INFO lacks %s:\n%s", want, info)
		}
	}
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "appendonly", "yes") // already on its way: no second rewrite
	mustReply(t, r, "+OK\r\n", "SET", "during", "1")
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "rdb-key-save-delay", "0")
	waitInfo(t, r, "aof_rewrites", "1")
	waitInfo(t, r, "aof_rewrite_scheduled", "0")
	mustReply(t, r, "+OK\r\n", "SET", "after", "2")
	want := dumpKeyspace(ts)
	ts.Shutdown()
	ts2 := persistentServer(t, dir, "appendonly", "yes", "save", "")
	if d := diffKeyspaces(want, dumpKeyspace(ts2)); d != "" {
		t.Fatalf("after restart: %s", d)
	}
}

// incrFile returns the path of the AOF's (single) incremental file.
func incrFile(t *testing.T, dir string) string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "appendonlydir", "*.incr.aof"))
	if len(names) != 1 {
		t.Fatalf("incremental files: %v", names)
	}
	return names[0]
}

// TestAOFDamagedAtStartup: a torn tail (a crash mid-write) is loaded up to
// the last whole command with aof-load-truncated yes, and refused without
// it; a corrupt middle always stops start-up with the file and offset.
func TestAOFDamagedAtStartup(t *testing.T) {
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "yes")
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "SET", "a", "1")
	q(t, r, "SQL", "CREATE TABLE t(x)")
	q(t, r, "SQL", "INSERT INTO t VALUES (1)")
	mustReply(t, r, "+OK\r\n", "SET", "b", "2")
	ts.Shutdown()
	path := incrFile(t, dir)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Tear the last command (SET b 2) in the middle.
	torn := data[:len(data)-5]
	if err := os.WriteFile(path, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	strict := New(mustConfig(t, dir, "appendonly", "yes", "aof-load-truncated", "no"), nil)
	if err := strict.LoadData(); err == nil || !strings.Contains(err.Error(), filepath.Base(path)) {
		t.Fatalf("aof-load-truncated no: start-up error %v, want one naming %s", err, filepath.Base(path))
	}
	ts2 := persistentServer(t, dir, "appendonly", "yes")
	r2 := ts2.raw(t)
	mustReply(t, r2, "$1\r\n1\r\n", "GET", "a")
	mustReply(t, r2, "$-1\r\n", "GET", "b")
	if n := sqlCount(t, r2, "_sql:redis_db", "t"); n != 1 {
		t.Fatalf("t has %d rows after a torn tail", n)
	}
	mustReply(t, r2, "+OK\r\n", "SET", "c", "3") // appends continue after the cut
	ts2.Shutdown()
	ts3 := persistentServer(t, dir, "appendonly", "yes")
	mustReply(t, ts3.raw(t), "$1\r\n3\r\n", "GET", "c")
	ts3.Shutdown()

	// A corrupt byte in the middle: refuse to start, naming file and offset.
	data, _ = os.ReadFile(path)
	i := strings.Index(string(data), "*3\r\n$3\r\nSET")
	if i < 0 {
		t.Fatalf("no SET in %q", data)
	}
	data[i] = '!'
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := New(mustConfig(t, dir, "appendonly", "yes"), nil)
	err = bad.LoadData()
	if err == nil || !strings.Contains(err.Error(), filepath.Base(path)) || !strings.Contains(err.Error(), "offset "+strconv.Itoa(i)) {
		t.Fatalf("corrupt middle: start-up error %v, want file %s and offset %d", err, filepath.Base(path), i)
	}
}

// mustConfig is a default config with dir and directives set.
func mustConfig(t *testing.T, dir string, kv ...string) *Config {
	t.Helper()
	cfg := DefaultConfig()
	kv = append([]string{"port", "0", "save", "", "dir", dir}, kv...)
	for i := 0; i+1 < len(kv); i += 2 {
		if err := cfg.Set(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// TestAOFAutoRewrite: once the AOF outgrows auto-aof-rewrite-min-size by
// auto-aof-rewrite-percentage, it is rewritten by itself.
func TestAOFAutoRewrite(t *testing.T) {
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "yes", "auto-aof-rewrite-min-size", "64kb", "auto-aof-rewrite-percentage", "100")
	r := ts.raw(t)
	val := strings.Repeat("x", 1000)
	for i := 0; i < 200; i++ {
		mustReply(t, r, "+OK\r\n", "SET", "k"+strconv.Itoa(i%10), val)
	}
	waitInfo(t, r, "aof_rewrites", "1")
	want := dumpKeyspace(ts)
	ts.Shutdown()
	ts2 := persistentServer(t, dir, "appendonly", "yes")
	if d := diffKeyspaces(want, dumpKeyspace(ts2)); d != "" {
		t.Fatalf("after an automatic rewrite and a restart: %s", d)
	}
}

// TestAOFCreatedFromRDB: turning appendonly on for a directory that has
// only a dump.rdb loads it and writes it as the AOF's first base, so the
// data survives even once the RDB file is gone.
func TestAOFCreatedFromRDB(t *testing.T) {
	dir := t.TempDir()
	ts := persistentServer(t, dir, "appendonly", "no")
	fillMixed(t, ts)
	mustReply(t, ts.raw(t), "+OK\r\n", "SAVE")
	want := dumpKeyspace(ts)
	ts.Shutdown()
	ts2 := persistentServer(t, dir, "appendonly", "yes")
	if d := diffKeyspaces(want, dumpKeyspace(ts2)); d != "" {
		t.Fatalf("loading the RDB with appendonly yes: %s", d)
	}
	ts2.Shutdown()
	if err := os.Remove(filepath.Join(dir, "dump.rdb")); err != nil {
		t.Fatal(err)
	}
	ts3 := persistentServer(t, dir, "appendonly", "yes")
	if d := diffKeyspaces(want, dumpKeyspace(ts3)); d != "" {
		t.Fatalf("from the AOF alone: %s", d)
	}
	checkSQL(t, ts3, sqlCount(t, ts3.raw(t), "_sql:redis_db", "t"))
}
