package replication

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// since collects Backlog.Since's output.
func since(b *Backlog, off int64) []byte {
	var out []byte
	b.Since(off, func(p []byte) { out = append(out, p...) })
	return out
}

// TestBacklogModel appends random chunks to a small ring and checks, after
// every append, every offset against a model of the whole stream.
func TestBacklogModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, start := range []int64{0, 1000} {
		b := NewBacklog(64, start)
		var stream []byte
		for i := 0; i < 300; i++ {
			chunk := make([]byte, rng.IntN(100))
			for j := range chunk {
				chunk[j] = byte(rng.Uint32())
			}
			b.Append(chunk)
			stream = append(stream, chunk...)
			end := start + int64(len(stream))
			if b.Offset() != end {
				t.Fatalf("Offset = %d, want %d", b.Offset(), end)
			}
			if want := min(int64(len(stream)), 64); b.HistLen() != want {
				t.Fatalf("HistLen = %d, want %d", b.HistLen(), want)
			}
			for off := start; off <= end; off++ {
				covered := off >= end-b.HistLen()
				if b.Covers(off) != covered {
					t.Fatalf("Covers(%d) = %v, want %v (end %d, histlen %d)", off, !covered, covered, end, b.HistLen())
				}
				if covered {
					if got, want := since(b, off), stream[off-start:]; !bytes.Equal(got, want) {
						t.Fatalf("Since(%d) = %x, want %x", off, got, want)
					}
				}
			}
			if rng.IntN(50) == 0 {
				// Resizing keeps the newest history that fits.
				size := 16 + rng.IntN(100)
				before := b.HistLen()
				b.Resize(size)
				if want := min(before, int64(size)); b.HistLen() != want {
					t.Fatalf("Resize(%d): HistLen %d, want %d", size, b.HistLen(), want)
				}
				if got, want := since(b, end-b.HistLen()), stream[int64(len(stream))-b.HistLen():]; !bytes.Equal(got, want) {
					t.Fatalf("Resize(%d) kept the wrong history", size)
				}
				b.Append([]byte("z"))
				stream = append(stream, 'z')
				b = NewBacklog(64, start)
				b.Append(stream)
			}
		}
	}
}

func TestBacklogFirstOffset(t *testing.T) {
	b := NewBacklog(10, 0)
	if b.FirstOffset() != 1 || b.HistLen() != 0 {
		t.Fatalf("empty backlog: first %d histlen %d", b.FirstOffset(), b.HistLen())
	}
	b.Append([]byte("0123456789abc"))
	// Redis: first byte offset = master_repl_offset - histlen + 1.
	if b.FirstOffset() != 4 || b.Offset() != 13 {
		t.Fatalf("first %d offset %d, want 4 and 13", b.FirstOffset(), b.Offset())
	}
	if !b.Covers(3) || b.Covers(2) || !b.Covers(13) || b.Covers(14) {
		t.Fatal("Covers disagrees with the held range")
	}
}

func TestCanContinue(t *testing.T) {
	b := NewBacklog(100, 0)
	b.Append(bytes.Repeat([]byte("x"), 150)) // holds offsets 51..150
	ids := IDs{ID: NewID(), ID2: NoID, SecondOffset: -1}
	old := ids.ID
	cases := []struct {
		id   string
		off  int64
		want bool
	}{
		{ids.ID, 151, true},  // up to date
		{ids.ID, 51, true},   // oldest byte held
		{ids.ID, 50, false},  // fell out of the backlog
		{ids.ID, 152, false}, // beyond our offset
		{NewID(), 100, false},
		{NoID, 100, false},
		{"?", 100, false},
	}
	for _, c := range cases {
		if got, why := ids.CanContinue(c.id, c.off, b); got != c.want {
			t.Errorf("CanContinue(%s, %d) = %v (%s), want %v", c.id[:4], c.off, got, why, c.want)
		}
	}
	// After a promotion at offset 150 the old id is valid up to 151.
	ids.Shift(b.Offset())
	if ids.ID == old || ids.ID2 != old || ids.SecondOffset != 151 {
		t.Fatalf("Shift: %+v", ids)
	}
	b.Append([]byte("yy"))
	if ok, why := ids.CanContinue(old, 151, b); !ok {
		t.Fatalf("old id at the switch point refused: %s", why)
	}
	if ok, _ := ids.CanContinue(old, 152, b); ok {
		t.Fatal("old id beyond the switch point accepted")
	}
	if ok, why := ids.CanContinue(ids.ID, 153, b); !ok {
		t.Fatalf("new id refused: %s", why)
	}
	if ok, _ := ids.CanContinue(old, 151, nil); ok {
		t.Fatal("accepted without a backlog")
	}
}
