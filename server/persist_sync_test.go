package server

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSyncingWriter: everything written reaches the file, and the writer
// syncs (resets its count) each time autoSyncBytes accumulate.
func TestSyncingWriter(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &syncingWriter{f: f}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	var want []byte
	for i := 0; i < 10; i++ {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want = append(want, chunk...)
		if w.pending >= autoSyncBytes {
			t.Fatalf("after %d MiB, %d bytes written since the last sync", i+1, w.pending)
		}
	}
	if w.pending != 10<<20%autoSyncBytes {
		t.Fatalf("pending %d, want %d", w.pending, 10<<20%autoSyncBytes)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file content differs (%v)", err)
	}
}
