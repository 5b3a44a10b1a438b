package vfs

import (
	"bytes"
	"errors"
	"testing"

	"github.com/thredis/thredis/keyspace"
)

// TestKeyStore checks the keyspace-backed store on its own: commits land in
// the hash and are propagated as HSET/HDEL, Load gives the database private
// copies of the pages, and commits are refused unless the SQL layer marked
// the store writable, or after an external change.
func TestKeyStore(t *testing.T) {
	ks := keyspace.New(1, nil)
	db := ks.DB(0)
	var logged [][][]byte
	st := &KeyStore{DB: db, Key: "k", Propagate: func(argv [][]byte) {
		cp := make([][]byte, len(argv))
		for i, a := range argv {
			cp[i] = bytes.Clone(a)
		}
		logged = append(logged, cp)
	}}
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, 512) }
	batch := &Batch{PageSize: 512, Pages: []Page{{0, page(1)}, {512, page(2)}}, Size: 1024}
	if err := st.Commit(batch); !errors.Is(err, ErrUnlockedCommit) {
		t.Fatalf("commit without Writable: %v", err)
	}
	if db.Exists([]byte("k")) || len(logged) != 0 {
		t.Fatal("a refused commit changed the keyspace or the log")
	}
	st.Writable.Store(true)
	dirty := ks.Dirty
	if err := st.Commit(batch); err != nil {
		t.Fatal(err)
	}
	if ks.Dirty == dirty {
		t.Fatal("a commit did not count as a modification")
	}
	h, _ := db.Hash([]byte("k"))
	if v, _ := h.Get([]byte("512")); !bytes.Equal(v, page(2)) || h.Len() != 2 {
		t.Fatalf("hash after commit: %d fields", h.Len())
	}
	if len(logged) != 1 || string(logged[0][0]) != "HSET" || string(logged[0][2]) != "0" || string(logged[0][4]) != "512" {
		t.Fatalf("propagated: %q", logged)
	}
	// A shrinking batch deletes the cut page and propagates HDEL.
	if err := st.Commit(&Batch{PageSize: 512, Pages: []Page{{0, page(3)}}, Deleted: []int64{512}, Size: 512}); err != nil {
		t.Fatal(err)
	}
	if h.Len() != 1 || len(logged) != 3 || string(logged[2][0]) != "HDEL" || string(logged[2][2]) != "512" {
		t.Fatalf("after shrink: %d fields, log %q", h.Len(), logged)
	}
	// Load hands out copies, which the hash then holds too.
	before, _ := h.Get([]byte("0"))
	var loaded []byte
	if err := st.Load(func(off int64, p []byte) error { loaded = p; return nil }); err != nil {
		t.Fatal(err)
	}
	after, _ := h.Get([]byte("0"))
	if !bytes.Equal(loaded, page(3)) || &loaded[0] == &before[0] || &after[0] != &loaded[0] {
		t.Fatal("Load did not give the hash and the VFS one private copy")
	}
	// After an external change the store refuses to commit.
	st.Stale.Store(true)
	if err := st.Commit(batch); !errors.Is(err, ErrStale) {
		t.Fatalf("stale commit: %v", err)
	}
	// A hash whose fields are not offsets is not a database.
	h.SetString("name", "x")
	if err := st.Load(func(int64, []byte) error { return nil }); !errors.Is(err, ErrNotDatabase) {
		t.Fatalf("load of a plain hash: %v", err)
	}
}
