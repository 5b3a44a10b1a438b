package vfs

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDifferential runs one random SQL workload against the VFS and against
// a plain SQLite file (rollback journal on disk, SQLite's own VFS) and
// compares, after every statement: success or failure, the full content of
// every table, and PRAGMA integrity_check. The workload mixes DDL, inserts
// with BLOBs that span overflow pages, updates, deletes, transactions that
// commit or roll back, savepoints, statements that fail half-way,
// incremental vacuum and VACUUM. The VFS connection runs with a tiny page
// cache so transactions spill pages long before they commit, and a second
// VFS connection checks the committed state whenever no transaction is
// open. At the end the store's page image, written to a file, must be a
// valid database with the same content.
func TestDifferential(t *testing.T) {
	steps := 500
	if raceEnabled {
		steps = 150
	}
	if testing.Short() {
		steps = 100
	}
	for i, cache := range []int{3, 40, 0} {
		t.Run(fmt.Sprintf("seed%d-cache%d", i, cache), func(t *testing.T) {
			runDifferential(t, uint64(i+1), cache, steps)
		})
	}
}

type differ struct {
	t      *testing.T
	ctx    context.Context
	rng    *rand.Rand
	vc, vr *sql.Conn // the VFS: the working connection and a reader
	rc     *sql.Conn // the reference
	inTxn  bool
	bySave bool // the transaction was opened by an outermost SAVEPOINT
	saves  int
	nextID int
	step   int
	last   string
	failed int
}

// countingStore records what kinds of batches a workload produced.
type countingStore struct {
	*MemStore
	batches, truncations, pages int
}

func (c *countingStore) Commit(b *Batch) error {
	c.batches++
	c.pages += len(b.Pages)
	if len(b.Deleted) > 0 {
		c.truncations++
	}
	return c.MemStore.Commit(b)
}

func runDifferential(t *testing.T, seed uint64, cache, steps int) {
	store := &countingStore{MemStore: NewMemStore()}
	d, err := testVFS.Attach(t.Name(), store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vdb := openDSN(t, d.DSN())
	t.Cleanup(func() { vdb.Close(); testVFS.Detach(d.Name()) })
	refPath := filepath.Join(t.TempDir(), "ref.db")
	rdb := openDSN(t, "file:"+refPath)
	t.Cleanup(func() { rdb.Close() })
	x := &differ{t: t, ctx: context.Background(), rng: rand.New(rand.NewPCG(seed, 99))}
	x.vc = oneConn(t, vdb, cache)
	x.vr = oneConn(t, vdb, 0)
	x.rc = oneConn(t, rdb, 0)
	x.both("PRAGMA auto_vacuum = INCREMENTAL")

	for x.step = 0; x.step < steps; x.step++ {
		x.randomStep()
		x.compare()
	}
	if x.inTxn {
		x.both("COMMIT")
		x.compare()
	}
	st := d.Stats()
	t.Logf("%d statements failed on both sides; %d batches (%d pages, %d truncating); %+v",
		x.failed, store.batches, store.pages, store.truncations, st)
	if x.failed == 0 || st.Rollbacks == 0 || store.truncations == 0 {
		t.Fatalf("workload too tame: %d failures, %d rollbacks, %d truncations", x.failed, st.Rollbacks, store.truncations)
	}

	// The store's image is a standard SQLite database file.
	img := store.Image()
	path := filepath.Join(t.TempDir(), "export.db")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	edb := openDSN(t, "file:"+path+"?mode=ro")
	defer edb.Close()
	ec := oneConn(t, edb, 0)
	integrityOK(t, ec)
	if a, b := dump(t, ec), dump(t, x.rc); a != b {
		t.Fatal("exported image differs from the reference")
	}
}

// both runs q on the VFS and the reference and requires the same outcome.
func (x *differ) both(q string, args ...any) bool {
	x.t.Helper()
	x.last = q
	_, e1 := x.vc.ExecContext(x.ctx, q, args...)
	_, e2 := x.rc.ExecContext(x.ctx, q, args...)
	if (e1 == nil) != (e2 == nil) {
		x.t.Fatalf("step %d: %s\n  vfs: %v\n  reference: %v", x.step, q, e1, e2)
	}
	if e1 != nil {
		x.failed++
	}
	return e1 == nil
}

func (x *differ) compare() {
	x.t.Helper()
	a, b := dump(x.t, x.vc), dump(x.t, x.rc)
	if a != b {
		x.t.Fatalf("step %d (%s): content differs\nvfs:\n%s\nreference:\n%s", x.step, x.last, a, b)
	}
	integrityOK(x.t, x.vc)
	if !x.inTxn {
		if c := dump(x.t, x.vr); c != b {
			x.t.Fatalf("step %d (%s): committed state seen by another connection differs", x.step, x.last)
		}
	}
}

// dump renders the schema and every row of every table, BLOBs as hashes.
func dump(t testing.TB, c *sql.Conn) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	rows, err := c.QueryContext(ctx, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var typ, name, tbl, q string
		rows.Scan(&typ, &name, &tbl, &q)
		fmt.Fprintf(&b, "%s %s %s %s\n", typ, name, tbl, q)
		if typ == "table" {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, tbl := range tables {
		rows, err := c.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %q ORDER BY rowid", tbl))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			b.WriteString(tbl)
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					fmt.Fprintf(&b, " blob%d:%x", len(v), sha256.Sum256(v))
				default:
					fmt.Fprintf(&b, " %T:%v", v, v)
				}
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

func (x *differ) tables() []string {
	rows, err := x.rc.QueryContext(x.ctx, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		x.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out
}

func (x *differ) indexes() []string {
	rows, err := x.rc.QueryContext(x.ctx, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
	if err != nil {
		x.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out
}

func (x *differ) blob() []byte {
	sizes := []int{0, 1, 16, 300, 1500, 4000, 9000, 30000, 70000}
	b := make([]byte, sizes[x.rng.IntN(len(sizes))])
	for i := range b {
		b[i] = byte(x.rng.Uint32())
	}
	return b
}

func (x *differ) text() string {
	n := x.rng.IntN(200)
	if x.rng.IntN(10) == 0 {
		n = 5000 + x.rng.IntN(5000)
	}
	return strings.Repeat(string(rune('a'+x.rng.IntN(26))), n)
}

func (x *differ) pick(s []string) string { return s[x.rng.IntN(len(s))] }

func (x *differ) randomStep() {
	tables := x.tables()
	if len(tables) == 0 || (len(tables) < 4 && x.rng.IntN(40) == 0) {
		name := fmt.Sprintf("t%d", x.step)
		x.both(fmt.Sprintf("CREATE TABLE %s (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c BLOB, u INTEGER UNIQUE)", name))
		return
	}
	tbl := x.pick(tables)
	switch r := x.rng.IntN(100); {
	case r < 30: // single-row insert
		x.nextID++
		x.both(fmt.Sprintf("INSERT INTO %s (id, a, b, c, u) VALUES (?, ?, ?, ?, ?)", tbl),
			x.nextID, x.rng.Int64N(1000), x.text(), x.blob(), nil)
	case r < 38: // multi-row insert, sometimes failing on a duplicate id half-way
		n := 2 + x.rng.IntN(20)
		var q strings.Builder
		var args []any
		fmt.Fprintf(&q, "INSERT INTO %s (id, a, b, c) VALUES ", tbl)
		for i := 0; i < n; i++ {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?)")
			x.nextID++
			id := x.nextID
			if i == n-1 && x.rng.IntN(3) == 0 {
				id = x.nextID - n/2 // duplicate primary key: the statement fails
			}
			args = append(args, id, x.rng.Int64N(1000), x.text(), x.blob())
		}
		x.both(q.String(), args...)
	case r < 48: // update
		k := 2 + x.rng.IntN(5)
		switch x.rng.IntN(3) {
		case 0:
			x.both(fmt.Sprintf("UPDATE %s SET c = ?, a = a + 1 WHERE id %% %d = %d", tbl, k, x.rng.IntN(k)), x.blob())
		case 1:
			x.both(fmt.Sprintf("UPDATE %s SET b = ? WHERE a %% %d = 0", tbl, k), x.text())
		case 2: // may violate UNIQUE(u) half-way
			x.both(fmt.Sprintf("UPDATE %s SET u = a %% %d WHERE id %% 2 = 0", tbl, 3+x.rng.IntN(50)))
		}
	case r < 56: // delete
		k := 2 + x.rng.IntN(6)
		x.both(fmt.Sprintf("DELETE FROM %s WHERE id %% %d = %d", tbl, k, x.rng.IntN(k)))
	case r < 64: // transaction control
		switch {
		case !x.inTxn:
			if x.both("BEGIN") {
				x.inTxn, x.bySave = true, false
			}
		case x.rng.IntN(2) == 0:
			if x.both("COMMIT") {
				x.inTxn, x.saves = false, 0
			}
		default:
			if x.both("ROLLBACK") {
				x.inTxn, x.saves = false, 0
			}
		}
	case r < 72: // savepoints
		switch {
		case x.saves == 0 || x.rng.IntN(3) == 0:
			if x.both(fmt.Sprintf("SAVEPOINT s%d", x.saves)) {
				x.saves++
				if !x.inTxn {
					x.inTxn, x.bySave = true, true // SAVEPOINT outside a transaction opens one
				}
			}
		case x.rng.IntN(2) == 0:
			x.both(fmt.Sprintf("ROLLBACK TO s%d", x.saves-1))
		default:
			if x.both(fmt.Sprintf("RELEASE s%d", x.saves-1)) {
				x.saves--
				if x.saves == 0 && x.bySave {
					x.inTxn, x.bySave = false, false // releasing it commits
				}
			}
		}
	case r < 78: // indexes
		if idx := x.indexes(); len(idx) > 0 && x.rng.IntN(3) == 0 {
			x.both("DROP INDEX " + x.pick(idx))
		} else {
			col := x.pick([]string{"a", "b", "c", "a, b"})
			x.both(fmt.Sprintf("CREATE INDEX IF NOT EXISTS i%d ON %s (%s)", x.step, tbl, col))
		}
	case r < 81:
		x.both(fmt.Sprintf("ALTER TABLE %s ADD COLUMN x%d TEXT DEFAULT 'dflt'", tbl, x.step))
	case r < 84:
		if len(tables) > 1 {
			x.both("DROP TABLE " + tbl)
		}
	case r < 88:
		x.both(fmt.Sprintf("PRAGMA incremental_vacuum(%d)", 1+x.rng.IntN(20)))
	case r < 90:
		if !x.inTxn {
			x.both("VACUUM")
		}
	default: // a read through the working connection
		x.both(fmt.Sprintf("SELECT count(*), sum(length(c)) FROM %s", tbl))
	}
}
