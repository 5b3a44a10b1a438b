package server

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
	"github.com/thredis/thredis/cmdlog"
)

// strHash stores a hash under key directly in the keyspace, so WRONGTYPE
// paths can be tested without depending on the hash commands.
func strHash(t *testing.T, ts *testServer, key string) {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	h, err := ts.ks.DB(0).HashForWrite([]byte(key), true)
	if err != nil {
		t.Fatal(err)
	}
	h.Set([]byte("f"), []byte("v"))
}

// strTTL returns key's remaining TTL in ms, -1 without TTL, -2 if missing.
func strTTL(t *testing.T, ts *testServer, key string) int64 {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	when, ok, exists := ts.ks.DB(0).TTL([]byte(key))
	switch {
	case !exists:
		return -2
	case !ok:
		return -1
	}
	return when - ts.ks.NowMs()
}

// strDel removes key directly (DEL belongs to another command family).
func strDel(t *testing.T, ts *testServer, key string) {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.ks.DB(0).Delete([]byte(key))
}

// strSetTTL gives key an absolute expiry (Unix ms) directly.
func strSetTTL(t *testing.T, ts *testServer, key string, at int64) {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if !ts.ks.DB(0).SetExpire([]byte(key), at) {
		t.Fatalf("no key %q", key)
	}
}

func expectLog(t *testing.T, rec *cmdlog.Recorder, want ...string) {
	t.Helper()
	got := loggedOps(rec, false)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("command log:\n got %q\nwant %q", got, want)
	}
}

const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

func TestStringSetOptions(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)

	if err := rdb.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// NX refuses an existing key, XX a missing one.
	if err := rdb.SetNX(ctx, "k", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if ok := rdb.SetNX(ctx, "k", "v2", 0).Val(); ok {
		t.Fatal("SET NX on existing key succeeded")
	}
	if ok := rdb.SetXX(ctx, "missing", "v", 0).Val(); ok {
		t.Fatal("SET XX on missing key succeeded")
	}
	if rdb.Get(ctx, "missing").Err() != redis.Nil {
		t.Fatal("SET XX created the key")
	}
	if ok := rdb.SetXX(ctx, "k", "v3", 0).Val(); !ok {
		t.Fatal("SET XX on existing key failed")
	}
	// GET returns the old value, or nil.
	if old := rdb.SetArgs(ctx, "k", "v4", redis.SetArgs{Get: true}).Val(); old != "v3" {
		t.Fatalf("SET GET = %q", old)
	}
	if err := rdb.SetArgs(ctx, "new", "x", redis.SetArgs{Get: true}).Err(); err != redis.Nil {
		t.Fatalf("SET GET on missing key: %v", err)
	}
	if got := rdb.Get(ctx, "new").Val(); got != "x" {
		t.Fatalf("GET new = %q", got)
	}

	// Expiry forms.
	rdb.Set(ctx, "ex", "v", 100*time.Second)
	if ttl := strTTL(t, ts, "ex"); ttl <= 99_000 || ttl > 100_000 {
		t.Fatalf("EX ttl = %d", ttl)
	}
	rdb.Set(ctx, "px", "v", 1500*time.Millisecond)
	if ttl := strTTL(t, ts, "px"); ttl <= 1000 || ttl > 1500 {
		t.Fatalf("PX ttl = %d", ttl)
	}
	at := time.Now().Add(time.Hour)
	rdb.SetArgs(ctx, "exat", "v", redis.SetArgs{ExpireAt: at})
	if ttl := strTTL(t, ts, "exat"); ttl < 3590_000 || ttl > 3600_000 {
		t.Fatalf("EXAT ttl = %d", ttl)
	}
	r := ts.raw(t)
	pxat := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	expectRaw(t, r, "+OK\r\n", "SET", "pxat", "v", "PXAT", pxat)
	if ttl := strTTL(t, ts, "pxat"); ttl < 3590_000 || ttl > 3600_000 {
		t.Fatalf("PXAT ttl = %d", ttl)
	}
	// A plain SET clears the TTL; KEEPTTL keeps it.
	rdb.Set(ctx, "ex", "v2", redis.KeepTTL)
	if ttl := strTTL(t, ts, "ex"); ttl <= 0 {
		t.Fatalf("KEEPTTL lost the ttl: %d", ttl)
	}
	rdb.Set(ctx, "ex", "v3", 0)
	if ttl := strTTL(t, ts, "ex"); ttl != -1 {
		t.Fatalf("SET kept the ttl: %d", ttl)
	}
	// An absolute time in the past leaves the key logically expired.
	expectRaw(t, r, "+OK\r\n", "SET", "past", "v", "PXAT", "1000")
	expectRaw(t, r, "$-1\r\n", "GET", "past")
	// A repeated expiry is accepted, the last one wins (Redis's parser).
	expectRaw(t, r, "+OK\r\n", "SET", "twice", "v", "EX", "10", "ex", "1000")
	if ttl := strTTL(t, ts, "twice"); ttl <= 999_000 {
		t.Fatalf("second EX not applied: %d", ttl)
	}
	// SET on a hash replaces it; SET GET on a hash is WRONGTYPE and sets nothing.
	strHash(t, ts, "h")
	expectRaw(t, r, wrongType, "SET", "h", "v", "GET")
	expectRaw(t, r, wrongType, "GET", "h")
	expectRaw(t, r, "+OK\r\n", "SET", "h", "v")
	expectRaw(t, r, "$1\r\nv\r\n", "GET", "h")
}

func TestStringSetErrors(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	syntax := "-ERR syntax error\r\n"
	for _, args := range [][]string{
		{"SET", "k", "v", "NX", "XX"},
		{"SET", "k", "v", "XX", "NX"},
		{"SET", "k", "v", "EX", "10", "PX", "10"},
		{"SET", "k", "v", "KEEPTTL", "EX", "10"},
		{"SET", "k", "v", "EX", "10", "KEEPTTL"},
		{"SET", "k", "v", "EX"},
		{"SET", "k", "v", "PERSIST"},
		{"SET", "k", "v", "bogus"},
		// Syntax is checked before the expiry value.
		{"SET", "k", "v", "EX", "abc", "NX", "XX"},
		{"GETEX", "k", "NX"},
		{"GETEX", "k", "EX", "10", "PERSIST"},
		{"GETEX", "k", "PERSIST", "EX", "10"},
		{"GETEX", "k", "KEEPTTL"},
	} {
		expectRaw(t, r, syntax, args...)
	}
	expectRaw(t, r, "-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "EX", "0")
	expectRaw(t, r, "-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "PX", "-5")
	expectRaw(t, r, "-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "EX", "9223372036854775")
	expectRaw(t, r, "-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "PX", "9223372036854775807")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "SET", "k", "v", "EX", "1.5")
	expectRaw(t, r, "-ERR invalid expire time in 'setex' command\r\n", "SETEX", "k", "0", "v")
	expectRaw(t, r, "-ERR invalid expire time in 'psetex' command\r\n", "PSETEX", "k", "-1", "v")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "SETEX", "k", "x", "v")
	expectRaw(t, r, "-ERR wrong number of arguments for 'set' command\r\n", "SET", "k")
	expectRaw(t, r, "-ERR wrong number of arguments for 'setex' command\r\n", "SETEX", "k", "10")
	expectRaw(t, r, "$-1\r\n", "GET", "k") // nothing was set by the failures
}

func TestStringSetnxSetexMsetMget(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)

	expectRaw(t, r, ":1\r\n", "SETNX", "a", "1")
	expectRaw(t, r, ":0\r\n", "SETNX", "a", "2")
	expectRaw(t, r, "$1\r\n1\r\n", "GET", "a")

	expectRaw(t, r, "+OK\r\n", "SETEX", "e", "100", "v")
	if ttl := strTTL(t, ts, "e"); ttl <= 99_000 || ttl > 100_000 {
		t.Fatalf("SETEX ttl = %d", ttl)
	}
	expectRaw(t, r, "+OK\r\n", "PSETEX", "p", "5000", "v")
	if ttl := strTTL(t, ts, "p"); ttl <= 4000 || ttl > 5000 {
		t.Fatalf("PSETEX ttl = %d", ttl)
	}
	expectRaw(t, r, "$1\r\nv\r\n", "GET", "p")

	if err := rdb.MSet(ctx, "m1", "x", "m2", "y").Err(); err != nil {
		t.Fatal(err)
	}
	strHash(t, ts, "h")
	vals := rdb.MGet(ctx, "m1", "nope", "m2", "h").Val()
	if len(vals) != 4 || vals[0] != "x" || vals[1] != nil || vals[2] != "y" || vals[3] != nil {
		t.Fatalf("MGET = %#v", vals)
	}
	// RESP2 and RESP3 encodings of MGET's nulls.
	expectRaw(t, r, "*2\r\n$1\r\nx\r\n$-1\r\n", "MGET", "m1", "nope")
	r3 := ts.raw(t)
	r3.do("HELLO", "3")
	expectRaw(t, r3, "*2\r\n$1\r\nx\r\n_\r\n", "MGET", "m1", "nope")

	// MSET clears TTLs; MSETNX is all or nothing.
	expectRaw(t, r, "+OK\r\n", "MSET", "e", "w")
	if ttl := strTTL(t, ts, "e"); ttl != -1 {
		t.Fatalf("MSET kept the ttl: %d", ttl)
	}
	if ok := rdb.MSetNX(ctx, "n1", "a", "m1", "b").Val(); ok {
		t.Fatal("MSETNX succeeded with an existing key")
	}
	if rdb.Get(ctx, "n1").Err() != redis.Nil {
		t.Fatal("MSETNX partially applied")
	}
	if ok := rdb.MSetNX(ctx, "n1", "a", "n2", "b").Val(); !ok {
		t.Fatal("MSETNX failed on fresh keys")
	}
	if got := rdb.Get(ctx, "n2").Val(); got != "b" {
		t.Fatalf("n2 = %q", got)
	}
	expectRaw(t, r, "-ERR wrong number of arguments for 'mset' command\r\n", "MSET", "a", "1", "b")
	expectRaw(t, r, "-ERR wrong number of arguments for 'msetnx' command\r\n", "MSETNX", "a", "1", "b")
	expectRaw(t, r, "-ERR wrong number of arguments for 'mget' command\r\n", "MGET")
}

func TestStringGetsetGetdelGetex(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	strHash(t, ts, "h")

	// GETSET returns the old value and clears the TTL.
	rdb.Set(ctx, "k", "old", time.Hour)
	if old := rdb.GetSet(ctx, "k", "new").Val(); old != "old" {
		t.Fatalf("GETSET = %q", old)
	}
	if ttl := strTTL(t, ts, "k"); ttl != -1 {
		t.Fatalf("GETSET kept ttl %d", ttl)
	}
	if err := rdb.GetSet(ctx, "fresh", "v").Err(); err != redis.Nil {
		t.Fatalf("GETSET missing: %v", err)
	}
	expectRaw(t, r, wrongType, "GETSET", "h", "v")

	// GETDEL.
	if v := rdb.GetDel(ctx, "k").Val(); v != "new" {
		t.Fatalf("GETDEL = %q", v)
	}
	if err := rdb.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("GETDEL left the key: %v", err)
	}
	if err := rdb.GetDel(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("GETDEL missing: %v", err)
	}
	expectRaw(t, r, wrongType, "GETDEL", "h")

	// GETEX without options is a GET; with options it changes the TTL.
	rdb.Set(ctx, "g", "v", 0)
	if v := rdb.GetEx(ctx, "g", 0).Val(); v != "v" || strTTL(t, ts, "g") != -1 {
		t.Fatalf("GETEX plain = %q ttl %d", v, strTTL(t, ts, "g"))
	}
	if v := rdb.GetEx(ctx, "g", 100*time.Second).Val(); v != "v" {
		t.Fatalf("GETEX EX = %q", v)
	}
	if ttl := strTTL(t, ts, "g"); ttl <= 99_000 || ttl > 100_000 {
		t.Fatalf("GETEX EX ttl = %d", ttl)
	}
	expectRaw(t, r, "$1\r\nv\r\n", "GETEX", "g", "PX", "2500")
	if ttl := strTTL(t, ts, "g"); ttl <= 2000 || ttl > 2500 {
		t.Fatalf("GETEX PX ttl = %d", ttl)
	}
	expectRaw(t, r, "$1\r\nv\r\n", "GETEX", "g", "EXAT", strconv.FormatInt(time.Now().Unix()+1000, 10))
	if ttl := strTTL(t, ts, "g"); ttl <= 990_000 {
		t.Fatalf("GETEX EXAT ttl = %d", ttl)
	}
	expectRaw(t, r, "$1\r\nv\r\n", "GETEX", "g", "persist", "PERSIST")
	if ttl := strTTL(t, ts, "g"); ttl != -1 {
		t.Fatalf("GETEX PERSIST ttl = %d", ttl)
	}
	// A past absolute time deletes the key, after replying with the value.
	expectRaw(t, r, "$1\r\nv\r\n", "GETEX", "g", "PXAT", "1")
	expectRaw(t, r, "$-1\r\n", "GET", "g")
	// A missing key answers nil before the expiry is validated; an existing
	// one gets the error.
	expectRaw(t, r, "$-1\r\n", "GETEX", "nope", "EX", "abc")
	rdb.Set(ctx, "g", "v", 0)
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "GETEX", "g", "EX", "abc")
	expectRaw(t, r, "-ERR invalid expire time in 'getex' command\r\n", "GETEX", "g", "EX", "-1")
	expectRaw(t, r, wrongType, "GETEX", "h", "EX", "10")
}

func TestStringAppendStrlenRanges(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	strHash(t, ts, "h")

	if n := rdb.Append(ctx, "a", "Hello").Val(); n != 5 {
		t.Fatalf("APPEND new = %d", n)
	}
	if n := rdb.Append(ctx, "a", " World").Val(); n != 11 {
		t.Fatalf("APPEND = %d", n)
	}
	if n := rdb.StrLen(ctx, "a").Val(); n != 11 {
		t.Fatalf("STRLEN = %d", n)
	}
	// APPEND keeps the TTL.
	strSetTTL(t, ts, "a", time.Now().Add(time.Hour).UnixMilli())
	rdb.Append(ctx, "a", "!")
	if ttl := strTTL(t, ts, "a"); ttl <= 0 {
		t.Fatalf("APPEND lost the ttl: %d", ttl)
	}
	if v := rdb.Get(ctx, "a").Val(); v != "Hello World!" {
		t.Fatalf("GET after APPEND = %q", v)
	}
	expectRaw(t, r, ":0\r\n", "STRLEN", "nope")
	expectRaw(t, r, ":0\r\n", "APPEND", "empty", "")
	expectRaw(t, r, "$0\r\n\r\n", "GET", "empty") // created, empty
	expectRaw(t, r, wrongType, "APPEND", "h", "x")
	expectRaw(t, r, wrongType, "STRLEN", "h")

	// GETRANGE / SUBSTR, with Redis's clamping.
	rdb.Set(ctx, "s", "This is a string", 0)
	for _, c := range []struct {
		start, end int64
		want       string
	}{
		{0, 3, "This"}, {-3, -1, "ing"}, {0, -1, "This is a string"}, {10, 100, "string"},
		{5, 3, ""}, {-1, -5, ""}, {-100, 3, "This"}, {100, 200, ""}, {3, -100, ""},
	} {
		if got := rdb.GetRange(ctx, "s", c.start, c.end).Val(); got != c.want {
			t.Errorf("GETRANGE %d %d = %q, want %q", c.start, c.end, got, c.want)
		}
	}
	expectRaw(t, r, "$4\r\nThis\r\n", "SUBSTR", "s", "0", "3")
	expectRaw(t, r, "$0\r\n\r\n", "GETRANGE", "nope", "0", "-1")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "GETRANGE", "s", "a", "1")
	expectRaw(t, r, wrongType, "GETRANGE", "h", "0", "1")

	// SETRANGE pads with zero bytes, returns the new length.
	rdb.Set(ctx, "w", "Hello World", 0)
	if n := rdb.SetRange(ctx, "w", 6, "Redis").Val(); n != 11 {
		t.Fatalf("SETRANGE = %d", n)
	}
	if v := rdb.Get(ctx, "w").Val(); v != "Hello Redis" {
		t.Fatalf("after SETRANGE: %q", v)
	}
	if n := rdb.SetRange(ctx, "pad", 3, "ab").Val(); n != 5 {
		t.Fatalf("SETRANGE pad = %d", n)
	}
	if v := rdb.Get(ctx, "pad").Val(); v != "\x00\x00\x00ab" {
		t.Fatalf("padded = %q", v)
	}
	expectRaw(t, r, ":0\r\n", "SETRANGE", "none", "5", "")
	expectRaw(t, r, "$-1\r\n", "GET", "none") // an empty SETRANGE creates nothing
	expectRaw(t, r, ":11\r\n", "SETRANGE", "w", "100", "")
	expectRaw(t, r, "-ERR offset is out of range\r\n", "SETRANGE", "w", "-1", "x")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "SETRANGE", "w", "x", "x")
	expectRaw(t, r, wrongType, "SETRANGE", "h", "0", "x")
	expectRaw(t, r, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n", "SETRANGE", "w", "536870912", "x")
	expectRaw(t, r, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n", "SETRANGE", "w", "9223372036854775807", "x")
}

func TestStringSizeLimits(t *testing.T) {
	ts := startServer(t, func(cfg *Config) {
		if err := cfg.Set("proto-max-bulk-len", "1mb"); err != nil {
			t.Fatal(err)
		}
	})
	rdb := ts.client(t)
	r := ts.raw(t)
	const limit = 1 << 20
	tooBig := "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
	if err := rdb.Set(ctx, "k", strings.Repeat("x", limit-1), 0).Err(); err != nil {
		t.Fatal(err)
	}
	expectRaw(t, r, ":1048576\r\n", "APPEND", "k", "y")
	expectRaw(t, r, tooBig, "APPEND", "k", "z")
	expectRaw(t, r, tooBig, "SETRANGE", "k", strconv.Itoa(limit), "z")
	expectRaw(t, r, ":1048576\r\n", "SETRANGE", "k", strconv.Itoa(limit-1), "z")
	expectRaw(t, r, "-ERR bit offset is not an integer or out of range\r\n", "SETBIT", "b", strconv.Itoa(limit*8), "1")
	expectRaw(t, r, ":0\r\n", "SETBIT", "b", strconv.Itoa(limit*8-1), "1")
	if n := rdb.StrLen(ctx, "b").Val(); n != limit {
		t.Fatalf("bitmap length = %d", n)
	}
}

func TestStringAppendAmortized(t *testing.T) {
	// APPEND must grow the value in place: across thousands of appends the
	// backing array may be reallocated only O(log n) times. (A copy per
	// append would make building a large value quadratic.)
	ts := startServer(t)
	rdb := ts.client(t)
	chunk := strings.Repeat("0123456789", 10)
	const n = 5000
	arrays := map[*byte]bool{}
	for i := 1; i <= n; i++ {
		if got := rdb.Append(ctx, "big", chunk).Val(); got != int64(i*len(chunk)) {
			t.Fatalf("APPEND %d = %d", i, got)
		}
		ts.mu.Lock()
		buf, err := ts.ks.DB(0).StringBuffer([]byte("big"), false)
		if err != nil || buf == nil {
			ts.mu.Unlock()
			t.Fatalf("no buffer: %v", err)
		}
		arrays[unsafe.SliceData(*buf)] = true
		ts.mu.Unlock()
	}
	if len(arrays) > 64 {
		t.Fatalf("%d appends used %d backing arrays", n, len(arrays))
	}
	v := rdb.Get(ctx, "big").Val()
	if len(v) != n*len(chunk) || v[:len(chunk)] != chunk || v[len(v)-len(chunk):] != chunk {
		t.Fatalf("final value: len %d", len(v))
	}
	// SETRANGE and SETBIT past the end grow the same buffer.
	before := len(arrays)
	rdb.SetRange(ctx, "big", int64(len(v)), "x")
	rdb.SetBit(ctx, "big", int64(len(v)+1)*8+7, 1)
	ts.mu.Lock()
	buf, _ := ts.ks.DB(0).StringBuffer([]byte("big"), false)
	arrays[unsafe.SliceData(*buf)] = true
	ts.mu.Unlock()
	if len(arrays) > before+1 {
		t.Fatalf("SETRANGE/SETBIT reallocated twice")
	}
	if got := rdb.GetRange(ctx, "big", -2, -1).Val(); got != "x\x01" {
		t.Fatalf("tail = %q", got)
	}
}

func TestStringIncrDecr(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	strHash(t, ts, "h")

	if n := rdb.Incr(ctx, "c").Val(); n != 1 {
		t.Fatalf("INCR = %d", n)
	}
	if n := rdb.IncrBy(ctx, "c", 41).Val(); n != 42 {
		t.Fatalf("INCRBY = %d", n)
	}
	if n := rdb.Decr(ctx, "c").Val(); n != 41 {
		t.Fatalf("DECR = %d", n)
	}
	if n := rdb.DecrBy(ctx, "c", 50).Val(); n != -9 {
		t.Fatalf("DECRBY = %d", n)
	}
	if v := rdb.Get(ctx, "c").Val(); v != "-9" {
		t.Fatalf("GET = %q", v)
	}
	// INCR keeps the TTL.
	strSetTTL(t, ts, "c", time.Now().Add(time.Hour).UnixMilli())
	rdb.Incr(ctx, "c")
	if ttl := strTTL(t, ts, "c"); ttl <= 0 {
		t.Fatalf("INCR lost the ttl: %d", ttl)
	}
	notInt := "-ERR value is not an integer or out of range\r\n"
	for _, v := range []string{"abc", " 1", "1 ", "+1", "01", "-0", "1.0", "", "99999999999999999999"} {
		rdb.Set(ctx, "bad", v, 0)
		expectRaw(t, r, notInt, "INCR", "bad")
	}
	expectRaw(t, r, notInt, "INCRBY", "c", "1.5")
	expectRaw(t, r, notInt, "DECRBY", "c", "x")
	rdb.Set(ctx, "max", "9223372036854775807", 0)
	expectRaw(t, r, "-ERR increment or decrement would overflow\r\n", "INCR", "max")
	rdb.Set(ctx, "min", "-9223372036854775808", 0)
	expectRaw(t, r, "-ERR increment or decrement would overflow\r\n", "DECR", "min")
	expectRaw(t, r, "-ERR increment or decrement would overflow\r\n", "INCRBY", "min", "-1")
	expectRaw(t, r, "-ERR decrement would overflow\r\n", "DECRBY", "c", "-9223372036854775808")
	expectRaw(t, r, ":-1\r\n", "INCRBY", "min", "9223372036854775807")
	expectRaw(t, r, "-ERR wrong number of arguments for 'incrby' command\r\n", "INCRBY", "min", "-1", "x")
	for _, cmd := range [][]string{{"INCR", "h"}, {"DECR", "h"}, {"INCRBY", "h", "1"}, {"DECRBY", "h", "1"}, {"INCRBYFLOAT", "h", "1"}} {
		expectRaw(t, r, wrongType, cmd...)
	}
}

func TestStringIncrbyfloat(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)

	// Results as Redis prints its long double arithmetic (x86-64).
	for _, c := range []struct{ start, incr, want string }{
		{"10.50", "0.1", "10.6"},
		{"", "3.0e3", "3000"},
		{"0.1", "0.2", "0.3"},
		{"5.0e3", "2.0e2", "5200"},
		{"", "1.5e-10", "0.00000000015"},
		{"", "-1e-18", "0"},
		{"1", "0x1.8p1", "4"},
		{"0x10", "+.5", "16.5"},
		{"-1", "1", "0"},
		{"9007199254740993", "0", "9007199254740993"}, // beyond float64's integers
		{"1e-4940", "0", "0"},
		{"442822.6270265666", "0", "442822.62702656659999434"},
	} {
		strDel(t, ts, "f")
		if c.start != "" {
			rdb.Set(ctx, "f", c.start, 0)
		}
		reply := r.do("INCRBYFLOAT", "f", c.incr)
		want := "$" + strconv.Itoa(len(c.want)) + "\r\n" + c.want + "\r\n"
		if reply != want {
			t.Errorf("%q + %q = %q, want %q", c.start, c.incr, reply, want)
		}
		if v := rdb.Get(ctx, "f").Val(); v != c.want {
			t.Errorf("stored %q, want %q", v, c.want)
		}
	}
	notFloat := "-ERR value is not a valid float\r\n"
	for _, bad := range []string{"abc", "nan", " 1", "1 ", "1e", "0x", "1_0", "", "1e5000", "1e-5000", "0x1p-16446", "1\x00"} {
		expectRaw(t, r, notFloat, "INCRBYFLOAT", "f", bad)
	}
	rdb.Set(ctx, "bad", "1.5x", 0)
	expectRaw(t, r, notFloat, "INCRBYFLOAT", "bad", "1")
	for _, inf := range []string{"inf", "-INF", "Infinity", "1.18973149535723176503e+4932"} {
		rdb.Set(ctx, "big", "1.18973149535723176502e+4932", 0)
		if inf == "1.18973149535723176503e+4932" {
			// Parses to the largest finite value, but the sum overflows.
			expectRaw(t, r, "-ERR increment would produce NaN or Infinity\r\n", "INCRBYFLOAT", "big", inf)
			continue
		}
		expectRaw(t, r, "-ERR increment would produce NaN or Infinity\r\n", "INCRBYFLOAT", "f", inf)
	}
	// The TTL is kept.
	rdb.Set(ctx, "t", "1", time.Hour)
	if v := rdb.IncrByFloat(ctx, "t", 1.5).Val(); v != 2.5 {
		t.Fatalf("INCRBYFLOAT = %v", v)
	}
	if ttl := strTTL(t, ts, "t"); ttl <= 0 {
		t.Fatalf("INCRBYFLOAT lost the ttl: %d", ttl)
	}
}

func TestStringLcs(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	rdb.MSet(ctx, "a", "ohmytext", "b", "mynewtext")
	if v := rdb.LCS(ctx, &redis.LCSQuery{Key1: "a", Key2: "b"}).Val(); v.MatchString != "mytext" {
		t.Fatalf("LCS = %q", v.MatchString)
	}
	if v := rdb.LCS(ctx, &redis.LCSQuery{Key1: "a", Key2: "b", Len: true}).Val(); v.Len != 6 {
		t.Fatalf("LCS LEN = %d", v.Len)
	}
	// go-redis parses the RESP3 map of IDX.
	v := rdb.LCS(ctx, &redis.LCSQuery{Key1: "a", Key2: "b", Idx: true, WithMatchLen: true}).Val()
	if v.Len != 6 || len(v.Matches) != 2 ||
		v.Matches[0].Key1 != (redis.LCSPosition{Start: 4, End: 7}) || v.Matches[0].Key2 != (redis.LCSPosition{Start: 5, End: 8}) || v.Matches[0].MatchLen != 4 ||
		v.Matches[1].Key1 != (redis.LCSPosition{Start: 2, End: 3}) || v.Matches[1].Key2 != (redis.LCSPosition{Start: 0, End: 1}) || v.Matches[1].MatchLen != 2 {
		t.Fatalf("LCS IDX = %+v", v)
	}
	// Byte-exact RESP2, checked against redis-server 7.0.15.
	expectRaw(t, r, "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n",
		"LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
	expectRaw(t, r, "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
		"LCS", "a", "b", "idx", "minmatchlen", "-5")
	r3 := ts.raw(t)
	r3.do("HELLO", "3")
	expectRaw(t, r3, "%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n", "LCS", "a", "nope", "IDX")
	expectRaw(t, r, "$0\r\n\r\n", "LCS", "x", "y")
	expectRaw(t, r, ":0\r\n", "LCS", "x", "y", "LEN")
	strHash(t, ts, "h")
	expectRaw(t, r, "-ERR The specified keys must contain string values\r\n", "LCS", "h", "a")
	expectRaw(t, r, "-ERR If you want both the length and indexes, please just use IDX.\r\n", "LCS", "a", "b", "IDX", "LEN")
	expectRaw(t, r, "-ERR syntax error\r\n", "LCS", "a", "b", "bogus")
	expectRaw(t, r, "-ERR syntax error\r\n", "LCS", "a", "b", "MINMATCHLEN")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "LCS", "a", "b", "MINMATCHLEN", "x")
	// The DP table is bounded by proto-max-bulk-len (4 bytes per cell).
	big := strings.Repeat("a", 12000)
	rdb.MSet(ctx, "la", big, "lb", big)
	expectRaw(t, r, "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n", "LCS", "la", "lb")
}

func TestStringPropagation(t *testing.T) {
	ts := startServer(t)
	rec := recordLog(t, ts)
	r := ts.raw(t)
	strHash(t, ts, "h")

	r.do("SET", "k", "v")                          // as is
	r.do("SET", "k", "v", "NX")                    // no change: nothing
	r.do("set", "k", "w", "xx", "GET", "keepttl")  // GET is dropped
	r.do("SET", "e", "v", "PXAT", "4102444800000") // -> PXAT (absolute already)
	r.do("SETEX", "s", "100", "v")                 // -> SET PXAT
	r.do("PSETEX", "p", "100000", "v")             // -> SET PXAT
	r.do("SET", "x", "v", "EX", "100", "GET")      // -> SET PXAT, no GET
	r.do("SETNX", "n", "1")                        // as is
	r.do("SETNX", "n", "2")                        // nothing
	r.do("GETEX", "k")                             // nothing
	r.do("GETEX", "k", "EX", "100")                // -> PEXPIREAT
	r.do("GETEX", "k", "PXAT", "4102444800000")    // -> PEXPIREAT
	r.do("GETEX", "k", "PERSIST")                  // -> PERSIST
	r.do("GETEX", "k", "PERSIST")                  // no TTL left: nothing
	r.do("GETEX", "n", "EXAT", "1")                // past: -> DEL
	r.do("GETDEL", "k")                            // -> DEL
	r.do("GETDEL", "k")                            // nothing
	r.do("GETSET", "g", "1")                       // -> SET
	r.do("INCRBYFLOAT", "g", "0.5")                // -> SET KEEPTTL
	r.do("INCRBYFLOAT", "g", "nan")                // error: nothing
	r.do("INCR", "i")                              // as is
	r.do("INCR", "h")                              // error: nothing
	r.do("APPEND", "a", "xy")                      // as is
	r.do("SETRANGE", "a", "1", "")                 // no change: nothing
	r.do("SETRANGE", "a", "1", "z")                // as is
	r.do("MSET", "m", "1")                         // as is
	r.do("MSETNX", "m", "2")                       // nothing
	r.do("GET", "m")                               // read: nothing
	lines := loggedOps(rec, false)
	var pxat []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 5 && f[3] == "PXAT" {
			pxat = append(pxat, f[4])
		}
	}
	if len(pxat) != 4 {
		t.Fatalf("PXAT rewrites: %q", lines)
	}
	now := time.Now().UnixMilli()
	for i, s := range pxat[1:] {
		ms, _ := strconv.ParseInt(s, 10, 64)
		if d := ms - now; d < 90_000 || d > 100_000 {
			t.Fatalf("PXAT %d not absolute: %d (now %d)", i, ms, now)
		}
	}
	gexat := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "PEXPIREAT k ") && !strings.HasSuffix(l, "4102444800000") {
			gexat = strings.TrimPrefix(l, "PEXPIREAT k ")
		}
	}
	if ms, _ := strconv.ParseInt(gexat, 10, 64); ms-now < 90_000 || ms-now > 100_000 {
		t.Fatalf("GETEX EX propagated %q", gexat)
	}
	expectLog(t, rec,
		"SET k v",
		"set k w xx keepttl",
		"SET e v PXAT 4102444800000",
		"SET s v PXAT "+pxat[1],
		"SET p v PXAT "+pxat[2],
		"SET x v PXAT "+pxat[3],
		"SETNX n 1",
		"PEXPIREAT k "+gexat,
		"PEXPIREAT k 4102444800000",
		"PERSIST k",
		"DEL n",
		"DEL k",
		"SET g 1",
		"SET g 1.5 KEEPTTL",
		"INCR i",
		"APPEND a xy",
		"SETRANGE a 1 z",
		"MSET m 1",
	)
}

func TestStringCommandTable(t *testing.T) {
	ts := startServer(t)
	for _, c := range []struct {
		name         string
		arity        int
		flags        Flag
		first, last  int
		step         int
		group        string
		categoryFast bool
	}{
		{"get", 2, FlagReadonly | FlagFast, 1, 1, 1, "string", true},
		{"set", -3, FlagWrite | FlagDenyOOM, 1, 1, 1, "string", false},
		{"setnx", 3, FlagWrite | FlagDenyOOM | FlagFast, 1, 1, 1, "string", true},
		{"setex", 4, FlagWrite | FlagDenyOOM, 1, 1, 1, "string", false},
		{"psetex", 4, FlagWrite | FlagDenyOOM, 1, 1, 1, "string", false},
		{"mget", -2, FlagReadonly | FlagFast, 1, -1, 1, "string", true},
		{"mset", -3, FlagWrite | FlagDenyOOM, 1, -1, 2, "string", false},
		{"msetnx", -3, FlagWrite | FlagDenyOOM, 1, -1, 2, "string", false},
		{"getset", 3, FlagWrite | FlagDenyOOM | FlagFast, 1, 1, 1, "string", true},
		{"getdel", 2, FlagWrite | FlagFast, 1, 1, 1, "string", true},
		{"getex", -2, FlagWrite | FlagFast, 1, 1, 1, "string", true},
		{"append", 3, FlagWrite | FlagDenyOOM | FlagFast, 1, 1, 1, "string", true},
		{"strlen", 2, FlagReadonly | FlagFast, 1, 1, 1, "string", true},
		{"incr", 2, FlagWrite | FlagDenyOOM | FlagFast, 1, 1, 1, "string", true},
		{"decr", 2, FlagWrite | FlagDenyOOM | FlagFast, 1, 1, 1, "string", true},
		{"incrby", 3, FlagWrite | FlagDenyOOM | FlagFast, 1, 1, 1, "string", true},
		{"decrby", 3, FlagWrite | FlagDenyOOM | FlagFast, 1, 1, 1, "string", true},
		{"incrbyfloat", 3, FlagWrite | FlagDenyOOM | FlagFast, 1, 1, 1, "string", true},
		{"getrange", 4, FlagReadonly, 1, 1, 1, "string", false},
		{"substr", 4, FlagReadonly, 1, 1, 1, "string", false},
		{"setrange", 4, FlagWrite | FlagDenyOOM, 1, 1, 1, "string", false},
		{"lcs", -3, FlagReadonly, 1, 2, 1, "string", false},
		{"setbit", 4, FlagWrite | FlagDenyOOM, 1, 1, 1, "bitmap", false},
		{"getbit", 3, FlagReadonly | FlagFast, 1, 1, 1, "bitmap", true},
		{"bitcount", -2, FlagReadonly, 1, 1, 1, "bitmap", false},
		{"bitpos", -3, FlagReadonly, 1, 1, 1, "bitmap", false},
		{"bitop", -4, FlagWrite | FlagDenyOOM, 2, -1, 1, "bitmap", false},
	} {
		cmd := ts.table.Lookup([]byte(c.name))
		if cmd == nil {
			t.Errorf("%s: missing", c.name)
			continue
		}
		if cmd.Arity != c.arity || cmd.Flags != c.flags || cmd.FirstKey != c.first || cmd.LastKey != c.last ||
			cmd.Step != c.step || cmd.Group != c.group || cmd.Summary == "" || cmd.Since == "" {
			t.Errorf("%s: got %+v", c.name, cmd)
		}
	}
	// Key extraction follows the positions (COMMAND GETKEYS relies on it).
	mset := ts.table.Lookup([]byte("mset"))
	if got := mset.KeyPositions(strArgs("MSET", "a", "1", "b", "2")); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("MSET keys %v", got)
	}
	bitop := ts.table.Lookup([]byte("bitop"))
	if got := bitop.KeyPositions(strArgs("BITOP", "AND", "d", "s1", "s2")); len(got) != 3 || got[0] != 2 || got[2] != 4 {
		t.Errorf("BITOP keys %v", got)
	}
}

func strArgs(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

func TestStringWrongTypeAll(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	strHash(t, ts, "h")
	for _, cmd := range [][]string{
		{"GET", "h"}, {"GETSET", "h", "v"}, {"GETDEL", "h"}, {"GETEX", "h"}, {"APPEND", "h", "x"},
		{"STRLEN", "h"}, {"GETRANGE", "h", "0", "1"}, {"SUBSTR", "h", "0", "1"}, {"SETRANGE", "h", "0", "x"},
		{"INCR", "h"}, {"INCRBYFLOAT", "h", "1"}, {"SET", "h", "v", "GET"},
		{"SETBIT", "h", "0", "1"}, {"GETBIT", "h", "0"}, {"BITCOUNT", "h"}, {"BITPOS", "h", "1"},
		{"BITOP", "AND", "d", "h"}, {"BITOP", "OR", "d", "nope", "h"},
	} {
		expectRaw(t, r, wrongType, cmd...)
	}
	// Nothing above may have replaced the hash.
	ts.mu.Lock()
	h, err := ts.ks.DB(0).Hash([]byte("h"))
	ts.mu.Unlock()
	if err != nil || h == nil || h.Len() != 1 {
		t.Fatalf("hash damaged: %v %v", h, err)
	}
}
