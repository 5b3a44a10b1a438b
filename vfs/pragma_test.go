package vfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestGuardedPragmas(t *testing.T) {
	_, _, db := newTestDB(t, Options{})
	c := oneConn(t, db, 0)
	ctx := context.Background()
	mustExecConn(t, c, "CREATE TABLE t (a)")
	for _, tc := range []struct{ q, err string }{
		{"PRAGMA journal_mode = WAL", "journal_mode cannot be changed"},
		{"PRAGMA journal_mode = delete", "journal_mode cannot be changed"},
		{"PRAGMA main.journal_mode = OFF", "journal_mode cannot be changed"},
		{"PRAGMA journal_mode = TRUNCATE", "journal_mode cannot be changed"},
		{"PRAGMA journal_mode = 'persist'", "journal_mode cannot be changed"},
		{"PRAGMA locking_mode = EXCLUSIVE", "locking_mode cannot be changed"},
		{"PRAGMA page_size = 8192", "page_size cannot be changed: this database uses 4096"},
		{"PRAGMA journal_mode = MEMORY", ""},
		{"PRAGMA locking_mode = normal", ""},
		{"PRAGMA page_size = 4096", ""},
	} {
		_, err := c.ExecContext(ctx, tc.q)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: got %v, want %q", tc.q, err, tc.err)
		}
	}
	var mode string
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "memory" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	mustExecConn(t, c, "INSERT INTO t VALUES (1)")
}

func TestPageSizes(t *testing.T) {
	for _, ps := range []int{512, 1024, 8192, 65536} {
		t.Run(strconv.Itoa(ps), func(t *testing.T) {
			d, store, db := newTestDB(t, Options{PageSize: ps})
			mustExec(t, db, "CREATE TABLE t (a INTEGER PRIMARY KEY, b BLOB)")
			mustExec(t, db, `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < 200)
				INSERT INTO t SELECT x, randomblob(x * 50) FROM s`)
			if got := queryInt(t, db, "PRAGMA page_size"); got != int64(ps) {
				t.Fatalf("page_size %d", got)
			}
			pc := queryInt(t, db, "PRAGMA page_count")
			n := 0
			store.Load(func(off int64, p []byte) error {
				if len(p) != ps || off%int64(ps) != 0 {
					t.Errorf("page at %d has %d bytes", off, len(p))
				}
				n++
				return nil
			})
			if int64(n) != pc || d.Stats().Pages != pc {
				t.Fatalf("%d pages stored, page_count %d", n, pc)
			}
			integrityOK(t, db)
		})
	}
}

func TestAttachValidatesStore(t *testing.T) {
	store := NewMemStore()
	store.Replace(map[int64][]byte{0: make([]byte, 4096), 4096: make([]byte, 1024)})
	if _, err := testVFS.Attach(t.Name(), store, Options{}); err == nil {
		t.Fatal("attached a store with a short page")
	}
	store.Replace(map[int64][]byte{100: make([]byte, 4096)})
	if _, err := testVFS.Attach(t.Name(), store, Options{}); err == nil {
		t.Fatal("attached a store with a misaligned page")
	}
	if _, err := testVFS.Attach(t.Name(), NewMemStore(), Options{PageSize: 3000}); err == nil {
		t.Fatal("attached with page size 3000")
	}
}

func TestOpenUnknownDatabase(t *testing.T) {
	db := openDSN(t, "file:no-such-db?vfs=thredis&_journal_mode=MEMORY")
	defer db.Close()
	if err := db.Ping(); err == nil || !strings.Contains(err.Error(), "unable to open") {
		t.Fatalf("want unable to open, got %v", err)
	}
}

// TestNoFilesOnDisk runs a workload that makes SQLite want scratch files
// (temp tables, sorts larger than the cache, VACUUM, statement journals) in
// an empty working directory with an empty temp directory, and checks that
// neither gains a file.
func TestNoFilesOnDisk(t *testing.T) {
	work, tmp := t.TempDir(), t.TempDir()
	t.Chdir(work)
	t.Setenv("TMPDIR", tmp)
	t.Setenv("SQLITE_TMPDIR", tmp)

	_, store, db := newTestDB(t, Options{})
	c := oneConn(t, db, 10)
	ctx := context.Background()
	temps := TempFilesOpened()
	for _, q := range []string{
		"CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB, k TEXT)",
		`WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < 4000)
			INSERT INTO t SELECT x, randomblob(1000), hex(randomblob(20)) FROM s`,
		"CREATE INDEX tk ON t(k)",
		"CREATE TEMP TABLE tt AS SELECT * FROM t WHERE id % 2 = 0",
		"BEGIN",
		"SAVEPOINT a",
		"UPDATE t SET v = randomblob(1500) WHERE id % 3 = 0",
		"ROLLBACK TO a",
		"RELEASE a",
		"COMMIT",
		"DELETE FROM t WHERE id % 2 = 1",
		"VACUUM",
	} {
		mustExecConn(t, c, q)
	}
	// A sort far larger than the page cache, and a DISTINCT over it.
	rows, err := c.QueryContext(ctx, "SELECT DISTINCT k, v FROM t ORDER BY v, k")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 2000 {
		t.Fatalf("sorted %d rows", n)
	}
	// Paths to the host filesystem fail instead of creating files.
	for _, q := range []string{
		"ATTACH 'evil.db' AS evil",
		"ATTACH 'file:evil2.db' AS evil2",
		"VACUUM INTO 'copy.db'",
		"PRAGMA journal_mode = DELETE",
	} {
		if _, err := c.ExecContext(ctx, q); err == nil {
			t.Errorf("%s succeeded", q)
		}
	}
	integrityOK(t, c)
	if got := TempFilesOpened() - temps; got < 3 {
		t.Fatalf("SQLite opened only %d scratch files; the workload should need several", got)
	} else {
		t.Logf("%d scratch files served from memory", got)
	}
	for _, dir := range []string{work, tmp} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("file created on disk: %s", filepath.Join(dir, e.Name()))
		}
	}
	if !bytes.HasPrefix(store.Get(0), []byte("SQLite format 3\x00")) {
		t.Fatal("bad header")
	}
}
