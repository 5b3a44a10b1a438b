package vfs

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
)

// buildImage runs statements on a fresh database and returns a copy of its
// pages.
func buildImage(t *testing.T, stmts ...string) map[int64][]byte {
	t.Helper()
	_, store, db := newTestDB(t, Options{})
	for _, q := range stmts {
		mustExec(t, db, q)
	}
	db.Close()
	pages := make(map[int64][]byte)
	store.Load(func(off int64, p []byte) error {
		pages[off] = bytes.Clone(p)
		return nil
	})
	return pages
}

func TestReloadReplacesContent(t *testing.T) {
	d, store, db := newTestDB(t, Options{})
	ctx := context.Background()
	c := oneConn(t, db, 0)
	mustExecConn(t, c, "CREATE TABLE t (a TEXT)")
	mustExecConn(t, c, "INSERT INTO t VALUES ('old content')")
	var s string
	if err := c.QueryRowContext(ctx, "SELECT a FROM t").Scan(&s); err != nil || s != "old content" {
		t.Fatal(s, err)
	}

	// Another database built with the same number of commits and schema
	// changes: page 1's change counter and schema cookie are identical,
	// so SQLite alone would keep trusting its cache and schema.
	other := buildImage(t, "CREATE TABLE u (b INTEGER, c INTEGER)", "INSERT INTO u VALUES (1, 2)")
	mine := store.Get(0)
	if !bytes.Equal(mine[24:28], other[0][24:28]) || !bytes.Equal(mine[40:44], other[0][40:44]) {
		t.Fatalf("test premise: change counters %x/%x, cookies %x/%x", mine[24:28], other[0][24:28], mine[40:44], other[0][40:44])
	}
	store.Replace(other)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if d.Epoch() != 2 {
		t.Fatalf("epoch %d", d.Epoch())
	}

	// Until the connection resets, the VFS refuses to start transactions.
	_, err := c.ExecContext(ctx, "SELECT a FROM t")
	if !IsStaleEpoch(err) {
		t.Fatalf("want a stale-epoch refusal, got %v", err)
	}
	mustExecConn(t, c, ResetSQL)
	var b, cc int64
	if err := c.QueryRowContext(ctx, "SELECT b, c FROM u").Scan(&b, &cc); err != nil || b != 1 || cc != 2 {
		t.Fatalf("new content: %d %d %v", b, cc, err)
	}
	if _, err := c.ExecContext(ctx, "SELECT a FROM t"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("old table still visible: %v", err)
	}
	integrityOK(t, c)
	mustExecConn(t, c, "INSERT INTO u VALUES (3, 4)")
	if got := queryInt(t, c, "SELECT count(*) FROM u"); got != 2 {
		t.Fatal(got)
	}

	// Clearing the content (DEL): an empty database.
	store.Replace(nil)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	mustExecConn(t, c, ResetSQL)
	if _, err := c.ExecContext(ctx, "SELECT * FROM u"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("deleted database still has u: %v", err)
	}
	if got := queryInt(t, c, "SELECT count(*) FROM sqlite_master"); got != 0 {
		t.Fatal(got)
	}
	mustExecConn(t, c, "CREATE TABLE v (x)")
	mustExecConn(t, c, "INSERT INTO v VALUES (42)")
	if got := queryInt(t, c, "SELECT x FROM v"); got != 42 {
		t.Fatal(got)
	}
	integrityOK(t, c)
}

func TestResetInsideTransactionRefused(t *testing.T) {
	_, _, db := newTestDB(t, Options{})
	c := oneConn(t, db, 0)
	mustExecConn(t, c, "CREATE TABLE t (a)")
	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, "SELECT * FROM t")
	if _, err := c.ExecContext(context.Background(), "PRAGMA thredis_ack_epoch"); err == nil {
		t.Fatal("acknowledging an epoch inside a transaction must fail")
	}
	mustExecConn(t, c, "ROLLBACK")
}

func TestReloadDuringWriteTransaction(t *testing.T) {
	d, store, db := newTestDB(t, Options{})
	ctx := context.Background()
	c := oneConn(t, db, 0)
	mustExecConn(t, c, "CREATE TABLE t (a)")
	mustExecConn(t, c, "INSERT INTO t VALUES (1)")
	img := store.Image()

	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, "INSERT INTO t VALUES (2)")
	if err := d.Reload(); err != nil { // content unchanged, but replaced
		t.Fatal(err)
	}
	_, err := c.ExecContext(ctx, "COMMIT")
	if !isLocked(err) {
		t.Fatalf("COMMIT after an external change: want database is locked, got %v", err)
	}
	// SQLite rolled the doomed transaction back itself.
	if _, err := c.ExecContext(ctx, "ROLLBACK"); err == nil || !strings.Contains(err.Error(), "no transaction") {
		t.Fatalf("transaction still open after the refused COMMIT: %v", err)
	}
	if !bytes.Equal(store.Image(), img) {
		t.Fatal("store changed")
	}
	mustExecConn(t, c, ResetSQL)
	mustExecConn(t, c, "INSERT INTO t VALUES (3)")
	var s string
	c.QueryRowContext(ctx, "SELECT group_concat(a) FROM t").Scan(&s)
	if s != "1,3" {
		t.Fatalf("rows %q, want 1,3", s)
	}
}

// replicatingStore forwards every committed batch to a replica database,
// the way the server will apply a master's page batches on a replica.
type replicatingStore struct {
	*MemStore
	replica      *Database
	replicaStore *MemStore
}

func (r *replicatingStore) Commit(b *Batch) error {
	if err := r.MemStore.Commit(b); err != nil {
		return err
	}
	cp := &Batch{PageSize: b.PageSize, Size: b.Size, Deleted: slices.Clone(b.Deleted)}
	for _, p := range b.Pages {
		cp.Pages = append(cp.Pages, Page{Off: p.Off, Data: bytes.Clone(p.Data)})
	}
	if err := r.replicaStore.Commit(cp); err != nil {
		return err
	}
	return r.replica.ApplyExternal(cp)
}

func TestApplyExternal(t *testing.T) {
	replica, replicaStore, replicaDB := newTestDB(t, Options{})
	rs := &replicatingStore{MemStore: NewMemStore(), replica: replica, replicaStore: replicaStore}
	d, err := testVFS.Attach(t.Name()+"-master", rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	masterDB := openDSN(t, d.DSN())
	t.Cleanup(func() { masterDB.Close(); testVFS.Detach(d.Name()) })

	rc := oneConn(t, replicaDB, 0)
	mustExec(t, masterDB, "CREATE TABLE t (a INTEGER, b TEXT)")
	mustExec(t, masterDB, "INSERT INTO t VALUES (1, 'one')")
	if got := queryInt(t, rc, "SELECT count(*) FROM t"); got != 1 {
		t.Fatal(got)
	}
	// Schema and data changes arrive without any cache reset.
	mustExec(t, masterDB, "ALTER TABLE t ADD COLUMN c")
	mustExec(t, masterDB, "INSERT INTO t VALUES (2, 'two', 'x')")
	mustExec(t, masterDB, "CREATE INDEX tb ON t(b)")
	if got := queryInt(t, rc, "SELECT count(*) FROM t WHERE c = 'x'"); got != 1 {
		t.Fatal(got)
	}
	integrityOK(t, rc)
	if !bytes.Equal(rs.MemStore.Image(), replicaStore.Image()) {
		t.Fatal("replica image differs")
	}
	if !maps.EqualFunc(pagesOf(rs.MemStore), pagesOf(replicaStore), bytes.Equal) {
		t.Fatal("replica pages differ")
	}
}

func pagesOf(m *MemStore) map[int64][]byte {
	out := make(map[int64][]byte)
	m.Load(func(off int64, p []byte) error { out[off] = p; return nil })
	return out
}

func TestReloadDuringSpilledWriteTransaction(t *testing.T) {
	d, store, db := newTestDB(t, Options{})
	ctx := context.Background()
	c := oneConn(t, db, 2)
	img, commits := setupRows(t, c, store, 20)

	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < 100)
		INSERT INTO t SELECT x+1000, randomblob(2048) FROM s`)
	if d.overlayPages() == 0 {
		t.Fatal("expected spilled pages")
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	// The transaction already holds EXCLUSIVE (it spilled), so the
	// conflict is found at the commit point itself: the store refuses
	// nothing, the VFS refuses to publish, SQLite reports an I/O error
	// and rolls back.
	if _, err := c.ExecContext(ctx, "COMMIT"); err == nil {
		t.Fatal("COMMIT succeeded after an external change")
	}
	c.ExecContext(ctx, "ROLLBACK")
	if store.Commits() != commits || !bytes.Equal(store.Image(), img) {
		t.Fatal("store changed")
	}
	mustExecConn(t, c, ResetSQL)
	if got := queryInt(t, c, "SELECT count(*) FROM t"); got != 20 {
		t.Fatalf("count %d", got)
	}
	integrityOK(t, c)
}
