package rdb

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func lzfInputs() [][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// A block repeated at distances around the 8192-byte window edge.
	window := func(dist int) []byte {
		blk := random(64)
		b := append(bytes.Clone(blk), random(dist-64)...)
		return append(b, blk...)
	}
	var text []byte
	for i := 0; len(text) < 50000; i++ {
		text = append(text, []byte(strings.Repeat("word", i%7)+" lorem ipsum dolor sit amet ")...)
	}
	return [][]byte{
		{'a'}, []byte("ab"), []byte("abc"), []byte("abcabc"), []byte("aaaa"),
		bytes.Repeat([]byte{'a'}, 21), bytes.Repeat([]byte{0}, 100000),
		random(31), random(32), random(33), random(64), random(4096),
		append(random(100), bytes.Repeat([]byte("xy"), 500)...),
		window(8190), window(8191), window(8192), window(8193), window(9000),
		text, bytes.Repeat([]byte("0123456789abcdef"), 20000),
	}
}

func TestLZFRoundTrip(t *testing.T) {
	tab := new(lzfTable)
	for i, in := range lzfInputs() {
		// Room for the worst case: every byte a literal, plus one control
		// byte per 32.
		out := make([]byte, len(in)+len(in)/lzfMaxLit+1)
		n := lzfCompress(in, out, tab)
		if n == 0 {
			t.Fatalf("input %d (%d bytes): did not fit the worst-case bound", i, len(in))
		}
		got := make([]byte, len(in))
		if err := lzfDecompress(out[:n], got); err != nil {
			t.Fatalf("input %d (%d bytes, %d compressed): %v", i, len(in), n, err)
		}
		if !bytes.Equal(got, in) {
			t.Fatalf("input %d: round trip differs", i)
		}
		// Exactly the room needed works; one byte less fails cleanly.
		if m := lzfCompress(in, make([]byte, n), tab); m != n {
			t.Errorf("input %d: %d bytes with exact room, %d before", i, m, n)
		}
		if m := lzfCompress(in, make([]byte, n-1), tab); m != 0 {
			t.Errorf("input %d: compressed to %d bytes in %d of room", i, m, n-1)
		}
		// The declared length must match exactly.
		if err := lzfDecompress(out[:n], make([]byte, len(in)+1)); err == nil {
			t.Errorf("input %d: decompressed into a longer buffer", i)
		}
		if err := lzfDecompress(out[:n], make([]byte, len(in)-1)); err == nil && len(in) > 0 {
			t.Errorf("input %d: decompressed into a shorter buffer", i)
		}
	}
	// Compressible data really shrinks.
	big := bytes.Repeat([]byte{0}, 100000)
	if n := lzfCompress(big, make([]byte, len(big)), tab); n == 0 || n > len(big)/lzfMaxRatio+100 {
		t.Errorf("100000 zeros compressed to %d bytes", n)
	}
}

// TestLZFFormat decodes hand-assembled streams, independent of the
// compressor.
func TestLZFFormat(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{[]byte{2, 'a', 'b', 'c'}, "abc"},
		{[]byte{2, 'a', 'b', 'c', 0x20, 2}, "abcabc"},                  // len 3, distance 3
		{[]byte{0, 'a', 0xE0, 0, 0}, "a" + strings.Repeat("a", 9)},     // len 9 (7+0+2), distance 1: overlap
		{[]byte{0, 'a', 0xE0, 255, 0}, "a" + strings.Repeat("a", 264)}, // the longest reference
		{[]byte{1, 'x', 'y', 0x40, 1, 0, 'z'}, "xyxyxyz"},              // len 4, distance 2
	} {
		got := make([]byte, len(c.want))
		if err := lzfDecompress(c.in, got); err != nil || string(got) != c.want {
			t.Errorf("% x: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range [][]byte{
		{5, 'a'},          // literal run past the end
		{0x20, 0},         // reference before any output
		{0, 'a', 0x20, 1}, // distance 2 with 1 byte of output
		{0, 'a', 0xE0},    // truncated long reference
		{0, 'a', 0x20},    // truncated offset
	} {
		if err := lzfDecompress(bad, make([]byte, 10)); err == nil {
			t.Errorf("% x decompressed", bad)
		}
	}
	// Every mutation of a valid stream is handled without a panic.
	in := []byte("abcabcabcabc-hello-hello-hello-" + strings.Repeat("z", 300))
	out := make([]byte, 2*len(in))
	n := lzfCompress(in, out, new(lzfTable))
	for i := 0; i < n; i++ {
		for b := 0; b < 256; b++ {
			bad := bytes.Clone(out[:n])
			bad[i] = byte(b)
			lzfDecompress(bad, make([]byte, len(in)))
		}
	}
}

func TestLiteralRoom(t *testing.T) {
	for room := range 2000 {
		k := literalRoom(room)
		need := func(k int) int { return k + (k+lzfMaxLit-1)/lzfMaxLit }
		if need(k) > room || need(k+1) <= room {
			t.Fatalf("literalRoom(%d) = %d", room, k)
		}
	}
}

func BenchmarkLZF(b *testing.B) {
	pages := benchPages(64)
	tab := new(lzfTable)
	out := make([]byte, 4096)
	b.Run("compress", func(b *testing.B) {
		b.SetBytes(4096)
		i := 0
		for b.Loop() {
			lzfCompress([]byte(pages[i%len(pages)]), out, tab)
			i++
		}
	})
	n := lzfCompress([]byte(pages[0]), out, tab)
	dst := make([]byte, 4096)
	b.Run("decompress", func(b *testing.B) {
		b.SetBytes(4096)
		for b.Loop() {
			if err := lzfDecompress(out[:n], dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzLZF checks that any input round-trips through the compressor, and
// that decompressing arbitrary bytes never panics.
func FuzzLZF(f *testing.F) {
	for _, in := range lzfInputs()[:12] {
		f.Add(in)
	}
	tab := new(lzfTable)
	f.Fuzz(func(t *testing.T, in []byte) {
		out := make([]byte, len(in)+len(in)/lzfMaxLit+1)
		n := lzfCompress(in, out, tab)
		if len(in) > 0 {
			got := make([]byte, len(in))
			if err := lzfDecompress(out[:n], got); err != nil || !bytes.Equal(got, in) {
				t.Fatalf("round trip of %d bytes: %v", len(in), err)
			}
		}
		lzfDecompress(in, make([]byte, min(len(in)*lzfMaxRatio, 1<<16)))
	})
}
