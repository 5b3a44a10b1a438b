package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/thredis/thredis/canonint"
)

// Test-only encoders for the compact encodings, following Redis's choice of
// the smallest encoding per element (ziplist.c zipTryEncoding /
// zipStoreEntryEncoding, listpack.c lpEncodeGetType). TestLegacyTypes loads
// their output into a stock redis-server, which proves they produce real
// Redis structures, so the parsers are checked against Redis's format and
// not merely against these encoders.

func ziplistOf(elems ...string) []byte {
	var body []byte
	prevlen, last := 0, ziplistHeader
	for _, e := range elems {
		var ent []byte
		if prevlen < 254 {
			ent = append(ent, byte(prevlen))
		} else {
			ent = append(ent, 0xFE)
			ent = binary.LittleEndian.AppendUint32(ent, uint32(prevlen))
		}
		if v, ok := canonint.Parse([]byte(e)); ok && len(e) < 32 {
			switch {
			case v >= 0 && v <= 12:
				ent = append(ent, 0xF1+byte(v))
			case v >= math.MinInt8 && v <= math.MaxInt8:
				ent = append(ent, 0xFE, byte(v))
			case v >= math.MinInt16 && v <= math.MaxInt16:
				ent = binary.LittleEndian.AppendUint16(append(ent, 0xC0), uint16(v))
			case v >= -1<<23 && v < 1<<23:
				ent = append(ent, 0xF0, byte(v), byte(v>>8), byte(v>>16))
			case v >= math.MinInt32 && v <= math.MaxInt32:
				ent = binary.LittleEndian.AppendUint32(append(ent, 0xD0), uint32(v))
			default:
				ent = binary.LittleEndian.AppendUint64(append(ent, 0xE0), uint64(v))
			}
		} else {
			switch n := len(e); {
			case n < 64:
				ent = append(ent, byte(n))
			case n < 16384:
				ent = append(ent, 0x40|byte(n>>8), byte(n))
			default:
				ent = binary.BigEndian.AppendUint32(append(ent, 0x80), uint32(n))
			}
			ent = append(ent, e...)
		}
		last = ziplistHeader + len(body)
		prevlen = len(ent)
		body = append(body, ent...)
	}
	zl := binary.LittleEndian.AppendUint32(nil, uint32(ziplistHeader+len(body)+1))
	zl = binary.LittleEndian.AppendUint32(zl, uint32(last))
	zl = binary.LittleEndian.AppendUint16(zl, uint16(min(len(elems), 0xFFFF)))
	zl = append(zl, body...)
	return append(zl, ziplistEnd)
}

func listpackOf(elems ...string) []byte {
	var body []byte
	for _, e := range elems {
		var ent []byte
		if v, ok := canonint.Parse([]byte(e)); ok {
			switch {
			case v >= 0 && v <= 127:
				ent = append(ent, byte(v))
			case v >= -4096 && v <= 4095:
				u := uint64(v) & 0x1fff
				ent = append(ent, 0xC0|byte(u>>8), byte(u))
			case v >= math.MinInt16 && v <= math.MaxInt16:
				ent = binary.LittleEndian.AppendUint16(append(ent, 0xF1), uint16(v))
			case v >= -1<<23 && v < 1<<23:
				ent = append(ent, 0xF2, byte(v), byte(v>>8), byte(v>>16))
			case v >= math.MinInt32 && v <= math.MaxInt32:
				ent = binary.LittleEndian.AppendUint32(append(ent, 0xF3), uint32(v))
			default:
				ent = binary.LittleEndian.AppendUint64(append(ent, 0xF4), uint64(v))
			}
		} else {
			switch n := len(e); {
			case n < 64:
				ent = append(ent, 0x80|byte(n))
			case n < 4096:
				ent = append(ent, 0xE0|byte(n>>8), byte(n))
			default:
				ent = binary.LittleEndian.AppendUint32(append(ent, 0xF0), uint32(n))
			}
			ent = append(ent, e...)
		}
		body = append(body, ent...)
		body = appendBacklen(body, len(ent))
	}
	lp := binary.LittleEndian.AppendUint32(nil, uint32(listpackHeader+len(body)+1))
	lp = binary.LittleEndian.AppendUint16(lp, uint16(min(len(elems), 0xFFFF)))
	lp = append(lp, body...)
	return append(lp, listpackEnd)
}

func intsetOf(width int, values ...int64) []byte {
	is := binary.LittleEndian.AppendUint32(nil, uint32(width))
	is = binary.LittleEndian.AppendUint32(is, uint32(len(values)))
	for _, v := range values {
		switch width {
		case 2:
			is = binary.LittleEndian.AppendUint16(is, uint16(v))
		case 4:
			is = binary.LittleEndian.AppendUint32(is, uint32(v))
		default:
			is = binary.LittleEndian.AppendUint64(is, uint64(v))
		}
	}
	return is
}

// zipmapOf encodes field/value pairs; every third value gets 2 free bytes
// after it, as Redis leaves when a value shrinks in place.
func zipmapOf(kv ...string) []byte {
	zm := []byte{byte(min(len(kv)/2, 254))}
	zlen := func(n int) {
		if n < 254 {
			zm = append(zm, byte(n))
		} else {
			zm = binary.LittleEndian.AppendUint32(append(zm, 254), uint32(n))
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		zlen(len(kv[i]))
		zm = append(zm, kv[i]...)
		zlen(len(kv[i+1]))
		free := 0
		if i%6 == 4 {
			free = 2
		}
		zm = append(zm, byte(free))
		zm = append(zm, kv[i+1]...)
		zm = append(zm, make([]byte, free)...)
	}
	return append(zm, 0xFF)
}

// elementSamples exercises every element encoding of the compact formats.
var elementSamples = []string{
	"0", "12", "13", "-1", "127", "128", "-128", "4095", "4096", "-4096", "-4097",
	"32767", "-32768", "32768", "8388607", "-8388608", "8388608", "2147483647",
	"-2147483648", "2147483648", "9223372036854775807", "-9223372036854775808",
	"", "a", "-0", "007", strings.Repeat("s", 63), strings.Repeat("m", 64),
	strings.Repeat("l", 300), strings.Repeat("k", 4095), strings.Repeat("x", 4096),
	strings.Repeat("y", 16383), strings.Repeat("z", 16384), "\x00\xff",
}

func TestCompactEncodings(t *testing.T) {
	collect := func(parse func([]byte, func(string)) error, blob []byte) ([]string, error) {
		var out []string
		err := parse(blob, func(s string) { out = append(out, s) })
		return out, err
	}
	for name, c := range map[string]struct {
		enc   func(...string) []byte
		parse func([]byte, func(string)) error
	}{
		"ziplist":  {ziplistOf, ziplistEach},
		"listpack": {listpackOf, listpackEach},
	} {
		for _, elems := range [][]string{nil, {"one"}, elementSamples} {
			blob := c.enc(elems...)
			got, err := collect(c.parse, blob)
			if err != nil {
				t.Fatalf("%s of %d elements: %v", name, len(elems), err)
			}
			if len(elems) > 0 && !reflect.DeepEqual(got, elems) {
				t.Fatalf("%s: got %q", name, got)
			}
			// Every truncation and every single-byte change must
			// be handled without a panic; truncations must fail.
			for n := 0; n < len(blob) && n < 400; n++ {
				if _, err := collect(c.parse, blob[:n]); err == nil {
					t.Fatalf("%s truncated to %d bytes parsed", name, n)
				}
			}
			for i := 0; i < len(blob) && i < 400; i++ {
				for _, x := range []byte{0x01, 0x80, 0xff} {
					bad := bytes.Clone(blob)
					bad[i] ^= x
					collect(c.parse, bad)
				}
			}
		}
	}

	var got []string
	ints := []int64{-40000, -5, 0, 7, 1 << 20}
	if err := intsetEach(intsetOf(4, ints...), func(s string) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[-40000 -5 0 7 1048576]" {
		t.Errorf("intset: %v", got)
	}
	for _, bad := range [][]byte{
		intsetOf(3, 1), intsetOf(2, 2, 1), intsetOf(2, 1, 1), intsetOf(8, 1)[:15], {2, 0, 0, 0},
		append(intsetOf(2, 1), 0),
	} {
		if err := intsetEach(bad, func(string) {}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("intset % x: %v", bad, err)
		}
	}

	var pairs []string
	kv := []string{"a", "1", "", "", "big", strings.Repeat("v", 300), strings.Repeat("f", 260), "x", "k", "v"}
	zm := zipmapOf(kv...)
	if err := zipmapEach(zm, func(f, v string) { pairs = append(pairs, f, v) }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pairs, kv) {
		t.Errorf("zipmap: %q", pairs)
	}
	for n := 0; n < len(zm); n++ {
		if err := zipmapEach(zm[:n], func(f, v string) {}); err == nil {
			t.Fatalf("zipmap truncated to %d parsed", n)
		}
	}
}

// TestZiplistChecks covers the header and chain checks one by one.
func TestZiplistChecks(t *testing.T) {
	good := ziplistOf("a", "b", "c")
	mod := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	for name, bad := range map[string][]byte{
		"zlbytes": mod(func(b []byte) { b[0]++ }),
		"zltail":  mod(func(b []byte) { b[4]++ }),
		"zllen":   mod(func(b []byte) { b[8]++ }),
		"prevlen": mod(func(b []byte) { b[ziplistHeader+3]++ }),
		"end":     mod(func(b []byte) { b[len(b)-1] = 0 }),
		"early":   mod(func(b []byte) { b[ziplistHeader+3] = 0xFF }),
	} {
		if err := ziplistEach(bad, func(string) {}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A 5-byte prevlen holding a small value is legal.
	zl := []byte{0, 0, 0, 0, 0, 0, 0, 0, 2, 0,
		0, 1, 'a', // entry 1 at 10
		0xFE, 3, 0, 0, 0, 1, 'b', // entry 2 at 13
		0xFF}
	binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
	binary.LittleEndian.PutUint32(zl[4:], 13)
	var got []string
	if err := ziplistEach(zl, func(s string) { got = append(got, s) }); err != nil || fmt.Sprint(got) != "[a b]" {
		t.Errorf("large prevlen: %v %v", got, err)
	}
}

// legacyDataset builds a version-9 file holding every encoding older
// Redis versions wrote (and 7.0 still loads), and the content it holds.
// With set72 it adds a 7.2 listpack set, which 7.0 cannot load. With small
// it leaves out the elements of 4 KB and more (for a compact fuzz seed).
func legacyDataset(set72, small bool) ([]byte, dataset) {
	samples := elementSamples
	if small {
		samples = slices.DeleteFunc(slices.Clone(samples), func(s string) bool { return len(s) >= 4096 })
	}
	want := dataset{}
	var b []byte
	key := func(typ byte, k string) {
		b = append(b, typ)
		b = append(b, rawStr(k)...)
	}
	blob := func(p []byte) { b = append(b, rawStr(string(p))...) }
	b = append(b, "REDIS0009"...)
	b = append(b, opAux)
	b = append(b, rawStr("redis-ver")...)
	b = append(b, rawStr("5.0.7")...)
	b = append(b, opSelectDB, 0, opResizeDB, 20, 2)

	// Type 1: linked list, strings one by one (with an INT16 element).
	key(typeList, "l:linked")
	b = append(b, 3)
	b = append(b, rawStr("a")...)
	b = append(b, 0xC1, 0x39, 0x30) // 12345
	b = append(b, rawStr("")...)
	want.put(0, "l:linked", listVal(-1, "a", "12345", ""))

	// Type 2: set of strings.
	key(typeSet, "set:plain")
	b = append(b, 2)
	b = append(b, rawStr("x")...)
	b = append(b, rawStr("y")...)
	want.put(0, "set:plain", setVal(-1, "x", "y"))

	// Type 3: zset with string scores, including the special lengths.
	key(typeZSet, "z:strscores")
	b = append(b, 4)
	for _, m := range []struct{ m, s string }{{"a", "1.5"}, {"b", "-2"}, {"p", "\xfe"}, {"n", "\xff"}} {
		b = append(b, rawStr(m.m)...)
		if len(m.s) == 1 && m.s[0] >= 0xfe {
			b = append(b, m.s[0])
		} else {
			b = append(b, byte(len(m.s)))
			b = append(b, m.s...)
		}
	}
	want.put(0, "z:strscores", zsetVal(-1, map[string]float64{"a": 1.5, "b": -2, "p": math.Inf(1), "n": math.Inf(-1)}))

	// Type 9: zipmap hash, with a second-resolution expiry and an IDLE.
	b = append(b, opExpireTime)
	b = binary.LittleEndian.AppendUint32(b, 2000000000)
	b = append(b, opIdle, 0x40, 200)
	key(typeHashZipmap, "h:zipmap")
	kv := []string{"f1", "v1", "n", "42", "long", strings.Repeat("z", 300)}
	blob(zipmapOf(kv...))
	want.put(0, "h:zipmap", hashVal(2000000000000, kv...))

	// Type 10: ziplist list, every element encoding.
	key(typeListZiplist, "l:ziplist")
	blob(ziplistOf(samples...))
	want.put(0, "l:ziplist", listVal(-1, samples...))

	// Type 11: intsets of each width.
	key(typeSetIntset, "set:int16")
	blob(intsetOf(2, -300, 1, 2, 300))
	want.put(0, "set:int16", setVal(-1, "-300", "1", "2", "300"))
	key(typeSetIntset, "set:int64")
	blob(intsetOf(8, math.MinInt64, -1, 5000000000, math.MaxInt64))
	want.put(0, "set:int64", setVal(-1, "-9223372036854775808", "-1", "5000000000", "9223372036854775807"))

	// Type 12: zset ziplist (scores as integers and as strings).
	key(typeZSetZiplist, "z:ziplist")
	blob(ziplistOf("a", "1", "b", "2.5", "c", "-3000000000", "d", "inf"))
	want.put(0, "z:ziplist", zsetVal(-1, map[string]float64{"a": 1, "b": 2.5, "c": -3000000000, "d": math.Inf(1)}))

	// Type 13: hash ziplist, with FREQ.
	b = append(b, opFreq, 7)
	key(typeHashZiplist, "h:ziplist")
	blob(ziplistOf("f", "v", "n", "-7", "big", strings.Repeat("q", 400)))
	want.put(0, "h:ziplist", hashVal(-1, "f", "v", "n", "-7", "big", strings.Repeat("q", 400)))

	// Type 14: quicklist of ziplists (LZF-compressed blob in node 2).
	key(typeListQuicklist, "l:quicklist")
	b = append(b, 2)
	blob(ziplistOf("1", "2", "three"))
	w := NewWriter(nil, WriterOptions{Compress: true})
	node2 := ziplistOf(strings.Repeat("abc", 30), "x")
	w.writeString(string(node2))
	if w.buf[0] != 0xC3 {
		panic("node 2 not compressed")
	}
	b = append(b, w.buf...)
	want.put(0, "l:quicklist", listVal(-1, "1", "2", "three", strings.Repeat("abc", 30), "x"))

	// Type 16/17: listpack hash and zset (7.0), in a version-9 file.
	key(typeHashListpack, "h:listpack")
	blob(listpackOf(samples...))
	want.put(0, "h:listpack", hashVal(-1, samples...))
	key(typeZSetListpack, "z:listpack")
	blob(listpackOf("m1", "-5", "m2", "1.25", "m3", "100000"))
	want.put(0, "z:listpack", zsetVal(-1, map[string]float64{"m1": -5, "m2": 1.25, "m3": 100000}))

	// Type 18: quicklist of a listpack and a plain node.
	b = append(b, opExpireTimeMs)
	b = binary.LittleEndian.AppendUint64(b, uint64(future))
	key(typeListQuicklist2, "l:quicklist2")
	b = append(b, 3, containerPacked)
	blob(listpackOf("a", "77", "b"))
	b = append(b, containerPlain)
	b = append(b, rawStr(strings.Repeat("P", 500))...)
	b = append(b, containerPacked)
	blob(listpackOf("tail"))
	want.put(0, "l:quicklist2", listVal(future, "a", "77", "b", strings.Repeat("P", 500), "tail"))

	if set72 {
		key(typeSetListpack, "set:listpack")
		blob(listpackOf("a", "1", "b"))
		want.put(0, "set:listpack", setVal(-1, "a", "1", "b"))
	}

	b = append(b, opSelectDB, 7)
	key(typeString, "db7")
	b = append(b, rawStr("seven")...)
	want.put(7, "db7", strVal("seven", -1))

	b = append(b, opEOF)
	b = binary.LittleEndian.AppendUint64(b, CRC64(0, b))
	return b, want
}

func TestLegacyTypes(t *testing.T) {
	for _, set72 := range []bool{false, true} {
		data, want := legacyDataset(set72, false)
		got, aux, err := decodeAll(t, data, ReaderOptions{VerifyChecksum: true})
		if err != nil {
			t.Fatal(err)
		}
		compareDatasets(t, want, got)
		if aux["redis-ver"] != "5.0.7" {
			t.Errorf("aux: %v", aux)
		}
	}
	// IDLE and FREQ reach the Entry.
	data, _ := legacyDataset(false, false)
	r, _ := NewReader(bytes.NewReader(data), ReaderOptions{})
	seen := map[string]string{}
	for {
		e, err := r.Next()
		if err != nil {
			break
		}
		if e.Kind == EntryKey {
			seen[e.Key] = strconv.FormatInt(e.LRUIdle, 10) + "/" + strconv.Itoa(e.LFUFreq)
		}
	}
	if seen["h:zipmap"] != "200/-1" || seen["h:ziplist"] != "-1/7" || seen["l:linked"] != "-1/-1" {
		t.Errorf("idle/freq: %v", seen)
	}
}

// TestLegacyTypesInRedis loads the hand-built legacy file into stock Redis:
// if Redis reads the same content, the encoders above (and so the parsers
// they test) follow Redis's real formats.
func TestLegacyTypesInRedis(t *testing.T) {
	needRedis(t)
	data, want := legacyDataset(false, false)
	dir, path := writeTemp(t, "legacy.rdb", data)
	checkRDB(t, path)
	s := startRedis(t, dir, "legacy.rdb", "--sanitize-dump-payload", "yes")
	compareDatasets(t, want, fetchDataset(t, s))
}
