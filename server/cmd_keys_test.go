package server

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/thredis/thredis/keyspace"
)

// ktLog subscribes a recorder to ts's command log and returns a function
// listing the ops recorded so far as "db:ARG ARG ...".
func ktLog(t *testing.T, ts *testServer) func() []string {
	t.Helper()
	rec := recordLog(t, ts)
	return func() []string { return loggedOps(rec, true) }
}

// ktEqual fails unless got equals want element by element.
func ktEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// ktSetTTL gives key an absolute expiry directly in the keyspace (to make
// keys that are already logically expired without waiting).
func ktSetTTL(t *testing.T, ts *testServer, db int, key string, at int64) {
	t.Helper()
	ts.Exec(func(ks *keyspace.Keyspace) {
		if !ks.DB(db).SetExpire([]byte(key), at) {
			t.Errorf("no key %q", key)
		}
	})
}

func TestKeysDelExistsTypeTouch(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.MSet(ctx, "a", "1", "b", "2", "c", "3").Err())
	must(rdb.HSet(ctx, "h", "f", "v").Err())

	if n := rdb.Exists(ctx, "a", "b", "nope", "a", "h").Val(); n != 4 {
		t.Fatalf("EXISTS counted %d, want 4 (repeats count)", n)
	}
	for key, want := range map[string]string{"a": "string", "h": "hash", "nope": "none"} {
		if got := rdb.Type(ctx, key).Val(); got != want {
			t.Fatalf("TYPE %s = %q, want %q", key, got, want)
		}
	}
	if n := rdb.Touch(ctx, "a", "nope", "h").Val(); n != 2 {
		t.Fatalf("TOUCH = %d, want 2", n)
	}
	if n := rdb.Del(ctx, "a", "nope", "b").Val(); n != 2 {
		t.Fatalf("DEL = %d, want 2", n)
	}
	if n := rdb.Unlink(ctx, "c", "c").Val(); n != 1 {
		t.Fatalf("UNLINK = %d, want 1", n)
	}
	if n := rdb.DBSize(ctx).Val(); n != 1 {
		t.Fatalf("DBSIZE = %d, want 1", n)
	}
	if n := rdb.Exists(ctx, "a", "b", "c").Val(); n != 0 {
		t.Fatalf("deleted keys exist: %d", n)
	}

	// An expired key is gone for EXISTS/TYPE/TOUCH/DEL, but DBSIZE counts
	// it until it is reclaimed, as in Redis.
	must(rdb.Set(ctx, "x", "v", 0).Err())
	ktSetTTL(t, ts, 0, "x", time.Now().UnixMilli()-10)
	if n := rdb.DBSize(ctx).Val(); n != 2 {
		t.Fatalf("DBSIZE with an unreclaimed expired key = %d, want 2", n)
	}
	if rdb.Type(ctx, "x").Val() != "none" || rdb.Exists(ctx, "x").Val() != 0 {
		t.Fatal("expired key visible")
	}
	if n := rdb.DBSize(ctx).Val(); n != 1 {
		t.Fatalf("DBSIZE after lazy reclaim = %d, want 1", n)
	}
}

func TestKeysKeysAndRandomkey(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	if err := rdb.RandomKey(ctx).Err(); err != redis.Nil {
		t.Fatalf("RANDOMKEY on an empty db: %v, want nil", err)
	}
	for _, k := range []string{"hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", "other"} {
		rdb.Set(ctx, k, "v", 0)
	}
	cases := map[string][]string{
		"*":        {"a*b", "hallo", "heeeello", "hello", "hllo", "hxllo", "other"},
		"h?llo":    {"hallo", "hello", "hxllo"},
		"h*llo":    {"hallo", "heeeello", "hello", "hllo", "hxllo"},
		"h[ae]llo": {"hallo", "hello"},
		"h[^e]llo": {"hallo", "hxllo"},
		"a\\*b":    {"a*b"},
		"zzz*":     {},
	}
	for pat, want := range cases {
		got := rdb.Keys(ctx, pat).Val()
		sort.Strings(got)
		ktEqual(t, "KEYS "+pat, got, want)
	}
	// KEYS skips logically expired keys (without reclaiming them).
	ktSetTTL(t, ts, 0, "other", time.Now().UnixMilli()-1)
	if got := rdb.Keys(ctx, "o*").Val(); len(got) != 0 {
		t.Fatalf("KEYS returned an expired key: %q", got)
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k := rdb.RandomKey(ctx).Val()
		if k == "other" || k == "" {
			t.Fatalf("RANDOMKEY returned %q", k)
		}
		seen[k] = true
	}
	if len(seen) < 3 {
		t.Fatalf("RANDOMKEY is not random: %v", seen)
	}
	// A db of nothing but expired keys answers nil and is emptied.
	r := ts.raw(t)
	r.do("SELECT", "3")
	for i := 0; i < 50; i++ {
		r.do("SET", "e"+strconv.Itoa(i), "v")
		ktSetTTL(t, ts, 3, "e"+strconv.Itoa(i), time.Now().UnixMilli()-1)
	}
	expectRaw(t, r, "$-1\r\n", "RANDOMKEY")
	expectRaw(t, r, ":0\r\n", "DBSIZE")
	r.do("HELLO", "3")
	expectRaw(t, r, "_\r\n", "RANDOMKEY")
}

func TestKeysScan(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	const n = 1000
	pipe := rdb.Pipeline()
	for i := 0; i < n; i++ {
		pipe.Set(ctx, "key:"+strconv.Itoa(i), "v", 0)
	}
	for i := 0; i < 20; i++ {
		pipe.HSet(ctx, "hash:"+strconv.Itoa(i), "f", "v")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	scanAll := func(match, typ string, count int64, grow bool) map[string]int {
		seen := map[string]int{}
		var cursor uint64
		extra := 0
		for {
			keys, next, err := rdb.ScanType(ctx, cursor, match, count, typ).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				seen[k]++
			}
			if grow && extra < 3000 {
				// Resize the table mid-iteration: every key present
				// throughout must still be returned.
				for j := 0; j < 100; j++ {
					rdb.Set(ctx, "grow:"+strconv.Itoa(extra), "v", 0)
					extra++
				}
			}
			cursor = next
			if cursor == 0 {
				return seen
			}
		}
	}
	all := scanAll("", "", 7, false)
	if len(all) != n+20 {
		t.Fatalf("SCAN saw %d keys, want %d", len(all), n+20)
	}
	for k, c := range all {
		if c != 1 { // no resize happened, so no duplicates either
			t.Fatalf("%s returned %d times", k, c)
		}
	}
	if got := scanAll("key:1*", "", 50, false); len(got) != 111 {
		t.Fatalf("MATCH key:1* saw %d keys, want 111", len(got))
	}
	hashes := scanAll("", "HASH", 10, false)
	if len(hashes) != 20 {
		t.Fatalf("TYPE hash saw %d keys, want 20", len(hashes))
	}
	for k := range hashes {
		if !strings.HasPrefix(k, "hash:") {
			t.Fatalf("TYPE hash returned %q", k)
		}
	}
	if got := scanAll("", "list", 100, false); len(got) != 0 {
		t.Fatalf("TYPE list returned %d keys", len(got))
	}
	grown := scanAll("key:*", "", 10, true)
	for i := 0; i < n; i++ {
		if grown["key:"+strconv.Itoa(i)] == 0 {
			t.Fatalf("key:%d missed by a SCAN across resizes", i)
		}
	}

	r := ts.raw(t)
	expectRaw(t, r, "-ERR invalid cursor\r\n", "SCAN", "abc")
	expectRaw(t, r, "-ERR invalid cursor\r\n", "SCAN", "-")
	expectRaw(t, r, "-ERR invalid cursor\r\n", "SCAN", "18446744073709551616")
	expectRaw(t, r, "-ERR syntax error\r\n", "SCAN", "0", "COUNT", "0")
	expectRaw(t, r, "-ERR syntax error\r\n", "SCAN", "0", "COUNT")
	expectRaw(t, r, "-ERR syntax error\r\n", "SCAN", "0", "MATCH")
	expectRaw(t, r, "-ERR syntax error\r\n", "SCAN", "0", "FOO", "bar")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "SCAN", "0", "COUNT", "x")
	expectRaw(t, r, "-ERR wrong number of arguments for 'scan' command\r\n", "SCAN")
	r.do("SELECT", "5")
	expectRaw(t, r, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0")
	r.do("SET", "only", "v")
	expectRaw(t, r, "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n", "SCAN", "0", "COUNT", "1000")
	// strtoul semantics: "-1" is 2^64-1 and "" is 0; both are valid cursors
	// (the last bucket of any table, and the start).
	if got := r.do("SCAN", "-1"); !strings.HasPrefix(got, "*2\r\n$1\r\n0\r\n*") {
		t.Fatalf("SCAN -1: %q", got)
	}
	expectRaw(t, r, "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n", "SCAN", "", "TYPE", "STRING")
	expectRaw(t, r, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "TYPE", "hash")
	// Expired keys are never returned, and SCAN reclaims them.
	ktSetTTL(t, ts, 5, "only", time.Now().UnixMilli()-1)
	expectRaw(t, r, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0")
	expectRaw(t, r, ":0\r\n", "DBSIZE")
}

func TestKeysRenameCopyMove(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	rdb.Set(ctx, "src", "v", time.Hour)
	rdb.Set(ctx, "dst", "old", 0)
	if err := rdb.Rename(ctx, "src", "dst").Err(); err != nil {
		t.Fatal(err)
	}
	if v := rdb.Get(ctx, "dst").Val(); v != "v" {
		t.Fatalf("dst = %q", v)
	}
	if ttl := rdb.TTL(ctx, "dst").Val(); ttl < 59*time.Minute {
		t.Fatalf("RENAME lost the TTL: %v", ttl)
	}
	if rdb.Exists(ctx, "src").Val() != 0 {
		t.Fatal("src survived RENAME")
	}
	rdb.Set(ctx, "other", "o", 0)
	if ok := rdb.RenameNX(ctx, "dst", "other").Val(); ok {
		t.Fatal("RENAMENX onto an existing key succeeded")
	}
	if ok := rdb.RenameNX(ctx, "dst", "fresh").Val(); !ok {
		t.Fatal("RENAMENX to a fresh key failed")
	}

	// COPY: deep, with TTL, DB and REPLACE.
	rdb.HSet(ctx, "h", "f", "1")
	rdb.Expire(ctx, "h", time.Hour)
	if n := rdb.Copy(ctx, "h", "h2", 0, false).Val(); n != 1 {
		t.Fatalf("COPY = %d", n)
	}
	rdb.HSet(ctx, "h", "f", "2")
	if v := rdb.HGet(ctx, "h2", "f").Val(); v != "1" {
		t.Fatalf("copy changed with its source: %q", v)
	}
	if ttl := rdb.TTL(ctx, "h2").Val(); ttl < 59*time.Minute {
		t.Fatalf("COPY lost the TTL: %v", ttl)
	}
	if n := rdb.Copy(ctx, "h", "h2", 0, false).Val(); n != 0 {
		t.Fatal("COPY over an existing key without REPLACE")
	}
	if n := rdb.Copy(ctx, "h", "h2", 0, true).Val(); n != 1 || rdb.HGet(ctx, "h2", "f").Val() != "2" {
		t.Fatal("COPY REPLACE did not replace")
	}
	if n := rdb.Copy(ctx, "h", "h", 2, false).Val(); n != 1 {
		t.Fatal("COPY to another db failed")
	}
	if n := rdb.Copy(ctx, "nope", "x", 0, false).Val(); n != 0 {
		t.Fatal("COPY of a missing key")
	}

	// MOVE keeps the TTL and refuses an existing destination key.
	if ok := rdb.Move(ctx, "fresh", 1).Val(); !ok {
		t.Fatal("MOVE failed")
	}
	if ok := rdb.Move(ctx, "fresh", 1).Val(); ok {
		t.Fatal("MOVE of a key that is gone succeeded")
	}
	rdb.Set(ctx, "fresh", "again", 0)
	if ok := rdb.Move(ctx, "fresh", 1).Val(); ok {
		t.Fatal("MOVE onto an existing key succeeded")
	}
	r := ts.raw(t)
	r.do("SELECT", "1")
	expectRaw(t, r, "$1\r\nv\r\n", "GET", "fresh")
	if ttl := r.do("TTL", "fresh"); ttl == ":-1\r\n" || ttl == ":-2\r\n" {
		t.Fatalf("MOVE lost the TTL: %q", ttl)
	}
	r.do("SELECT", "2")
	expectRaw(t, r, "$1\r\n2\r\n", "HGET", "h", "f")
	r.do("SELECT", "0")

	expectRaw(t, r, "-ERR no such key\r\n", "RENAME", "nope", "x")
	expectRaw(t, r, "-ERR no such key\r\n", "RENAMENX", "nope", "nope")
	expectRaw(t, r, "+OK\r\n", "RENAME", "h", "h")
	expectRaw(t, r, ":0\r\n", "RENAMENX", "h", "h")
	expectRaw(t, r, "-ERR source and destination objects are the same\r\n", "COPY", "h", "h")
	expectRaw(t, r, "-ERR source and destination objects are the same\r\n", "COPY", "h", "h", "DB", "0")
	expectRaw(t, r, "-ERR syntax error\r\n", "COPY", "h", "x", "DB")
	expectRaw(t, r, "-ERR syntax error\r\n", "COPY", "h", "x", "FOO")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "COPY", "h", "x", "DB", "x")
	expectRaw(t, r, "-ERR DB index is out of range\r\n", "COPY", "h", "x", "DB", "16")
	expectRaw(t, r, "-ERR DB index is out of range\r\n", "COPY", "h", "x", "DB", "-1")
	expectRaw(t, r, "-ERR source and destination objects are the same\r\n", "MOVE", "h", "0")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "MOVE", "h", "x")
	expectRaw(t, r, "-ERR DB index is out of range\r\n", "MOVE", "h", "16")
	expectRaw(t, r, "-ERR wrong number of arguments for 'copy' command\r\n", "COPY", "h")
}

func TestKeysSwapdbFlush(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	a.do("SET", "k", "db0")
	b.do("SELECT", "1")
	b.do("SET", "k", "db1")
	b.do("SET", "k2", "db1")
	expectRaw(t, a, "+OK\r\n", "SWAPDB", "0", "1")
	// Clients keep their db number and see the other db's data.
	expectRaw(t, a, "$3\r\ndb1\r\n", "GET", "k")
	expectRaw(t, b, "$3\r\ndb0\r\n", "GET", "k")
	expectRaw(t, a, ":2\r\n", "DBSIZE")
	expectRaw(t, a, "+OK\r\n", "SWAPDB", "0", "0")
	expectRaw(t, a, "-ERR invalid first DB index\r\n", "SWAPDB", "x", "0")
	expectRaw(t, a, "-ERR invalid second DB index\r\n", "SWAPDB", "0", "x")
	expectRaw(t, a, "-ERR invalid first DB index\r\n", "SWAPDB", "99999999999", "0")
	expectRaw(t, a, "-ERR DB index is out of range\r\n", "SWAPDB", "0", "16")
	expectRaw(t, a, "-ERR DB index is out of range\r\n", "SWAPDB", "-1", "0")

	expectRaw(t, a, "-ERR syntax error\r\n", "FLUSHDB", "FOO")
	expectRaw(t, a, "-ERR syntax error\r\n", "FLUSHDB", "ASYNC", "SYNC")
	expectRaw(t, a, "-ERR syntax error\r\n", "FLUSHALL", "x")
	expectRaw(t, a, "+OK\r\n", "FLUSHDB", "async")
	expectRaw(t, a, ":0\r\n", "DBSIZE")
	expectRaw(t, b, ":1\r\n", "DBSIZE")
	expectRaw(t, a, "+OK\r\n", "FLUSHALL", "SYNC")
	expectRaw(t, b, ":0\r\n", "DBSIZE")
	a.do("SET", "x", "1")
	expectRaw(t, a, "+OK\r\n", "FLUSHALL")
	expectRaw(t, a, ":0\r\n", "DBSIZE")
}

func TestKeysObject(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	r.do("SET", "int", "1234")
	r.do("SET", "big", "123456")
	r.do("SET", "emb", "hello")
	r.do("SET", "raw", strings.Repeat("x", 45))
	r.do("SET", "app", "x")
	r.do("APPEND", "app", "y")
	r.do("HSET", "h", "f", "v")
	for key, enc := range map[string]string{"int": "int", "big": "int", "emb": "embstr", "raw": "raw", "app": "raw", "h": "listpack"} {
		expectRaw(t, r, "$"+strconv.Itoa(len(enc))+"\r\n"+enc+"\r\n", "OBJECT", "ENCODING", key)
	}
	expectRaw(t, r, "$-1\r\n", "OBJECT", "ENCODING", "nope")
	expectRaw(t, r, ":2147483647\r\n", "OBJECT", "REFCOUNT", "int")
	expectRaw(t, r, ":1\r\n", "OBJECT", "REFCOUNT", "big")
	expectRaw(t, r, ":1\r\n", "OBJECT", "REFCOUNT", "h")
	expectRaw(t, r, "$-1\r\n", "OBJECT", "REFCOUNT", "nope")
	expectRaw(t, r, ":0\r\n", "OBJECT", "IDLETIME", "emb")
	expectRaw(t, r, "$-1\r\n", "OBJECT", "IDLETIME", "nope")
	expectRaw(t, r, "-"+errLFUNotSet+"\r\n", "OBJECT", "FREQ", "emb")
	expectRaw(t, r, "$-1\r\n", "OBJECT", "FREQ", "nope")
	expectRaw(t, r, "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n", "OBJECT", "foo", "k")
	expectRaw(t, r, "-ERR wrong number of arguments for 'object|encoding' command\r\n", "OBJECT", "ENCODING")
	expectRaw(t, r, "-ERR wrong number of arguments for 'object|help' command\r\n", "OBJECT", "HELP", "x")
	expectRaw(t, r, "-ERR wrong number of arguments for 'object' command\r\n", "OBJECT")
	help := r.do("OBJECT", "HELP")
	if !strings.HasPrefix(help, "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n") ||
		!strings.HasSuffix(help, "+HELP\r\n+    Prints this help.\r\n") {
		t.Fatalf("OBJECT HELP = %q", help)
	}

	// Under an LFU policy FREQ works and IDLETIME is refused.
	expectRaw(t, r, "+OK\r\n", "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
	r.do("SET", "f", "v")
	expectRaw(t, r, ":5\r\n", "OBJECT", "FREQ", "f")
	r.do("GET", "f") // from the initial counter the first access always counts
	expectRaw(t, r, ":6\r\n", "OBJECT", "FREQ", "f")
	expectRaw(t, r, "-"+errLFUSelected+"\r\n", "OBJECT", "IDLETIME", "f")
	expectRaw(t, r, "+OK\r\n", "CONFIG", "SET", "maxmemory-policy", "noeviction")
	expectRaw(t, r, "-"+errLFUNotSet+"\r\n", "OBJECT", "FREQ", "f")

	r.do("HELLO", "3")
	expectRaw(t, r, "_\r\n", "OBJECT", "ENCODING", "nope")
}

func TestKeysIdletimeAndTouch(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	r.do("SET", "k", "v")
	r.do("SET", "k2", "v")
	if got := r.do("OBJECT", "IDLETIME", "k"); got != ":0\r\n" {
		t.Fatalf("fresh key idle %q", got)
	}
	// The LRU clock has a one-second resolution (refreshed by the cron).
	time.Sleep(1500 * time.Millisecond)
	// OBJECT, TYPE, EXISTS and TTL do not count as accesses; TOUCH and
	// GET do.
	for _, cmd := range [][]string{{"OBJECT", "IDLETIME", "k"}, {"TYPE", "k"}, {"EXISTS", "k"}, {"TTL", "k"}, {"OBJECT", "ENCODING", "k"}} {
		r.do(cmd...)
	}
	if got := r.do("OBJECT", "IDLETIME", "k"); got == ":0\r\n" || got[0] != ':' {
		t.Fatalf("idle after non-touching commands %q, want >= 1", got)
	}
	expectRaw(t, r, ":2\r\n", "TOUCH", "k", "k2", "nope")
	expectRaw(t, r, ":0\r\n", "OBJECT", "IDLETIME", "k")
	expectRaw(t, r, ":0\r\n", "OBJECT", "IDLETIME", "k2")
}

func TestKeysPropagation(t *testing.T) {
	ts := startServer(t)
	logged := ktLog(t, ts)
	r := ts.raw(t)
	r.do("DEL", "nope")               // deletes nothing: not propagated
	r.do("SET", "a", "1")             // 0:SET a 1
	r.do("DEL", "a", "nope")          // 0:DEL a nope (as sent)
	r.do("SET", "b", "1")             // 0:SET b 1
	r.do("UNLINK", "b")               // 0:UNLINK b
	r.do("SET", "c", "1")             // 0:SET c 1
	r.do("RENAME", "c", "d")          // 0:RENAME c d
	r.do("RENAME", "d", "d")          // nothing changes
	r.do("RENAMENX", "d", "d")        // nothing changes
	r.do("COPY", "d", "e", "DB", "2") // 0:COPY d e DB 2
	r.do("COPY", "d", "e", "DB", "2") // refused: not propagated
	r.do("MOVE", "d", "3")            // 0:MOVE d 3
	r.do("MOVE", "nope", "3")         // nothing
	r.do("SWAPDB", "0", "0")          // Redis propagates it anyway
	r.do("FLUSHDB")                   // propagated though the db is empty
	r.do("FLUSHALL", "ASYNC")         // as sent
	r.do("SET", "x", "1")
	ktSetTTL(t, ts, 0, "x", time.Now().UnixMilli()-1)
	r.do("DEL", "x") // the expiry's DEL only: DEL itself deleted nothing
	r.do("SET", "y", "1")
	r.do("SET", "z", "1")
	ktSetTTL(t, ts, 0, "z", time.Now().UnixMilli()-1)
	r.do("RENAME", "y", "z") // an expired destination is reclaimed first
	r.do("EXISTS", "a")      // reads are never propagated
	ktEqual(t, "command log", logged(), []string{
		"0:SET a 1", "0:DEL a nope", "0:SET b 1", "0:UNLINK b", "0:SET c 1", "0:RENAME c d",
		"0:COPY d e DB 2", "0:MOVE d 3", "0:SWAPDB 0 0", "0:FLUSHDB", "0:FLUSHALL ASYNC",
		"0:SET x 1", "0:DEL x", "0:SET y 1", "0:SET z 1", "0:DEL z", "0:RENAME y z",
	})
}

// ktWatchAborts runs WATCH key on one connection, action on another, and
// reports whether the first connection's EXEC was aborted.
func ktWatchAborts(t *testing.T, ts *testServer, setup []string, key string, action ...string) bool {
	t.Helper()
	w, o := ts.raw(t), ts.raw(t)
	w.do("FLUSHALL")
	if setup != nil {
		w.do(setup...)
	}
	expectRaw(t, w, "+OK\r\n", "WATCH", key)
	o.do(action...)
	w.do("MULTI")
	w.do("PING")
	switch got := w.do("EXEC"); got {
	case "*-1\r\n":
		return true
	case "*1\r\n+PONG\r\n":
		return false
	default:
		t.Fatalf("EXEC: %q", got)
		return false
	}
}

func TestKeysWatchInterplay(t *testing.T) {
	ts := startServer(t)
	set := []string{"SET", "k", "v"}
	cases := []struct {
		name   string
		setup  []string
		action []string
		abort  bool
	}{
		{"expire", set, []string{"EXPIRE", "k", "100"}, true},
		{"pexpireat past", set, []string{"PEXPIREAT", "k", "1"}, true},
		{"persist", []string{"SET", "k", "v", "EX", "100"}, []string{"PERSIST", "k"}, true},
		{"persist no ttl", set, []string{"PERSIST", "k"}, false},
		{"expire nx refused", []string{"SET", "k", "v", "EX", "100"}, []string{"EXPIRE", "k", "5", "NX"}, false},
		{"del", set, []string{"DEL", "k"}, true},
		{"del other", set, []string{"DEL", "other"}, false},
		{"unlink", set, []string{"UNLINK", "k"}, true},
		{"rename from", set, []string{"RENAME", "k", "k2"}, true},
		{"rename onto", []string{"SET", "k2", "v"}, []string{"RENAME", "k2", "k"}, true},
		{"copy onto", []string{"SET", "k2", "v"}, []string{"COPY", "k2", "k"}, true},
		{"move", set, []string{"MOVE", "k", "1"}, true},
		{"flushdb", set, []string{"FLUSHDB"}, true},
		{"flushall", set, []string{"FLUSHALL"}, true},
		{"flushall async", set, []string{"FLUSHALL", "ASYNC"}, true},
		{"swapdb", set, []string{"SWAPDB", "0", "1"}, true},
		{"touch", set, []string{"TOUCH", "k"}, false},
	}
	for _, tc := range cases {
		if got := ktWatchAborts(t, ts, tc.setup, "k", tc.action...); got != tc.abort {
			t.Errorf("%s: EXEC aborted = %v, want %v", tc.name, got, tc.abort)
		}
	}
}

func TestKeysCommandTable(t *testing.T) {
	ts := startServer(t)
	for _, name := range []string{"del", "unlink", "exists", "type", "keys", "scan", "rename", "renamenx", "randomkey",
		"dbsize", "copy", "touch", "object", "move", "swapdb", "flushdb", "flushall"} {
		cmd := ts.Table().Lookup([]byte(name))
		if cmd == nil {
			t.Fatalf("%s missing from the command table", name)
		}
		write := cmd.Flags&FlagWrite != 0
		wantWrite := map[string]bool{"del": true, "unlink": true, "rename": true, "renamenx": true, "copy": true,
			"move": true, "swapdb": true, "flushdb": true, "flushall": true}[name]
		if write != wantWrite {
			t.Errorf("%s write flag = %v", name, write)
		}
	}
	del := ts.Table().Lookup([]byte("del"))
	if got := fmt.Sprint(del.KeyPositions(strArgsKT("del", "a", "b", "c"))); got != "[1 2 3]" {
		t.Errorf("DEL key positions %s", got)
	}
	cp := ts.Table().Lookup([]byte("copy"))
	if got := fmt.Sprint(cp.KeyPositions(strArgsKT("copy", "a", "b", "DB", "1"))); got != "[1 2]" {
		t.Errorf("COPY key positions %s", got)
	}
}

func strArgsKT(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

// TestKeysLFUFromConfigFile checks that an LFU policy set before the server
// starts (config file, flags) is in force from the first command.
func TestKeysLFUFromConfigFile(t *testing.T) {
	ts := startServer(t, func(cfg *Config) {
		if err := cfg.Set("maxmemory-policy", "volatile-lfu"); err != nil {
			t.Fatal(err)
		}
	})
	r := ts.raw(t)
	r.do("SET", "f", "v")
	expectRaw(t, r, ":5\r\n", "OBJECT", "FREQ", "f")
	expectRaw(t, r, "-"+errLFUSelected+"\r\n", "OBJECT", "IDLETIME", "f")
}
