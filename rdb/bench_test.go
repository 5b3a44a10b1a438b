package rdb

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// Benchmarks for the figures quoted in the README: 1M small strings and a
// 200 MB hash of 4 KiB binary pages (a SQL database). By default they run at
// a tenth of that scale so `go test -bench` stays quick; set
// RDB_BENCH_FULL=1 for the full sizes. Each op encodes or decodes the whole
// file; MB/s is file bytes per second.

func benchFull() bool { return os.Getenv("RDB_BENCH_FULL") != "" }

func benchStringCount() int {
	if benchFull() {
		return 1_000_000
	}
	return 100_000
}

func benchPageCount() int {
	if benchFull() {
		return 200 << 20 / 4096
	}
	return 20 << 20 / 4096
}

// benchStrings returns n keys and values like a cache workload: short
// keys, values a mix of integers and short text.
func benchStrings(n int) (keys, vals []string) {
	keys, vals = make([]string, n), make([]string, n)
	for i := range n {
		keys[i] = "key:" + strconv.Itoa(i)
		if i%2 == 0 {
			vals[i] = strconv.Itoa(i * 7)
		} else {
			vals[i] = fmt.Sprintf("value-%d-payload", i)
		}
	}
	return keys, vals
}

// benchPages returns n 4 KiB pages shaped like SQLite b-tree pages: a
// random (incompressible) filled part and a zeroed free area.
func benchPages(n int) []string {
	rng := rand.New(rand.NewPCG(7, 8))
	pages := make([]string, n)
	for i := range pages {
		p := make([]byte, 4096)
		fill := 1024 + rng.IntN(3072)
		for j := 0; j < fill; j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && j+k < fill; k++ {
				p[j+k] = byte(v >> (8 * k))
			}
		}
		pages[i] = string(p)
	}
	return pages
}

// countWriter discards its input, counting it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func writeStrings(tb testing.TB, w io.Writer, opts WriterOptions, keys, vals []string) {
	wr := NewWriter(w, opts)
	if err := wr.Header([]Aux{{"redis-ver", "7.0.15"}}); err != nil {
		tb.Fatal(err)
	}
	if err := wr.SelectDB(0, uint64(len(keys)), 0); err != nil {
		tb.Fatal(err)
	}
	for i := range keys {
		if err := wr.String(keys[i], vals[i], -1); err != nil {
			tb.Fatal(err)
		}
	}
	if err := wr.Close(); err != nil {
		tb.Fatal(err)
	}
}

func writePages(tb testing.TB, w io.Writer, opts WriterOptions, pages []string) {
	wr := NewWriter(w, opts)
	if err := wr.Header(nil); err != nil {
		tb.Fatal(err)
	}
	if err := wr.SelectDB(0, 1, 0); err != nil {
		tb.Fatal(err)
	}
	err := wr.Hash("_sql:redis_db", len(pages), func(yield func(string, string) bool) {
		for i, p := range pages {
			if !yield(strconv.Itoa(i*4096), p) {
				return
			}
		}
	}, -1)
	if err != nil {
		tb.Fatal(err)
	}
	if err := wr.Close(); err != nil {
		tb.Fatal(err)
	}
}

var benchOptions = []struct {
	name string
	opts WriterOptions
}{
	{"defaults", WriterOptions{Compress: true, Checksum: true}},
	{"nocompress", WriterOptions{Checksum: true}},
	{"raw", WriterOptions{}},
}

func BenchmarkEncodeStrings(b *testing.B) {
	keys, vals := benchStrings(benchStringCount())
	for _, o := range benchOptions {
		b.Run(fmt.Sprintf("%s/n=%d", o.name, len(keys)), func(b *testing.B) {
			var cw countWriter
			writeStrings(b, &cw, o.opts, keys, vals)
			b.SetBytes(cw.n)
			b.ResetTimer()
			for b.Loop() {
				writeStrings(b, io.Discard, o.opts, keys, vals)
			}
			b.ReportMetric(float64(len(keys))*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}

func BenchmarkDecodeStrings(b *testing.B) {
	keys, vals := benchStrings(benchStringCount())
	var buf bytes.Buffer
	writeStrings(b, &buf, WriterOptions{Compress: true, Checksum: true}, keys, vals)
	benchDecode(b, fmt.Sprintf("n=%d", len(keys)), buf.Bytes(), len(keys))
}

func BenchmarkEncodeHashPages(b *testing.B) {
	pages := benchPages(benchPageCount())
	for _, o := range benchOptions {
		b.Run(fmt.Sprintf("%s/%dMB", o.name, len(pages)*4096>>20), func(b *testing.B) {
			var cw countWriter
			writePages(b, &cw, o.opts, pages)
			b.SetBytes(cw.n)
			b.ResetTimer()
			for b.Loop() {
				writePages(b, io.Discard, o.opts, pages)
			}
		})
	}
}

func BenchmarkDecodeHashPages(b *testing.B) {
	pages := benchPages(benchPageCount())
	for _, o := range benchOptions[:2] {
		var buf bytes.Buffer
		writePages(b, &buf, o.opts, pages)
		benchDecode(b, fmt.Sprintf("%s/%dMB", o.name, len(pages)*4096>>20), buf.Bytes(), 1)
	}
}

// benchDecode decodes data per op, verifying the checksum, and checks it
// holds wantKeys keys.
func benchDecode(b *testing.B, name string, data []byte, wantKeys int) {
	b.Run(name, func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, err := NewReader(bytes.NewReader(data), ReaderOptions{VerifyChecksum: true})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if e.Kind == EntryKey {
					n++
				}
			}
			if n != wantKeys {
				b.Fatalf("decoded %d keys, want %d", n, wantKeys)
			}
		}
		if wantKeys > 1 {
			b.ReportMetric(float64(wantKeys)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		}
	})
}
