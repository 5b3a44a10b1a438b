package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replication through the real binaries (issue 5, acceptance 1 and 2):
// the seed's demo (a master and a `thredis --replicaof` replica whose SQL
// pages end up byte-identical), and interop with a stock redis-server 7.0
// in both directions. Every comparison is of full dumps: for each
// database, SCAN every key, then TYPE, the value and PEXPIRETIME.

// riNode is a running server (thredis or redis-server) under test.
type riNode struct {
	name string
	port int
	c    *redis.Client // RESP2, database 0, no retries
	logs func() string // the server's log so far, for failure messages
}

// riThredis starts thredis in memory (its working directory is a fresh
// temporary directory, where a disk-based full sync writes its RDB file).
func riThredis(t *testing.T, name string, args ...string) *riNode {
	t.Helper()
	s := startPersist(t, "", args...)
	return &riNode{name: name, port: s.port, c: s.c, logs: s.p.stderr.String}
}

// riRedis starts a stock redis-server on a free loopback port with no
// persistence, in its own temporary directory, plus args.
func riRedis(t *testing.T, name string, args ...string) *riNode {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (make deps installs it)")
	}
	port := freePort(t)
	dir := t.TempDir()
	full := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--databases", "16", "--logfile", ""}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Dir = dir
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	n := &riNode{name: name, port: port, c: persistClient(t, port), logs: out.String}
	deadline := time.Now().Add(15 * time.Second)
	for n.c.Ping(context.Background()).Err() != nil {
		select {
		case <-done:
			t.Fatalf("redis-server exited during start-up:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not answering on port %d:\n%s", port, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// db returns a client of n for database i.
func (n *riNode) db(t *testing.T, i int) *redis.Client {
	t.Helper()
	return goRedis(t, n.port, redis.Options{Protocol: 2, DB: i, MaxRetries: -1, ReadTimeout: 30 * time.Second})
}

// riInfo parses one INFO section into ordered names and a map.
func riInfo(t *testing.T, c *redis.Client, section string) ([]string, map[string]string) {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	var names []string
	m := map[string]string{}
	for _, line := range strings.Split(info, "\r\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("INFO %s: bad line %q", section, line)
		}
		names = append(names, k)
		m[k] = v
	}
	return names, m
}

// riWaitSynced waits until replica's link to master is up and it has
// processed everything master has produced (slave_repl_offset equal to
// the master's master_repl_offset), and the master lists it online (as
// its only replica: slave0).
func riWaitSynced(t *testing.T, master, replica *riNode) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var mo, ro, link string
	for {
		_, mi := riInfo(t, master.c, "replication")
		_, ri := riInfo(t, replica.c, "replication")
		mo, ro, link = mi["master_repl_offset"], ri["slave_repl_offset"], ri["master_link_status"]
		// The master too must see the replica online (redis-server
		// moves a replica online a moment after the transfer ends).
		if link == "up" && ri["master_sync_in_progress"] == "0" && mo == ro && mo != "" &&
			strings.Contains(mi["slave0"], ",state=online,") {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not catch up with %s in 20s: master_link_status %q, slave_repl_offset %s, master_repl_offset %s\n"+
		"%s log:\n%s\n%s log:\n%s", replica.name, master.name, link, ro, mo, master.name, master.logs(), replica.name,
		replica.logs())
}

// riKey is one key of a dump.
type riKey struct {
	Type   string
	Str    string
	Hash   map[string]string
	Expire int64 // PEXPIRETIME: absolute ms, -1 none
}

// riDump reads every key of every database of n through RESP: SCAN, then
// TYPE and PEXPIRETIME and the value (GET or HGETALL), pipelined.
func riDump(t *testing.T, n *riNode) map[string]riKey {
	t.Helper()
	ctx := context.Background()
	out := map[string]riKey{}
	for i := range 16 {
		c := n.db(t, i)
		var keys []string
		var cursor uint64
		for {
			ks, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
			if err != nil {
				t.Fatalf("%s: SCAN in db %d: %v", n.name, i, err)
			}
			keys = append(keys, ks...)
			if cursor = next; cursor == 0 {
				break
			}
		}
		slices.Sort(keys)
		keys = slices.Compact(keys) // SCAN may return a key twice
		// DBSIZE counts keys stored, expired or not: a DEL the master
		// never sent shows here even where reads hide the key.
		size, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatalf("%s: DBSIZE in db %d: %v", n.name, i, err)
		}
		if size != 0 {
			out[strconv.Itoa(i)+"/ DBSIZE"] = riKey{Type: "dbsize", Str: strconv.FormatInt(size, 10), Expire: -1}
		}
		for len(keys) > 0 {
			batch := keys[:min(len(keys), 1000)]
			keys = keys[len(batch):]
			types := make([]*redis.StatusCmd, len(batch))
			exps := make([]*redis.Cmd, len(batch))
			if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j, k := range batch {
					types[j] = p.Type(ctx, k)
					exps[j] = p.Do(ctx, "PEXPIRETIME", k)
				}
				return nil
			}); err != nil {
				t.Fatalf("%s: TYPE/PEXPIRETIME in db %d: %v", n.name, i, err)
			}
			strs := map[string]*redis.StringCmd{}
			hashes := map[string]*redis.MapStringStringCmd{}
			if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j, k := range batch {
					switch typ := types[j].Val(); typ {
					case "string":
						strs[k] = p.Get(ctx, k)
					case "hash":
						hashes[k] = p.HGetAll(ctx, k)
					case "none": // expired between SCAN and TYPE
					default:
						t.Errorf("%s: key %q in db %d has type %s", n.name, k, i, typ)
					}
				}
				return nil
			}); err != nil {
				t.Fatalf("%s: reading values in db %d: %v", n.name, i, err)
			}
			for j, k := range batch {
				st := riKey{Type: types[j].Val()}
				if st.Type == "none" {
					continue
				}
				var err error
				if st.Expire, err = exps[j].Int64(); err != nil {
					t.Fatalf("%s: PEXPIRETIME %q: %v", n.name, k, err)
				}
				if sc := strs[k]; sc != nil {
					st.Str = sc.Val()
				} else if hc := hashes[k]; hc != nil {
					st.Hash = hc.Val()
				}
				out[strconv.Itoa(i)+"/"+k] = st
			}
		}
	}
	return out
}

// riCompare fails the test unless the two servers hold exactly the same
// keys, types, values (every hash field byte for byte) and expiry times.
func riCompare(t *testing.T, what string, a, b *riNode) map[string]riKey {
	t.Helper()
	da, db := riDump(t, a), riDump(t, b)
	if d := riDiff(da, db); d != "" {
		t.Fatalf("%s: %s and %s differ: %s", what, a.name, b.name, d)
	}
	return da
}

// riDiff describes the first differences between two dumps ("" if none).
func riDiff(a, b map[string]riKey) string {
	var diffs []string
	names := slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range []map[string]riKey{a, b} {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	})
	for _, k := range names {
		ka, inA := a[k]
		kb, inB := b[k]
		switch {
		case !inA:
			diffs = append(diffs, fmt.Sprintf("%s only on the second (%s)", k, kb.Type))
		case !inB:
			diffs = append(diffs, fmt.Sprintf("%s only on the first (%s)", k, ka.Type))
		case ka.Type != kb.Type:
			diffs = append(diffs, fmt.Sprintf("%s: type %s vs %s", k, ka.Type, kb.Type))
		case ka.Expire != kb.Expire:
			diffs = append(diffs, fmt.Sprintf("%s: PEXPIRETIME %d vs %d", k, ka.Expire, kb.Expire))
		case ka.Str != kb.Str:
			diffs = append(diffs, fmt.Sprintf("%s: value %.60q vs %.60q", k, ka.Str, kb.Str))
		case !reflect.DeepEqual(ka.Hash, kb.Hash):
			diffs = append(diffs, fmt.Sprintf("%s: hash differs: %s", k, riHashDiff(ka.Hash, kb.Hash)))
		}
		if len(diffs) >= 10 {
			diffs = append(diffs, "…")
			break
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d vs %d keys; %s", len(a), len(b), strings.Join(diffs, "; "))
}

func riHashDiff(a, b map[string]string) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d vs %d fields", len(a), len(b))
	}
	for f, v := range a {
		w, ok := b[f]
		if !ok {
			return "field " + strconv.Quote(f) + " missing on the second"
		}
		if v != w {
			return fmt.Sprintf("field %q: %d bytes vs %d, first difference at byte %d", f, len(v), len(w),
				commonPrefix([]byte(v), []byte(w)))
		}
	}
	return "?"
}

// riSQLHash returns HGETALL of the default SQL key, checking it holds a
// database.
func riSQLHash(t *testing.T, n *riNode, key string) map[string]string {
	t.Helper()
	h, err := n.c.HGetAll(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("%s: HGETALL %s: %v", n.name, key, err)
	}
	if !strings.HasPrefix(h["0"], "SQLite format 3\x00") {
		t.Fatalf("%s: %s has no SQLite header page (%d fields)", n.name, key, len(h))
	}
	return h
}

// riSQL runs SQL (the default key) on n and returns the rows as text.
func riSQL(t *testing.T, n *riNode, query string, params ...any) []string {
	t.Helper()
	v, err := n.c.Do(context.Background(), append([]any{"SQL", query}, params...)...).Result()
	if err != nil {
		t.Fatalf("%s: SQL %q: %v", n.name, query, err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		t.Fatalf("%s: SQL %q = %#v, want a header and rows", n.name, query, v)
	}
	rows := make([][]any, 0, len(arr)-1)
	for _, r := range arr[1:] {
		rows = append(rows, r.([]any))
	}
	return respRows(rows)
}

// riExpectErr runs a command and checks its error reply is exactly want.
func riExpectErr(t *testing.T, n *riNode, want string, args ...any) {
	t.Helper()
	err := n.c.Do(context.Background(), args...).Err()
	var rerr redis.Error
	if !errors.As(err, &rerr) || err.Error() != want {
		t.Errorf("%s: %v = %v, want error %q", n.name, args, err, want)
	}
}

// riWaitOne writes key on master and runs WAIT 1 5000 on the same
// connection: it must answer 1, and the replica must then hold the key
// already (a replica acknowledges what it applied).
func riWaitOne(t *testing.T, master, replica *riNode, key string) {
	t.Helper()
	ctx := context.Background()
	conn := master.c.Conn()
	defer conn.Close()
	val := strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := conn.Set(ctx, key, val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got, err := conn.Wait(ctx, 1, 5*time.Second).Result(); err != nil || got != 1 {
		t.Fatalf("%s: WAIT 1 5000 after a write = %d, %v; want 1", master.name, got, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%s: WAIT 1 took %v", master.name, d)
	}
	if got, err := replica.c.Get(ctx, key).Result(); err != nil || got != val {
		t.Fatalf("%s: GET %s right after WAIT answered 1 = %q, %v; want %q", replica.name, key, got, err, val)
	}
}

// riWaitEmpty waits until database db of n is empty: its keys' TTLs
// passed and, as nothing reads them, the active expiry cycle removed
// them (which sends replicas a DEL each).
func riWaitEmpty(t *testing.T, n *riNode, db int) {
	t.Helper()
	c := n.db(t, db)
	deadline := time.Now().Add(10 * time.Second)
	for {
		size, err := c.DBSize(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if size == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: db %d still has %d keys after 10s", n.name, db, size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const riReadOnly = "READONLY You can't write against a read only replica."

// riFillThredis writes a bit of everything on a thredis master: strings
// (plain, integer, long compressible, binary), small and big hashes, TTLs,
// other databases, and two multi-page SQL databases built with random(),
// randomblob() and datetime('now').
func riFillThredis(t *testing.T, n *riNode, tag string) {
	t.Helper()
	c := n.c
	do(t, c, "SET", tag+":plain", "hello")
	do(t, c, "SET", tag+":int", "-12345")
	do(t, c, "SET", tag+":long", strings.Repeat("abc", 5000))
	do(t, c, "SET", tag+":bin", "\x00\xff\r\n\x01")
	do(t, c, "HSET", tag+":small", "f1", "v1", "f2", "22")
	args := []any{"HSET", tag + ":big"}
	for i := range 1000 {
		args = append(args, "field"+strconv.Itoa(i), strings.Repeat("x", i%100))
	}
	do(t, c, args...)
	do(t, c, "SET", tag+":ttl", "v", "EX", "5000")
	do(t, c, "PEXPIRE", tag+":big", "800000")
	do(t, n.db(t, 3), "SET", tag+":indb3", "x", "PX", "700000")
	do(t, n.db(t, 15), "HSET", tag+":indb15", "a", "1")
	do(t, c, "SQL", "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, tag TEXT, r INTEGER, b BLOB, at TEXT)")
	for range 10 {
		do(t, c, "SQL", "INSERT INTO t (tag, r, b, at) SELECT ?, random(), randomblob(700), datetime('now') "+
			"FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)", tag)
	}
	do(t, c, "SQL.EXEC", "_sql:"+tag, "CREATE TABLE u (k TEXT PRIMARY KEY, v BLOB); "+
		"INSERT INTO u SELECT hex(randomblob(8)), randomblob(1500) FROM (WITH RECURSIVE c(x) AS "+
		"(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20) SELECT x FROM c)")
}

// riLiveThredis is more of everything, sent while replicas stream: SQL
// inserts, updates, a shrinking transaction (pages cut: HDEL in the
// stream), a SQL transaction over several calls, SQL inside MULTI; string
// and hash writes, MULTI/EXEC, other databases, EXPIRE/PERSIST, DEL,
// HDEL, RENAME, dropping a whole SQL database with DEL, a SQL database in
// another database and a MULTI/EXEC with SELECT inside.
func riLiveThredis(t *testing.T, n *riNode, tag string) {
	t.Helper()
	ctx := context.Background()
	c := n.c
	do(t, c, "SQL", "INSERT INTO t (tag, r, b, at) VALUES (?, random(), randomblob(5000), datetime('now'))", tag+"-live")
	do(t, c, "SQL", "UPDATE t SET r = random() WHERE id % 3 = 0")
	do(t, c, "SQL", "CREATE TABLE IF NOT EXISTS big (x BLOB)")
	do(t, c, "SQL", "INSERT INTO big SELECT randomblob(4000) FROM (WITH RECURSIVE c(x) AS "+
		"(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30) SELECT x FROM c)")
	do(t, c, "SQL", "DROP TABLE big")
	do(t, c, "SQL", "VACUUM") // the file shrinks: pages cut

	// A transaction over several calls of one connection.
	conn := c.Conn()
	defer conn.Close()
	for _, q := range []string{"BEGIN", "INSERT INTO t (tag, r) VALUES ('tx', random())",
		"INSERT INTO t (tag, r) VALUES ('tx', random())", "COMMIT"} {
		if err := conn.Do(ctx, "SQL", q).Err(); err != nil {
			t.Fatalf("SQL %q: %v", q, err)
		}
	}
	// What fails or rolls back emits nothing.
	for _, q := range []string{"BEGIN", "INSERT INTO t (tag, r) VALUES ('rolled back', random())", "ROLLBACK"} {
		if err := conn.Do(ctx, "SQL", q).Err(); err != nil {
			t.Fatalf("SQL %q: %v", q, err)
		}
	}
	if err := c.Do(ctx, "SQL", "INSERT INTO t (tag) VALUES ('half'); INSERT INTO t (id) VALUES (1)").Err(); err == nil ||
		!strings.Contains(err.Error(), "UNIQUE constraint failed") {
		t.Fatalf("a failing INSERT: %v", err)
	}
	// SQL inside MULTI with keyspace writes: one atomic entry.
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "SQL", "INSERT INTO t (tag, r, at) VALUES ('multi', random(), datetime('now'))")
		p.Set(ctx, tag+":inmulti", "1", 0)
		p.HSet(ctx, tag+":small", "f3", "in multi")
		p.Incr(ctx, tag+":int")
		return nil
	}); err != nil {
		t.Fatalf("MULTI/EXEC: %v", err)
	}
	do(t, c, "APPEND", tag+":plain", " world")
	do(t, c, "EXPIRE", tag+":plain", "9000")
	do(t, c, "PERSIST", tag+":ttl")
	do(t, c, "HDEL", tag+":big", "field7", "field8")
	do(t, c, "DEL", tag+":bin")
	do(t, c, "RENAME", tag+":long", tag+":renamed")
	do(t, c, "SET", tag+":newttl", "x", "PX", "600000")
	do(t, n.db(t, 5), "SET", tag+":indb5", "five")
	do(t, n.db(t, 3), "DEL", tag+":indb3")
	do(t, c, "SQL.EXEC", "_sql:"+tag, "DELETE FROM u WHERE rowid % 2 = 0")
	// Whole databases moved around: SQL.DUMP / SQL.RESTORE, COPY, MOVE,
	// RENAME, then DEL.
	img, err := c.Do(ctx, "SQL.DUMP", "_sql:"+tag).Text()
	if err != nil {
		t.Fatalf("SQL.DUMP: %v", err)
	}
	do(t, c, "SQL.RESTORE", "_sql:"+tag+":restored", img)
	do(t, c, "SQL.EXEC", "_sql:"+tag+":restored", "INSERT INTO u VALUES ('restored', randomblob(10))")
	do(t, c, "COPY", "_sql:"+tag, "_sql:"+tag+":copy")
	do(t, c, "COPY", "_sql:"+tag, "_sql:"+tag+":copy9", "DB", "9")
	do(t, c, "MOVE", "_sql:"+tag+":copy", "10")
	do(t, c, "RENAME", "_sql:"+tag+":restored", "_sql:"+tag+":renamed")
	do(t, c, "DEL", "_sql:"+tag)
	do(t, c, "SQL", "INSERT INTO t (tag, r) VALUES ('last', random())")
	// A SQL database in another database, and one MULTI/EXEC that
	// switches databases inside (SELECT in the transaction).
	do(t, n.db(t, 3), "SQL", "CREATE TABLE IF NOT EXISTS d3 (v); INSERT INTO d3 VALUES (random())")
	mc := c.Conn()
	defer mc.Close()
	if _, err := mc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, tag+":tx0", "zero", 0)
		p.Do(ctx, "SELECT", "3")
		p.Do(ctx, "SQL", "INSERT INTO d3 VALUES (random())")
		p.Set(ctx, tag+":tx3", "three", 0)
		p.Do(ctx, "SELECT", "0")
		p.HSet(ctx, tag+":small", "after-select", "0")
		return nil
	}); err != nil {
		t.Fatalf("MULTI with SELECT: %v", err)
	}
}

// TestReplSeedDemo is the seed's demo: a master, `thredis --replicaof`,
// SQL on the master (random(), randomblob(), datetime('now')), the same
// rows from SELECT on the replica and the database's pages byte-identical
// on both; plain keys and TTLs replicated; the replica read-only (SQL
// reads work, SQL writes get -READONLY); INFO replication and ROLE shaped
// like Redis's. Once with diskless full sync, once disk-based.
func TestReplSeedDemo(t *testing.T) {
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"diskless", []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}},
		{"disk", []string{"--repl-diskless-sync", "no"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			master := riThredis(t, "master", mode.args...)
			// Data the full sync carries.
			riFillThredis(t, master, "pre")

			replica := riThredis(t, "replica", "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
			riWaitSynced(t, master, replica)
			riCompare(t, "after the full sync", master, replica)

			// The demo, on the live stream.
			do(t, master.c, "SQL", "CREATE TABLE demo (id INTEGER PRIMARY KEY, name TEXT, r INTEGER, b BLOB, at TEXT)")
			do(t, master.c, "SQL", "INSERT INTO demo (name, r, b, at) VALUES (?, random(), randomblob(16), datetime('now'))", "hello")
			do(t, master.c, "SQL", "INSERT INTO demo (name, r, b, at) VALUES (?, random(), randomblob(3000), datetime('now'))", "world")
			do(t, master.c, "SQL", "INSERT INTO demo (name, r, b, at) SELECT 'n' || value, random(), randomblob(200), "+
				"datetime('now') FROM json_each('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]')")
			riWaitOne(t, master, replica, "demo-marker")
			riWaitSynced(t, master, replica)
			const q = "SELECT id, name, r, hex(b), at FROM demo ORDER BY id"
			want := riSQL(t, master, q)
			if len(want) != 22 {
				t.Fatalf("master: %d demo rows, want 22", len(want))
			}
			if got := riSQL(t, replica, q); !slices.Equal(got, want) {
				t.Fatalf("SELECT on the replica:\n%s\nwant (master):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			mh, rh := riSQLHash(t, master, defaultSQLKey), riSQLHash(t, replica, defaultSQLKey)
			if !reflect.DeepEqual(mh, rh) {
				t.Fatalf("%s pages differ: %s", defaultSQLKey, riHashDiff(mh, rh))
			}

			// Everything else on the live stream, then full dumps.
			riLiveThredis(t, master, "pre")
			riWaitSynced(t, master, replica)
			dump := riCompare(t, "after the live stream", master, replica)
			if k := dump["0/pre:newttl"]; k.Expire <= time.Now().UnixMilli() {
				t.Errorf("pre:newttl has PEXPIRETIME %d, want one in the future", k.Expire)
			}
			if _, ok := dump["0/_sql:pre"]; ok {
				t.Error("the DEL of _sql:pre did not take")
			}
			if got, want := riSQL(t, replica, "SELECT count(*), total(r), max(at) FROM t"), riSQL(t, master, "SELECT count(*), total(r), max(at) FROM t"); !slices.Equal(got, want) {
				t.Errorf("SELECT count(*), total(r), max(at) FROM t: replica %v, master %v", got, want)
			}
			checkIntegrity(t, replica.c, defaultSQLKey)
			// Databases restored, copied, moved and renamed on the master
			// are readable with SQL on the replica.
			for _, k := range []struct {
				db  int
				key string
			}{{0, "_sql:pre:renamed"}, {9, "_sql:pre:copy9"}, {10, "_sql:pre:copy"}} {
				q := "SELECT count(*), hex(max(v)) FROM u"
				want := do(t, master.db(t, k.db), "SQL.QUERY", k.key, q)
				if got := do(t, replica.db(t, k.db), "SQL.QUERY", k.key, q); !reflect.DeepEqual(got, want) {
					t.Errorf("db %d SQL.QUERY %s %q: replica %v, master %v", k.db, k.key, q, got, want)
				}
			}

			// Read-only SQL works on the replica; writes are refused.
			if got := riSQL(t, replica, "PRAGMA page_count"); !slices.Equal(got, riSQL(t, master, "PRAGMA page_count")) {
				t.Errorf("PRAGMA page_count differs: replica %v", got)
			}
			if v := do(t, replica.c, "SQL.QUERY", defaultSQLKey, "EXPLAIN SELECT * FROM demo"); v == nil {
				t.Error("EXPLAIN on the replica replied nil")
			}
			riExpectErr(t, replica, riReadOnly, "SET", "x", "1")
			riExpectErr(t, replica, riReadOnly, "HSET", "pre:small", "f", "v")
			riExpectErr(t, replica, riReadOnly, "DEL", "pre:plain")
			riExpectErr(t, replica, riReadOnly, "EXPIRE", "pre:plain", "10")
			riExpectErr(t, replica, riReadOnly, "SQL", "INSERT INTO demo (name) VALUES ('on replica')")
			riExpectErr(t, replica, riReadOnly, "SQL", "CREATE TABLE nope (a)")
			riExpectErr(t, replica, riReadOnly, "SQL.EXEC", "_sql:other", "CREATE TABLE nope (a)")
			riExpectErr(t, replica, "ERR WAIT cannot be used with replica instances. Please also note that since "+
				"Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas "+
				"are just local and are not propagated.", "WAIT", "1", "100")
			if got := riSQL(t, replica, "SELECT count(*) FROM demo WHERE name = 'on replica'"); !slices.Equal(got, []string{"0"}) {
				t.Errorf("a refused INSERT left rows: %v", got)
			}
			riCompare(t, "after the refused writes", master, replica)

			riCheckInfoAndRole(t, master, replica)
		})
	}
}

// Redis 7.0.15's INFO replication field names, in order, for a master
// with one replica and for a replica without replicas of its own.
var (
	riMasterFields = []string{"role", "connected_slaves", "slave0", "master_failover_state", "master_replid",
		"master_replid2", "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
		"repl_backlog_first_byte_offset", "repl_backlog_histlen"}
	riReplicaFields = []string{"role", "master_host", "master_port", "master_link_status",
		"master_last_io_seconds_ago", "master_sync_in_progress", "slave_read_repl_offset", "slave_repl_offset",
		"slave_priority", "slave_read_only", "replica_announced", "connected_slaves", "master_failover_state",
		"master_replid", "master_replid2", "master_repl_offset", "second_repl_offset", "repl_backlog_active",
		"repl_backlog_size", "repl_backlog_first_byte_offset", "repl_backlog_histlen"}
)

// riCheckInfoAndRole checks INFO replication and ROLE on a synced master
// and replica (either may be thredis or redis-server) against Redis's
// shapes.
func riCheckInfoAndRole(t *testing.T, master, replica *riNode) {
	t.Helper()
	ctx := context.Background()
	riWaitSynced(t, master, replica)
	mNames, mi := riInfo(t, master.c, "replication")
	rNames, ri := riInfo(t, replica.c, "replication")
	if !slices.Equal(mNames, riMasterFields) {
		t.Errorf("%s INFO replication fields:\n%v\nwant (redis-server 7.0):\n%v", master.name, mNames, riMasterFields)
	}
	if !slices.Equal(rNames, riReplicaFields) {
		t.Errorf("%s INFO replication fields:\n%v\nwant (redis-server 7.0):\n%v", replica.name, rNames, riReplicaFields)
	}
	hex40 := regexp.MustCompile(`^[0-9a-f]{40}$`)
	slave0 := regexp.MustCompile(`^ip=127\.0\.0\.1,port=` + strconv.Itoa(replica.port) + `,state=online,offset=(\d+),lag=(\d+)$`)
	for k, want := range map[string]string{"role": "master", "connected_slaves": "1",
		"master_failover_state": "no-failover", "repl_backlog_active": "1", "repl_backlog_size": "1048576"} {
		if mi[k] != want {
			t.Errorf("%s INFO %s = %q, want %q", master.name, k, mi[k], want)
		}
	}
	if m := slave0.FindStringSubmatch(mi["slave0"]); m == nil {
		t.Errorf("%s INFO slave0 = %q, want ip=127.0.0.1,port=%d,state=online,offset=…,lag=…", master.name, mi["slave0"], replica.port)
	} else if lag, _ := strconv.Atoi(m[2]); lag > 2 {
		t.Errorf("%s INFO slave0 lag %d s", master.name, lag)
	}
	for k, want := range map[string]string{"role": "slave", "master_host": "127.0.0.1",
		"master_port": strconv.Itoa(master.port), "master_link_status": "up", "master_sync_in_progress": "0",
		"slave_read_only": "1", "connected_slaves": "0", "slave_priority": "100", "replica_announced": "1",
		"master_replid": mi["master_replid"], "master_replid2": mi["master_replid2"],
		"second_repl_offset": mi["second_repl_offset"], "repl_backlog_active": "1",
		"slave_read_repl_offset": ri["slave_repl_offset"], "master_repl_offset": ri["slave_repl_offset"]} {
		if ri[k] != want {
			t.Errorf("%s INFO %s = %q, want %q", replica.name, k, ri[k], want)
		}
	}
	if !hex40.MatchString(mi["master_replid"]) {
		t.Errorf("%s master_replid %q is not 40 hex digits", master.name, mi["master_replid"])
	}
	if n, err := strconv.Atoi(ri["master_last_io_seconds_ago"]); err != nil || n < 0 || n > 11 {
		t.Errorf("%s master_last_io_seconds_ago = %q", replica.name, ri["master_last_io_seconds_ago"])
	}

	// ROLE: ["master", offset, [[ip, port, offset]]] and
	// ["slave", host, port, "connected", offset].
	mrole, err := master.c.Do(ctx, "ROLE").Slice()
	if err != nil {
		t.Fatalf("%s ROLE: %v", master.name, err)
	}
	if len(mrole) != 3 || mrole[0] != "master" {
		t.Fatalf("%s ROLE = %#v", master.name, mrole)
	}
	if _, ok := mrole[1].(int64); !ok {
		t.Errorf("%s ROLE offset %#v is not an integer", master.name, mrole[1])
	}
	reps, _ := mrole[2].([]any)
	if len(reps) != 1 {
		t.Fatalf("%s ROLE replicas = %#v, want one", master.name, mrole[2])
	}
	rep, _ := reps[0].([]any)
	if len(rep) != 3 || rep[0] != "127.0.0.1" || rep[1] != strconv.Itoa(replica.port) {
		t.Errorf("%s ROLE replica = %#v, want [127.0.0.1 %d offset]", master.name, reps[0], replica.port)
	} else if _, err := strconv.ParseInt(fmt.Sprint(rep[2]), 10, 64); err != nil {
		t.Errorf("%s ROLE replica offset %#v is not a bulk number", master.name, rep[2])
	}
	rrole, err := replica.c.Do(ctx, "ROLE").Slice()
	if err != nil {
		t.Fatalf("%s ROLE: %v", replica.name, err)
	}
	if len(rrole) != 5 || rrole[0] != "slave" || rrole[1] != "127.0.0.1" || rrole[2] != int64(master.port) ||
		rrole[3] != "connected" {
		t.Errorf("%s ROLE = %#v, want [slave 127.0.0.1 %d connected offset]", replica.name, rrole, master.port)
	} else if off, ok := rrole[4].(int64); !ok || off < 0 {
		t.Errorf("%s ROLE offset = %#v", replica.name, rrole[4])
	}
}

// TestReplRedisReplicaOfThredis: a stock redis-server replicating from a
// thredis master holds the same keys, TTLs and SQL pages byte for byte,
// after the full sync and then from the live stream; diskless and
// disk-based full sync.
func TestReplRedisReplicaOfThredis(t *testing.T) {
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"diskless", []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}},
		{"disk", []string{"--repl-diskless-sync", "no"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			master := riThredis(t, "thredis master", mode.args...)
			riFillThredis(t, master, "pre")
			replica := riRedis(t, "redis-server replica", "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
			riWaitSynced(t, master, replica)
			d := riCompare(t, "after the full sync", master, replica)
			if _, ok := d["0/"+defaultSQLKey]; !ok {
				t.Fatalf("no %s after the full sync", defaultSQLKey)
			}
			if _, ok := d["0/_sql:pre"]; !ok {
				t.Fatal("no _sql:pre after the full sync")
			}
			riCheckInfoAndRole(t, master, replica)

			riLiveThredis(t, master, "pre")
			riFillThredis(t, master, "live")
			riWaitOne(t, master, replica, "live-marker") // redis-server's REPLCONF ACK
			riWaitSynced(t, master, replica)
			riCompare(t, "after the live stream", master, replica)
			mh, rh := riSQLHash(t, master, defaultSQLKey), riSQLHash(t, replica, defaultSQLKey)
			if !reflect.DeepEqual(mh, rh) {
				t.Fatalf("%s pages differ: %s", defaultSQLKey, riHashDiff(mh, rh))
			}
			riCheckInfoAndRole(t, master, replica)
		})
	}
}

// riFillRedis writes strings (embstr, int, raw, binary), listpack and
// hashtable-encoded hashes, TTLs and keys in several databases on a stock
// redis-server.
func riFillRedis(t *testing.T, n *riNode, tag string) {
	t.Helper()
	c := n.c
	do(t, c, "SET", tag+":plain", "hello")
	do(t, c, "SET", tag+":int", "12345")
	do(t, c, "SET", tag+":neg", "-9000000000")
	do(t, c, "SET", tag+":long", strings.Repeat("abc", 5000))
	do(t, c, "SET", tag+":bin", "\x00\xff\r\n\x01")
	do(t, c, "HSET", tag+":small", "f1", "v1", "f2", "22", "f3", "")
	args := []any{"HSET", tag + ":big"}
	for i := range 1000 {
		args = append(args, "field"+strconv.Itoa(i), strings.Repeat("y", i%100))
	}
	do(t, c, args...)
	do(t, c, "HSET", tag+":wide", "f", strings.Repeat("w", 200)) // past hash-max-listpack-value
	do(t, c, "SET", tag+":ttl", "v", "EX", "5000")
	do(t, c, "PEXPIRE", tag+":small", "800000")
	do(t, c, "EXPIREAT", tag+":big", strconv.FormatInt(time.Now().Unix()+9999, 10))
	do(t, n.db(t, 2), "SET", tag+":indb2", "two", "PX", "700000")
	do(t, n.db(t, 9), "HSET", tag+":indb9", "a", "1", "b", "2")
	for i := range 200 {
		do(t, c, "SET", tag+":k"+strconv.Itoa(i), i)
	}
}

// riLiveRedis is redis-server's live stream: MULTI/EXEC, writes to other
// databases (SELECT in the stream), EXPIRE family (propagated as
// PEXPIREAT), SET EX (SET … PXAT), DEL, HDEL, INCRBYFLOAT/HINCRBYFLOAT
// (propagated as SET/HSET), RENAME, GETDEL, GETEX, SWAPDB and FLUSHDB.
// (Keys expiring on the master: TestReplExpiredKeysReachReplicas.)
func riLiveRedis(t *testing.T, n *riNode, tag string) {
	t.Helper()
	ctx := context.Background()
	c := n.c
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, tag+":m1", "a", 0)
		p.Incr(ctx, tag+":int")
		p.HSet(ctx, tag+":small", "f4", "in multi")
		p.HDel(ctx, tag+":small", "f1")
		p.Expire(ctx, tag+":m1", 3000*time.Second)
		return nil
	}); err != nil {
		t.Fatalf("MULTI/EXEC: %v", err)
	}
	db4 := n.db(t, 4)
	if _, err := db4.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, tag+":indb4", "four", 0)
		p.HSet(ctx, tag+":h4", "x", "y")
		return nil
	}); err != nil {
		t.Fatalf("MULTI/EXEC in db 4: %v", err)
	}
	do(t, n.db(t, 9), "HSET", tag+":indb9", "c", "3")
	do(t, n.db(t, 2), "DEL", tag+":indb2")
	do(t, c, "APPEND", tag+":plain", " world")
	do(t, c, "EXPIRE", tag+":plain", "9000")
	do(t, c, "PEXPIRE", tag+":int", "8000000")
	do(t, c, "PERSIST", tag+":ttl")
	do(t, c, "SET", tag+":setex", "v", "EX", "4000")
	do(t, c, "SETEX", tag+":setex2", "4100", "v")
	do(t, c, "SET", tag+":keep", "v1", "PX", "600000")
	do(t, c, "SET", tag+":keep", "v2", "KEEPTTL")
	do(t, c, "INCRBYFLOAT", tag+":float", "1.5")
	do(t, c, "HINCRBYFLOAT", tag+":small", "hf", "2.25")
	do(t, c, "HINCRBY", tag+":small", "hi", "7")
	do(t, c, "HDEL", tag+":big", "field1", "field2", "field3")
	do(t, c, "DEL", tag+":bin", tag+":k0", tag+":k1")
	do(t, c, "RENAME", tag+":long", tag+":renamed")
	do(t, c, "GETDEL", tag+":k2")
	do(t, c, "GETEX", tag+":k3", "EX", "7000")
	do(t, c, "MSET", tag+":ms1", "1", tag+":ms2", "2")
	// A script's effects (propagated as MULTI / … / EXEC), MOVE and COPY.
	do(t, c, "EVAL", "redis.call('SET', KEYS[1], ARGV[1]); redis.call('HSET', KEYS[2], 'f', ARGV[1]); "+
		"redis.call('PEXPIRE', KEYS[2], 500000); return 1", "2", tag+":lua", tag+":luah", "from lua")
	do(t, c, "MOVE", tag+":ms1", "5")
	do(t, c, "COPY", tag+":small", tag+":small-copy")
	do(t, c, "COPY", tag+":big", tag+":big-copy", "DB", "13")
	do(t, c, "SETNX", tag+":nx", "1")
	do(t, c, "HSETNX", tag+":small", "nx", "1")
	do(t, c, "HMSET", tag+":hm", "a", "1", "b", "2")
	do(t, n.db(t, 6), "SET", tag+":flushed", "x")
	do(t, n.db(t, 6), "FLUSHDB")
	do(t, n.db(t, 7), "SET", tag+":swapped", "seven")
	do(t, c, "SWAPDB", "7", "8")
}

// TestReplThredisReplicaOfRedis: thredis replicating from a stock
// redis-server holds the same keys, values and TTLs after the full sync
// (diskless and disk-based) and from the live stream; a SQL database
// written into redis-server as a plain hash (pages copied from another
// thredis) is readable by SQL on the thredis replica, and a later page
// update through the stream is seen by the next SELECT.
func TestReplThredisReplicaOfRedis(t *testing.T) {
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"diskless", []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}},
		{"disk", []string{"--repl-diskless-sync", "no"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			master := riRedis(t, "redis-server master", mode.args...)
			riFillRedis(t, master, "pre")

			// A SQL database built by a scratch thredis, stored into
			// redis-server as plain hash fields.
			scratch := riThredis(t, "scratch thredis")
			do(t, scratch.c, "SQL", "CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT, b BLOB)")
			do(t, scratch.c, "SQL", "INSERT INTO s (v, b) SELECT 'row' || value, randomblob(900) FROM "+
				"json_each('[1,2,3,4,5,6,7,8,9,10]')")
			riCopyHash(t, scratch, master, defaultSQLKey)

			replica := riThredis(t, "thredis replica", "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
			riWaitSynced(t, master, replica)
			riCompare(t, "after the full sync", master, replica)
			if got, want := riSQL(t, replica, "SELECT id, v, hex(b) FROM s ORDER BY id"),
				riSQL(t, scratch, "SELECT id, v, hex(b) FROM s ORDER BY id"); !slices.Equal(got, want) {
				t.Fatalf("SQL on the replica after the full sync:\n%v\nwant\n%v", got, want)
			}
			riCheckInfoAndRole(t, master, replica)

			riLiveRedis(t, master, "pre")
			riFillRedis(t, master, "live")
			// Pages of a changed database reach the replica through the
			// stream (HSET to a key that holds a database: applied, not
			// refused, as it comes from the master).
			do(t, scratch.c, "SQL", "INSERT INTO s (v, b) SELECT 'more' || value, randomblob(2000) FROM "+
				"json_each('[1,2,3,4,5,6,7,8,9,10]')")
			do(t, scratch.c, "SQL", "UPDATE s SET v = 'updated' WHERE id = 1")
			riCopyHash(t, scratch, master, defaultSQLKey)
			riWaitOne(t, master, replica, "live-marker") // thredis's REPLCONF ACK
			riWaitSynced(t, master, replica)
			d := riCompare(t, "after the live stream", master, replica)
			for _, k := range []string{"6/pre:flushed", "7/pre:swapped", "0/pre:bin", "2/pre:indb2"} {
				if _, ok := d[k]; ok {
					t.Errorf("%s should be gone", k)
				}
			}
			if _, ok := d["8/pre:swapped"]; !ok {
				t.Error("SWAPDB 7 8 did not move pre:swapped to db 8")
			}
			if got, want := riSQL(t, replica, "SELECT id, v, hex(b) FROM s ORDER BY id"),
				riSQL(t, scratch, "SELECT id, v, hex(b) FROM s ORDER BY id"); !slices.Equal(got, want) {
				t.Fatalf("SQL on the replica after the stream updated the pages:\n%v\nwant\n%v", got, want)
			}
			checkIntegrity(t, replica.c, defaultSQLKey)
			riExpectErr(t, replica, riReadOnly, "SET", "x", "1")
			riExpectErr(t, replica, riReadOnly, "SQL", "INSERT INTO s (v) VALUES ('no')")
			riCheckInfoAndRole(t, master, replica)
		})
	}
}

// riCopyHash makes key on dst an exact copy of the hash key on src: HSET
// of every field, HDEL of fields src no longer has.
func riCopyHash(t *testing.T, src, dst *riNode, key string) {
	t.Helper()
	ctx := context.Background()
	h, err := src.c.HGetAll(ctx, key).Result()
	if err != nil || len(h) == 0 {
		t.Fatalf("%s: HGETALL %s = %d fields, %v", src.name, key, len(h), err)
	}
	old, err := dst.c.HKeys(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		args := []any{}
		for f, v := range h {
			args = append(args, f, v)
		}
		p.HSet(ctx, key, args...)
		for _, f := range old {
			if _, ok := h[f]; !ok {
				p.HDel(ctx, key, f)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("%s: copying %s: %v", dst.name, key, err)
	}
}

// TestReplSeedDemoRedisCLI is the README's two-terminal demo with the
// real redis-cli: a master, `thredis --port P2 --replicaof 127.0.0.1 P1`,
// SQL written on the master and read on the replica with the same output.
func TestReplSeedDemoRedisCLI(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	mproc := startThredis(t, p1, "--port", strconv.Itoa(p1), "--repl-diskless-sync-delay", "0")
	rproc := startThredis(t, p2, "--port", strconv.Itoa(p2), "--replicaof", "127.0.0.1", strconv.Itoa(p1))
	master := &riNode{name: "master", port: p1, c: persistClient(t, p1), logs: mproc.stderr.String}
	replica := &riNode{name: "replica", port: p2, c: persistClient(t, p2), logs: rproc.stderr.String}
	cli := func(port int, args ...string) string {
		t.Helper()
		return redisCLI(t, port, append([]string{"--no-raw"}, args...)...)
	}
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"SQL", "CREATE TABLE test (a int, b text, at text, r int)"}, "(integer) 0"},
		{[]string{"SQL", "INSERT INTO test VALUES (?, ?, datetime('now'), random())", "1", "hello"}, "(integer) 1"},
		{[]string{"SQL", "INSERT INTO test VALUES (?, ?, datetime('now'), random())", "2", "world"}, "(integer) 1"},
	} {
		if got := cli(p1, step.args...); got != step.want {
			t.Fatalf("redis-cli -p %d %q:\n got: %s\nwant: %s", p1, step.args, got, step.want)
		}
	}
	riWaitSynced(t, master, replica)
	sel := []string{"SQL", "SELECT * FROM test"}
	want := cli(p1, sel...)
	if !strings.Contains(want, `"hello"`) || !strings.Contains(want, `"world"`) {
		t.Fatalf("SELECT on the master:\n%s", want)
	}
	if got := cli(p2, sel...); got != want {
		t.Errorf("redis-cli -p %d SQL SELECT (replica):\n%s\nwant (master):\n%s", p2, got, want)
	}
	for _, args := range [][]string{{"HLEN", defaultSQLKey}, {"TYPE", defaultSQLKey}} {
		if got, want := cli(p2, args...), cli(p1, args...); got != want {
			t.Errorf("redis-cli %q: replica %s, master %s", args, got, want)
		}
	}
	mh, rh := riSQLHash(t, master, defaultSQLKey), riSQLHash(t, replica, defaultSQLKey)
	if !reflect.DeepEqual(mh, rh) {
		t.Fatalf("%s pages differ: %s", defaultSQLKey, riHashDiff(mh, rh))
	}
	if got, want := cli(p2, "SQL", "INSERT INTO test VALUES (3, 'no', 0, 0)"),
		"(error) READONLY You can't write against a read only replica."; got != want {
		t.Errorf("SQL INSERT on the replica: %s, want %s", got, want)
	}
	if got, want := cli(p2, "SET", "k", "v"), "(error) READONLY You can't write against a read only replica."; got != want {
		t.Errorf("SET on the replica: %s, want %s", got, want)
	}
	if got := cli(p2, "ROLE"); !strings.HasPrefix(got, "1) \"slave\"\n2) \"127.0.0.1\"\n3) (integer) "+strconv.Itoa(p1)+"\n4) \"connected\"\n5) (integer) ") {
		t.Errorf("ROLE on the replica:\n%s", got)
	}

	// redis-cli --rdb (REPLCONF capa eof / rdb-only, legacy SYNC) fetches
	// the master's snapshot; redis-check-rdb accepts it.
	rdbFile := filepath.Join(t.TempDir(), "fetched.rdb")
	if out := redisCLI(t, p1, "--rdb", rdbFile); !strings.Contains(out, "Transfer finished with success") {
		t.Fatalf("redis-cli --rdb:\n%s", out)
	}
	if check, err := exec.LookPath("redis-check-rdb"); err == nil {
		out, err := exec.Command(check, rdbFile).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "[info] 1 keys read") {
			t.Errorf("redis-check-rdb on redis-cli --rdb's file: %v\n%s", err, out)
		}
	}
}

// riWriter keeps writing to n from its own connections until stopped:
// SQL inserts (random(), randomblob()), strings, hashes, TTLs, deletes,
// MULTI/EXEC and a second database, as fast as it can.
type riWriter struct {
	stop chan struct{}
	done chan struct{}
	n    atomic.Int64
	err  atomic.Pointer[error]
}

func riStartWriter(t *testing.T, n *riNode, sql bool) *riWriter {
	t.Helper()
	w := &riWriter{stop: make(chan struct{}), done: make(chan struct{})}
	c, c2 := n.db(t, 0), n.db(t, 2)
	go func() {
		defer close(w.done)
		ctx := context.Background()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			k := "w:" + strconv.Itoa(i%500)
			var err error
			switch i % 8 {
			case 0:
				if sql {
					// Two rows per transaction: a reader never sees an
					// odd count unless it saw half a transaction.
					err = c.Do(ctx, "SQL", "INSERT INTO t (tag, r, b, at) SELECT 'w', random(), randomblob(300), "+
						"datetime('now') FROM (SELECT 1 UNION ALL SELECT 2)").Err()
				} else {
					err = c.HSet(ctx, "wh", "f"+strconv.Itoa(i), i).Err()
				}
			case 1:
				err = c.Set(ctx, k, i, 0).Err()
			case 2:
				err = c.HSet(ctx, "wh:"+strconv.Itoa(i%50), "f"+strconv.Itoa(i%7), i).Err()
			case 3:
				err = c.PExpire(ctx, k, time.Duration(600+i%100)*time.Second).Err()
			case 4:
				err = c.Del(ctx, "w:"+strconv.Itoa((i+250)%500)).Err()
			case 5:
				_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, "w:counter")
					p.HDel(ctx, "wh:"+strconv.Itoa(i%50), "f"+strconv.Itoa((i+3)%7))
					p.Set(ctx, "w:multi", i, 0)
					return nil
				})
			case 6:
				err = c2.Set(ctx, k, i, time.Duration(900+i%10)*time.Second).Err()
			case 7:
				err = c.Append(ctx, "w:log", "x").Err()
			}
			if err != nil {
				w.err.Store(&err)
				return
			}
			w.n.Add(1)
		}
	}()
	return w
}

// finish stops the writer and fails the test if a write failed.
func (w *riWriter) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	if e := w.err.Load(); e != nil {
		t.Fatalf("writer: %v", *e)
	}
	t.Logf("%d writes", w.n.Load())
}

// riBigSQL grows the default SQL database to about mb megabytes.
func riBigSQL(t *testing.T, n *riNode, mb int) {
	t.Helper()
	do(t, n.c, "SQL", "CREATE TABLE IF NOT EXISTS bulk (id INTEGER PRIMARY KEY, b BLOB)")
	for range mb {
		do(t, n.c, "SQL", "INSERT INTO bulk (b) SELECT randomblob(1000) FROM (WITH RECURSIVE c(x) AS "+
			"(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT x FROM c)")
	}
}

// TestReplFullSyncUnderWrites: a replica starts while a writer keeps
// changing its master — a thredis master holding a 16 MB SQL database
// (replicas: stock redis-server and thredis), and a stock redis-server
// master holding 30k more keys (replica: thredis); once the writer stops and
// the replica caught up, both hold the same data, SQL pages byte for byte.
// The snapshot is a point in time and the stream buffered during the
// transfer follows it exactly.
func TestReplFullSyncUnderWrites(t *testing.T) {
	diskless := []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}
	disk := []string{"--repl-diskless-sync", "no"}
	for _, tc := range []struct {
		name            string
		master, replica string
		args            []string
	}{
		{"thredis-to-redis-diskless", "thredis", "redis", diskless},
		{"thredis-to-redis-disk", "thredis", "redis", disk},
		{"thredis-to-thredis-diskless", "thredis", "thredis", diskless},
		{"thredis-to-thredis-disk", "thredis", "thredis", disk},
		{"redis-to-thredis-diskless", "redis", "thredis", diskless},
		{"redis-to-thredis-disk", "redis", "thredis", disk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var master *riNode
			if tc.master == "thredis" {
				master = riThredis(t, "thredis master", tc.args...)
				riFillThredis(t, master, "pre")
				riBigSQL(t, master, 16)
			} else {
				master = riRedis(t, "redis-server master", append([]string{"--enable-debug-command", "yes"}, tc.args...)...)
				riFillRedis(t, master, "pre")
				do(t, master.c, "DEBUG", "POPULATE", "30000", "pop", "100")
			}
			w := riStartWriter(t, master, tc.master == "thredis")
			time.Sleep(50 * time.Millisecond)
			atStart := w.n.Load()
			var replica *riNode
			if tc.replica == "redis" {
				replica = riRedis(t, "redis-server replica", "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
			} else {
				replica = riThredis(t, "thredis replica", "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, ri := riInfo(t, replica.c, "replication")
				if ri["master_link_status"] == "up" {
					break
				}
				if time.Now().After(deadline) {
					_, mi := riInfo(t, master.c, "replication")
					t.Fatalf("replica link not up after 20s; replica INFO replication %v\nmaster INFO replication %v\n"+
						"replica log:\n%s", ri, mi, replica.logs())
				}
				time.Sleep(10 * time.Millisecond)
			}
			before := w.n.Load()
			t.Logf("%d writes while the replica started and synced", before-atStart)
			var torn chan string
			if tc.master == "thredis" && tc.replica == "thredis" {
				torn = riTornReader(t, replica, w.stop)
			}
			time.Sleep(300 * time.Millisecond)
			w.finish(t)
			if torn != nil {
				if msg := <-torn; msg != "" {
					t.Error(msg)
				}
			}
			if w.n.Load() == before {
				t.Error("no writes after the replica's sync")
			}
			riWaitSynced(t, master, replica)
			riCompare(t, "after the full sync under writes", master, replica)
			if tc.replica == "thredis" && tc.master == "thredis" {
				checkIntegrity(t, replica.c, defaultSQLKey)
				q := "SELECT count(*), total(r), max(id) FROM t"
				if got, want := riSQL(t, replica, q), riSQL(t, master, q); !slices.Equal(got, want) {
					t.Errorf("%s: replica %v, master %v", q, got, want)
				}
			}
		})
	}
}

// riTornReader keeps reading the writer's two-row SQL transactions on a
// thredis replica until stop is closed; it reports (one message, "" if
// none) a read that saw half a transaction, or no read at all.
func riTornReader(t *testing.T, replica *riNode, stop chan struct{}) chan string {
	t.Helper()
	c := replica.db(t, 0)
	out := make(chan string, 1)
	go func() {
		ctx := context.Background()
		reads := 0
		for {
			select {
			case <-stop:
				if reads == 0 {
					out <- "the replica answered no SQL read while the stream ran"
				} else {
					out <- ""
				}
				return
			default:
			}
			v, err := c.Do(ctx, "SQL", "SELECT count(*) FROM t WHERE tag = 'w'").Slice()
			if err != nil {
				out <- fmt.Sprintf("SQL read on the replica: %v", err)
				return
			}
			if len(v) != 2 {
				out <- fmt.Sprintf("SQL read on the replica: %#v", v)
				return
			}
			row, _ := v[1].([]any)
			if n, _ := row[0].(int64); n%2 != 0 {
				out <- fmt.Sprintf("a SQL read on the replica saw half a transaction: %d rows", n)
				return
			}
			reads++
		}
	}()
	return out
}

// TestReplExpiredKeysReachReplicas: a key whose TTL passes on the master
// is deleted there — lazily by a read, or by the active expiry cycle — and
// the DEL the master propagates removes it from the replica too (DBSIZE,
// which counts stored keys whether expired or not, agrees). A thredis
// replica hides an expired key from reads but keeps it stored until that
// DEL: the DEL must remove it even though lookups call it missing.
func TestReplExpiredKeysReachReplicas(t *testing.T) {
	for _, tc := range []struct{ name, master, replica string }{
		{"thredis-to-redis", "thredis", "redis"},
		{"thredis-to-thredis", "thredis", "thredis"},
		{"redis-to-thredis", "redis", "thredis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := map[string]func(*testing.T, string, ...string) *riNode{"thredis": riThredis, "redis": riRedis}
			master := start[tc.master](t, tc.master+" master", "--repl-diskless-sync-delay", "0")
			replica := start[tc.replica](t, tc.replica+" replica", "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
			riWaitSynced(t, master, replica)
			do(t, master.c, "SET", "keep", "v")
			set := time.Now()
			do(t, master.c, "SET", "lazy", "v", "PX", "1000")
			do(t, master.db(t, 11), "SET", "active", "v", "PX", "1000")
			do(t, master.db(t, 11), "HSET", "active-hash", "f", "v")
			do(t, master.db(t, 11), "PEXPIRE", "active-hash", "1000")
			riWaitSynced(t, master, replica)
			d := riCompare(t, "before the TTLs pass", master, replica)
			if time.Since(set) < 900*time.Millisecond && len(d) != 6 {
				t.Errorf("before the TTLs pass: %d keys and DBSIZEs, want 6: %v", len(d), d)
			}
			time.Sleep(time.Until(set.Add(1100 * time.Millisecond)))
			if n := do(t, master.c, "EXISTS", "lazy"); n != int64(0) {
				t.Fatalf("EXISTS lazy on the master = %v after its TTL", n)
			}
			riWaitEmpty(t, master, 11)
			riWaitSynced(t, master, replica)
			d = riCompare(t, "after the master expired the keys", master, replica)
			if _, ok := d["11/ DBSIZE"]; ok {
				t.Error("db 11 not empty")
			}
		})
	}
}

// TestReplChainInterop: chains mixing the two servers — redis-server →
// thredis → redis-server (thredis serves its own replica a snapshot of
// what it replicated, then proxies its master's stream), and thredis →
// redis-server → thredis (SQL pages carried through a stock Redis and
// readable by SQL at the end). Every node ends with the same data.
func TestReplChainInterop(t *testing.T) {
	for _, kinds := range [][3]string{{"redis", "thredis", "redis"}, {"thredis", "redis", "thredis"}} {
		t.Run(strings.Join(kinds[:], "-"), func(t *testing.T) {
			start := map[string]func(*testing.T, string, ...string) *riNode{"thredis": riThredis, "redis": riRedis}
			args := []string{"--repl-diskless-sync-delay", "0"}
			head := start[kinds[0]](t, kinds[0]+" head", args...)
			if kinds[0] == "thredis" {
				riFillThredis(t, head, "pre")
			} else {
				riFillRedis(t, head, "pre")
			}
			midArgs := []string{"--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", strconv.Itoa(head.port)}
			mid := start[kinds[1]](t, kinds[1]+" middle", midArgs...)
			riWaitSynced(t, head, mid)
			tail := start[kinds[2]](t, kinds[2]+" tail", "--replicaof", "127.0.0.1", strconv.Itoa(mid.port))
			riWaitSynced(t, mid, tail)
			riCompare(t, "after the full syncs", head, tail)

			if kinds[0] == "thredis" {
				riLiveThredis(t, head, "pre")
				riFillThredis(t, head, "live")
			} else {
				riLiveRedis(t, head, "pre")
				riFillRedis(t, head, "live")
			}
			riWaitSynced(t, head, mid)
			riWaitSynced(t, mid, tail)
			riCompare(t, "head and middle after the stream", head, mid)
			riCompare(t, "head and tail after the stream", head, tail)
			// Offsets agree along the chain (the stream is proxied as is).
			_, hi := riInfo(t, head.c, "replication")
			_, ti := riInfo(t, tail.c, "replication")
			if hi["master_repl_offset"] != ti["master_repl_offset"] || hi["master_replid"] != ti["master_replid"] {
				t.Errorf("head replid/offset %s/%s, tail %s/%s", hi["master_replid"], hi["master_repl_offset"],
					ti["master_replid"], ti["master_repl_offset"])
			}
			if kinds[2] == "thredis" {
				q := "SELECT count(*), total(r), max(at) FROM t"
				if got, want := riSQL(t, tail, q), riSQL(t, head, q); !slices.Equal(got, want) {
					t.Errorf("%s: tail %v, head %v", q, got, want)
				}
				checkIntegrity(t, tail.c, defaultSQLKey)
			}
		})
	}
}
