package server

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestBitsSetbitGetbit(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	strHash(t, ts, "h")

	if old := rdb.SetBit(ctx, "b", 7, 1).Val(); old != 0 {
		t.Fatalf("SETBIT new = %d", old)
	}
	if v := rdb.Get(ctx, "b").Val(); v != "\x01" {
		t.Fatalf("after SETBIT 7: %q", v)
	}
	if old := rdb.SetBit(ctx, "b", 7, 1).Val(); old != 1 {
		t.Fatalf("SETBIT again = %d", old)
	}
	rdb.SetBit(ctx, "b", 0, 1)
	rdb.SetBit(ctx, "b", 17, 1) // grows to 3 bytes
	if v := rdb.Get(ctx, "b").Val(); v != "\x81\x00\x40" {
		t.Fatalf("bitmap = %q", v)
	}
	if old := rdb.SetBit(ctx, "b", 0, 0).Val(); old != 1 {
		t.Fatalf("SETBIT clear = %d", old)
	}
	for off, want := range map[int64]int64{0: 0, 7: 1, 17: 1, 16: 0, 100: 0} {
		if got := rdb.GetBit(ctx, "b", off).Val(); got != want {
			t.Errorf("GETBIT %d = %d, want %d", off, got, want)
		}
	}
	// SETBIT works on strings set by SET (and keeps them strings).
	rdb.Set(ctx, "s", "`", 0) // 0x60
	rdb.SetBit(ctx, "s", 7, 1)
	if v := rdb.Get(ctx, "s").Val(); v != "a" {
		t.Fatalf("SETBIT on SET value: %q", v)
	}
	expectRaw(t, r, ":0\r\n", "GETBIT", "nope", "5")
	offErr := "-ERR bit offset is not an integer or out of range\r\n"
	expectRaw(t, r, offErr, "SETBIT", "b", "-1", "1")
	expectRaw(t, r, offErr, "SETBIT", "b", "x", "1")
	expectRaw(t, r, offErr, "SETBIT", "b", "4294967296", "1") // 512 MB
	expectRaw(t, r, offErr, "GETBIT", "b", "-1")
	expectRaw(t, r, offErr, "GETBIT", "b", "4294967296")
	bitErr := "-ERR bit is not an integer or out of range\r\n"
	expectRaw(t, r, bitErr, "SETBIT", "b", "1", "2")
	expectRaw(t, r, bitErr, "SETBIT", "b", "1", "-1")
	expectRaw(t, r, bitErr, "SETBIT", "b", "1", "x")
	expectRaw(t, r, "$-1\r\n", "GET", "never") // errors create nothing
	expectRaw(t, r, wrongType, "SETBIT", "h", "1", "1")
	expectRaw(t, r, wrongType, "GETBIT", "h", "1")
}

func TestBitsSetbitPropagation(t *testing.T) {
	ts := startServer(t)
	rec := recordLog(t, ts)
	r := ts.raw(t)
	r.do("SETBIT", "b", "3", "0")  // creates the key: a change
	r.do("SETBIT", "b", "3", "0")  // same bit: nothing
	r.do("SETBIT", "b", "3", "1")  // change
	r.do("SETBIT", "b", "3", "1")  // nothing
	r.do("SETBIT", "b", "20", "0") // grows the string: a change
	r.do("BITOP", "AND", "d", "nope")
	r.do("BITOP", "OR", "d", "b")
	r.do("BITOP", "AND", "d", "nope") // empty result deletes d
	expectLog(t, rec,
		"SETBIT b 3 0",
		"SETBIT b 3 1",
		"SETBIT b 20 0",
		"BITOP OR d b",
		"BITOP AND d nope",
	)
}

func TestBitsBitcount(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	rdb.Set(ctx, "s", "foobar", 0)
	for _, c := range []struct {
		args []string
		want int64
	}{
		{nil, 26},
		{[]string{"0", "0"}, 4},
		{[]string{"1", "1"}, 6},
		{[]string{"1", "1", "BYTE"}, 6},
		{[]string{"5", "30", "BIT"}, 17},
		{[]string{"0", "-1"}, 26},
		{[]string{"-2", "-1"}, 7},
		{[]string{"-1", "-2"}, 0},
		{[]string{"-100", "100"}, 26},
		{[]string{"3", "1"}, 0},
		{[]string{"0", "0", "bit"}, 0},
		{[]string{"1", "7", "bit"}, 4},
		{[]string{"-1", "-1", "BIT"}, 0},
		{[]string{"-8", "-1", "BIT"}, 4},
	} {
		args := append([]string{"BITCOUNT", "s"}, c.args...)
		if got := r.do(args...); got != ":"+itoa(int(c.want))+"\r\n" {
			t.Errorf("%q = %q, want %d", args, got, c.want)
		}
	}
	if n := rdb.BitCount(ctx, "s", &redis.BitCount{Start: 5, End: 30, Unit: redis.BitCountIndexBit}).Val(); n != 17 {
		t.Fatalf("go-redis BITCOUNT BIT = %d", n)
	}
	// Word-at-a-time counting over a longer string.
	long := strings.Repeat("\xff\x01", 1000) + "\x07"
	rdb.Set(ctx, "l", long, 0)
	if n := rdb.BitCount(ctx, "l", nil).Val(); n != 9003 {
		t.Fatalf("long BITCOUNT = %d", n)
	}
	expectRaw(t, r, ":8997\r\n", "BITCOUNT", "l", "3", "15999", "BIT")
	// Redis 7.0 answers 0 for a missing key before looking at the range.
	expectRaw(t, r, ":0\r\n", "BITCOUNT", "nope")
	expectRaw(t, r, ":0\r\n", "BITCOUNT", "nope", "a", "b")
	expectRaw(t, r, "-ERR syntax error\r\n", "BITCOUNT", "s", "1")
	expectRaw(t, r, "-ERR syntax error\r\n", "BITCOUNT", "s", "1", "2", "BITS")
	expectRaw(t, r, "-ERR syntax error\r\n", "BITCOUNT", "s", "1", "2", "BIT", "x")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "BITCOUNT", "s", "a", "1")
	rdb.Set(ctx, "e", "", 0)
	expectRaw(t, r, ":0\r\n", "BITCOUNT", "e")
	expectRaw(t, r, ":0\r\n", "BITCOUNT", "e", "0", "-1", "BIT")
}

func TestBitsBitpos(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	rdb.Set(ctx, "a", "\xff\xf0\x00", 0)
	rdb.Set(ctx, "b", "\x00\xff\xf0", 0)
	rdb.Set(ctx, "z", "\x00\x00\x00", 0)
	rdb.Set(ctx, "o", "\xff\xff\xff", 0)
	rdb.Set(ctx, "e", "", 0)
	for _, c := range []struct {
		args []string
		want int64
	}{
		{[]string{"a", "0"}, 12},
		{[]string{"b", "1", "0"}, 8},
		{[]string{"b", "1", "2"}, 16},
		{[]string{"b", "1", "2", "-1", "BYTE"}, 16},
		{[]string{"b", "1", "7", "15", "BIT"}, 8},
		{[]string{"b", "1", "7", "-3", "BIT"}, 8},
		{[]string{"z", "1"}, -1},
		{[]string{"z", "0"}, 0},
		{[]string{"o", "0"}, 24}, // no end given: zero padding counts
		{[]string{"o", "0", "1"}, 24},
		{[]string{"o", "0", "0", "-1"}, -1}, // explicit end: it does not
		{[]string{"o", "0", "3", "20", "bit"}, -1},
		{[]string{"a", "0", "1", "1"}, 12},
		{[]string{"a", "1", "2"}, -1},
		{[]string{"a", "1", "5", "2"}, -1}, // empty range
		{[]string{"a", "0", "-1", "-1"}, 16},
		{[]string{"b", "0", "9", "14", "BIT"}, -1},
		{[]string{"b", "0", "9", "21", "BIT"}, 20},
		{[]string{"e", "0"}, -1},
		{[]string{"e", "1"}, -1},
		{[]string{"nope", "0"}, 0},
		{[]string{"nope", "1"}, -1},
		{[]string{"nope", "1", "a"}, -1}, // a missing key answers before the range is parsed
	} {
		args := append([]string{"BITPOS"}, c.args...)
		if got := r.do(args...); got != ":"+itoa(int(c.want))+"\r\n" {
			t.Errorf("%q = %q, want %d", args, got, c.want)
		}
	}
	// Word-at-a-time search over a longer string.
	long := strings.Repeat("\x00", 1000) + "\x10" + strings.Repeat("\xff", 100)
	rdb.Set(ctx, "l", long, 0)
	if p := rdb.BitPos(ctx, "l", 1).Val(); p != 8003 {
		t.Fatalf("long BITPOS 1 = %d", p)
	}
	if p := rdb.BitPos(ctx, "l", 0, 1001).Val(); p != 8808 {
		t.Fatalf("long BITPOS 0 from 1001 = %d", p)
	}
	if p := rdb.BitPosSpan(ctx, "l", 1, 9, 8100, "bit").Val(); p != 8003 {
		t.Fatalf("BITPOS span = %d", p)
	}
	expectRaw(t, r, "-ERR The bit argument must be 1 or 0.\r\n", "BITPOS", "a", "2")
	expectRaw(t, r, "-ERR The bit argument must be 1 or 0.\r\n", "BITPOS", "nope", "-1")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "BITPOS", "a", "x")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "BITPOS", "a", "1", "x")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "BITPOS", "a", "1", "0", "x")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "BITPOS", "a", "0", "3", "bit") // the end, not a unit
	expectRaw(t, r, "-ERR syntax error\r\n", "BITPOS", "a", "1", "0", "1", "bits")
	expectRaw(t, r, "-ERR syntax error\r\n", "BITPOS", "a", "1", "0", "1", "bit", "x")
	strHash(t, ts, "h")
	expectRaw(t, r, wrongType, "BITPOS", "h", "1")
}

func TestBitsBitop(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	r := ts.raw(t)
	rdb.Set(ctx, "k1", "foobar", 0)
	rdb.Set(ctx, "k2", "abcdef", 0)
	rdb.Set(ctx, "k3", "\x0f", 0)
	long1 := strings.Repeat("\xf0\x0f\xaa", 7) // 21 bytes: word and tail paths
	long2 := strings.Repeat("\x3c", 17)
	rdb.Set(ctx, "l1", long1, 0)
	rdb.Set(ctx, "l2", long2, 0)
	ref := func(op string, srcs ...string) string {
		n := 0
		for _, s := range srcs {
			n = max(n, len(s))
		}
		out := make([]byte, n)
		for i := range out {
			var acc byte
			for j, s := range srcs {
				var b byte
				if i < len(s) {
					b = s[i]
				}
				switch {
				case j == 0:
					acc = b
				case op == "AND":
					acc &= b
				case op == "OR":
					acc |= b
				case op == "XOR":
					acc ^= b
				}
			}
			if op == "NOT" {
				acc = ^acc
			}
			out[i] = acc
		}
		return string(out)
	}
	vals := map[string]string{"k1": "foobar", "k2": "abcdef", "k3": "\x0f", "l1": long1, "l2": long2, "nope": ""}
	for _, c := range [][]string{
		{"AND", "k1", "k2"}, {"OR", "k1", "k2"}, {"XOR", "k1", "k2"}, {"NOT", "k1"},
		{"AND", "k1", "k3"}, {"OR", "k3", "k1"}, {"XOR", "k1", "k2", "k3"},
		{"AND", "l1", "l2"}, {"OR", "l1", "l2"}, {"XOR", "l2", "l1", "k1"}, {"NOT", "l1"},
		{"AND", "k1", "nope"}, {"OR", "nope", "k3"},
	} {
		srcs := make([]string, 0, len(c)-1)
		for _, k := range c[1:] {
			srcs = append(srcs, vals[k])
		}
		want := ref(c[0], srcs...)
		var n int64
		var err error
		switch c[0] {
		case "AND":
			n, err = rdb.BitOpAnd(ctx, "dest", c[1:]...).Result()
		case "OR":
			n, err = rdb.BitOpOr(ctx, "dest", c[1:]...).Result()
		case "XOR":
			n, err = rdb.BitOpXor(ctx, "dest", c[1:]...).Result()
		case "NOT":
			n, err = rdb.BitOpNot(ctx, "dest", c[1]).Result()
		}
		if err != nil || n != int64(len(want)) {
			t.Fatalf("BITOP %q = %d, %v", c, n, err)
		}
		if got := rdb.Get(ctx, "dest").Val(); got != want {
			t.Fatalf("BITOP %q stored %q, want %q", c, got, want)
		}
	}
	// The destination may be a source; its TTL is cleared.
	strSetTTL(t, ts, "k3", 1<<50)
	expectRaw(t, r, ":6\r\n", "BITOP", "or", "k3", "k3", "k1")
	if v := rdb.Get(ctx, "k3").Val(); v != ref("OR", "\x0f", "foobar") {
		t.Fatalf("in-place BITOP: %q", v)
	}
	if ttl := strTTL(t, ts, "k3"); ttl != -1 {
		t.Fatalf("BITOP kept the ttl: %d", ttl)
	}
	// An all-empty result deletes the destination.
	expectRaw(t, r, ":0\r\n", "BITOP", "AND", "dest", "nope", "nope2")
	expectRaw(t, r, "$-1\r\n", "GET", "dest")
	expectRaw(t, r, "-ERR syntax error\r\n", "BITOP", "NAND", "dest", "k1")
	expectRaw(t, r, "-ERR BITOP NOT must be called with a single source key.\r\n", "BITOP", "NOT", "dest", "k1", "k2")
	expectRaw(t, r, "-ERR wrong number of arguments for 'bitop' command\r\n", "BITOP", "AND", "dest")
	strHash(t, ts, "h")
	expectRaw(t, r, wrongType, "BITOP", "AND", "dest", "k1", "h")
	expectRaw(t, r, "$-1\r\n", "GET", "dest") // WRONGTYPE wrote nothing
}
