package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// future is an expiry far enough ahead that no server drops the key.
const future = int64(4102444800123) // 2100-01-01T00:00:00.123Z

// intStrings are values at and around every integer-encoding boundary,
// plus the non-canonical forms that must stay strings.
var intStrings = []string{
	"0", "1", "-1", "12", "13", "127", "128", "-128", "-129", "255", "256",
	"32767", "32768", "-32768", "-32769", "8388607", "8388608", "-8388608",
	"-8388609", "2147483647", "2147483648", "-2147483648", "-2147483649",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808",
	"-9223372036854775809", "-0", "007", "+1", " 1", "1 ", "1.0", "0x10",
	"99999999999999999999",
}

// sampleDataset covers every type, sizes on both sides of Redis's encoding
// thresholds, binary data, integer-looking strings and expiries, in
// several DBs. Everything is deterministic.
func sampleDataset() dataset {
	rng := rand.New(rand.NewPCG(1, 2))
	binStr := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	ds := dataset{}
	ds.put(0, "", strVal("empty key name", -1))
	ds.put(0, "s:empty", strVal("", -1))
	for i, s := range intStrings {
		ds.put(0, fmt.Sprintf("s:int:%02d", i), strVal(s, -1))
		ds.put(0, s, strVal("key "+s, -1)) // integer-looking key names
	}
	ds.put(0, "s:21", strVal(strings.Repeat("a", 21), -1))
	ds.put(0, "s:20", strVal(strings.Repeat("a", 20), -1))
	ds.put(0, "s:text", strVal(strings.Repeat("the quick brown fox jumps over the lazy dog ", 200), -1))
	ds.put(0, "s:big-compressible", strVal(strings.Repeat("0123456789abcdef", 20000), -1)) // 320 KB
	ds.put(0, "s:big-random", strVal(binStr(150000), -1))
	ds.put(0, "s:binary", strVal("\x00\x01\r\n\xff\xfe"+binStr(40), -1))
	ds.put(0, "s:ttl", strVal("expires", future))
	ds.put(0, "s:ttl-ms", strVal("expires", future+456))

	ds.put(0, "h:small", hashVal(-1, "f1", "v1", "f2", "2", "3", "-77"))
	ds.put(0, "h:one", hashVal(future, "only", ""))
	var kv []string
	for i := range 1000 {
		kv = append(kv, fmt.Sprintf("field:%d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%50)))
	}
	ds.put(0, "h:big", hashVal(-1, kv...))
	kv = nil
	for i := range 20 {
		kv = append(kv, strconv.Itoa(i*4096), binStr(4096)) // like SQL pages
	}
	ds.put(0, "h:pages", hashVal(-1, kv...))
	ds.put(0, "h:binary", hashVal(-1, "\x00", "\x00\x00", binStr(30), binStr(100), "", "empty field name"))
	ds.put(0, "h:bigvalue", hashVal(-1, "a", strings.Repeat("v", 100), "b", "c"))

	ds.put(0, "l:small", listVal(-1, "a", "1", "-5", "", "b"))
	var elems []string
	for i := range 3000 {
		elems = append(elems, fmt.Sprintf("elem-%d", i), strconv.Itoa(i*37-5000))
	}
	ds.put(0, "l:big", listVal(future, elems...))
	ds.put(0, "l:huge-elems", listVal(-1, strings.Repeat("x", 10000), binStr(70000), "small"))

	ds.put(0, "set:ints", setVal(-1, "1", "2", "3", "-5", "100000", "5000000000"))
	var members []string
	for i := range 600 {
		members = append(members, strconv.Itoa(i*1000-300000))
	}
	ds.put(0, "set:bigints", setVal(-1, members...))
	ds.put(0, "set:strs", setVal(-1, "a", "b", "c", "1", "\x00"))
	members = nil
	for i := range 700 {
		members = append(members, fmt.Sprintf("member:%d", i))
	}
	ds.put(0, "set:big", setVal(future, members...))

	ds.put(0, "z:small", zsetVal(-1, map[string]float64{"a": 1, "b": 2.5, "c": -3, "d": 0.1, "inf": math.Inf(1), "-inf": math.Inf(-1), "tiny": 5e-324}))
	zm := map[string]float64{}
	for i := range 500 {
		zm[fmt.Sprintf("m%d", i)] = float64(i)*1.25 - 100
	}
	ds.put(0, "z:big", zsetVal(-1, zm))

	ds.put(1, "db1:s", strVal("in db 1", future))
	ds.put(1, "db1:h", hashVal(future, "a", "b"))
	ds.put(15, "db15", strVal("last db", -1))
	return ds
}

func TestRoundTrip(t *testing.T) {
	want := sampleDataset()
	for _, opts := range []WriterOptions{{}, {Compress: true}, {Checksum: true}, {Compress: true, Checksum: true}} {
		t.Run(fmt.Sprintf("compress=%v,checksum=%v", opts.Compress, opts.Checksum), func(t *testing.T) {
			data := encodeDataset(t, want, opts)
			got, aux, err := decodeAll(t, data, ReaderOptions{VerifyChecksum: true})
			if err != nil {
				t.Fatal(err)
			}
			compareDatasets(t, want, got)
			if aux["redis-ver"] != "7.0.15" || aux["redis-bits"] != "64" {
				t.Errorf("aux fields = %v", aux)
			}
			if trailer := binary.LittleEndian.Uint64(data[len(data)-8:]); (trailer == 0) == opts.Checksum {
				t.Errorf("checksum trailer %x with Checksum=%v", trailer, opts.Checksum)
			}
		})
	}
	// Compression must actually shrink the file (the sample is compressible).
	plain := encodeDataset(t, want, WriterOptions{})
	packed := encodeDataset(t, want, WriterOptions{Compress: true})
	if len(packed) >= len(plain)-300000 {
		t.Errorf("compressed file %d bytes, uncompressed %d", len(packed), len(plain))
	}
}

// TestEntryFields checks the Entry stream itself: kinds, order, DBs, hints.
func TestEntryFields(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{Checksum: true})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Header([]Aux{{"redis-ver", "7.0.15"}, {"ctime", "1700000000"}}))
	must(w.SelectDB(0, 1, 0))
	must(w.String("a", "1", -1))
	must(w.SelectDB(3, 2, 1))
	must(w.String("b", "2", 0))
	must(w.Hash("c", 1, func(yield func(string, string) bool) { yield("f", "v") }, 12345))
	must(w.Close())

	r, err := NewReader(&buf, ReaderOptions{VerifyChecksum: true})
	must(err)
	if r.Version() != Version {
		t.Errorf("Version() = %d", r.Version())
	}
	var got []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		must(err)
		s := fmt.Sprintf("%v db=%d", e.Kind, e.DB)
		switch e.Kind {
		case EntryAux:
			s += fmt.Sprintf(" %s=%s", e.AuxKey, e.AuxValue)
		case EntryResizeDB:
			s += fmt.Sprintf(" keys=%d expires=%d", e.Keys, e.Expires)
		case EntryKey:
			s += fmt.Sprintf(" %v %s exp=%d idle=%d freq=%d", e.Type, e.Key, e.ExpireMs, e.LRUIdle, e.LFUFreq)
		}
		got = append(got, s)
	}
	want := []string{
		"aux db=0 redis-ver=7.0.15",
		"aux db=0 ctime=1700000000",
		"resizedb db=0 keys=1 expires=0",
		"key db=0 string a exp=-1 idle=-1 freq=-1",
		"resizedb db=3 keys=2 expires=1",
		"key db=3 string b exp=0 idle=-1 freq=-1",
		"key db=3 hash c exp=12345 idle=-1 freq=-1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after EOF = %v", err)
	}
	if r.Offset() != int64(w.Written()) {
		t.Errorf("Offset() = %d at the end of a %d-byte file", r.Offset(), w.Written())
	}
}

// TestStringEncoding checks the encoding chosen for each string, byte for
// byte, against Redis's rules.
func TestStringEncoding(t *testing.T) {
	enc := func(s string, compress bool) []byte {
		w := NewWriter(io.Discard, WriterOptions{Compress: compress})
		if err := w.writeString(s); err != nil {
			t.Fatal(err)
		}
		return w.buf
	}
	for _, c := range []struct {
		in   string
		want []byte
	}{
		{"0", []byte{0xC0, 0}},
		{"-1", []byte{0xC0, 0xFF}},
		{"127", []byte{0xC0, 127}},
		{"-128", []byte{0xC0, 0x80}},
		{"128", []byte{0xC1, 128, 0}},
		{"-32768", []byte{0xC1, 0x00, 0x80}},
		{"32768", []byte{0xC2, 0x00, 0x80, 0, 0}},
		{"-2147483648", []byte{0xC2, 0, 0, 0, 0x80}},
		{"2147483648", append([]byte{10}, "2147483648"...)},
		{"-0", []byte{2, '-', '0'}},
		{"007", []byte{3, '0', '0', '7'}},
		{"+1", []byte{2, '+', '1'}},
		{"", []byte{0}},
		{strings.Repeat("x", 63), append([]byte{63}, strings.Repeat("x", 63)...)},
		{strings.Repeat("x", 64), append([]byte{0x40, 64}, strings.Repeat("x", 64)...)},
		{strings.Repeat("x", 16384), append([]byte{0x80, 0, 0, 0x40, 0}, strings.Repeat("x", 16384)...)},
	} {
		if got := enc(c.in, false); !bytes.Equal(got, c.want) {
			t.Errorf("%q: encoded % x, want % x", abbrev(c.in), abbrev(string(got)), abbrev(string(c.want)))
		}
	}
	// Compression: only above 20 bytes, only when it saves 4 bytes.
	if got := enc(strings.Repeat("a", 20), true); got[0] != 20 {
		t.Errorf("20-byte string compressed: % x", got)
	}
	if got := enc(strings.Repeat("a", 21), true); got[0] != 0xC3 {
		t.Errorf("21 compressible bytes not compressed: % x", got)
	}
	if got := enc("abcdefghijklmnopqrstuvwxyz0123", true); got[0] != 30 {
		t.Errorf("incompressible string stored as % x", got)
	}
	// 64-bit lengths are written when needed (checked without the data).
	if got := appendLen(nil, 1<<32); !bytes.Equal(got, []byte{0x81, 0, 0, 0, 1, 0, 0, 0, 0}) {
		t.Errorf("appendLen(1<<32) = % x", got)
	}
}

func TestWriterErrors(t *testing.T) {
	newW := func() *Writer {
		w := NewWriter(io.Discard, WriterOptions{})
		if err := w.Header(nil); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := newW()
	err := w.Hash("h", 3, func(yield func(string, string) bool) { yield("a", "b") }, -1)
	if err == nil || !strings.Contains(err.Error(), `"h"`) || !strings.Contains(err.Error(), "declared 3") {
		t.Errorf("short hash: %v", err)
	}
	if err2 := w.String("x", "y", -1); err2 != err {
		t.Errorf("the Writer is not sticky after an error: %v", err2)
	}
	if err2 := w.Close(); err2 != err {
		t.Errorf("Close after an error: %v", err2)
	}

	w = newW()
	calls := 0
	err = w.Hash("h", 1, func(yield func(string, string) bool) {
		for i := 0; i < 10; i++ {
			calls++
			if !yield("a", "b") {
				return
			}
		}
	}, -1)
	if err == nil || !strings.Contains(err.Error(), "more") || calls != 2 {
		t.Errorf("long hash: %v (%d yields)", err, calls)
	}

	w = newW()
	if err := w.Hash("empty", 0, func(yield func(string, string) bool) {}, -1); err != nil {
		t.Errorf("empty hash: %v", err)
	}
	if w.Written() != 9 {
		t.Errorf("empty hash wrote %d bytes after the header", w.Written()-9)
	}
	if err := w.ZSet("z", 1, func(yield func(string, float64) bool) { yield("m", math.NaN()) }, -1); err == nil {
		t.Error("NaN score accepted")
	}

	w = NewWriter(io.Discard, WriterOptions{})
	if err := w.String("k", "v", -1); err == nil {
		t.Error("key before Header accepted")
	}
	w = newW()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.String("k", "v", -1); err == nil {
		t.Error("key after Close accepted")
	}

	// A failing underlying writer surfaces, with context.
	fw := NewWriter(failWriter{}, WriterOptions{})
	fw.Header(nil)
	err = fw.String("big", strings.Repeat("x", 2*writeBufSize), -1)
	if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), `"big"`) {
		t.Errorf("write error: %v", err)
	}
}

var errBroken = errors.New("broken pipe (test)")

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errBroken }

func TestFlush(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{Checksum: true})
	w.Header(nil)
	w.String("k", "v", -1)
	if buf.Len() != 0 {
		t.Fatalf("%d bytes written before Flush", buf.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != w.Written() {
		t.Fatalf("Flush left %d of %d bytes", w.Written()-int64(buf.Len()), w.Written())
	}
	w.Close()
	if _, _, err := decodeAll(t, buf.Bytes(), ReaderOptions{VerifyChecksum: true}); err != nil {
		t.Fatal(err)
	}
}
