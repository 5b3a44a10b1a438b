package vfs

import (
	"bytes"
	"testing"
)

func TestBasicCRUD(t *testing.T) {
	d, store, db := newTestDB(t, Options{})
	mustExec(t, db, "CREATE TABLE test (a int, b text)")
	mustExec(t, db, "INSERT INTO test VALUES (?, ?)", 1, "hello")
	var a int
	var b string
	if err := db.QueryRow("SELECT a, b FROM test").Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != "hello" {
		t.Fatalf("got %d %q", a, b)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "memory" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	p0 := store.Get(0)
	if !bytes.HasPrefix(p0, []byte("SQLite format 3\x00")) {
		t.Fatalf("page 0: %q", p0[:16])
	}
	var pc int64
	if err := db.QueryRow("PRAGMA page_count").Scan(&pc); err != nil {
		t.Fatal(err)
	}
	if int64(store.Len()) != pc || d.Stats().Pages != pc {
		t.Fatalf("store %d pages, stats %d, page_count %d", store.Len(), d.Stats().Pages, pc)
	}
	t.Logf("stats %+v", d.Stats())
}
