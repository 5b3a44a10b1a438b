package server

import (
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/thredis/thredis/keyspace"
)

// hb renders a RESP bulk string.
func hb(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// hashExchange is one request and the exact reply Redis 7.0 gives to it.
type hashExchange struct {
	args []string
	want string
}

func hx(want string, args ...string) hashExchange { return hashExchange{args: args, want: want} }

// hashRun plays exchanges on r, comparing replies byte for byte.
func hashRun(t *testing.T, r *rawConn, xs ...hashExchange) {
	t.Helper()
	for _, x := range xs {
		if got := r.do(x.args...); got != x.want {
			t.Errorf("%q:\n got %q\nwant %q", x.args, got, x.want)
		}
	}
}

// hashLogRecorder subscribes a recorder to ts's command log and returns a
// function reporting what was appended since, one command per line.
func hashLogRecorder(t *testing.T, ts *testServer) func() []string {
	t.Helper()
	rec := recordLog(t, ts)
	return func() []string { return loggedOps(rec, false) }
}

// hashKeyExists looks at the keyspace directly (EXISTS belongs to another
// family).
func hashKeyExists(ts *testServer, key string) bool {
	var found bool
	ts.Exec(func(ks *keyspace.Keyspace) { found = ks.DB(0).Exists([]byte(key)) })
	return found
}

func TestHashBasicRepliesRESP2(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	hashRun(t, r,
		hx(":2\r\n", "HSET", "h", "a", "1", "b", "2"),
		hx(":1\r\n", "HSET", "h", "a", "x", "c", "3"), // a updated, c new
		hx(":0\r\n", "HSET", "h", "a", "1"),
		hx("+OK\r\n", "HMSET", "h", "d", "4", "e", ""),
		hx(hb("1"), "HGET", "h", "a"),
		hx(hb(""), "HGET", "h", "e"),
		hx("$-1\r\n", "HGET", "h", "zz"),
		hx("$-1\r\n", "HGET", "nokey", "a"),
		hx("*3\r\n"+hb("1")+"$-1\r\n"+hb("2"), "HMGET", "h", "a", "zz", "b"),
		hx("*2\r\n$-1\r\n$-1\r\n", "HMGET", "nokey", "a", "b"),
		hx(":0\r\n", "HSETNX", "h", "a", "other"),
		hx(hb("1"), "HGET", "h", "a"),
		hx(":1\r\n", "HSETNX", "h", "f", "6"),
		hx(":1\r\n", "HSETNX", "new", "f", "v"),
		hx(":1\r\n", "HEXISTS", "h", "a"),
		hx(":0\r\n", "HEXISTS", "h", "zz"),
		hx(":0\r\n", "HEXISTS", "nokey", "a"),
		hx(":6\r\n", "HLEN", "h"),
		hx(":0\r\n", "HLEN", "nokey"),
		hx(":1\r\n", "HSTRLEN", "h", "a"),
		hx(":0\r\n", "HSTRLEN", "h", "e"),
		hx(":0\r\n", "HSTRLEN", "h", "zz"),
		hx(":0\r\n", "HSTRLEN", "nokey", "a"),
		hx(":2\r\n", "HDEL", "h", "a", "zz", "b", "a"),
		hx(":0\r\n", "HDEL", "h", "zz"),
		hx(":0\r\n", "HDEL", "nokey", "a"),
		hx(":4\r\n", "HLEN", "h"),
		// Small hashes keep insertion order (Redis's listpack), with
		// updated fields in place and deleted ones closed up.
		hx("*8\r\n"+hb("c")+hb("3")+hb("d")+hb("4")+hb("e")+hb("")+hb("f")+hb("6"), "HGETALL", "h"),
		hx("*4\r\n"+hb("c")+hb("d")+hb("e")+hb("f"), "HKEYS", "h"),
		hx("*4\r\n"+hb("3")+hb("4")+hb("")+hb("6"), "HVALS", "h"),
		hx("*2\r\n"+hb("0")+"*8\r\n"+hb("c")+hb("3")+hb("d")+hb("4")+hb("e")+hb("")+hb("f")+hb("6"), "HSCAN", "h", "0"),
		hx("*2\r\n"+hb("0")+"*4\r\n"+hb("d")+hb("4")+hb("f")+hb("6"), "HSCAN", "h", "0", "MATCH", "[df]"),
		hx("*4\r\n"+hb("c")+hb("d")+hb("e")+hb("f"), "HRANDFIELD", "h", "4"),
		hx("*8\r\n"+hb("c")+hb("3")+hb("d")+hb("4")+hb("e")+hb("")+hb("f")+hb("6"), "HRANDFIELD", "h", "100", "WITHVALUES"),
		hx("*2\r\n"+hb("f")+hb("v"), "HGETALL", "new"),
		hx("*1\r\n"+hb("f"), "HKEYS", "new"),
		hx("*1\r\n"+hb("v"), "HVALS", "new"),
		hx("*0\r\n", "HGETALL", "nokey"),
		hx("*0\r\n", "HKEYS", "nokey"),
		hx("*0\r\n", "HVALS", "nokey"),
		hx(hb("f"), "HRANDFIELD", "new"),
		hx("$-1\r\n", "HRANDFIELD", "nokey"),
		hx("*1\r\n"+hb("f"), "HRANDFIELD", "new", "1"),
		hx("*2\r\n"+hb("f")+hb("v"), "HRANDFIELD", "new", "5", "WITHVALUES"),
		hx("*4\r\n"+hb("f")+hb("v")+hb("f")+hb("v"), "HRANDFIELD", "new", "-2", "withvalues"),
		hx("*0\r\n", "HRANDFIELD", "new", "0"),
		hx("*0\r\n", "HRANDFIELD", "nokey", "3"),
		hx("*0\r\n", "HRANDFIELD", "nokey", "-3", "WITHVALUES"),
		hx("*2\r\n"+hb("0")+"*2\r\n"+hb("f")+hb("v"), "HSCAN", "new", "0"),
		hx("*2\r\n"+hb("0")+"*0\r\n", "HSCAN", "nokey", "0"),
		hx(":1\r\n", "HDEL", "new", "f"),
		hx(":0\r\n", "HLEN", "new"),
	)
	if hashKeyExists(ts, "new") {
		t.Error("deleting the last field left the key behind")
	}
	// Binary-safe fields and values.
	hashRun(t, r,
		hx(":1\r\n", "HSET", "bin", "\x00\r\n\xff", "\r\n\x00"),
		hx(hb("\r\n\x00"), "HGET", "bin", "\x00\r\n\xff"),
	)
}

func TestHashRepliesRESP3(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	if got := r.do("HELLO", "3"); !strings.HasPrefix(got, "%") {
		t.Fatalf("HELLO 3: %q", got)
	}
	hashRun(t, r,
		hx(":1\r\n", "HSET", "h", "f", "v"),
		hx("%1\r\n"+hb("f")+hb("v"), "HGETALL", "h"),
		hx("%0\r\n", "HGETALL", "nokey"),
		hx("*1\r\n"+hb("f"), "HKEYS", "h"),
		hx("*0\r\n", "HKEYS", "nokey"),
		hx("*0\r\n", "HVALS", "nokey"),
		hx("_\r\n", "HGET", "h", "zz"),
		hx("*2\r\n"+hb("v")+"_\r\n", "HMGET", "h", "f", "zz"),
		hx("_\r\n", "HRANDFIELD", "nokey"),
		hx("*1\r\n*2\r\n"+hb("f")+hb("v"), "HRANDFIELD", "h", "3", "WITHVALUES"),
		hx("*2\r\n*2\r\n"+hb("f")+hb("v")+"*2\r\n"+hb("f")+hb("v"), "HRANDFIELD", "h", "-2", "WITHVALUES"),
		hx("*1\r\n*2\r\n"+hb("f")+hb("v"), "HRANDFIELD", "h", "1", "WITHVALUES"),
		hx("*2\r\n"+hb("f")+hb("f"), "HRANDFIELD", "h", "-2"),
		hx("*0\r\n", "HRANDFIELD", "nokey", "2", "WITHVALUES"),
		hx("*2\r\n"+hb("0")+"*2\r\n"+hb("f")+hb("v"), "HSCAN", "h", "0"),
		hx("*2\r\n"+hb("0")+"*0\r\n", "HSCAN", "nokey", "0"),
		hx(hb("1.5"), "HINCRBYFLOAT", "h", "n", "1.5"),
		hx(":1\r\n", "HEXISTS", "h", "n"),
	)
}

func TestHashErrors(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	arity := func(cmd string) string { return "-ERR wrong number of arguments for '" + cmd + "' command\r\n" }
	hashRun(t, r,
		hx("+OK\r\n", "SET", "str", "x"),
		hx(":2\r\n", "HSET", "h", "n", "10", "s", "abc"),
	)
	// Arity, including HSET/HMSET's odd field-value count.
	hashRun(t, r,
		hx(arity("hset"), "HSET", "h", "a"),
		hx(arity("hset"), "HSET", "h", "a", "1", "b"),
		hx(arity("hmset"), "HMSET", "h", "a", "1", "b"),
		hx(arity("hmset"), "HMSET", "h"),
		hx(arity("hsetnx"), "HSETNX", "h", "a"),
		hx(arity("hget"), "HGET", "h"),
		hx(arity("hget"), "HGET", "h", "a", "b"),
		hx(arity("hmget"), "HMGET", "h"),
		hx(arity("hdel"), "HDEL", "h"),
		hx(arity("hexists"), "HEXISTS", "h"),
		hx(arity("hlen"), "HLEN", "h", "x"),
		hx(arity("hstrlen"), "HSTRLEN", "h"),
		hx(arity("hkeys"), "HKEYS"),
		hx(arity("hvals"), "HVALS", "h", "x"),
		hx(arity("hgetall"), "HGETALL"),
		hx(arity("hincrby"), "HINCRBY", "h", "n"),
		hx(arity("hincrbyfloat"), "HINCRBYFLOAT", "h", "n", "1", "2"),
		hx(arity("hrandfield"), "HRANDFIELD"),
		hx(arity("hscan"), "HSCAN", "h"),
	)
	if hashKeyExists(ts, "a") {
		t.Error("a refused command created a key")
	}
	// Every command refuses a key of another type.
	for _, args := range [][]string{
		{"HSET", "str", "a", "1"}, {"HMSET", "str", "a", "1"}, {"HSETNX", "str", "a", "1"},
		{"HGET", "str", "a"}, {"HMGET", "str", "a"}, {"HDEL", "str", "a"}, {"HEXISTS", "str", "a"},
		{"HLEN", "str"}, {"HSTRLEN", "str", "a"}, {"HKEYS", "str"}, {"HVALS", "str"}, {"HGETALL", "str"},
		{"HINCRBY", "str", "a", "1"}, {"HINCRBYFLOAT", "str", "a", "1"}, {"HRANDFIELD", "str"},
		{"HRANDFIELD", "str", "2"}, {"HRANDFIELD", "str", "-2", "WITHVALUES"}, {"HSCAN", "str", "0"},
		{"HSCAN", "str", "0", "BADOPTION"},
	} {
		hashRun(t, r, hx(wrongType, args...))
	}
	hashRun(t, r,
		// HINCRBY.
		hx("-ERR value is not an integer or out of range\r\n", "HINCRBY", "h", "n", "x"),
		hx("-ERR value is not an integer or out of range\r\n", "HINCRBY", "h", "n", "1.5"),
		hx("-ERR value is not an integer or out of range\r\n", "HINCRBY", "str", "n", "x"), // before the type check
		hx("-ERR hash value is not an integer\r\n", "HINCRBY", "h", "s", "1"),
		hx(":9223372036854775807\r\n", "HINCRBY", "h", "big", "9223372036854775807"),
		hx("-ERR increment or decrement would overflow\r\n", "HINCRBY", "h", "big", "1"),
		hx(":-1\r\n", "HINCRBY", "h", "big", "-9223372036854775808"),
		hx(":-9223372036854775808\r\n", "HINCRBY", "h", "big", "-9223372036854775807"),
		hx("-ERR increment or decrement would overflow\r\n", "HINCRBY", "h", "big", "-1"),
		hx(":5\r\n", "HINCRBY", "h", "n", "-5"),
		hx(":-3\r\n", "HINCRBY", "newhash", "f", "-3"),
		// HINCRBYFLOAT.
		hx("-ERR value is not a valid float\r\n", "HINCRBYFLOAT", "h", "n", "abc"),
		hx("-ERR value is not a valid float\r\n", "HINCRBYFLOAT", "h", "n", "nan"),
		hx("-ERR value is not a valid float\r\n", "HINCRBYFLOAT", "h", "n", " 1"),
		hx("-ERR value is not a valid float\r\n", "HINCRBYFLOAT", "h", "n", "1e5000"),
		hx("-ERR value is not a valid float\r\n", "HINCRBYFLOAT", "str", "n", "x"),
		hx("-ERR value is NaN or Infinity\r\n", "HINCRBYFLOAT", "h", "n", "inf"),
		hx("-ERR value is NaN or Infinity\r\n", "HINCRBYFLOAT", "h", "n", "-Infinity"),
		hx("-ERR hash value is not a float\r\n", "HINCRBYFLOAT", "h", "s", "1"),
		hx(":1\r\n", "HSET", "h", "inf", "inf"),
		hx("-ERR increment would produce NaN or Infinity\r\n", "HINCRBYFLOAT", "h", "inf", "1"),
		hx(":1\r\n", "HSET", "h", "huge", "1e4932"),
		hx("-ERR increment would produce NaN or Infinity\r\n", "HINCRBYFLOAT", "h", "huge", "1e4932"),
		// HRANDFIELD.
		hx("-ERR value is not an integer or out of range\r\n", "HRANDFIELD", "h", "x"),
		hx("-ERR value is not an integer or out of range\r\n", "HRANDFIELD", "h", "x", "WITHVALUES"),
		hx("-ERR value is not an integer or out of range\r\n", "HRANDFIELD", "h", "9223372036854775808"),
		hx("-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n", "HRANDFIELD", "h", "-9223372036854775808"),
		hx("-ERR syntax error\r\n", "HRANDFIELD", "h", "1", "foo"),
		hx("-ERR syntax error\r\n", "HRANDFIELD", "h", "1", "WITHVALUES", "x"),
		hx("-ERR syntax error\r\n", "HRANDFIELD", "nokey", "1", "bad"),
		hx("-ERR syntax error\r\n", "HRANDFIELD", "str", "1", "bad"), // before the type check
		hx("-ERR value is out of range\r\n", "HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"),
		hx("-ERR value is out of range\r\n", "HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"),
		// HSCAN.
		hx("-ERR invalid cursor\r\n", "HSCAN", "h", "x"),
		hx("-ERR invalid cursor\r\n", "HSCAN", "h", " 1"),
		hx("-ERR invalid cursor\r\n", "HSCAN", "h", "1a"),
		hx("-ERR invalid cursor\r\n", "HSCAN", "h", "+"),
		hx("-ERR invalid cursor\r\n", "HSCAN", "h", "18446744073709551616"),
		hx("-ERR invalid cursor\r\n", "HSCAN", "str", "x"), // before the type check
		hx("-ERR invalid cursor\r\n", "HSCAN", "nokey", "x"),
		hx("-ERR syntax error\r\n", "HSCAN", "h", "0", "bad"),
		hx("-ERR syntax error\r\n", "HSCAN", "h", "0", "COUNT"),
		hx("-ERR syntax error\r\n", "HSCAN", "h", "0", "MATCH"),
		hx("-ERR syntax error\r\n", "HSCAN", "h", "0", "COUNT", "0"),
		hx("-ERR syntax error\r\n", "HSCAN", "h", "0", "TYPE", "string"),
		hx("-ERR value is not an integer or out of range\r\n", "HSCAN", "h", "0", "COUNT", "x"),
		// A missing key answers before the options are looked at.
		hx("*2\r\n"+hb("0")+"*0\r\n", "HSCAN", "nokey", "0", "BAD"),
	)
	if hashKeyExists(ts, "nokey") {
		t.Error("a failed command created a key")
	}
}

// TestHashIncrByFloatPrecision checks results Redis computes in x87 long
// double (answers taken from redis-server 7.0.15 on x86-64).
func TestHashIncrByFloatPrecision(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	for i, tc := range []struct {
		start string // "" = field absent
		incrs []string
		want  string
	}{
		{"", []string{"0.1", "0.2"}, "0.3"},
		{"10.5", []string{"0.1"}, "10.6"},
		{"5.0e3", []string{"200"}, "5200"},
		{"", []string{"0x10"}, "16"},
		{"", []string{"0X1.8p1"}, "3"},
		{"", []string{"1.", ".5", "+.5e-1"}, "1.55"},
		{"1", []string{"1e-18"}, "1"},
		{"1", []string{"1e-17"}, "1.00000000000000001"},
		{"1.00000000000000001", []string{"-2.00000000000000001"}, "-1"},
		{"0.3", []string{"1e-20", "3.3333333333333333333333"}, "3.63333333333333333"},
		{"", []string{"-0"}, "0"},
		{"", []string{"1e-4940"}, "0"},
		{"00012", []string{"0"}, "12"},
		{"", []string{"1.5e308", "1.5e308", "-1.5e308"}, "149999999999999999999901476489468468031016840965060944967133685421180106066691046036756664728216022031902928370522024964340854582506645209487860806577896175175227643677561112877760303256738896516844124921428435196017215141331511736789270744288327321353040504243421434090049846615188904452633296864511849922560"},
	} {
		field := "f" + strconv.Itoa(i)
		if tc.start != "" {
			r.do("HSET", "fl", field, tc.start)
		}
		var got string
		for _, inc := range tc.incrs {
			got = r.do("HINCRBYFLOAT", "fl", field, inc)
		}
		if got != hb(tc.want) {
			t.Errorf("%q + %q: got %q, want %q", tc.start, tc.incrs, got, tc.want)
		}
		if stored := r.do("HGET", "fl", field); stored != hb(tc.want) {
			t.Errorf("%q + %q: stored %q", tc.start, tc.incrs, stored)
		}
	}
}

// TestHashPropagation checks what the hash commands append to the command
// log: HINCRBYFLOAT as HSET with the final value, nothing for commands that
// changed nothing, and nothing for errors.
func TestHashPropagation(t *testing.T) {
	ts := startServer(t)
	logged := hashLogRecorder(t, ts)
	r := ts.raw(t)
	for _, args := range [][]string{
		{"HSET", "h", "a", "1", "b", "2"},
		{"HMSET", "h", "c", "3"},
		{"HSETNX", "h", "a", "9"}, // exists: no change
		{"HSETNX", "h", "d", "4"},
		{"HDEL", "h", "zz"},     // nothing deleted
		{"HDEL", "nokey", "zz"}, // no key
		{"HDEL", "h", "d", "zz"},
		{"HINCRBY", "h", "n", "5"},
		{"HINCRBYFLOAT", "h", "x", "0.1"},
		{"HINCRBYFLOAT", "h", "x", "0.2"},
		{"HINCRBYFLOAT", "h", "x", "bad"},
		{"HINCRBY", "h", "a", "x"},
		{"HSET", "h", "odd"},
		{"HGET", "h", "a"},
		{"HSET", "one", "f", "v"},
		{"HDEL", "one", "f"},
	} {
		r.do(args...)
	}
	want := []string{
		"HSET h a 1 b 2",
		"HMSET h c 3",
		"HSETNX h d 4",
		"HDEL h d zz",
		"HINCRBY h n 5",
		"HSET h x 0.1",
		"HSET h x 0.3",
		"HSET one f v",
		"HDEL one f",
	}
	if got := logged(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("command log:\n got %q\nwant %q", got, want)
	}
	if hashKeyExists(ts, "one") {
		t.Fatal("HDEL of the last field left the key")
	}
}

// TestHashWithGoRedis exercises the family through go-redis's RESP3
// client, the way applications use it.
func TestHashWithGoRedis(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	if n, err := rdb.HSet(ctx, "user", "name", "ann", "age", "41", "city", "oslo").Result(); err != nil || n != 3 {
		t.Fatalf("HSET = %d, %v", n, err)
	}
	all, err := rdb.HGetAll(ctx, "user").Result()
	if err != nil || len(all) != 3 || all["name"] != "ann" || all["age"] != "41" || all["city"] != "oslo" {
		t.Fatalf("HGETALL = %v, %v", all, err)
	}
	keys, _ := rdb.HKeys(ctx, "user").Result()
	vals, _ := rdb.HVals(ctx, "user").Result()
	sort.Strings(keys)
	sort.Strings(vals)
	if strings.Join(keys, ",") != "age,city,name" || strings.Join(vals, ",") != "41,ann,oslo" {
		t.Fatalf("HKEYS %v HVALS %v", keys, vals)
	}
	if v, err := rdb.HIncrBy(ctx, "user", "age", 2).Result(); err != nil || v != 43 {
		t.Fatalf("HINCRBY = %d, %v", v, err)
	}
	if v, err := rdb.HIncrByFloat(ctx, "user", "score", 2.5).Result(); err != nil || v != 2.5 {
		t.Fatalf("HINCRBYFLOAT = %v, %v", v, err)
	}
	if _, err := rdb.HIncrBy(ctx, "user", "name", 1).Result(); err == nil || err.Error() != "ERR hash value is not an integer" {
		t.Fatalf("HINCRBY on text: %v", err)
	}
	got, err := rdb.HMGet(ctx, "user", "name", "nope", "age").Result()
	if err != nil || got[0] != "ann" || got[1] != nil || got[2] != "43" {
		t.Fatalf("HMGET = %v, %v", got, err)
	}
	if ok, _ := rdb.HSetNX(ctx, "user", "name", "bob").Result(); ok {
		t.Fatal("HSETNX overwrote a field")
	}
	if ok, _ := rdb.HExists(ctx, "user", "city").Result(); !ok {
		t.Fatal("HEXISTS false for a present field")
	}
	if n, _ := rdb.HStrLen(ctx, "user", "city").Result(); n != 4 {
		t.Fatalf("HSTRLEN = %d", n)
	}
	if n, _ := rdb.HDel(ctx, "user", "city", "nope").Result(); n != 1 {
		t.Fatalf("HDEL = %d", n)
	}
	if n, _ := rdb.HLen(ctx, "user").Result(); n != 3 {
		t.Fatalf("HLEN = %d", n)
	}
	if _, err := rdb.HGet(ctx, "user", "nope").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("HGET of a missing field: %v", err)
	}
	pairs, err := rdb.HRandFieldWithValues(ctx, "user", 10).Result()
	if err != nil || len(pairs) != 3 {
		t.Fatalf("HRANDFIELD WITHVALUES = %v, %v", pairs, err)
	}
	for _, p := range pairs {
		if want, _ := rdb.HGet(ctx, "user", p.Key).Result(); want != p.Value {
			t.Fatalf("HRANDFIELD paired %q with %q, hash has %q", p.Key, p.Value, want)
		}
	}
	if err := rdb.Set(ctx, "str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HGet(ctx, "str", "a").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("HGET of a string: %v", err)
	}
}

func TestHashRandField(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	const n = 40
	fields := map[string]string{}
	for i := 0; i < n; i++ {
		fields["f"+strconv.Itoa(i)] = "v" + strconv.Itoa(i)
	}
	if err := rdb.HSet(ctx, "h", fields).Err(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		f, err := rdb.HRandField(ctx, "h", 1).Result()
		if err != nil || len(f) != 1 || fields[f[0]] == "" {
			t.Fatalf("HRANDFIELD h 1 = %v, %v", f, err)
		}
		seen[f[0]] = true
	}
	if len(seen) != n {
		t.Errorf("single draws reached only %d of %d fields", len(seen), n)
	}
	// Positive counts: distinct fields, all of them when count >= size;
	// both sampling strategies (small and large share of the hash).
	for _, count := range []int{2, 10, 14, 20, 39, 40, 41, 1000} {
		got, err := rdb.HRandField(ctx, "h", count).Result()
		if err != nil || len(got) != min(count, n) {
			t.Fatalf("HRANDFIELD h %d: %d fields, %v", count, len(got), err)
		}
		dup := map[string]bool{}
		for _, f := range got {
			if dup[f] || fields[f] == "" {
				t.Fatalf("HRANDFIELD h %d: bad or repeated field %q", count, f)
			}
			dup[f] = true
		}
	}
	// Negative counts: exactly that many draws, repeats allowed.
	got, err := rdb.HRandField(ctx, "h", -500).Result()
	if err != nil || len(got) != 500 {
		t.Fatalf("HRANDFIELD h -500: %d fields, %v", len(got), err)
	}
	dup := map[string]int{}
	for _, f := range got {
		dup[f]++
	}
	if len(dup) == 500 || len(dup) < 20 {
		t.Fatalf("500 draws from 40 fields gave %d distinct", len(dup))
	}
	pairs, err := rdb.HRandFieldWithValues(ctx, "h", -100).Result()
	if err != nil || len(pairs) != 100 {
		t.Fatalf("HRANDFIELD h -100 WITHVALUES: %d, %v", len(pairs), err)
	}
	for _, p := range pairs {
		if fields[p.Key] != p.Value {
			t.Fatalf("pair %q=%q", p.Key, p.Value)
		}
	}
}

// TestHashRandFieldHugeCount checks that a reply sized by an absurd
// negative count is cut off by the output buffer limit instead of eating
// memory, and that the server and other clients carry on.
func TestHashRandFieldHugeCount(t *testing.T) {
	ts := startServer(t, func(cfg *Config) {
		if err := cfg.Set("client-output-buffer-limit", "normal 1mb 0 0"); err != nil {
			t.Fatal(err)
		}
	})
	r := ts.raw(t)
	r.do("HSET", "h", "f", "v")
	r.write("*3\r\n$10\r\nHRANDFIELD\r\n$1\r\nh\r\n$20\r\n-9223372036854775807\r\n")
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, r.rd)
	if err != nil {
		t.Fatalf("expected the server to close the connection, got %v after %d bytes", err, n)
	}
	if n > 2<<20 {
		t.Fatalf("received %d bytes despite a 1mb limit", n)
	}
	if got := ts.raw(t).do("HLEN", "h"); got != ":1\r\n" {
		t.Fatalf("server unhealthy after the huge reply: %q", got)
	}
}

func TestHashScan(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	rdb := ts.client(t)
	// A small hash is answered whole in one step, whatever the cursor and
	// COUNT (Redis's listpack behaviour); MATCH filters it.
	r.do("HSET", "small", "a1", "1", "b1", "2", "a2", "3")
	for _, cursor := range []string{"0", "", "+0", "-0", "123", "-18446744073709551615", "18446744073709551615"} {
		reply := r.do("HSCAN", "small", cursor, "COUNT", "1")
		if !strings.HasPrefix(reply, "*2\r\n"+hb("0")+"*6\r\n") {
			t.Fatalf("HSCAN small %q: %q", cursor, reply)
		}
	}
	keys, cursor, err := rdb.HScan(ctx, "small", 0, "a*", 0).Result()
	if err != nil || cursor != 0 || len(keys) != 4 {
		t.Fatalf("HSCAN MATCH a*: %v %d %v", keys, cursor, err)
	}
	// "*" is the match-all pattern, even for an empty field name, which
	// Redis's glob would not match.
	r.do("HSET", "small", "", "empty")
	if keys, _, _ := rdb.HScan(ctx, "small", 0, "*", 0).Result(); len(keys) != 8 {
		t.Fatalf("HSCAN MATCH * returned %d elements", len(keys))
	}
	if keys, _, _ := rdb.HScan(ctx, "small", 0, "**", 0).Result(); len(keys) != 6 {
		t.Fatalf("HSCAN MATCH ** returned %d elements", len(keys))
	}

	// A large hash is iterated with the cursor; every field comes back
	// (possibly more than once) with its own value.
	const n = 1500
	fields := make([]any, 0, 2*n)
	for i := 0; i < n; i++ {
		fields = append(fields, "f"+strconv.Itoa(i), strconv.Itoa(i))
	}
	if err := rdb.HSet(ctx, "big", fields...).Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		count int64
		match string
		want  int
	}{{0, "", n}, {7, "", n}, {100, "", n}, {50, "f1*", 1 + 10 + 100 + 500}} {
		got := map[string]bool{}
		var cur uint64
		steps := 0
		for {
			kv, next, err := rdb.HScan(ctx, "big", cur, tc.match, tc.count).Result()
			if err != nil || len(kv)%2 != 0 {
				t.Fatalf("HSCAN: %v, %d elements", err, len(kv))
			}
			for i := 0; i < len(kv); i += 2 {
				if "f"+kv[i+1] != kv[i] {
					t.Fatalf("HSCAN paired %q with %q", kv[i], kv[i+1])
				}
				got[kv[i]] = true
			}
			steps++
			if cur = next; cur == 0 {
				break
			}
		}
		if len(got) != tc.want {
			t.Errorf("COUNT %d MATCH %q: %d distinct fields, want %d", tc.count, tc.match, len(got), tc.want)
		}
		if steps < 2 {
			t.Errorf("COUNT %d: a %d-field hash scanned in %d step", tc.count, n, steps)
		}
	}
	// COUNT counts fields and values together, as in Redis 7.0.
	kv, _, _ := rdb.HScan(ctx, "big", 0, "", 40).Result()
	if len(kv) < 40 || len(kv) > 200 {
		t.Errorf("HSCAN COUNT 40 returned %d elements", len(kv))
	}
	// A hash with a long value is a hashtable even when small.
	r.do("HSET", "long", "a", strings.Repeat("x", 65), "b", "1")
	var enc string
	ts.Exec(func(ks *keyspace.Keyspace) {
		info, _ := ks.DB(0).Object([]byte("long"))
		enc = info.Encoding
	})
	if enc != "hashtable" {
		t.Errorf("encoding of a hash with a 65-byte value: %q", enc)
	}
	if reply := r.do("HSCAN", "long", "0", "COUNT", "1"); !strings.Contains(reply, hb("b")) && !strings.Contains(reply, hb("a")) {
		t.Errorf("HSCAN of a small hashtable hash: %q", reply)
	}
}

// TestHashWatch checks that hash writes by another client invalidate
// WATCH, and that no-op writes do not.
func TestHashWatch(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	other := ts.client(t)
	rdb.HSet(ctx, "h", "a", "1")
	run := func(change func()) error {
		return rdb.Watch(ctx, func(tx *redis.Tx) error {
			change()
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, "h", "mine", "1")
				return nil
			})
			return err
		}, "h")
	}
	if err := run(func() { other.HSet(ctx, "h", "a", "2") }); !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("HSET by another client: %v", err)
	}
	if err := run(func() { other.HIncrBy(ctx, "h", "a", 1) }); !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("HINCRBY by another client: %v", err)
	}
	if err := run(func() { other.HDel(ctx, "h", "nope") }); err != nil {
		t.Fatalf("HDEL of nothing invalidated WATCH: %v", err)
	}
	if err := run(func() { other.HSetNX(ctx, "h", "a", "9") }); err != nil {
		t.Fatalf("HSETNX of an existing field invalidated WATCH: %v", err)
	}
}

// TestHashConcurrentIncr is the acceptance check: many clients incrementing
// hash fields at once end with exact totals.
func TestHashConcurrentIncr(t *testing.T) {
	ts := startServer(t)
	const clients, each = 20, 100
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rdb := redis.NewClient(&redis.Options{Addr: ts.addr})
			defer rdb.Close()
			for j := 0; j < each; j++ {
				if err := rdb.HIncrBy(ctx, "counters", "total", 1).Err(); err != nil {
					errs <- err
					return
				}
				if err := rdb.HIncrByFloat(ctx, "counters", "half", 0.5).Err(); err != nil {
					errs <- err
					return
				}
				if err := rdb.HIncrBy(ctx, "counters", "c"+strconv.Itoa(i), 1).Err(); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rdb := ts.client(t)
	all, err := rdb.HGetAll(ctx, "counters").Result()
	if err != nil {
		t.Fatal(err)
	}
	if all["total"] != strconv.Itoa(clients*each) || all["half"] != strconv.Itoa(clients*each/2) || len(all) != clients+2 {
		t.Fatalf("total %q half %q fields %d", all["total"], all["half"], len(all))
	}
	for i := 0; i < clients; i++ {
		if all["c"+strconv.Itoa(i)] != strconv.Itoa(each) {
			t.Fatalf("c%d = %q", i, all["c"+strconv.Itoa(i)])
		}
	}
}

func TestParseScanCursor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"", 0, true}, {"42", 42, true}, {"+7", 7, true}, {"007", 7, true},
		{"-0", 0, true}, {"-1", 1<<64 - 1, true}, {"-18446744073709551615", 1, true},
		{"18446744073709551615", 1<<64 - 1, true}, {"18446744073709551616", 0, false},
		{"99999999999999999999999", 0, false}, {"+", 0, false}, {"-", 0, false}, {" 1", 0, false},
		{"1 ", 0, false}, {"0x1", 0, false}, {"1\x00junk", 1, true}, {"\x00", 0, true},
	} {
		got, ok := parseScanCursor([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseScanCursor(%q) = %d,%v; want %d,%v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
