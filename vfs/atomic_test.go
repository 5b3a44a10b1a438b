package vfs

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// oneConn returns a single connection of db with a tiny page cache, so
// that a transaction's pages spill to the VFS long before it commits.
func oneConn(t *testing.T, db *sql.DB, cachePages int) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if cachePages > 0 {
		mustExecConn(t, c, "PRAGMA cache_size = "+strconv.Itoa(cachePages))
	}
	return c
}

func mustExecConn(t testing.TB, c *sql.Conn, q string, args ...any) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func queryInt(t testing.TB, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func integrityOK(t testing.TB, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) {
	t.Helper()
	var s string
	if err := q.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&s); err != nil {
		t.Fatal(err)
	}
	if s != "ok" {
		t.Fatalf("integrity_check: %s", s)
	}
}

// overlayPages reports how many pages the open write transaction has
// handed to the VFS so far. Only call it while that connection is idle.
func (d *Database) overlayPages() int { return len(d.ov.touched) }

// setupRows creates table t with n rows of 2 KiB payloads and returns the
// store's image and commit count afterwards.
func setupRows(t *testing.T, c *sql.Conn, store *MemStore, n int) ([]byte, int) {
	t.Helper()
	mustExecConn(t, c, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB UNIQUE)")
	mustExecConn(t, c, `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < ?)
		INSERT INTO t SELECT x, randomblob(2048) FROM s`, n)
	return store.Image(), store.Commits()
}

func TestRollbackWithSpilledPages(t *testing.T) {
	d, store, db := newTestDB(t, Options{})
	c := oneConn(t, db, 2)
	img, commits := setupRows(t, c, store, 50)

	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < 300)
		INSERT INTO t SELECT x+1000, randomblob(2048) FROM s`)
	mustExecConn(t, c, "UPDATE t SET v = randomblob(100) WHERE id <= 50")
	mustExecConn(t, c, "DELETE FROM t WHERE id > 1200")
	if d.overlayPages() < 10 {
		t.Fatalf("expected the tiny cache to spill pages, overlay has %d", d.overlayPages())
	}
	if got := queryInt(t, c, "SELECT count(*) FROM t"); got != 250 {
		t.Fatalf("inside the transaction count = %d, want 250", got)
	}
	mustExecConn(t, c, "ROLLBACK")

	if store.Commits() != commits || !bytes.Equal(store.Image(), img) {
		t.Fatal("ROLLBACK changed the store")
	}
	if got := queryInt(t, c, "SELECT count(*) FROM t"); got != 50 {
		t.Fatalf("after rollback count = %d, want 50", got)
	}
	integrityOK(t, c)
	if s := d.Stats(); s.Rollbacks != 1 {
		t.Fatalf("stats %+v, want 1 rollback", s)
	}
}

func TestFailedStatementInsideTransaction(t *testing.T) {
	_, store, db := newTestDB(t, Options{})
	c := oneConn(t, db, 2)
	_, commits := setupRows(t, c, store, 20)

	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, "INSERT INTO t VALUES (500, x'01')")
	// A multi-row INSERT that fails on its last row (duplicate UNIQUE v)
	// after writing enough pages to spill: SQLite must undo the statement
	// alone and the transaction continues.
	_, err := c.ExecContext(context.Background(), `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < 200)
		INSERT INTO t SELECT x+1000, CASE WHEN x = 200 THEN x'01' ELSE randomblob(2048) END FROM s`)
	if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("expected a UNIQUE failure, got %v", err)
	}
	if store.Commits() != commits {
		t.Fatal("store committed inside a transaction")
	}
	mustExecConn(t, c, "COMMIT")
	if store.Commits() != commits+1 {
		t.Fatalf("commits %d, want %d", store.Commits(), commits+1)
	}
	if got := queryInt(t, c, "SELECT count(*) FROM t"); got != 21 {
		t.Fatalf("count = %d, want 21 (20 + the one good INSERT)", got)
	}
	integrityOK(t, c)
}

func TestFailedAutocommitStatement(t *testing.T) {
	_, store, db := newTestDB(t, Options{})
	c := oneConn(t, db, 2)
	img, commits := setupRows(t, c, store, 20)
	_, err := c.ExecContext(context.Background(), `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < 200)
		INSERT INTO t SELECT x+1000, CASE WHEN x = 200 THEN (SELECT v FROM t WHERE id = 1) ELSE randomblob(2048) END FROM s`)
	if err == nil {
		t.Fatal("expected a UNIQUE failure")
	}
	if store.Commits() != commits || !bytes.Equal(store.Image(), img) {
		t.Fatal("a failed autocommit statement changed the store")
	}
	if got := queryInt(t, c, "SELECT count(*) FROM t"); got != 20 {
		t.Fatalf("count = %d, want 20", got)
	}
	integrityOK(t, c)
}

func TestConnectionClosedMidTransaction(t *testing.T) {
	d, store, db := newTestDB(t, Options{BusyTimeout: 50 * time.Millisecond})
	c := oneConn(t, db, 2)
	img, commits := setupRows(t, c, store, 20)

	raw, err := (&sqlite3.SQLiteDriver{}).Open(d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	ex := raw.(driver.ExecerContext)
	for _, q := range []string{
		"PRAGMA cache_size = 2",
		"BEGIN",
		`WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < 300)
			INSERT INTO t SELECT x+1000, randomblob(2048) FROM s`,
	} {
		if _, err := ex.ExecContext(context.Background(), q, nil); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if d.overlayPages() == 0 {
		t.Fatal("expected spilled pages")
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	if store.Commits() != commits || !bytes.Equal(store.Image(), img) {
		t.Fatal("closing mid-transaction changed the store")
	}
	// The writer lock was released: another connection writes at once.
	mustExecConn(t, c, "INSERT INTO t VALUES (9999, x'02')")
	if got := queryInt(t, c, "SELECT count(*) FROM t"); got != 21 {
		t.Fatalf("count = %d, want 21", got)
	}
	integrityOK(t, c)
	if s := d.Stats(); s.Rollbacks != 1 || s.Conns != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStoreCommitFailure(t *testing.T) {
	d, store, db := newTestDB(t, Options{})
	c := oneConn(t, db, 0)
	img, commits := setupRows(t, c, store, 20)

	boom := errors.New("boom")
	store.FailCommits(boom)
	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, "INSERT INTO t VALUES (100, x'03')")
	_, err := c.ExecContext(context.Background(), "COMMIT")
	if err == nil {
		t.Fatal("COMMIT succeeded although the store refused the batch")
	}
	if !errors.Is(d.LastCommitError(), boom) {
		t.Fatalf("LastCommitError = %v", d.LastCommitError())
	}
	_, err = c.ExecContext(context.Background(), "INSERT INTO t VALUES (101, x'04')")
	if err == nil {
		t.Fatal("autocommit INSERT succeeded although the store refuses batches")
	}
	store.FailCommits(nil)
	if store.Commits() != commits || !bytes.Equal(store.Image(), img) {
		t.Fatal("a refused commit changed the store")
	}
	// The connection recovers: SQLite dropped its cache with the failed
	// transaction, and reads and writes see the committed state.
	c.ExecContext(context.Background(), "ROLLBACK") // may say "no transaction"
	if got := queryInt(t, c, "SELECT count(*) FROM t"); got != 20 {
		t.Fatalf("count = %d, want 20", got)
	}
	mustExecConn(t, c, "INSERT INTO t VALUES (102, x'05')")
	if got := queryInt(t, c, "SELECT count(*) FROM t"); got != 21 {
		t.Fatalf("count = %d, want 21", got)
	}
	integrityOK(t, c)
}
