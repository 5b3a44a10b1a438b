package rdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCRC64(t *testing.T) {
	if got := CRC64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("CRC64(123456789) = %x", got)
	}
	// Against hash/crc64 with the same polynomial (which inverts the CRC
	// on entry and exit), for every length around the 8-byte stride, and
	// incrementally.
	tab := crc64.MakeTable(crcPoly)
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for n := 0; n < 70; n++ {
		want := ^crc64.Update(^uint64(0), tab, data[:n])
		if got := CRC64(0, data[:n]); got != want {
			t.Fatalf("len %d: %x, want %x", n, got, want)
		}
	}
	want := ^crc64.Update(^uint64(0), tab, data)
	var crc uint64
	for p := data; len(p) > 0; {
		k := min(len(p), 1+rng.IntN(100))
		crc = CRC64(crc, p[:k])
		p = p[k:]
	}
	if crc != want {
		t.Fatalf("incremental: %x, want %x", crc, want)
	}
}

func TestChecksum(t *testing.T) {
	ds := dataset{}
	ds.put(0, "k", strVal(strings.Repeat("payload ", 10), -1))
	data := encodeDataset(t, ds, WriterOptions{Checksum: true})
	if sum := binary.LittleEndian.Uint64(data[len(data)-8:]); sum != CRC64(0, data[:len(data)-8]) {
		t.Fatalf("trailer %x is not the CRC of the content", sum)
	}

	// A flipped byte inside the value: structurally fine, checksum wrong.
	i := bytes.Index(data, []byte("payload"))
	bad := bytes.Clone(data)
	bad[i] ^= 0x20
	_, _, err := decodeAll(t, bad, ReaderOptions{VerifyChecksum: true})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("flipped byte: %v", err)
	}
	t.Logf("flipped byte: %v", err)
	// Not verifying: accepted.
	if _, _, err := decodeAll(t, bad, ReaderOptions{}); err != nil {
		t.Fatalf("flipped byte without verification: %v", err)
	}
	// A flipped trailer byte fails too.
	bad = bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	if _, _, err := decodeAll(t, bad, ReaderOptions{VerifyChecksum: true}); !errors.Is(err, ErrChecksum) {
		t.Fatalf("flipped trailer: %v", err)
	}
	// A zero trailer means "no checksum".
	zero := bytes.Clone(data)
	clear(zero[len(zero)-8:])
	zero[i] ^= 0x20
	if _, _, err := decodeAll(t, zero, ReaderOptions{VerifyChecksum: true}); err != nil {
		t.Fatalf("zero trailer: %v", err)
	}
	nochk := encodeDataset(t, ds, WriterOptions{})
	if _, _, err := decodeAll(t, nochk, ReaderOptions{VerifyChecksum: true}); err != nil {
		t.Fatalf("Checksum off: %v", err)
	}
}

// TestTruncated: every proper prefix of a file is an error (never io.EOF
// as if the file were complete, never a panic).
func TestTruncated(t *testing.T) {
	ds := dataset{}
	ds.put(0, "s", strVal("value", future))
	ds.put(0, "n", strVal("300", -1))
	ds.put(0, "c", strVal(strings.Repeat("abc", 30), -1))
	ds.put(0, "h", hashVal(-1, "f", "v", "g", "w"))
	ds.put(0, "z", zsetVal(-1, map[string]float64{"m": 1.5}))
	ds.put(2, "l", listVal(-1, "a", "b"))
	data := encodeDataset(t, ds, WriterOptions{Compress: true, Checksum: true})
	for n := 0; n < len(data); n++ {
		_, _, err := decodeAll(t, data[:n], ReaderOptions{VerifyChecksum: true})
		if err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded without error", n, len(data))
		}
		if n > 9 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix of %d bytes: %v (want io.ErrUnexpectedEOF)", n, err)
		}
	}
	// One byte at a time, and with a reader that reports EOF with data.
	for _, rd := range []io.Reader{iotest.OneByteReader(bytes.NewReader(data)), iotest.DataErrReader(bytes.NewReader(data))} {
		r, err := NewReader(rd, ReaderOptions{VerifyChecksum: true})
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestHeader(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		is   error
	}{
		{"", "reading the file header", io.ErrUnexpectedEOF},
		{"REDIS", "reading the file header", io.ErrUnexpectedEOF},
		{"HELLO0009", "not an RDB file", ErrCorrupt},
		{"REDIS00a9", "bad version", ErrCorrupt},
		{"REDIS0000", "bad RDB version 0", ErrCorrupt},
		{"REDIS0011", "RDB version 11 is newer than 10", ErrUnsupported},
		{"REDIS0012\xff", "RDB version 12", ErrUnsupported},
	} {
		_, err := NewReader(strings.NewReader(c.in), ReaderOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) {
			t.Errorf("%q: %v, want %q (%v)", c.in, err, c.want, c.is)
		}
	}
	// Version 1..10 are accepted; before 5 there is no checksum trailer.
	for _, v := range []string{"0001", "0004", "0006", "0009", "0010"} {
		data := []byte("REDIS" + v)
		data = append(data, opSelectDB, 0, typeString, 1, 'k', 1, 'v', opEOF)
		if v >= "0005" {
			data = binary.LittleEndian.AppendUint64(data, CRC64(0, data))
		}
		ds, _, err := decodeAll(t, data, ReaderOptions{VerifyChecksum: true})
		if err != nil || ds[0]["k"].str != "v" {
			t.Errorf("version %s: %v %v", v, ds, err)
		}
	}
}

// rdbBody wraps hand-built opcodes in a version-10 header and an EOF with a
// zero trailer.
func rdbBody(parts ...[]byte) []byte {
	data := []byte("REDIS0010")
	for _, p := range parts {
		data = append(data, p...)
	}
	data = append(data, opEOF)
	return append(data, make([]byte, 8)...)
}

// rawStr encodes s as a raw RDB string.
func rawStr(s string) []byte {
	return append(appendLen(nil, uint64(len(s))), s...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestRefused checks the clear errors for content thredis does not hold
// and for malformed data.
func TestRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want []string
		is   error
	}{
		{"module aux", rdbBody([]byte{opModuleAux, 1}), []string{"module data is not supported", "offset 9"}, ErrUnsupported},
		{"function", rdbBody([]byte{opFunction2}, rawStr("#!lua name=x")), []string{"function libraries are not supported", "offset 9"}, ErrUnsupported},
		{"function rc", rdbBody([]byte{opFunction}), []string{"function libraries are not supported"}, ErrUnsupported},
		{"stream", rdbBody([]byte{typeStreamListpacks}, rawStr("mystream"), []byte{0}), []string{`"mystream"`, "stream", "not supported"}, ErrUnsupported},
		{"stream v3", rdbBody([]byte{typeStreamListpack3}, rawStr("s3")), []string{`"s3"`, "stream keys are not supported"}, ErrUnsupported},
		{"module value", rdbBody([]byte{typeModule2}, rawStr("modkey")), []string{`"modkey"`, "module data is not supported"}, ErrUnsupported},
		{"unknown type", rdbBody([]byte{8}, rawStr("k8")), []string{`"k8"`, "unknown value type 8"}, ErrCorrupt},
		{"unknown opcode", rdbBody([]byte{0xF4, 0xC5}), []string{"0xf4", "offset 9"}, ErrCorrupt},
		{"bad length", rdbBody([]byte{typeString, 0xBF}), []string{"invalid length prefix 0xbf", "offset 10"}, ErrCorrupt},
		{"bad string encoding", rdbBody([]byte{typeString}, rawStr("k"), []byte{0xC4}), []string{`"k"`, "unknown string encoding 4", "offset 12"}, ErrCorrupt},
		{"length as encoded string", rdbBody([]byte{typeList}, rawStr("k"), []byte{0xC0}), []string{`"k"`, "found a string encoding"}, ErrCorrupt},
		{"bad lzf lengths", rdbBody([]byte{typeString}, rawStr("k"), []byte{0xC3, 1, 0x81, 1, 0, 0, 0, 0, 0, 0, 0, 0}), []string{"impossible LZF lengths"}, ErrCorrupt},
		{"bad lzf data", rdbBody([]byte{typeString}, rawStr("k"), []byte{0xC3, 2, 10, 0x20, 0}), []string{"back-reference before the start"}, ErrCorrupt},
		{"NaN score", rdbBody([]byte{typeZSet}, rawStr("z"), []byte{1}, rawStr("m"), []byte{253}), []string{`"z"`, "NaN"}, ErrCorrupt},
		{"bad score", rdbBody([]byte{typeZSet}, rawStr("z"), []byte{1}, rawStr("m"), []byte{3}, []byte("1x2")), []string{`"1x2"`}, ErrCorrupt},
		{"bad container", rdbBody([]byte{typeListQuicklist2}, rawStr("q"), []byte{1, 3}), []string{`"q"`, "unknown quicklist container 3"}, ErrCorrupt},
		{"bad ziplist", rdbBody([]byte{typeHashZiplist}, rawStr("zl"), rawStr("garbage-garbage")), []string{`"zl"`, "ziplist"}, ErrCorrupt},
		{"odd hash listpack", rdbBody([]byte{typeHashListpack}, rawStr("lp"), rawStr(string(listpackOf("f")))), []string{`"lp"`, "field without a value"}, ErrCorrupt},
		{"selectdb out of range", rdbBody([]byte{opSelectDB, 0x81, 1, 0, 0, 0, 0, 0, 0, 0}), []string{"SELECTDB"}, ErrCorrupt},
	} {
		_, _, err := decodeAll(t, c.data, ReaderOptions{VerifyChecksum: true})
		if err == nil || !errors.Is(err, c.is) {
			t.Errorf("%s: %v, want %v", c.name, err, c.is)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", c.name, err, w)
			}
		}
	}
}

// TestEmptyKeys: empty collections are dropped, with their expiry, as Redis
// 7 does on load.
func TestEmptyKeys(t *testing.T) {
	data := rdbBody(
		[]byte{opExpireTimeMs, 1, 0, 0, 0, 0, 0, 0, 0, typeHash}, rawStr("empty-hash"), []byte{0},
		[]byte{typeListQuicklist2}, rawStr("empty-list"), []byte{1, containerPacked}, rawStr(string(listpackOf())),
		[]byte{typeSetIntset}, rawStr("empty-intset"), rawStr(string(intsetOf(2))),
		[]byte{typeString}, rawStr("k"), rawStr(""),
	)
	ds, _, err := decodeAll(t, data, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := dataset{}
	want.put(0, "k", strVal("", -1))
	compareDatasets(t, want, ds)
}

// TestBigLengths: a forged huge length fails on the missing data instead
// of allocating it.
func TestBigLengths(t *testing.T) {
	for _, body := range [][]byte{
		cat([]byte{typeString}, rawStr("k"), []byte{0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
		cat([]byte{typeString}, rawStr("k"), []byte{0x80, 0xff, 0xff, 0xff, 0xff}, []byte("abc")),
		cat([]byte{typeList}, rawStr("k"), []byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, rawStr("x")),
		cat([]byte{typeHash}, rawStr("k"), []byte{0x80, 0xff, 0xff, 0xff, 0xff}, rawStr("x")),
		cat([]byte{typeString}, rawStr("k"), []byte{0xC3, 0x80, 0x10, 0, 0, 0, 0x80, 0xff, 0, 0, 0}, []byte{0}),
	} {
		data := append([]byte("REDIS0010"), body...)
		_, _, err := decodeAll(t, data, ReaderOptions{})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("% x: %v", body, err)
		}
	}
}

// stuckReader returns no data and no error forever.
type stuckReader struct{}

func (stuckReader) Read(p []byte) (int, error) { return 0, nil }

func TestStuckSource(t *testing.T) {
	_, err := NewReader(stuckReader{}, ReaderOptions{})
	if !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("stuck source: %v", err)
	}
}

// TestReaderLeavesTrailingBytes: over a buffered source the reader stops
// exactly at the end of the RDB, so an old AOF's commands after its RDB
// preamble are still there for the caller.
func TestReaderLeavesTrailingBytes(t *testing.T) {
	var file bytes.Buffer
	w := NewWriter(&file, WriterOptions{Compress: true, Checksum: true})
	if err := w.Header(nil); err != nil {
		t.Fatal(err)
	}
	w.SelectDB(0, 1, 0)
	w.String("k", strings.Repeat("value", 100), -1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tail := "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n"
	file.WriteString(tail)
	br := bufio.NewReader(&file)
	rd, err := NewReader(br, ReaderOptions{VerifyChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != tail {
		t.Fatalf("after the RDB the source holds %q, want %q", rest, tail)
	}
}
