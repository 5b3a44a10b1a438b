package vfs

import (
	"database/sql"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// testVFS is the VFS all tests attach their databases to: SQLite VFS
// registrations last for the process.
var testVFS *VFS

var dbCounter atomic.Int64

func TestMain(m *testing.M) {
	v, err := Register("thredis")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testVFS = v
	os.Exit(m.Run())
}

// newTestDB attaches a fresh in-memory store and opens it through
// database/sql.
func newTestDB(t testing.TB, o Options) (*Database, *MemStore, *sql.DB) {
	t.Helper()
	store := NewMemStore()
	name := fmt.Sprintf("%s-%d", t.Name(), dbCounter.Add(1))
	d, err := testVFS.Attach(name, store, o)
	if err != nil {
		t.Fatal(err)
	}
	db := openDSN(t, d.DSN())
	t.Cleanup(func() {
		db.Close()
		if err := testVFS.Detach(name); err != nil {
			t.Errorf("detach: %v", err)
		}
	})
	return d, store, db
}

func mustExec(t testing.TB, db interface {
	Exec(string, ...any) (sql.Result, error)
}, q string, args ...any) sql.Result {
	t.Helper()
	r, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func openDSN(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
