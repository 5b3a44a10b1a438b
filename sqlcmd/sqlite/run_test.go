package sqlite

import (
	"errors"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	c := openMem(t)
	mustExec(t, c, "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)")
	ins := mustPrepare(t, c, "INSERT INTO t(b) VALUES (?)")
	for _, v := range []string{"x", "y", "z"} {
		if err := ins.BindText(1, []byte(v)); err != nil {
			t.Fatal(err)
		}
		out, res, err := ins.Run(nil, false, 0, 0)
		if err != nil || len(out) != 0 || res.Rows != 0 || res.Changes != 1 {
			t.Fatalf("insert: %q %+v %v", out, res, err)
		}
	}
	// DDL changes nothing, although sqlite3_changes still says 1.
	ddl := mustPrepare(t, c, "CREATE INDEX tb ON t(b)")
	if _, res, err := ddl.Run(nil, false, 0, 0); err != nil || res.Changes != 0 {
		t.Fatalf("ddl: %+v %v", res, err)
	}
	sel := mustPrepare(t, c, "SELECT a, b FROM t ORDER BY a")
	out, res, err := sel.Run([]byte("prefix"), false, 0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := "prefix*2\r\n:1\r\n$1\r\nx\r\n*2\r\n:2\r\n$1\r\ny\r\n*2\r\n:3\r\n$1\r\nz\r\n"
	if string(out) != want || res.Rows != 3 || res.Changes != 0 {
		t.Fatalf("select: %q %+v", out, res)
	}
	// The statement was reset: it runs again from the start.
	if out, res, err = sel.Run(nil, false, 0, 0); err != nil || res.Rows != 3 {
		t.Fatalf("rerun: %q %+v %v", out, res, err)
	}
	// A limit stops it early with ErrRowsTooBig, and the statement is reset.
	if _, res, err = sel.Run(nil, false, 20, 0); !errors.Is(err, ErrRowsTooBig) || res.Rows != 2 {
		t.Fatalf("limit: %+v %v", res, err)
	}
	// An error carries SQLite's message and leaves the statement reusable.
	bad := mustPrepare(t, c, "INSERT INTO t(a, b) VALUES (1, 'dup')")
	if _, _, err = bad.Run(nil, false, 0, 0); !IsCode(err, ErrConstraint) || err.Error() != "UNIQUE constraint failed: t.a" {
		t.Fatalf("constraint: %v", err)
	}
	// A schema change recompiles the statement: the counter moves.
	before := res.Reprepares
	mustExec(t, c, "ALTER TABLE t ADD COLUMN c")
	if _, res, err = sel.Run(nil, false, 0, 0); err != nil || res.Reprepares == before {
		t.Fatalf("reprepare: %+v %v", res, err)
	}
	// The deadline interrupts a runaway statement.
	loop := mustPrepare(t, c, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c")
	start := time.Now()
	if _, _, err = loop.Run(nil, false, 0, 50*time.Millisecond); !IsCode(err, ErrInterrupt) || !c.DeadlineExceeded() {
		t.Fatalf("deadline: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("deadline took %v", d)
	}
}

func BenchmarkRunPointSelect(b *testing.B) {
	c := openMem(b)
	mustExec(b, c, "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)")
	mustExec(b, c, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 10000) INSERT INTO t SELECT x, 'value-' || x FROM n")
	st := mustPrepare(b, c, "SELECT b FROM t WHERE a=?")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.BindInt64(1, int64(i%10000+1)); err != nil {
			b.Fatal(err)
		}
		var err error
		buf, _, err = st.Run(buf[:0], false, 0, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
	}
}
