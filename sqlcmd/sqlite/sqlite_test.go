package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thredis/thredis/vfs"
)

var memSeq atomic.Int64

// openMem opens a private in-memory database, closed when the test ends.
func openMem(t testing.TB) *Conn {
	t.Helper()
	c, err := Open(fmt.Sprintf("file:t%d?mode=memory&cache=private", memSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func mustExec(t testing.TB, c *Conn, sql string) {
	t.Helper()
	if err := c.Exec(sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func mustPrepare(t testing.TB, c *Conn, sql string) *Stmt {
	t.Helper()
	st, tail, err := c.Prepare([]byte(sql))
	if err != nil {
		t.Fatalf("prepare %q: %v", sql, err)
	}
	if st == nil {
		t.Fatalf("prepare %q: no statement", sql)
	}
	if strings.TrimSpace(string(tail)) != "" {
		t.Fatalf("prepare %q: unexpected tail %q", sql, tail)
	}
	t.Cleanup(func() { st.Finalize() })
	return st
}

// queryRow prepares sql, steps it once and returns the statement on its
// first row.
func queryRow(t testing.TB, c *Conn, sql string) *Stmt {
	t.Helper()
	st := mustPrepare(t, c, sql)
	row, err := st.Step()
	if err != nil || !row {
		t.Fatalf("step %q: row=%v err=%v", sql, row, err)
	}
	return st
}

func TestOpenMemory(t *testing.T) {
	c, err := Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "CREATE TABLE t(a)")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	c.Interrupt() // no-op on a closed Conn
	if err := c.Exec("SELECT 1"); !IsCode(err, ErrMisuse) {
		t.Fatalf("Exec after Close: %v", err)
	}
}

func TestOpenError(t *testing.T) {
	_, err := Open("file:x?vfs=no-such-vfs")
	if err == nil {
		t.Fatal("expected an error")
	}
	if !IsCode(err, ErrError) {
		t.Fatalf("code: %v", err)
	}
	if !strings.Contains(err.Error(), "no such vfs") {
		t.Fatalf("message: %v", err)
	}
}

func TestCloseFinalizesStatements(t *testing.T) {
	c, err := Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := c.Prepare([]byte("SELECT 1 UNION ALL SELECT 2"))
	if err != nil {
		t.Fatal(err)
	}
	if row, err := st.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	st2, _, err := c.Prepare([]byte("SELECT 3"))
	if err != nil {
		t.Fatal(err)
	}
	_ = st2
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Finalize(); err != nil {
		t.Fatalf("Finalize after Close: %v", err)
	}
	if _, err := st2.Step(); !IsCode(err, ErrMisuse) {
		t.Fatalf("Step after Close: %v", err)
	}
}

func TestPrepareTails(t *testing.T) {
	c := openMem(t)
	script := []byte(";; CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);\n" +
		"INSERT INTO t(b) VALUES('x'), ('y'); -- a comment\n" +
		"/* block */ SELECT count(*) FROM t;  \n -- trailing comment only\n")
	var sqls []string
	var counts []int64
	rest := script
	for {
		st, tail, err := c.Prepare(rest)
		if err != nil {
			t.Fatal(err)
		}
		if len(tail) > 0 && &tail[len(tail)-1] != &script[len(script)-1] {
			t.Fatal("tail is not a sub-slice of the input")
		}
		if st == nil {
			if len(tail) != 0 {
				t.Fatalf("nil statement with tail %q", tail)
			}
			break
		}
		sqls = append(sqls, st.SQL())
		row, err := st.Step()
		if err != nil {
			t.Fatal(err)
		}
		if row {
			counts = append(counts, st.ColumnInt64(0))
		}
		if err := st.Finalize(); err != nil {
			t.Fatal(err)
		}
		rest = tail
	}
	// The statement text is what SQLite consumed: from where Prepare
	// started (leading empty statements and comments included) to the
	// semicolon.
	want := []string{
		";; CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);",
		"\nINSERT INTO t(b) VALUES('x'), ('y');",
		" -- a comment\n/* block */ SELECT count(*) FROM t;",
	}
	if fmt.Sprintf("%q", sqls) != fmt.Sprintf("%q", want) {
		t.Fatalf("statements:\n got %q\nwant %q", sqls, want)
	}
	if len(counts) != 1 || counts[0] != 2 {
		t.Fatalf("counts %v", counts)
	}

	for _, empty := range []string{"", "   ", "-- only a comment", "/* c */ ; ; \n"} {
		st, tail, err := c.Prepare([]byte(empty))
		if st != nil || err != nil || len(tail) != 0 {
			t.Fatalf("Prepare(%q) = %v, %q, %v", empty, st, tail, err)
		}
	}

	// An error reports SQLite's message, unwrapped.
	_, _, err := c.Prepare([]byte("SELECT * FROM nosuch; SELECT 1"))
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrError || e.Msg != "no such table: nosuch" || err.Error() != e.Msg {
		t.Fatalf("error %#v", err)
	}
}

func TestReadonly(t *testing.T) {
	c := openMem(t)
	mustExec(t, c, "CREATE TABLE t(a)")
	for sql, want := range map[string]bool{
		"SELECT * FROM t":         true,
		"INSERT INTO t VALUES(1)": false,
		"BEGIN":                   true,
		"COMMIT":                  true,
		"UPDATE t SET a=2":        false,
		"CREATE TABLE u(x)":       false,
		"PRAGMA user_version=3":   false,
		"PRAGMA user_version":     true,
	} {
		st := mustPrepare(t, c, sql)
		if got := st.Readonly(); got != want {
			t.Errorf("Readonly(%q) = %v, want %v", sql, got, want)
		}
	}
}

func TestBind(t *testing.T) {
	c := openMem(t)
	st := mustPrepare(t, c, "SELECT ?1, typeof(?1), ?2, typeof(?2), ?3, typeof(?3), ?4, typeof(?4), ?5, typeof(?5), "+
		"?6, typeof(?6), ?7, typeof(?7), length(?7), ?8, typeof(?8), ?9, typeof(?9)")
	if n := st.ParamCount(); n != 9 {
		t.Fatalf("ParamCount %d", n)
	}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(st.BindInt64(1, -1<<63))
	check(st.BindFloat(2, 2.25))
	check(st.BindText(3, []byte("héllo\x00x")))
	check(st.BindBlob(4, []byte{0, 1, 2, 255}))
	check(st.BindNull(5))
	check(st.BindText(6, []byte{}))
	check(st.BindBlob(7, []byte{}))
	check(st.BindText(8, nil))
	check(st.BindBlob(9, nil))
	if row, err := st.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	if v := st.ColumnInt64(0); v != -1<<63 {
		t.Errorf("int %d", v)
	}
	if v := st.ColumnFloat(2); v != 2.25 {
		t.Errorf("float %v", v)
	}
	if v := st.ColumnText(4); v != "héllo\x00x" {
		t.Errorf("text %q", v)
	}
	if v := st.ColumnBytes(6); !bytes.Equal(v, []byte{0, 1, 2, 255}) {
		t.Errorf("blob %v", v)
	}
	if st.ColumnType(8) != TypeNull || st.ColumnBytes(8) != nil {
		t.Errorf("null")
	}
	wantTypes := map[int]string{1: "integer", 3: "real", 5: "text", 7: "blob", 9: "null", 11: "text", 13: "blob", 16: "null", 18: "null"}
	for col, want := range wantTypes {
		if got := st.ColumnText(col); got != want {
			t.Errorf("typeof column %d = %q, want %q", col, got, want)
		}
	}
	if b := st.ColumnBytes(10); b == nil || len(b) != 0 {
		t.Errorf("empty text bytes %v", b)
	}
	if st.ColumnInt64(14) != 0 {
		t.Errorf("length of empty blob %d", st.ColumnInt64(14))
	}
	if st.ColumnType(0) != TypeInteger || st.ColumnType(2) != TypeFloat || st.ColumnType(4) != TypeText ||
		st.ColumnType(6) != TypeBlob {
		t.Error("column types")
	}

	// Binding while the statement runs is misuse.
	if err := st.BindInt64(1, 1); !IsCode(err, ErrMisuse) {
		t.Fatalf("bind while running: %v", err)
	}
	check(st.Reset())
	// Out of range index: wrapped error carrying SQLITE_RANGE.
	err := st.BindInt64(10, 1)
	if !IsCode(err, ErrRange) || !strings.Contains(err.Error(), "bind parameter 10") {
		t.Fatalf("out of range bind: %v", err)
	}

	// Reset keeps bindings; ClearBindings drops them.
	check(st.Reset())
	if row, _ := st.Step(); !row || st.ColumnInt64(0) != -1<<63 {
		t.Fatal("binding lost by Reset")
	}
	check(st.Reset())
	st.ClearBindings()
	if row, _ := st.Step(); !row || st.ColumnType(0) != TypeNull {
		t.Fatal("ClearBindings")
	}
}

func TestColumnMeta(t *testing.T) {
	c := openMem(t)
	mustExec(t, c, "CREATE TABLE t(id INTEGER PRIMARY KEY, name VARCHAR(10), v)")
	st := mustPrepare(t, c, "SELECT id, name AS n, v, 1+1 FROM t")
	if st.ColumnCount() != 4 {
		t.Fatal(st.ColumnCount())
	}
	names := []string{"id", "n", "v", "1+1"}
	decl := []string{"INTEGER", "VARCHAR(10)", "", ""}
	for i := range 4 {
		if st.ColumnName(i) != names[i] || st.ColumnDeclType(i) != decl[i] {
			t.Errorf("column %d: %q %q", i, st.ColumnName(i), st.ColumnDeclType(i))
		}
	}
	if mustPrepare(t, c, "INSERT INTO t(v) VALUES(1)").ColumnCount() != 0 {
		t.Error("INSERT has columns")
	}
}

func TestAppendRow(t *testing.T) {
	c := openMem(t)
	mustExec(t, c, "CREATE TABLE r(x REAL)")
	mustExec(t, c, "INSERT INTO r VALUES(3.0)") // stored as an integer (MEM_IntReal)

	reals := []string{"1.5", "3.0", "1e300", "-0.0", "0.1", "1e999", "-1e999", "123456789012345678.0", "?1", "?2"}
	st := mustPrepare(t, c, "SELECT "+strings.Join(reals, ", "))
	if err := st.BindFloat(1, math.Copysign(0, -1)); err != nil { // a true negative zero
		t.Fatal(err)
	}
	if err := st.BindFloat(2, 5e-324); err != nil {
		t.Fatal(err)
	}
	if row, err := st.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	r2 := st.AppendRow(nil, false)
	r3 := st.AppendRow([]byte("prefix"), true)
	// SQLite's own text, read after AppendRow: its types must be intact.
	var w2, w3 bytes.Buffer
	fmt.Fprintf(&w2, "*%d\r\n", len(reals))
	fmt.Fprintf(&w3, "prefix*%d\r\n", len(reals))
	var texts []string
	for i := range reals {
		if st.ColumnType(i) != TypeFloat {
			t.Fatalf("column %d type changed to %d", i, st.ColumnType(i))
		}
		txt := st.ColumnText(i)
		texts = append(texts, txt)
		fmt.Fprintf(&w2, "$%d\r\n%s\r\n", len(txt), txt)
		switch txt {
		case "Inf":
			w3.WriteString(",inf\r\n")
		case "-Inf":
			w3.WriteString(",-inf\r\n")
		default:
			fmt.Fprintf(&w3, ",%s\r\n", txt)
		}
	}
	t.Logf("SQLite renders %v as %q", reals, texts)
	for i, want := range map[int]string{0: "1.5", 1: "3.0", 2: "1.0e+300", 3: "0.0" /* SQLite drops the sign of zero */, 4: "0.1", 5: "Inf", 6: "-Inf"} {
		if texts[i] != want {
			t.Errorf("REAL %s renders %q, want %q", reals[i], texts[i], want)
		}
	}
	if string(r2) != w2.String() {
		t.Errorf("RESP2 floats:\n got %q\nwant %q", r2, w2.String())
	}
	if string(r3) != w3.String() {
		t.Errorf("RESP3 floats:\n got %q\nwant %q", r3, w3.String())
	}

	// The REAL column stored as an integer still renders as "3.0".
	st = queryRow(t, c, "SELECT x FROM r")
	if got := string(st.AppendRow(nil, true)); got != "*1\r\n,3.0\r\n" {
		t.Errorf("REAL column stored as integer: %q", got)
	}

	st = queryRow(t, c, "SELECT 42, -7, 0, 9223372036854775807, -9223372036854775808, NULL, 'héllo', "+
		"x'00ff0d0a', '', x'', 'a\r\nb'")
	want2 := "*11\r\n:42\r\n:-7\r\n:0\r\n:9223372036854775807\r\n:-9223372036854775808\r\n$-1\r\n" +
		"$6\r\nhéllo\r\n$4\r\n\x00\xff\r\n\r\n$0\r\n\r\n$0\r\n\r\n$4\r\na\r\nb\r\n"
	want3 := strings.Replace(want2, "$-1\r\n", "_\r\n", 1)
	if got := string(st.AppendRow(nil, false)); got != want2 {
		t.Errorf("RESP2:\n got %q\nwant %q", got, want2)
	}
	if got := string(st.AppendRow(nil, true)); got != want3 {
		t.Errorf("RESP3:\n got %q\nwant %q", got, want3)
	}
	// Reading text must not have changed the integer columns' types.
	if st.ColumnType(0) != TypeInteger || st.ColumnType(7) != TypeBlob {
		t.Error("types changed by AppendRow")
	}

	// A large row grows the buffer (and the next call drops it again).
	big := strings.Repeat("z", 3<<20)
	sb := mustPrepare(t, c, "SELECT ?, 1")
	if err := sb.BindText(1, []byte(big)); err != nil {
		t.Fatal(err)
	}
	if row, err := sb.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	want := fmt.Sprintf("*2\r\n$%d\r\n%s\r\n:1\r\n", len(big), big)
	for range 2 {
		if got := sb.AppendRow(nil, false); string(got) != want {
			t.Fatalf("big row: len %d, want %d", len(got), len(want))
		}
	}
	if got := string(st.AppendRow(nil, false)); got != want2 {
		t.Errorf("after big row: %q", got)
	}
}

// longQuery runs until interrupted.
const longQuery = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"

func TestDeadline(t *testing.T) {
	c := openMem(t)
	st := mustPrepare(t, c, longQuery)
	start := time.Now()
	c.SetDeadline(start.Add(50 * time.Millisecond))
	row, err := st.Step()
	elapsed := time.Since(start)
	if row || !IsCode(err, ErrInterrupt) {
		t.Fatalf("row=%v err=%v", row, err)
	}
	if !c.DeadlineExceeded() {
		t.Fatal("DeadlineExceeded false")
	}
	if elapsed < 50*time.Millisecond || elapsed > 150*time.Millisecond {
		t.Fatalf("interrupted after %v", elapsed)
	}
	t.Logf("interrupted after %v", elapsed)
	if err := st.Reset(); !IsCode(err, ErrInterrupt) {
		t.Fatalf("Reset: %v", err)
	}

	// Clearing the deadline resets the flag and lets statements run.
	c.SetDeadline(time.Time{})
	if c.DeadlineExceeded() {
		t.Fatal("flag not reset")
	}
	st2 := queryRow(t, c, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<100000) SELECT count(*) FROM c")
	if st2.ColumnInt64(0) != 100000 {
		t.Fatal(st2.ColumnInt64(0))
	}

	// A far deadline does not interrupt.
	c.SetDeadline(time.Now().Add(time.Hour))
	if err := st2.Reset(); err != nil {
		t.Fatal(err)
	}
	if row, err := st2.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	c.SetDeadline(time.Now().AddDate(1000, 0, 0)) // overflow clamp
	if err := st2.Reset(); err != nil {
		t.Fatal(err)
	}
	if row, err := st2.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	c.SetDeadline(time.Time{})
}

func TestInterrupt(t *testing.T) {
	c := openMem(t)
	st := mustPrepare(t, c, longQuery)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(30 * time.Millisecond)
		for {
			c.Interrupt()
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	row, err := st.Step()
	close(done)
	wg.Wait()
	if row || !IsCode(err, ErrInterrupt) {
		t.Fatalf("row=%v err=%v", row, err)
	}
	if c.DeadlineExceeded() {
		t.Fatal("DeadlineExceeded after Interrupt")
	}
	var e *Error
	if errors.As(err, &e); e.Msg != "interrupted" {
		t.Fatalf("message %q", e.Msg)
	}
	// The connection works afterwards.
	st.Reset()
	if v := queryRow(t, c, "SELECT 7").ColumnInt64(0); v != 7 {
		t.Fatal(v)
	}
}

func TestInterruptConcurrentWithClose(t *testing.T) {
	for range 20 {
		c, err := Open(":memory:")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Interrupt()
			}
		}()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
}

func TestSandbox(t *testing.T) {
	c := openMem(t)
	c.EnableSandbox()
	mustExec(t, c, "CREATE TABLE t(a)")
	cases := []struct{ sql, why string }{
		{"ATTACH 'x' AS y", "ATTACH is not allowed"},
		{"DETACH main", "DETACH is not allowed"},
		{"SELECT load_extension('x')", "load_extension() is not allowed"},
		{"SELECT LOAD_EXTENSION('x', 'y')", "load_extension() is not allowed"},
		{"PRAGMA writable_schema=ON", "PRAGMA writable_schema is not allowed"},
		{"PRAGMA main.writable_schema=RESET", "PRAGMA writable_schema is not allowed"},
		{"PRAGMA journal_mode=DELETE", "PRAGMA journal_mode cannot be changed (the database keeps its journal in memory)"},
		{"PRAGMA journal_mode='wal'", "PRAGMA journal_mode cannot be changed (the database keeps its journal in memory)"},
		{"PRAGMA locking_mode=EXCLUSIVE", "PRAGMA locking_mode cannot be changed"},
		{"PRAGMA temp_store_directory='/tmp'", "PRAGMA temp_store_directory is not allowed"},
		{"PRAGMA data_store_directory='/tmp'", "PRAGMA data_store_directory is not allowed"},
	}
	for _, tc := range cases {
		st, _, err := c.Prepare([]byte(tc.sql))
		if st != nil || !IsCode(err, ErrAuth) {
			t.Errorf("%s: st=%v err=%v", tc.sql, st, err)
			continue
		}
		if got := c.LastDenial(); got != tc.why {
			t.Errorf("%s: LastDenial %q, want %q", tc.sql, got, tc.why)
		}
		// Exec goes through the same authorizer.
		if err := c.Exec(tc.sql); !IsCode(err, ErrAuth) {
			t.Errorf("Exec %s: %v", tc.sql, err)
		}
	}

	// Allowed: reading these pragmas, the permitted values, ordinary SQL.
	for _, sql := range []string{
		"PRAGMA journal_mode", "PRAGMA journal_mode=MEMORY", "PRAGMA journal_mode = 'memory'",
		"PRAGMA locking_mode", "PRAGMA locking_mode=normal", "PRAGMA writable_schema",
		"PRAGMA temp_store_directory", "SELECT * FROM t", "PRAGMA user_version=1", "SELECT abs(-1)",
	} {
		st, _, err := c.Prepare([]byte(sql))
		if err != nil {
			t.Errorf("%s: %v (denial %q)", sql, err, c.LastDenial())
			continue
		}
		if c.LastDenial() != "" {
			t.Errorf("%s: LastDenial %q", sql, c.LastDenial())
		}
		st.Finalize()
	}

	// Plain VACUUM attaches a temporary database ('') internally and stays
	// allowed; VACUUM INTO a file is an ATTACH of that file.
	mustExec(t, c, "VACUUM")
	if err := c.Exec("VACUUM INTO '/nonexistent/x.db'"); !IsCode(err, ErrAuth) || c.LastDenial() != "ATTACH is not allowed" {
		t.Errorf("VACUUM INTO: %v (%q)", err, c.LastDenial())
	}
	if err := c.Exec("ATTACH 'a' || 'b' AS y"); !IsCode(err, ErrAuth) {
		t.Errorf("ATTACH of an expression: %v", err)
	}

	// The next Prepare clears the denial.
	c.Prepare([]byte("ATTACH 'x' AS y"))
	if c.LastDenial() == "" {
		t.Fatal("no denial")
	}
	mustPrepare(t, c, "SELECT 1")
	if c.LastDenial() != "" {
		t.Fatal("denial not cleared by Prepare")
	}

	// Trusted statements bypass the sandbox.
	c.SetTrusted(true)
	for _, sql := range []string{"PRAGMA writable_schema=ON", "PRAGMA writable_schema=OFF", "ATTACH ':memory:' AS aux", "DETACH aux"} {
		if err := c.Exec(sql); err != nil {
			t.Errorf("trusted %s: %v", sql, err)
		}
	}
	c.SetTrusted(false)
	if err := c.Exec("ATTACH ':memory:' AS aux"); !IsCode(err, ErrAuth) {
		t.Fatalf("untrusted again: %v", err)
	}
}

func TestCreateFunction(t *testing.T) {
	c := openMem(t)
	var got [][]Value
	err := c.CreateFunction("echo", -1, true, func(args []Value) (Value, error) {
		got = append(got, args)
		if len(args) == 0 {
			return Value{}, nil
		}
		return args[0], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st := queryRow(t, c, "SELECT echo(1, 2.5, 'txt', x'00ff', NULL, '', x''), echo(2.5), echo('txt'), echo(x'00ff'), "+
		"echo(NULL), echo(''), echo(x''), echo(), typeof(echo('')), typeof(echo(x''))")
	if len(got) != 10 || len(got[0]) != 7 {
		t.Fatalf("calls %v", got)
	}
	a := got[0]
	if a[0].Type != TypeInteger || a[0].Int != 1 || a[1].Type != TypeFloat || a[1].Float != 2.5 ||
		a[2].Type != TypeText || string(a[2].Bytes) != "txt" || a[3].Type != TypeBlob ||
		!bytes.Equal(a[3].Bytes, []byte{0, 0xff}) || a[4].Type != TypeNull ||
		a[5].Type != TypeText || a[5].Bytes == nil || len(a[5].Bytes) != 0 ||
		a[6].Type != TypeBlob || len(a[6].Bytes) != 0 {
		t.Fatalf("args %#v", a)
	}
	row := string(st.AppendRow(nil, true))
	if err := st.Reset(); err != nil { // no active statement, so "fail" can be redefined below
		t.Fatal(err)
	}
	want := "*10\r\n:1\r\n,2.5\r\n$3\r\ntxt\r\n$2\r\n\x00\xff\r\n_\r\n$0\r\n\r\n$0\r\n\r\n_\r\n$4\r\ntext\r\n$4\r\nblob\r\n"
	if row != want {
		t.Fatalf("results:\n got %q\nwant %q", row, want)
	}

	// Errors and panics become the statement's error.
	if err := c.CreateFunction("fail", 1, false, func(args []Value) (Value, error) {
		return Value{}, fmt.Errorf("bad input %s", args[0].Bytes)
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateFunction("boom", 0, false, func([]Value) (Value, error) {
		panic("kaboom")
	}); err != nil {
		t.Fatal(err)
	}
	for sql, msg := range map[string]string{
		"SELECT fail('x')": "bad input x",
		"SELECT boom()":    "panic in SQL function: kaboom",
	} {
		st := mustPrepare(t, c, sql)
		_, err := st.Step()
		var e *Error
		if !errors.As(err, &e) || e.Code != ErrError || e.Msg != msg {
			t.Errorf("%s: %#v", sql, err)
		}
	}
	// Wrong argument count is a prepare error.
	if _, _, err := c.Prepare([]byte("SELECT fail()")); err == nil ||
		!strings.Contains(err.Error(), "wrong number of arguments") {
		t.Errorf("arity: %v", err)
	}
	// Redefining replaces (and frees) the old function.
	if err := c.CreateFunction("fail", 1, false, func(args []Value) (Value, error) {
		return Value{Type: TypeText, Bytes: []byte("ok")}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if v := queryRow(t, c, "SELECT fail(1)").ColumnText(0); v != "ok" {
		t.Fatal(v)
	}
	// An invalid definition fails with a wrapped error.
	if err := c.CreateFunction("x", -5, false, nil); err == nil || !strings.Contains(err.Error(), "create function x") {
		t.Fatalf("bad nArg: %v", err)
	}
}

type testModule struct {
	rows       [][]Value
	connects   atomic.Int32
	disconnect atomic.Int32
	lastArgs   []string
}

type testTable struct {
	m   *testModule
	err error
}

func (m *testModule) Connect(c *Conn, args []string) (string, VTable, error) {
	m.connects.Add(1)
	m.lastArgs = args
	if len(args) > 0 && args[0] == "fail" {
		return "", nil, errors.New("cannot connect to fail")
	}
	t := &testTable{m: m}
	if len(args) > 0 && args[0] == "scanfail" {
		t.err = errors.New("scan failed")
	}
	return "CREATE TABLE x(k TEXT, n INTEGER, f REAL, b BLOB)", t, nil
}

func (t *testTable) Rows() ([][]Value, error) { return t.m.rows, t.err }
func (t *testTable) Disconnect()              { t.m.disconnect.Add(1) }

func TestCreateModule(t *testing.T) {
	c := openMem(t)
	m := &testModule{rows: [][]Value{
		{{Type: TypeText, Bytes: []byte("a")}, {Type: TypeInteger, Int: 1}, {Type: TypeFloat, Float: 1.5}, {Type: TypeBlob, Bytes: []byte{0, 1}}},
		{{Type: TypeText, Bytes: []byte{}}, {Type: TypeInteger, Int: -2}, {}, {Type: TypeBlob, Bytes: []byte{}}},
		{{Type: TypeText, Bytes: []byte("short row")}},
	}}
	if err := c.CreateModule("redis", m); err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "CREATE VIRTUAL TABLE v USING redis(mykey, 'two')")
	if fmt.Sprint(m.lastArgs) != "[mykey 'two']" {
		t.Fatalf("args %q", m.lastArgs)
	}
	st := mustPrepare(t, c, "SELECT rowid, k, n, f, b, typeof(k), typeof(b) FROM v")
	var out []byte
	for {
		row, err := st.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !row {
			break
		}
		out = st.AppendRow(out, false)
	}
	want := "*7\r\n:0\r\n$1\r\na\r\n:1\r\n$3\r\n1.5\r\n$2\r\n\x00\x01\r\n$4\r\ntext\r\n$4\r\nblob\r\n" +
		"*7\r\n:1\r\n$0\r\n\r\n:-2\r\n$-1\r\n$0\r\n\r\n$4\r\ntext\r\n$4\r\nblob\r\n" +
		"*7\r\n:2\r\n$9\r\nshort row\r\n$-1\r\n$-1\r\n$-1\r\n$4\r\ntext\r\n$4\r\nnull\r\n"
	if string(out) != want {
		t.Fatalf("rows:\n got %q\nwant %q", out, want)
	}
	// Re-filtering (a nested loop) and aggregates over the scan.
	if v := queryRow(t, c, "SELECT count(*), max(b.k) FROM v AS a, v AS b").ColumnText(1); v != "short row" {
		t.Fatalf("join max %q", v)
	}
	if n := queryRow(t, c, "SELECT count(*) FROM v WHERE n > 0").ColumnInt64(0); n != 1 {
		t.Fatalf("filtered count %d", n)
	}

	// Writes are refused by SQLite itself.
	for _, sql := range []string{"INSERT INTO v(k) VALUES('x')", "DELETE FROM v", "UPDATE v SET n=1"} {
		err := c.Exec(sql)
		if err == nil || err.Error() != "table v may not be modified" {
			t.Errorf("%s: %v", sql, err)
		}
	}

	// Connect and scan errors reach the statement.
	err := c.Exec("CREATE VIRTUAL TABLE bad USING redis(fail)")
	if err == nil || !strings.Contains(err.Error(), "cannot connect to fail") {
		t.Errorf("connect error: %v", err)
	}
	mustExec(t, c, "CREATE VIRTUAL TABLE sf USING redis(scanfail)")
	if err := c.Exec("SELECT * FROM sf"); err == nil || !strings.Contains(err.Error(), "scan failed") {
		t.Errorf("scan error: %v", err)
	}
	// Not eponymous: the module name alone is no table.
	if err := c.Exec("SELECT * FROM redis"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("eponymous: %v", err)
	}

	before := m.disconnect.Load()
	mustExec(t, c, "DROP TABLE v")
	if m.disconnect.Load() != before+1 {
		t.Fatal("DROP did not disconnect")
	}
}

func TestLimitTooBig(t *testing.T) {
	c := openMem(t)
	old := c.SetLimit(LimitLength, 1000)
	if old <= 1000 {
		t.Fatalf("old limit %d", old)
	}
	if got := c.SetLimit(LimitLength, -1); got != 1000 {
		t.Fatalf("limit now %d", got)
	}
	st := mustPrepare(t, c, "SELECT zeroblob(2000)")
	if _, err := st.Step(); !IsCode(err, ErrTooBig) {
		t.Fatalf("zeroblob: %v", err)
	}
	st2 := mustPrepare(t, c, "SELECT length(?)")
	if err := st2.BindText(1, bytes.Repeat([]byte("a"), 2000)); !IsCode(err, ErrTooBig) {
		t.Fatalf("bind: %v", err)
	}
	st3 := mustPrepare(t, c, "SELECT printf('%.*c', 2000, 'x')")
	if _, err := st3.Step(); !IsCode(err, ErrTooBig) {
		t.Fatalf("printf: %v", err)
	}
}

func TestDBConfig(t *testing.T) {
	c := openMem(t)
	for _, op := range []int{DBConfigDefensive, DBConfigEnableLoadExtension, DBConfigTrustedSchema} {
		if err := c.SetDBConfig(op, 0); err != nil {
			t.Errorf("op %d: %v", op, err)
		}
	}
	if err := c.SetDBConfig(DBConfigDefensive, 1); err != nil {
		t.Fatal(err)
	}
	// Defensive mode refuses writable_schema even without the sandbox.
	mustExec(t, c, "PRAGMA writable_schema=ON")
	mustExec(t, c, "CREATE TABLE t(a)")
	if err := c.Exec("UPDATE sqlite_schema SET sql='x'"); err == nil {
		t.Fatal("defensive mode allowed a schema write")
	}
	if err := c.SetDBConfig(99999, 1); err == nil || !strings.Contains(err.Error(), "db_config option 99999") {
		t.Fatalf("unknown op: %v", err)
	}
}

func TestChanges(t *testing.T) {
	c := openMem(t)
	if !c.AutoCommit() {
		t.Fatal("not autocommit")
	}
	mustExec(t, c, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
	mustExec(t, c, "INSERT INTO t(v) VALUES(1),(2),(3)")
	if c.Changes() != 3 || c.LastInsertRowID() != 3 || c.TotalChanges() != 3 {
		t.Fatalf("changes %d last %d total %d", c.Changes(), c.LastInsertRowID(), c.TotalChanges())
	}
	mustExec(t, c, "BEGIN")
	if c.AutoCommit() {
		t.Fatal("autocommit inside BEGIN")
	}
	mustExec(t, c, "UPDATE t SET v=v+1 WHERE id<3")
	if c.Changes() != 2 || c.TotalChanges() != 5 {
		t.Fatalf("changes %d total %d", c.Changes(), c.TotalChanges())
	}
	mustExec(t, c, "COMMIT")
	if !c.AutoCommit() {
		t.Fatal("not autocommit after COMMIT")
	}
	err := c.Exec("INSERT INTO t(id, v) VALUES(1, 0)")
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrConstraint || e.ExtendedCode != ErrConstraintPrimaryKey ||
		!IsCode(err, ErrConstraintPrimaryKey) {
		t.Fatalf("constraint: %#v", err)
	}
}

var (
	vfsOnce sync.Once
	testVFS *vfs.VFS
	vfsErr  error
)

func TestThredisVFS(t *testing.T) {
	vfsOnce.Do(func() { testVFS, vfsErr = vfs.Register("thredis-sqlite-test") })
	if vfsErr != nil {
		t.Fatal(vfsErr)
	}
	store := vfs.NewMemStore()
	if _, err := testVFS.Attach("x", store, vfs.Options{}); err != nil {
		t.Fatal(err)
	}
	// Runs last, after the connections are closed (so -count=N works).
	t.Cleanup(func() {
		if err := testVFS.Detach("x"); err != nil {
			t.Error(err)
		}
	})
	c, err := Open("file:x?vfs=thredis-sqlite-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustExec(t, c, "PRAGMA journal_mode=MEMORY")
	mustExec(t, c, "CREATE TABLE kv(k TEXT PRIMARY KEY, v)")
	st := mustPrepare(t, c, "INSERT INTO kv VALUES(?, ?)")
	for i := range 100 {
		st.BindText(1, fmt.Appendf(nil, "k%03d", i))
		st.BindInt64(2, int64(i*i))
		if _, err := st.Step(); err != nil {
			t.Fatal(err)
		}
		if err := st.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	q := queryRow(t, c, "SELECT count(*), sum(v), max(k) FROM kv")
	if got := string(q.AppendRow(nil, false)); got != "*3\r\n:100\r\n:328350\r\n$4\r\nk099\r\n" {
		t.Fatalf("row %q", got)
	}
	q.Finalize()
	// A second connection sees the committed data through the store.
	c2, err := Open("file:x?vfs=thredis-sqlite-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if n := queryRow(t, c2, "SELECT count(*) FROM kv").ColumnInt64(0); n != 100 {
		t.Fatalf("second connection sees %d rows", n)
	}
}

func BenchmarkPointSelect(b *testing.B) {
	c := openMem(b)
	mustExec(b, c, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, n INTEGER)")
	mustExec(b, c, "BEGIN")
	ins := mustPrepare(b, c, "INSERT INTO t VALUES(?, ?, ?, ?)")
	for i := range 10000 {
		ins.BindInt64(1, int64(i))
		ins.BindText(2, fmt.Appendf(nil, "user-%d", i))
		ins.BindFloat(3, float64(i)/3)
		ins.BindInt64(4, int64(i*7))
		if _, err := ins.Step(); err != nil {
			b.Fatal(err)
		}
		ins.Reset()
	}
	mustExec(b, c, "COMMIT")
	st := mustPrepare(b, c, "SELECT id, name, score, n FROM t WHERE id = ?")
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := st.BindInt64(1, int64(i%10000)); err != nil {
			b.Fatal(err)
		}
		row, err := st.Step()
		if err != nil || !row {
			b.Fatal(row, err)
		}
		dst = st.AppendRow(dst[:0], false)
		if err := st.Reset(); err != nil {
			b.Fatal(err)
		}
	}
	if len(dst) == 0 {
		b.Fatal("no output")
	}
}
