package server

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/keyspace"
)

// Integration tests of the SQL commands (SQL, SQL.EXEC, SQL.QUERY) through
// a real listening server. Most use raw connections: a SQL session belongs
// to one connection, and byte-exact replies are part of the contract.

const sqlKey = "_sql:redis_db"

// respErr is an error reply parsed by parseRESP.
type respErr string

// parseRESP decodes one RESP2/RESP3 reply from s: string (simple or bulk),
// int64, float64 (RESP3 double), nil, respErr, []any (arrays, sets, maps
// flattened), and returns the rest of s.
func parseRESP(t testing.TB, s string) (any, string) {
	t.Helper()
	i := strings.Index(s, "\r\n")
	if i < 1 {
		t.Fatalf("malformed reply %q", s)
	}
	line, rest := s[1:i], s[i+2:]
	switch s[0] {
	case '+':
		return line, rest
	case '-':
		return respErr(line), rest
	case ':':
		n, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			t.Fatalf("bad integer reply %q", s)
		}
		return n, rest
	case ',':
		f, err := strconv.ParseFloat(line, 64)
		if err != nil {
			t.Fatalf("bad double reply %q", s)
		}
		return f, rest
	case '_':
		return nil, rest
	case '$', '=':
		n := atoiT(t, line)
		if n < 0 {
			return nil, rest
		}
		return rest[:n], rest[n+2:]
	case '*', '~', '%', '>':
		n := atoiT(t, line)
		if n < 0 {
			return nil, rest
		}
		if s[0] == '%' {
			n *= 2
		}
		out := make([]any, n)
		for k := range out {
			out[k], rest = parseRESP(t, rest)
		}
		return out, rest
	}
	t.Fatalf("unknown reply type %q", s)
	return nil, ""
}

// q sends a command on r and returns the parsed reply.
func q(t testing.TB, r *rawConn, args ...string) any {
	t.Helper()
	v, rest := parseRESP(t, r.do(args...))
	if rest != "" {
		t.Fatalf("%q: trailing reply bytes %q", args, rest)
	}
	return v
}

// sqlRows runs a SQL command that must return rows and returns them
// (without the header).
func sqlRows(t testing.TB, r *rawConn, args ...string) [][]any {
	t.Helper()
	v := q(t, r, args...)
	arr, ok := v.([]any)
	if !ok || len(arr) < 1 {
		t.Fatalf("%q: want a rows reply, got %#v", args, v)
	}
	rows := make([][]any, 0, len(arr)-1)
	for _, row := range arr[1:] {
		rows = append(rows, row.([]any))
	}
	return rows
}

// sqlOne runs a SQL command returning exactly one row of one column.
func sqlOne(t testing.TB, r *rawConn, args ...string) any {
	t.Helper()
	rows := sqlRows(t, r, args...)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%q: want one value, got %#v", args, rows)
	}
	return rows[0][0]
}

// sqlCount runs SELECT count(*) FROM table through SQL.EXEC key.
func sqlCount(t testing.TB, r *rawConn, key, table string) int64 {
	t.Helper()
	v := sqlOne(t, r, "SQL.EXEC", key, "SELECT count(*) FROM "+table)
	n, ok := v.(int64)
	if !ok {
		t.Fatalf("count(*) of %s: %#v", table, v)
	}
	return n
}

// mustReply sends args and checks the exact reply.
func mustReply(t *testing.T, r *rawConn, want string, args ...string) {
	t.Helper()
	expectRaw(t, r, want, args...)
}

// hashSnap returns a deep copy of the hash at key in database db (nil
// when the key does not exist), read under the execution lock.
func hashSnap(ts *testServer, db int, key string) map[string]string {
	var out map[string]string
	ts.Exec(func(ks *keyspace.Keyspace) {
		h, err := ks.DB(db).Hash([]byte(key))
		if err != nil || h == nil {
			return
		}
		out = make(map[string]string, h.Len())
		h.Range(func(f, v string) bool {
			out[strings.Clone(f)] = strings.Clone(v)
			return true
		})
	})
	return out
}

// sameHash compares two snapshots and describes the first difference.
func sameHash(a, b map[string]string) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d fields vs %d", len(a), len(b))
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return len(keys[i]) < len(keys[j]) || len(keys[i]) == len(keys[j]) && keys[i] < keys[j]
	})
	for _, k := range keys {
		v, ok := b[k]
		if !ok {
			return "field " + k + " missing"
		}
		if v != a[k] {
			return "page " + k + " differs"
		}
	}
	return ""
}

// infoSQL returns the fields of INFO sql.
func infoSQL(t testing.TB, r *rawConn) map[string]string {
	t.Helper()
	v := q(t, r, "INFO", "sql")
	s, ok := v.(string)
	if !ok {
		t.Fatalf("INFO sql: %#v", v)
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok {
			out[k] = val
		}
	}
	return out
}

func sqlInfoInt(t testing.TB, m map[string]string, field string) int64 {
	t.Helper()
	v, ok := m[field]
	if !ok {
		t.Fatalf("INFO sql has no %s: %v", field, m)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("INFO sql %s=%q", field, v)
	}
	return n
}

// clientID returns the server's id of the raw connection.
func clientID(t testing.TB, r *rawConn) string {
	t.Helper()
	return strconv.FormatInt(q(t, r, "CLIENT", "ID").(int64), 10)
}

// sqlEntries returns the recorded entries rendered with pages elided:
// "HSET key <n pages>" / "HDEL key <n>"; other ops in full.
func sqlEntries(rec *cmdlog.Recorder) []string {
	var out []string
	for _, e := range rec.Entries() {
		var ops []string
		for _, op := range e.Ops {
			switch strings.ToUpper(string(op.Argv[0])) {
			case "HSET":
				ops = append(ops, fmt.Sprintf("HSET %s <%d pages>", op.Argv[1], (len(op.Argv)-2)/2))
			case "HDEL":
				ops = append(ops, fmt.Sprintf("HDEL %s <%d>", op.Argv[1], len(op.Argv)-2))
			default:
				ops = append(ops, opLine(op, false))
			}
		}
		s := strings.Join(ops, " | ")
		if e.Atomic {
			s = "[" + s + "]"
		}
		out = append(out, s)
	}
	return out
}

// --- 1. the seed demo ---

func TestSQLSeedDemo(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE test (a int, b text)")
	mustReply(t, r, ":1\r\n", "SQL", "INSERT INTO test VALUES (?, ?)", "1", "hello")
	mustReply(t, r, "*2\r\n"+
		"*2\r\n*2\r\n$1\r\na\r\n$3\r\nINT\r\n*2\r\n$1\r\nb\r\n$4\r\nTEXT\r\n"+
		"*2\r\n:1\r\n$5\r\nhello\r\n",
		"SQL", "SELECT * FROM test")
	mustReply(t, r, "+hash\r\n", "TYPE", sqlKey)
	pc := sqlOne(t, r, "SQL", "PRAGMA page_count").(int64)
	if pc < 2 {
		t.Fatalf("page_count %d", pc)
	}
	mustReply(t, r, ":"+strconv.FormatInt(pc, 10)+"\r\n", "HLEN", sqlKey)
	page0 := q(t, r, "HGET", sqlKey, "0").(string)
	if !strings.HasPrefix(page0, "SQLite format 3\x00") || len(page0) != 4096 {
		t.Fatalf("page 0: %d bytes, starts %q", len(page0), page0[:min(len(page0), 20)])
	}
	// The fields are the pages' byte offsets.
	keys := q(t, r, "HKEYS", sqlKey).([]any)
	var offs []string
	for _, k := range keys {
		offs = append(offs, k.(string))
	}
	sort.Slice(offs, func(i, j int) bool {
		return len(offs[i]) < len(offs[j]) || len(offs[i]) == len(offs[j]) && offs[i] < offs[j]
	})
	for i, o := range offs {
		if o != strconv.Itoa(i*4096) {
			t.Fatalf("page fields %v", offs)
		}
	}
}

// The demo through go-redis (RESP3 handshake, pooled connections).
func TestSQLSeedDemoGoRedis(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	if n, err := rdb.Do(ctx, "SQL", "CREATE TABLE test (a int, b text)").Int64(); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	if n, err := rdb.Do(ctx, "SQL", "INSERT INTO test VALUES (?, ?)", 1, "hello").Int64(); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	v, err := rdb.Do(ctx, "SQL", "SELECT *, 2.5, NULL FROM test").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%#v", v); got != `[]interface {}{[]interface {}{[]interface {}{"a", "INT"}, []interface {}{"b", "TEXT"}, []interface {}{"2.5", interface {}(nil)}, []interface {}{"NULL", interface {}(nil)}}, []interface {}{1, "hello", 2.5, interface {}(nil)}}` {
		t.Errorf("go-redis reply %s", got)
	}
	_, err = rdb.Do(ctx, "SQL", "SELECT * FROM nope").Result()
	if err == nil || err.Error() != "ERR SQL error: no such table: nope" {
		t.Errorf("go-redis error %v", err)
	}
	if typ, err := rdb.Type(ctx, sqlKey).Result(); err != nil || typ != "hash" {
		t.Error(typ, err)
	}
}

// sql-page-size applies to new databases; an existing database keeps the
// page size it was created with.
func TestSQLPageSize(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "sql-page-size", "8192")
	mustReply(t, r, ":0\r\n", "SQL.EXEC", "big", "CREATE TABLE x (y)")
	mustReply(t, r, ":1\r\n", "SQL.EXEC", "big", "INSERT INTO x VALUES (1)")
	mustReply(t, r, ":8192\r\n", "HSTRLEN", "big", "0")
	mustReply(t, r, ":8192\r\n", "HSTRLEN", "big", "8192")
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "sql-page-size", "4096")
	mustReply(t, r, ":1\r\n", "COPY", "big", "big2")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$9\r\npage_size\r\n$-1\r\n*1\r\n:8192\r\n", "SQL.EXEC", "big2", "PRAGMA page_size")
	mustReply(t, r, ":1\r\n", "SQL.EXEC", "big2", "INSERT INTO x VALUES (2)")
	mustReply(t, r, "-ERR SQL error: page_size cannot be changed: this database uses 8192\r\n", "SQL.EXEC", "big2", "PRAGMA page_size=4096")
	mustReply(t, r, ":0\r\n", "SQL.EXEC", "small", "CREATE TABLE x (y)")
	mustReply(t, r, ":4096\r\n", "HSTRLEN", "small", "0")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:2\r\n", "SQL.EXEC", "big2", "SELECT count(*) FROM x")
}

// --- 2. reply encoding ---

func TestSQLReplyEncodingRESP2(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n)")
	bin := "a\x00b\r\nc\xff"
	mustReply(t, r, ":1\r\n", "SQL", "INSERT INTO v VALUES (?, 1.5, ?, CAST(? AS BLOB), NULL)", "-42", bin, bin+"\x00")
	blen := strconv.Itoa(len(bin))
	mustReply(t, r, "*2\r\n"+
		"*7\r\n"+
		"*2\r\n$1\r\ni\r\n$7\r\nINTEGER\r\n"+
		"*2\r\n$1\r\nr\r\n$4\r\nREAL\r\n"+
		"*2\r\n$1\r\nt\r\n$4\r\nTEXT\r\n"+
		"*2\r\n$1\r\nb\r\n$4\r\nBLOB\r\n"+
		"*2\r\n$1\r\nn\r\n$-1\r\n"+ // no declared type
		"*2\r\n$9\r\ntypeof(b)\r\n$-1\r\n"+ // expressions: nil
		"*2\r\n$4\r\nexpr\r\n$-1\r\n"+
		"*7\r\n:-42\r\n$3\r\n1.5\r\n$"+blen+"\r\n"+bin+"\r\n$"+strconv.Itoa(len(bin)+1)+"\r\n"+bin+"\x00\r\n$-1\r\n$4\r\nblob\r\n:-84\r\n",
		"SQL", "SELECT i, r, t, b, n, typeof(b), i*2 AS expr FROM v")
	// The header is sent for zero rows.
	mustReply(t, r, "*1\r\n*2\r\n*2\r\n$1\r\ni\r\n$7\r\nINTEGER\r\n*2\r\n$1\r\nt\r\n$4\r\nTEXT\r\n",
		"SQL", "SELECT i, t FROM v WHERE 0")
	// REAL is SQLite's own text form of the value.
	row := sqlRows(t, r, "SQL", "SELECT 0.1, CAST(0.1 AS TEXT), 2.0, CAST(2.0 AS TEXT), 1e300, CAST(1e300 AS TEXT), -0.5e-7, CAST(-0.5e-7 AS TEXT)")[0]
	for i := 0; i < len(row); i += 2 {
		if row[i] != row[i+1] {
			t.Errorf("REAL %d: %q, SQLite's text %q", i/2, row[i], row[i+1])
		}
	}
	if row[2] != "2.0" || row[4] != "1.0e+300" {
		t.Errorf("REAL text forms %q", row)
	}
	// Statements without result columns reply with the changed rows.
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE u (x)")
	mustReply(t, r, ":3\r\n", "SQL", "INSERT INTO u VALUES (1), (2), (3)")
	mustReply(t, r, ":2\r\n", "SQL", "UPDATE u SET x = x + 10 WHERE x >= 2")
	// DDL after DML: 0, not the previous statement's count.
	mustReply(t, r, ":0\r\n", "SQL", "CREATE INDEX ux ON u (x)")
	mustReply(t, r, ":0\r\n", "SQL", "DELETE FROM u WHERE x > 100")
	mustReply(t, r, ":3\r\n", "SQL", "DELETE FROM u")
}

func TestSQLReplyEncodingRESP3(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	if _, ok := q(t, r, "HELLO", "3").([]any); !ok {
		t.Fatal("HELLO 3 failed")
	}
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE v (i INT, r REAL, t TEXT)")
	mustReply(t, r, ":1\r\n", "SQL", "INSERT INTO v VALUES (7, 1.5, NULL)")
	mustReply(t, r, "*2\r\n"+
		"*4\r\n*2\r\n$1\r\ni\r\n$3\r\nINT\r\n*2\r\n$1\r\nr\r\n$4\r\nREAL\r\n*2\r\n$1\r\nt\r\n$4\r\nTEXT\r\n*2\r\n$1\r\nx\r\n_\r\n"+
		"*4\r\n:7\r\n,1.5\r\n_\r\n$2\r\n\x00\n\r\n",
		"SQL", "SELECT i, r, t, x'000a' AS x FROM v")
	// Doubles parse back to the stored value.
	if v := sqlOne(t, r, "SQL", "SELECT 0.1"); v != 0.1 {
		t.Errorf("RESP3 double %#v", v)
	}
}

func TestSQLScriptsAndAutocommit(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE s (x INTEGER PRIMARY KEY)")
	// The reply is the last statement's.
	mustReply(t, a, "*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:2\r\n", "SQL",
		"INSERT INTO s VALUES (1); INSERT INTO s VALUES (2); SELECT count(*) FROM s")
	mustReply(t, a, ":2\r\n", "SQL", "SELECT 1; UPDATE s SET x = x + 100 -- a comment")
	mustReply(t, a, ":2\r\n", "SQL", "DELETE FROM s WHERE x > 100 ; ; ")
	mustReply(t, a, "-ERR SQL error: no statement to run\r\n", "SQL", " -- nothing ")

	// A failing statement stops the script; without BEGIN the statements
	// before it are kept (each committed on its own), the ones after it
	// never run.
	mustReply(t, a, "-ERR SQL error: no such table: nope\r\n", "SQL",
		"INSERT INTO s VALUES (1); INSERT INTO nope VALUES (2); INSERT INTO s VALUES (3)")
	mustReply(t, a, "-ERR SQL error: UNIQUE constraint failed: s.x\r\n", "SQL",
		"INSERT INTO s VALUES (4); INSERT INTO s VALUES (1); INSERT INTO s VALUES (5)")
	if got := sqlRows(t, b, "SQL", "SELECT x FROM s ORDER BY x"); !slices.EqualFunc(got, [][]any{{int64(1)}, {int64(4)}}, slices.Equal) {
		t.Fatalf("after failing scripts: %v", got)
	}

	// Inside a transaction the user opened, the earlier statements stay
	// pending (visible to this client only) until it commits or rolls
	// back; the failure does not end the transaction.
	mustReply(t, a, "-ERR SQL error: no such table: nope\r\n", "SQL",
		"BEGIN; INSERT INTO s VALUES (10); INSERT INTO nope VALUES (2); INSERT INTO s VALUES (11)")
	mustReply(t, a, ":0\r\n", "SQL", "SELECT 1 WHERE 0; INSERT INTO s SELECT 12 WHERE 0") // still inside
	if n := sqlCount(t, a, sqlKey, "s WHERE x = 10"); n != 1 {
		t.Fatalf("own pending row: %d", n)
	}
	if n := sqlCount(t, b, sqlKey, "s WHERE x = 10"); n != 0 {
		t.Fatalf("other client sees a pending row")
	}
	mustReply(t, a, ":0\r\n", "SQL", "ROLLBACK")
	if n := sqlCount(t, b, sqlKey, "s"); n != 2 {
		t.Fatalf("after rollback %d rows", n)
	}
	// A script holding a whole transaction commits it.
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN; INSERT INTO s VALUES (20); INSERT INTO s VALUES (21); COMMIT")
	if n := sqlCount(t, b, sqlKey, "s"); n != 4 {
		t.Fatalf("after committed script %d rows", n)
	}
}

func TestSQLParameters(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	params := []string{"7", "-7", "0", "9223372036854775807", "-9223372036854775808",
		"007", "1.5", "+1", " 1", "1 ", "-0", "9223372036854775808", "", "0x10", ":NULL", ":null"}
	want := []any{"integer", "integer", "integer", "integer", "integer",
		"text", "text", "text", "text", "text", "text", "text", "text", "text", "null", "text"}
	var sel []string
	for range params {
		sel = append(sel, "typeof(?)")
	}
	row := sqlRows(t, r, append([]string{"SQL", "SELECT " + strings.Join(sel, ", ")}, params...)...)[0]
	for i := range params {
		if row[i] != want[i] {
			t.Errorf("parameter %q bound as %v, want %v", params[i], row[i], want[i])
		}
	}
	// Values come back unchanged.
	row = sqlRows(t, r, "SQL", "SELECT ?, ?, ?, ?, ?", "007", "-12", "1.5", ":NULL", "a\x00\r\nb")[0]
	if !slices.Equal(row, []any{"007", int64(-12), "1.5", nil, "a\x00\r\nb"}) {
		t.Errorf("round trip %#v", row)
	}
	// Numbered parameters, and parameters spread over a script.
	row = sqlRows(t, r, "SQL", "SELECT ?2, ?1, ?2", "a", "b")[0]
	if !slices.Equal(row, []any{"b", "a", "b"}) {
		t.Errorf("?N: %#v", row)
	}
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE p (x, y)")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:1\r\n", "SQL",
		"INSERT INTO p VALUES (?, ?); SELECT count(*) FROM p WHERE x = ?", "1", "2", "1")
	// Too few and too many values.
	mustReply(t, r, "-ERR SQL error: the statement has 2 parameters but 1 values are left\r\n", "SQL", "SELECT ?, ?", "1")
	mustReply(t, r, "-ERR SQL error: 1 parameter values were not used by any statement\r\n", "SQL", "SELECT ?", "1", "2")
	mustReply(t, r, "-ERR SQL error: 2 parameter values were not used by any statement\r\n", "SQL", "SELECT 1", "1", "2")
	// Too few in the second statement of a script: the first ran.
	mustReply(t, r, "-ERR SQL error: the statement has 1 parameters but 0 values are left\r\n", "SQL",
		"INSERT INTO p VALUES (?, 0); INSERT INTO p VALUES (?, 1)", "5")
	if n := sqlCount(t, r, sqlKey, "p"); n != 2 {
		t.Errorf("rows after a script short of parameters: %d", n)
	}
}

// --- 3. errors, explicit keys, SQL.QUERY, sql-default-key ---

func TestSQLErrors(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, "-ERR SQL error: no such table: nope\r\n", "SQL", "SELECT * FROM nope")
	mustReply(t, r, "-ERR SQL error: near \"SELEC\": syntax error\r\n", "SQL", "SELEC 1")
	mustReply(t, r, "-ERR wrong number of arguments for 'sql' command\r\n", "SQL")
	mustReply(t, r, "-ERR wrong number of arguments for 'sql.exec' command\r\n", "SQL.EXEC", "k")
	mustReply(t, r, "-ERR wrong number of arguments for 'sql.query' command\r\n", "SQL.QUERY", "k")
	// The key holds a string.
	mustReply(t, r, "+OK\r\n", "SET", "str", "v")
	mustReply(t, r, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "SQL.EXEC", "str", "SELECT 1")
	mustReply(t, r, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "SQL.QUERY", "str", "SELECT 1")
	mustReply(t, r, "+OK\r\n", "SET", sqlKey, "v")
	mustReply(t, r, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "SQL", "SELECT 1")
	mustReply(t, r, "$1\r\nv\r\n", "GET", sqlKey)
	// A hash that is not a database.
	mustReply(t, r, ":1\r\n", "HSET", "h", "f", "v")
	if got := r.do("SQL.EXEC", "h", "SELECT 1"); !strings.HasPrefix(got, "-ERR key does not hold a SQL database") {
		t.Errorf("SQL on a plain hash: %q", got)
	}
	mustReply(t, r, "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "HGETALL", "h")

	// A key that held a database and now holds a string.
	mustReply(t, r, ":1\r\n", "DEL", sqlKey)
	mustReply(t, r, ":0\r\n", "SQL.EXEC", "db2", "CREATE TABLE t (x)")
	mustReply(t, r, ":1\r\n", "DEL", "db2")
	mustReply(t, r, "+OK\r\n", "SET", "db2", "v")
	mustReply(t, r, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "SQL.EXEC", "db2", "SELECT 1")
	mustReply(t, r, ":1\r\n", "DEL", "db2")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$1\r\n1\r\n$-1\r\n*1\r\n:1\r\n", "SQL.EXEC", "db2", "SELECT 1")
}

func TestSQLExplicitKeysAndQuery(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, r, ":1\r\n", "SQL", "INSERT INTO t VALUES ('default')")
	mustReply(t, r, ":0\r\n", "SQL.EXEC", "other", "CREATE TABLE t (x)")
	mustReply(t, r, ":2\r\n", "SQL.EXEC", "other", "INSERT INTO t VALUES ('o1'), ('o2')")
	mustReply(t, r, ":0\r\n", "SQL.EXEC", "other", "CREATE TABLE only_other (y)")
	if n := sqlCount(t, r, sqlKey, "t"); n != 1 {
		t.Errorf("default key: %d rows", n)
	}
	if n := sqlCount(t, r, "other", "t"); n != 2 {
		t.Errorf("other key: %d rows", n)
	}
	mustReply(t, r, "-ERR SQL error: no such table: only_other\r\n", "SQL", "SELECT * FROM only_other")
	mustReply(t, r, "+hash\r\n", "TYPE", "other")
	if page0 := q(t, r, "HGET", "other", "0").(string); !strings.HasPrefix(page0, "SQLite format 3\x00") {
		t.Error("other key holds no database")
	}

	// SQL.QUERY: reads only.
	const qo = "-ERR SQL.QUERY only runs read-only statements; use SQL.EXEC to write\r\n"
	before := hashSnap(ts, 0, "other")
	for _, stmt := range []string{
		"INSERT INTO t VALUES (1)", "UPDATE t SET x = 1", "DELETE FROM t", "CREATE TABLE z (a)",
		"DROP TABLE t", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE", "SELECT 1; INSERT INTO t VALUES (2)",
		"PRAGMA user_version = 5", "REPLACE INTO t VALUES (3)", "VACUUM",
	} {
		mustReply(t, r, qo, "SQL.QUERY", "other", stmt)
	}
	if d := sameHash(before, hashSnap(ts, 0, "other")); d != "" {
		t.Fatalf("SQL.QUERY changed the database: %s", d)
	}
	if n := sqlCount(t, r, "other", "t"); n != 2 {
		t.Errorf("other key after refused writes: %d rows", n)
	}
	mustReply(t, r, "*3\r\n*1\r\n*2\r\n$1\r\nx\r\n$-1\r\n*1\r\n$2\r\no1\r\n*1\r\n$2\r\no2\r\n",
		"SQL.QUERY", "other", "SELECT x FROM t ORDER BY x")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$1\r\n?\r\n$-1\r\n*1\r\n:5\r\n", "SQL.QUERY", "other", "SELECT ?", "5")
	// A missing key reads as an empty database and is not created.
	mustReply(t, r, "-ERR SQL error: no such table: t\r\n", "SQL.QUERY", "missing", "SELECT * FROM t")
	mustReply(t, r, ":0\r\n", "EXISTS", "missing")
}

func TestSQLDefaultKeyConfig(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE first (x)")
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "sql-default-key", "mydb")
	mustReply(t, r, "*2\r\n$15\r\nsql-default-key\r\n$4\r\nmydb\r\n", "CONFIG", "GET", "sql-default-key")
	mustReply(t, r, "-ERR SQL error: no such table: first\r\n", "SQL", "SELECT * FROM first")
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE second (x)")
	mustReply(t, r, ":1\r\n", "EXISTS", "mydb")
	mustReply(t, r, "*1\r\n*1\r\n*2\r\n$1\r\nx\r\n$-1\r\n", "SQL.EXEC", "mydb", "SELECT x FROM second")
	mustReply(t, r, "-ERR SQL error: no such table: second\r\n", "SQL.EXEC", sqlKey, "SELECT * FROM second")
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "sql-default-key", sqlKey)
	mustReply(t, r, "*1\r\n*1\r\n*2\r\n$1\r\nx\r\n$-1\r\n", "SQL", "SELECT x FROM first")
}

// --- 4. sessions ---

func TestSQLSessionIsolation(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	before := hashSnap(ts, 0, sqlKey)
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (1)")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (2)")
	if n := sqlCount(t, a, sqlKey, "t"); n != 2 {
		t.Fatalf("own transaction sees %d rows", n)
	}
	if n := sqlCount(t, b, sqlKey, "t"); n != 0 {
		t.Fatalf("other client sees %d uncommitted rows", n)
	}
	if d := sameHash(before, hashSnap(ts, 0, sqlKey)); d != "" {
		t.Fatalf("open transaction changed the hash: %s", d)
	}
	mustReply(t, a, ":0\r\n", "SQL", "COMMIT")
	if n := sqlCount(t, b, sqlKey, "t"); n != 2 {
		t.Fatalf("after COMMIT other client sees %d rows", n)
	}
	// A reader inside its own transaction keeps its snapshot.
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN")
	if n := sqlCount(t, b, sqlKey, "t"); n != 2 {
		t.Fatal(n)
	}
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (3)")
	if n := sqlCount(t, b, sqlKey, "t"); n != 2 {
		t.Fatalf("snapshot moved inside a read transaction: %d", n)
	}
	mustReply(t, b, ":0\r\n", "SQL", "COMMIT")
	if n := sqlCount(t, b, sqlKey, "t"); n != 3 {
		t.Fatal(n)
	}
}

func TestSQLSessionPerClientState(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES ('a')")
	mustReply(t, b, ":2\r\n", "SQL", "INSERT INTO t VALUES ('b1'), ('b2')")
	if v := sqlOne(t, a, "SQL", "SELECT last_insert_rowid()"); v != int64(1) {
		t.Errorf("a's last_insert_rowid %v", v)
	}
	if v := sqlOne(t, b, "SQL", "SELECT last_insert_rowid()"); v != int64(3) {
		t.Errorf("b's last_insert_rowid %v", v)
	}
	rec := recordLog(t, ts)
	before := hashSnap(ts, 0, sqlKey)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TEMP TABLE tt (x)")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO tt VALUES (42)")
	mustReply(t, a, "*2\r\n*1\r\n*2\r\n$1\r\nx\r\n$-1\r\n*1\r\n:42\r\n", "SQL", "SELECT x FROM tt")
	mustReply(t, b, "-ERR SQL error: no such table: tt\r\n", "SQL", "SELECT x FROM tt")
	mustReply(t, b, ":0\r\n", "SQL", "CREATE TEMP TABLE tt (y)") // b's own
	mustReply(t, b, "*1\r\n*1\r\n*2\r\n$1\r\ny\r\n$-1\r\n", "SQL", "SELECT y FROM tt")
	if d := sameHash(before, hashSnap(ts, 0, sqlKey)); d != "" {
		t.Errorf("temp tables changed the database: %s", d)
	}
	if got := sqlEntries(rec); len(got) != 0 {
		t.Errorf("temp tables were logged: %q", got)
	}
	// Each client has its own connection.
	info := infoSQL(t, a)
	if n := sqlInfoInt(t, info, "sql_connections"); n != 2 {
		t.Errorf("sql_connections %d", n)
	}
}

// A client that disconnects inside a write transaction rolls it back and
// releases the writer lock at once.
func TestSQLDisconnectRollsBack(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		if err := c.Set("sql-busy-timeout", "3000"); err != nil {
			t.Fatal(err)
		}
	})
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	rec := recordLog(t, ts)
	before := hashSnap(ts, 0, sqlKey)
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES ('lost')")
	a.c.Close()
	start := time.Now()
	mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO t VALUES ('b')")
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("the writer lock was released after %v", el)
	}
	if got := sqlRows(t, b, "SQL", "SELECT x FROM t"); len(got) != 1 || got[0][0] != "b" {
		t.Errorf("rows %v", got)
	}
	if got := sqlEntries(rec); len(got) != 1 {
		t.Errorf("log %q", got)
	}
	if d := sameHash(before, hashSnap(ts, 0, sqlKey)); d == "" {
		t.Error("b's commit did not change the hash")
	}
}

// CLIENT KILL of a client holding a write transaction releases it, and
// interrupts a statement it is running.
func TestSQLClientKillReleasesWriter(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		if err := c.Set("sql-busy-timeout", "3000"); err != nil {
			t.Fatal(err)
		}
	})
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES ('killed')")
	mustReply(t, b, ":1\r\n", "CLIENT", "KILL", "ID", clientID(t, a))
	start := time.Now()
	mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO t VALUES ('b')")
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("the writer lock was released after %v", el)
	}
	if n := sqlCount(t, b, sqlKey, "t WHERE x = 'killed'"); n != 0 {
		t.Error("the killed client's transaction was committed")
	}
	a.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := a.rd.ReadByte(); err == nil {
		t.Error("killed connection still open")
	}

	// A client running a long write statement (which holds the
	// execution lock) is interrupted by CLIENT KILL.
	mustReply(t, b, "+OK\r\n", "CONFIG", "SET", "sql-time-limit", "0")
	c := ts.raw(t)
	id := clientID(t, c)
	c.write("*2\r\n$3\r\nSQL\r\n$97\r\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) INSERT INTO t SELECT 'long' FROM c\r\n")
	time.Sleep(50 * time.Millisecond)
	k := ts.client(t)
	start = time.Now()
	if n, err := k.Do(ctx, "CLIENT", "KILL", "ID", id).Int(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL: %v %v", n, err)
	}
	c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		if _, err := c.rd.ReadByte(); err != nil {
			break
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("killed long statement took %v to stop", el)
	}
	mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO t VALUES ('b2')")
	if n := sqlCount(t, b, sqlKey, "t WHERE x = 'long'"); n != 0 {
		t.Errorf("%d rows of the interrupted statement", n)
	}
}

// A second writer waits sql-busy-timeout for another client's write
// transaction, then fails; other clients are served meanwhile.
// sql-busy-timeout is read when a database is attached (the VFS's wait)
// and when a connection opens (SQLite's busy_timeout), so it is set
// before the first SQL command.
func TestSQLBusyTimeout(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, "+OK\r\n", "CONFIG", "SET", "sql-busy-timeout", "300")
	mustReply(t, a, "+OK\r\n", "SET", "k", "v")
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES ('a')")
	busy0 := sqlInfoInt(t, infoSQL(t, a), "sql_busy_errors")

	rdb := ts.client(t)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var lat []time.Duration
	var errs []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			t0 := time.Now()
			if err := rdb.Get(ctx, "k").Err(); err != nil {
				errs = append(errs, err)
			}
			if err := rdb.Ping(ctx).Err(); err != nil {
				errs = append(errs, err)
			}
			lat = append(lat, time.Since(t0))
		}
	}()
	start := time.Now()
	mustReply(t, b, "-ERR SQL error: database is locked\r\n", "SQL", "INSERT INTO t VALUES ('b')")
	el := time.Since(start)
	stop.Store(true)
	<-done
	if el < 250*time.Millisecond || el > 2*time.Second {
		t.Errorf("busy error after %v, want about 300ms", el)
	}
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	slices.Sort(lat)
	// Blocked clients would get one or two round trips through the whole
	// wait; the median bound is loose for a loaded machine under -race.
	if len(lat) < 5 || lat[len(lat)/2] > 100*time.Millisecond {
		t.Errorf("other clients during the wait: %d GET+PING, median %v, slowest %v", len(lat), lat[len(lat)/2], lat[len(lat)-1])
	}
	if n := sqlInfoInt(t, infoSQL(t, a), "sql_busy_errors"); n != busy0+1 {
		t.Errorf("sql_busy_errors %d, was %d", n, busy0)
	}
	// Reads are not blocked by the open write transaction.
	if n := sqlCount(t, b, sqlKey, "t"); n != 0 {
		t.Fatal(n)
	}
	// A waiting writer gets the lock as soon as the holder commits.
	b.write("*2\r\n$3\r\nSQL\r\n$27\r\nINSERT INTO t VALUES ('b2')\r\n")
	time.Sleep(50 * time.Millisecond)
	mustReply(t, a, ":0\r\n", "SQL", "COMMIT")
	if got := b.readReply(); got != ":1\r\n" {
		t.Fatalf("queued writer: %q", got)
	}
	if n := sqlCount(t, b, sqlKey, "t"); n != 2 {
		t.Fatal(n)
	}
}

// sql-busy-timeout 0 means no wait at all.
func TestSQLBusyTimeoutZero(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, "+OK\r\n", "CONFIG", "SET", "sql-busy-timeout", "0")
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN IMMEDIATE")
	start := time.Now()
	mustReply(t, b, "-ERR SQL error: database is locked\r\n", "SQL", "INSERT INTO t VALUES (1)")
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("sql-busy-timeout 0 waited %v", el)
	}
	mustReply(t, a, ":0\r\n", "SQL", "COMMIT")
	mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO t VALUES (1)")
}

// A transaction that read an older snapshot cannot write after another
// client committed (as in WAL mode): it fails at once, without waiting.
func TestSQLStaleSnapshotWrite(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN")
	if n := sqlCount(t, b, sqlKey, "t"); n != 0 {
		t.Fatal(n)
	}
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (1)")
	start := time.Now()
	mustReply(t, b, "-ERR SQL error: database is locked\r\n", "SQL", "INSERT INTO t VALUES (2)")
	if el := time.Since(start); el > time.Second {
		t.Errorf("stale snapshot write waited %v", el)
	}
	if n := sqlCount(t, b, sqlKey, "t"); n != 0 {
		t.Fatalf("snapshot moved: %d", n)
	}
	mustReply(t, b, ":0\r\n", "SQL", "ROLLBACK")
	mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO t VALUES (2)")
	if n := sqlCount(t, a, sqlKey, "t"); n != 2 {
		t.Fatal(n)
	}
}

// Pipelined SQL among other commands keeps execution and log order, and
// a SQL commit touches WATCHed database keys.
func TestSQLPipelineAndWatch(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	rec := recordLog(t, ts)
	var pipe strings.Builder
	cmds := [][]string{{"SET", "k", "v"}, {"SQL", "INSERT INTO t VALUES (1)"}, {"INCR", "n"}, {"SQL", "SELECT count(*) FROM t"}, {"GET", "k"}, {"SQL", "INSERT INTO nope VALUES (1)"}, {"INCR", "n"}}
	for _, c := range cmds {
		pipe.WriteString("*" + strconv.Itoa(len(c)) + "\r\n")
		for _, arg := range c {
			pipe.WriteString("$" + strconv.Itoa(len(arg)) + "\r\n" + arg + "\r\n")
		}
	}
	a.write(pipe.String())
	want := []string{"+OK\r\n", ":1\r\n", ":1\r\n", "*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:1\r\n", "$1\r\nv\r\n", "-ERR SQL error: no such table: nope\r\n", ":2\r\n"}
	for i, w := range want {
		if got := a.readReply(); got != w {
			t.Errorf("pipelined reply %d: %q, want %q", i, got, w)
		}
	}
	if got, want := sqlEntries(rec), []string{"SET k v", "[HSET _sql:redis_db <2 pages>]", "INCR n", "INCR n"}; !slices.Equal(got, want) {
		t.Errorf("log %q, want %q", got, want)
	}

	// WATCH: another client's SQL commit aborts the transaction.
	mustReply(t, a, "+OK\r\n", "WATCH", sqlKey)
	mustReply(t, b, "*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:1\r\n", "SQL", "SELECT count(*) FROM t") // reads do not
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SET", "w", "1")
	mustReply(t, a, "*1\r\n+OK\r\n", "EXEC")
	mustReply(t, a, "+OK\r\n", "WATCH", sqlKey)
	mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO t VALUES (2)")
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SET", "w", "2")
	mustReply(t, a, "*-1\r\n", "EXEC")
	mustReply(t, a, "$1\r\n1\r\n", "GET", "w")
	// A rolled-back transaction does not touch it.
	mustReply(t, a, "+OK\r\n", "WATCH", sqlKey)
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN; INSERT INTO t VALUES (3); ROLLBACK")
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SET", "w", "3")
	mustReply(t, a, "*1\r\n+OK\r\n", "EXEC")
}

// SQL works on the client's selected database, and its log entries say
// so.
func TestSQLSelectedDatabase(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	rec := recordLog(t, ts)
	mustReply(t, r, "+OK\r\n", "SELECT", "5")
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, r, ":1\r\n", "EXISTS", sqlKey)
	mustReply(t, r, "+OK\r\n", "SELECT", "0")
	mustReply(t, r, ":0\r\n", "EXISTS", sqlKey)
	mustReply(t, r, "-ERR SQL error: no such table: t\r\n", "SQL", "SELECT * FROM t")
	es := rec.Entries()
	if len(es) != 1 || len(es[0].Ops) != 1 || es[0].Ops[0].DB != 5 {
		t.Fatalf("log %q", sqlEntries(rec))
	}
}

// PRAGMA optimize claims to be read-only but runs ANALYZE: it must run
// like a write (under the execution lock, logged, refused by SQL.QUERY).
func TestSQLPragmaOptimizeIsAWrite(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		if err := c.Set("sql-busy-timeout", "200"); err != nil {
			t.Fatal(err)
		}
	})
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (a, b); CREATE INDEX ia ON t (a)")
	mustReply(t, a, ":2000\r\n", "SQL", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 2000) INSERT INTO t SELECT x % 10, x FROM c")
	mustReply(t, a, "*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:200\r\n", "SQL", "SELECT count(*) FROM t WHERE a = 1")
	rec := recordLog(t, ts)
	before := hashSnap(ts, 0, sqlKey)
	for _, stmt := range []string{"PRAGMA optimize=0x10002", "PRAGMA main.optimize(0x10002)", `pragma "optimize"`, "PRAGMA 'Optimize' = 0x10002", "PRAGMA optimize"} {
		mustReply(t, a, "-ERR SQL.QUERY only runs read-only statements; use SQL.EXEC to write\r\n", "SQL.QUERY", sqlKey, stmt)
	}
	// While another client holds the writer lock it waits like a write
	// (this crashed the server: the wait released an execution lock the
	// statement did not hold).
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN IMMEDIATE")
	mustReply(t, a, "-ERR SQL error: database is locked\r\n", "SQL", "PRAGMA optimize=0x10002")
	mustReply(t, b, ":0\r\n", "SQL", "ROLLBACK")
	if d := sameHash(before, hashSnap(ts, 0, sqlKey)); d != "" {
		t.Fatalf("refused PRAGMA optimize changed the database: %s", d)
	}
	if got := sqlEntries(rec); len(got) != 0 {
		t.Fatalf("log %q", got)
	}
	mustReply(t, a, "*1\r\n*1\r\n*2\r\n$8\r\noptimize\r\n$-1\r\n", "SQL", "PRAGMA optimize=0x10002")
	if got := sqlEntries(rec); len(got) != 1 || !strings.HasPrefix(got[0], "[HSET _sql:redis_db <") {
		t.Fatalf("PRAGMA optimize's commit was not logged: %q", got)
	}
	if rows := sqlRows(t, b, "SQL", "SELECT tbl, idx FROM sqlite_stat1"); fmt.Sprint(rows) != "[[t ia]]" {
		t.Fatalf("sqlite_stat1 %v", rows)
	}
	if pc, hl := sqlOne(t, b, "SQL", "PRAGMA page_count"), q(t, b, "HLEN", sqlKey); pc != hl {
		t.Errorf("page_count %v, HLEN %v", pc, hl)
	}
}

// --- 5. MULTI/EXEC ---

func TestSQLMultiExecOneEntry(t *testing.T) {
	ts := startServer(t)
	a := ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	rec := recordLog(t, ts)
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SET", "k", "v")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "INSERT INTO t VALUES (?)", "1")
	mustReply(t, a, "+QUEUED\r\n", "INCR", "n")
	mustReply(t, a, "*3\r\n+OK\r\n:1\r\n:1\r\n", "EXEC")
	want := []string{"[SET k v | HSET _sql:redis_db <2 pages> | INCR n]"}
	if got := sqlEntries(rec); !slices.Equal(got, want) {
		t.Fatalf("log\n got %q\nwant %q", got, want)
	}
	// Two SQL writes, a read, and a failing statement in one block.
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "INSERT INTO t VALUES (2)")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "INSERT INTO nope VALUES (2)")
	mustReply(t, a, "+QUEUED\r\n", "SQL.EXEC", "other", "CREATE TABLE o (y)")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "SELECT count(*) FROM t")
	mustReply(t, a, "+QUEUED\r\n", "INCR", "n")
	mustReply(t, a, "*5\r\n:1\r\n-ERR SQL error: no such table: nope\r\n:0\r\n*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:2\r\n:2\r\n", "EXEC")
	got := sqlEntries(rec)
	if len(got) != 2 || !strings.HasPrefix(got[1], "[HSET _sql:redis_db <") || !strings.Contains(got[1], "| HSET other <") || !strings.HasSuffix(got[1], "| INCR n]") {
		t.Fatalf("second block's log entry: %q", got)
	}
	// A transaction opened inside MULTI stays open after EXEC.
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "BEGIN")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "INSERT INTO t VALUES (3)")
	mustReply(t, a, "*2\r\n:0\r\n:1\r\n", "EXEC")
	if len(rec.Entries()) != 2 {
		t.Fatalf("uncommitted transaction logged: %q", sqlEntries(rec))
	}
	mustReply(t, a, ":0\r\n", "SQL", "COMMIT")
	if got := sqlEntries(rec); len(got) != 3 || got[2] != "[HSET _sql:redis_db <2 pages>]" {
		t.Fatalf("commit after EXEC: %q", got)
	}
	// COMMIT of a transaction opened before, inside MULTI.
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (4)")
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SET", "k", "v2")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "COMMIT")
	mustReply(t, a, "*2\r\n+OK\r\n:0\r\n", "EXEC")
	if got := sqlEntries(rec); len(got) != 4 || got[3] != "[SET k v2 | HSET _sql:redis_db <2 pages>]" {
		t.Fatalf("COMMIT in EXEC: %q", got)
	}
	if n := sqlCount(t, a, sqlKey, "t"); n != 4 {
		t.Fatal(n)
	}
}

// In MULTI/EXEC a SQL write facing another client's open write
// transaction fails at once; the rest of the block runs.
func TestSQLMultiExecLockedFailsAtOnce(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		if err := c.Set("sql-busy-timeout", "3000"); err != nil {
			t.Fatal(err)
		}
	})
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO t VALUES ('b')")
	busy0 := sqlInfoInt(t, infoSQL(t, a), "sql_busy_errors")
	rec := recordLog(t, ts)
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SET", "k2", "v")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "INSERT INTO t VALUES ('a')")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "SELECT count(*) FROM t")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "BEGIN IMMEDIATE")
	mustReply(t, a, "+QUEUED\r\n", "INCR", "n")
	start := time.Now()
	mustReply(t, a, "*5\r\n+OK\r\n-ERR SQL error: database is locked\r\n*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:0\r\n-ERR SQL error: database is locked\r\n:1\r\n", "EXEC")
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("EXEC took %v (busy timeout 3s): it waited", el)
	}
	if got, want := sqlEntries(rec), []string{"[SET k2 v | INCR n]"}; !slices.Equal(got, want) {
		t.Errorf("log %q, want %q", got, want)
	}
	if n := sqlInfoInt(t, infoSQL(t, a), "sql_busy_errors"); n != busy0+2 {
		t.Errorf("sql_busy_errors %d, was %d", n, busy0)
	}
	mustReply(t, a, "$1\r\nv\r\n", "GET", "k2")
	// a's session is usable afterwards, and the holder can commit.
	mustReply(t, b, ":0\r\n", "SQL", "COMMIT")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES ('a')")
	if n := sqlCount(t, a, sqlKey, "t"); n != 2 {
		t.Fatal(n)
	}
}

// --- 6. command log and replay ---

// replayInto applies logged ops to ts's keyspace directly (HSET on a
// database key is refused to normal clients; a replica's master link is
// exempt).
func replayInto(t *testing.T, ts *testServer, entries []cmdlog.Entry) {
	t.Helper()
	ts.Exec(func(ks *keyspace.Keyspace) {
		for _, e := range entries {
			for _, op := range e.Ops {
				db := ks.DB(op.DB)
				key := op.Argv[1]
				switch strings.ToUpper(string(op.Argv[0])) {
				case "HSET":
					h, err := db.HashForWrite(key, true)
					if err != nil {
						t.Errorf("replay: %v", err)
						return
					}
					for i := 2; i+1 < len(op.Argv); i += 2 {
						h.Set(op.Argv[i], op.Argv[i+1])
					}
				case "HDEL":
					h, err := db.HashForWrite(key, false)
					if err != nil || h == nil {
						t.Errorf("replay HDEL on a missing hash: %v", err)
						return
					}
					for _, f := range op.Argv[2:] {
						h.Delete(f)
					}
					db.DeleteIfEmpty(key)
				case "SET":
					db.SetString(key, op.Argv[2], false)
				default:
					t.Errorf("replay: unexpected op %q", opLine(op, true))
					return
				}
				db.Modified(key)
			}
		}
	})
}

func TestSQLCommandLogAndReplay(t *testing.T) {
	ts := startServer(t)
	rec := recordLog(t, ts)
	a := ts.raw(t)
	step := func(wantNew int, want string, args ...string) {
		t.Helper()
		n0 := len(rec.Entries())
		got := a.do(args...)
		if want != "" && got != want {
			t.Fatalf("%q: got %q want %q", args, got, want)
		}
		if want == "" && strings.HasPrefix(got, "-") {
			t.Fatalf("%q: %q", args, got)
		}
		if n := len(rec.Entries()) - n0; n != wantNew {
			t.Fatalf("%q: %d new log entries, want %d: %q", args, n, wantNew, sqlEntries(rec)[n0:])
		}
	}
	const row = "INSERT INTO t (r, d, b) VALUES (random(), datetime('now'), randomblob(5000))"
	step(1, ":0\r\n", "SQL", "CREATE TABLE t (id INTEGER PRIMARY KEY, r, d, b)")
	step(1, ":1\r\n", "SQL", row)
	step(1, ":1\r\n", "SQL", row)
	step(0, "", "SQL", "SELECT * FROM t")
	step(0, ":0\r\n", "SQL", "BEGIN")
	step(0, ":1\r\n", "SQL", row)
	step(0, ":1\r\n", "SQL", "UPDATE t SET r = random() WHERE id = 1")
	step(1, ":0\r\n", "SQL", "COMMIT")
	step(0, ":0\r\n", "SQL", "BEGIN")
	step(0, ":1\r\n", "SQL", row)
	step(0, ":0\r\n", "SQL", "ROLLBACK")
	step(0, "-ERR SQL error: no such table: nope\r\n", "SQL", "INSERT INTO nope VALUES (1)")
	step(0, "-ERR SQL error: UNIQUE constraint failed: t.id\r\n", "SQL", "INSERT INTO t (id, b) VALUES (100, randomblob(9000)), (1, 'dup')")
	step(0, ":0\r\n", "SQL", "SAVEPOINT s1")
	step(0, ":1\r\n", "SQL", row)
	step(0, ":0\r\n", "SQL", "ROLLBACK TO s1")
	// RELEASE of the outermost savepoint commits: a (no-op) batch.
	step(1, ":0\r\n", "SQL", "RELEASE s1")
	// A shrinking transaction logs HDEL for the cut pages.
	step(1, ":0\r\n", "SQL", "CREATE TABLE big (b)")
	step(1, ":40\r\n", "SQL", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 40) INSERT INTO big SELECT randomblob(4000) FROM c")
	pagesBig := len(hashSnap(ts, 0, sqlKey))
	step(1, ":0\r\n", "SQL", "DROP TABLE big")
	step(1, ":0\r\n", "SQL", "VACUUM")
	if n := len(hashSnap(ts, 0, sqlKey)); n >= pagesBig-30 {
		t.Errorf("VACUUM left %d pages (%d before)", n, pagesBig)
	}
	if pc, hl := sqlOne(t, a, "SQL", "PRAGMA page_count"), q(t, a, "HLEN", sqlKey); pc != hl {
		t.Errorf("after VACUUM: page_count %v, HLEN %v", pc, hl)
	}
	step(0, "+OK\r\n", "MULTI")
	step(0, "+QUEUED\r\n", "SQL", row)
	step(0, "+QUEUED\r\n", "SET", "k", "v")
	step(0, "+QUEUED\r\n", "SQL", row)
	step(1, "", "EXEC")
	step(1, ":1\r\n", "SQL", row)

	entries := rec.Entries()
	sawHDEL := false
	for i, e := range entries {
		if !e.Atomic {
			t.Errorf("entry %d is not atomic: %q", i, sqlEntries(rec)[i])
		}
		for _, op := range e.Ops {
			name := string(op.Argv[0])
			if (name != "HSET" && name != "HDEL" && name != "SET") || (name != "SET" && string(op.Argv[1]) != sqlKey) {
				t.Errorf("entry %d: unexpected op %.40q", i, opLine(op, true))
			}
			if name == "HDEL" {
				sawHDEL = true
			}
		}
	}
	if !sawHDEL {
		t.Errorf("no HDEL after VACUUM shrank the database: %q", sqlEntries(rec))
	}
	// Pages are whole, at decimal byte offsets; a batch of several
	// commands is encoded MULTI ... EXEC for the AOF and replicas.
	for _, e := range entries {
		for _, op := range e.Ops {
			if string(op.Argv[0]) != "HSET" {
				continue
			}
			for i := 2; i+1 < len(op.Argv); i += 2 {
				off, err := strconv.Atoi(string(op.Argv[i]))
				if err != nil || off%4096 != 0 || strconv.Itoa(off) != string(op.Argv[i]) || len(op.Argv[i+1]) != 4096 {
					t.Fatalf("page field %q with %d bytes", op.Argv[i], len(op.Argv[i+1]))
				}
			}
		}
		if len(e.Ops) > 1 {
			enc := cmdlog.NewEncoder()
			enc.SetDB(0)
			stream := string(enc.Append(nil, &e))
			if !strings.HasPrefix(stream, "*1\r\n$5\r\nMULTI\r\n") || !strings.HasSuffix(stream, "*1\r\n$4\r\nEXEC\r\n") {
				t.Errorf("encoded entry %.60q … %.30q", stream, stream[max(0, len(stream)-30):])
			}
		}
	}

	// Replay into a fresh server in two halves, with a connection that
	// has read the first half open while the second is applied.
	ts2 := startServer(t)
	b := ts2.raw(t)
	half := len(entries) / 2
	replayInto(t, ts2, entries[:half])
	if got := q(t, b, "SQL", "PRAGMA integrity_check"); fmt.Sprint(got) != "[[[integrity_check <nil>]] [ok]]" {
		t.Fatalf("half replay: %v", got)
	}
	sqlCount(t, b, sqlKey, "t")
	replayInto(t, ts2, entries[half:])
	if d := sameHash(hashSnap(ts, 0, sqlKey), hashSnap(ts2, 0, sqlKey)); d != "" {
		t.Fatalf("replayed pages differ: %s", d)
	}
	const dump = "SELECT id, r, d, hex(b) FROM t ORDER BY id"
	if x, y := a.do("SQL", dump), b.do("SQL", dump); x != y || !strings.HasPrefix(x, "*7\r\n") {
		t.Fatalf("query results differ after replay:\n%.200q\n%.200q", x, y)
	}
	mustReply(t, b, "*2\r\n*1\r\n*2\r\n$15\r\nintegrity_check\r\n$-1\r\n*1\r\n$2\r\nok\r\n", "SQL", "PRAGMA integrity_check")
	mustReply(t, b, "$1\r\nv\r\n", "GET", "k")
}

// --- 7. cache coherence ---

func TestSQLCoherenceWholeKeyRemoval(t *testing.T) {
	for _, c := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"DEL", sqlKey}, ":1\r\n"},
		{[]string{"UNLINK", sqlKey}, ":1\r\n"},
		{[]string{"FLUSHDB"}, "+OK\r\n"},
		{[]string{"FLUSHALL"}, "+OK\r\n"},
		{[]string{"FLUSHDB", "ASYNC"}, "+OK\r\n"},
		{[]string{"GETDEL", sqlKey}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	} {
		t.Run(strings.Join(c.cmd, "_"), func(t *testing.T) {
			ts := startServer(t)
			a, b := ts.raw(t), ts.raw(t)
			mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE test (a int, b text)")
			mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO test VALUES (1, 'hello')")
			if n := sqlCount(t, b, sqlKey, "test"); n != 1 {
				t.Fatal(n)
			}
			mustReply(t, a, c.want, c.cmd...)
			if strings.HasPrefix(c.want, "-") {
				if n := sqlCount(t, b, sqlKey, "test"); n != 1 {
					t.Fatal(n)
				}
				return
			}
			mustReply(t, a, ":0\r\n", "EXISTS", sqlKey)
			for _, r := range []*rawConn{a, b} {
				mustReply(t, r, "-ERR SQL error: no such table: test\r\n", "SQL", "SELECT * FROM test")
			}
			mustReply(t, a, ":0\r\n", "EXISTS", sqlKey)
			mustReply(t, b, ":0\r\n", "SQL", "CREATE TABLE test (z)")
			mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO test VALUES ('new')")
			mustReply(t, a, "*2\r\n*1\r\n*2\r\n$1\r\nz\r\n$-1\r\n*1\r\n$3\r\nnew\r\n", "SQL", "SELECT * FROM test")
			mustReply(t, a, "*2\r\n*1\r\n*2\r\n$15\r\nintegrity_check\r\n$-1\r\n*1\r\n$2\r\nok\r\n", "SQL", "PRAGMA integrity_check")
		})
	}
}

// An open transaction on a database that is deleted meanwhile cannot
// commit into the new content.
func TestSQLCoherenceDeleteUnderOpenTransaction(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (1)")
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, b, ":1\r\n", "SQL", "INSERT INTO t VALUES (2)")
	rec := recordLog(t, ts)
	mustReply(t, a, ":1\r\n", "DEL", sqlKey)
	if got := b.do("SQL", "COMMIT"); !strings.HasPrefix(got, "-ERR SQL error: ") {
		t.Fatalf("COMMIT after DEL: %q", got)
	}
	mustReply(t, a, ":0\r\n", "EXISTS", sqlKey)
	if got := sqlEntries(rec); len(got) != 1 || got[0] != "DEL _sql:redis_db" {
		t.Fatalf("log %q", got)
	}
	b.do("SQL", "ROLLBACK") // whatever state the failed COMMIT left
	mustReply(t, b, "-ERR SQL error: no such table: t\r\n", "SQL", "SELECT * FROM t")
	mustReply(t, b, ":0\r\n", "SQL", "CREATE TABLE t (y)")
	mustReply(t, a, "*1\r\n*1\r\n*2\r\n$1\r\ny\r\n$-1\r\n", "SQL", "SELECT y FROM t")

	// A reader inside a transaction finishes on its snapshot.
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (1)")
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN")
	if n := sqlCount(t, b, sqlKey, "t"); n != 1 {
		t.Fatal(n)
	}
	mustReply(t, a, ":1\r\n", "DEL", sqlKey)
	if n := sqlCount(t, b, sqlKey, "t"); n != 1 {
		t.Fatalf("reader's snapshot changed under it: %d", n)
	}
	mustReply(t, b, ":0\r\n", "SQL", "COMMIT")
	mustReply(t, b, "-ERR SQL error: no such table: t\r\n", "SQL", "SELECT * FROM t")
}

func TestSQLCoherenceRename(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE test (a int, b text)")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO test VALUES (1, 'hello')")
	sqlCount(t, b, sqlKey, "test")
	mustReply(t, a, ":0\r\n", "SQL.EXEC", "other", "CREATE TABLE mine (x)") // attached, then replaced
	sqlCount(t, b, "other", "mine")
	mustReply(t, a, "+OK\r\n", "RENAME", sqlKey, "other")
	for _, r := range []*rawConn{a, b} {
		mustReply(t, r, "*2\r\n*2\r\n*2\r\n$1\r\na\r\n$3\r\nINT\r\n*2\r\n$1\r\nb\r\n$4\r\nTEXT\r\n*2\r\n:1\r\n$5\r\nhello\r\n", "SQL.EXEC", "other", "SELECT * FROM test")
		mustReply(t, r, "-ERR SQL error: no such table: mine\r\n", "SQL.EXEC", "other", "SELECT * FROM mine")
		mustReply(t, r, "-ERR SQL error: no such table: test\r\n", "SQL", "SELECT * FROM test")
	}
	mustReply(t, b, ":0\r\n", "SQL", "CREATE TABLE test (q)")
	mustReply(t, a, ":1\r\n", "SQL.EXEC", "other", "INSERT INTO test VALUES (2, 'two')")
	if n := sqlCount(t, b, "other", "test"); n != 2 {
		t.Fatal(n)
	}
	if n := sqlCount(t, a, sqlKey, "test"); n != 0 {
		t.Fatal(n)
	}
	// Renamed back over the default key.
	mustReply(t, a, "+OK\r\n", "RENAME", "other", sqlKey)
	if n := sqlCount(t, b, sqlKey, "test"); n != 2 {
		t.Fatal(n)
	}
	mustReply(t, b, "-ERR SQL error: no such table: test\r\n", "SQL.EXEC", "other", "SELECT * FROM test")
}

func TestSQLCoherenceCopy(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL.EXEC", "src", "CREATE TABLE t (x, pad)")
	mustReply(t, a, ":1\r\n", "SQL.EXEC", "src", "INSERT INTO t VALUES ('old', randomblob(3000))")
	mustReply(t, a, ":1\r\n", "COPY", "src", "dst")
	snap := hashSnap(ts, 0, "dst")
	if d := sameHash(snap, hashSnap(ts, 0, "src")); d != "" {
		t.Fatalf("COPY: %s", d)
	}
	// Many commits to src: its superseded page buffers get reused.
	for i := 0; i < 30; i++ {
		mustReply(t, a, ":1\r\n", "SQL.EXEC", "src", "UPDATE t SET x = 'new"+strconv.Itoa(i)+"', pad = randomblob(3000) WHERE rowid = 1")
		mustReply(t, a, ":1\r\n", "SQL.EXEC", "src", "INSERT INTO t VALUES ('more', randomblob(100))")
	}
	if d := sameHash(snap, hashSnap(ts, 0, "dst")); d != "" {
		t.Fatalf("writes to src changed dst: %s", d)
	}
	mustReply(t, b, "*2\r\n*1\r\n*2\r\n$1\r\nx\r\n$-1\r\n*1\r\n$3\r\nold\r\n", "SQL.EXEC", "dst", "SELECT x FROM t")
	mustReply(t, b, ":1\r\n", "SQL.EXEC", "dst", "INSERT INTO t VALUES ('dst', NULL)")
	if n := sqlCount(t, a, "src", "t"); n != 31 {
		t.Fatalf("src rows %d", n)
	}
	// COPY ... REPLACE over an attached database.
	mustReply(t, a, ":1\r\n", "COPY", "src", "dst", "REPLACE")
	if n := sqlCount(t, b, "dst", "t"); n != 31 {
		t.Fatalf("dst rows after COPY REPLACE: %d", n)
	}
	snap = hashSnap(ts, 0, "dst")
	for i := 0; i < 10; i++ {
		mustReply(t, b, ":1\r\n", "SQL.EXEC", "dst", "UPDATE t SET pad = randomblob(2000) WHERE x = 'old' OR x LIKE 'new%'")
	}
	if n := sqlCount(t, a, "src", "t WHERE length(pad) = 2000"); n != 0 {
		t.Fatalf("writes to dst reached src: %d", n)
	}
	mustReply(t, a, "*2\r\n*1\r\n*2\r\n$15\r\nintegrity_check\r\n$-1\r\n*1\r\n$2\r\nok\r\n", "SQL.EXEC", "src", "PRAGMA integrity_check")
	mustReply(t, a, "*2\r\n*1\r\n*2\r\n$15\r\nintegrity_check\r\n$-1\r\n*1\r\n$2\r\nok\r\n", "SQL.EXEC", "dst", "PRAGMA integrity_check")
}

func TestSQLCoherenceSwapDBAndMove(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE test (x)")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO test VALUES (1)")
	sqlCount(t, b, sqlKey, "test")
	mustReply(t, a, "+OK\r\n", "SWAPDB", "0", "1")
	for _, r := range []*rawConn{a, b} {
		mustReply(t, r, "-ERR SQL error: no such table: test\r\n", "SQL", "SELECT * FROM test")
	}
	mustReply(t, a, "+OK\r\n", "SELECT", "1")
	if n := sqlCount(t, a, sqlKey, "test"); n != 1 {
		t.Fatal(n)
	}
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO test VALUES (2)")
	mustReply(t, b, ":0\r\n", "SQL", "CREATE TABLE in0 (y)") // a new database in db 0
	mustReply(t, a, "+OK\r\n", "SWAPDB", "0", "1")
	if n := sqlCount(t, b, sqlKey, "test"); n != 2 {
		t.Fatalf("db 0 after swapping back: %d", n)
	}
	mustReply(t, a, "*1\r\n*1\r\n*2\r\n$1\r\ny\r\n$-1\r\n", "SQL", "SELECT y FROM in0")
	mustReply(t, a, "-ERR SQL error: no such table: test\r\n", "SQL", "SELECT * FROM test")

	// MOVE db 0's database to db 2.
	mustReply(t, b, ":1\r\n", "MOVE", sqlKey, "2")
	mustReply(t, b, "-ERR SQL error: no such table: test\r\n", "SQL", "SELECT * FROM test")
	mustReply(t, a, "+OK\r\n", "SELECT", "2")
	if n := sqlCount(t, a, sqlKey, "test"); n != 2 {
		t.Fatal(n)
	}
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO test VALUES (3)")
	mustReply(t, b, "+OK\r\n", "SELECT", "2")
	if n := sqlCount(t, b, sqlKey, "test"); n != 3 {
		t.Fatal(n)
	}
}

// --- 8. hand writes ---

func TestSQLHandWritesRefused(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	before := hashSnap(ts, 0, sqlKey)
	const refused = "-ERR key '_sql:redis_db' holds a SQL database: change it with SQL, or remove it with DEL\r\n"
	for _, cmd := range [][]string{
		{"HSET", sqlKey, "0", "x"},
		{"HSET", sqlKey, "999999", "x"},
		{"HDEL", sqlKey, "4096"},
		{"HINCRBY", sqlKey, "0", "1"},
		{"HINCRBYFLOAT", sqlKey, "0", "1.5"},
		{"HSETNX", sqlKey, "new", "x"},
		{"HMSET", sqlKey, "0", "x"},
		{"EXPIRE", sqlKey, "100"},
		{"PEXPIRE", sqlKey, "100000"},
		{"EXPIREAT", sqlKey, "4000000000"},
		{"PEXPIREAT", sqlKey, "4000000000000"},
	} {
		mustReply(t, r, refused, cmd...)
	}
	mustReply(t, r, "+OK\r\n", "MULTI")
	mustReply(t, r, "+QUEUED\r\n", "HSET", sqlKey, "0", "x")
	mustReply(t, r, "+QUEUED\r\n", "EXPIRE", sqlKey, "1")
	mustReply(t, r, "*2\r\n"+refused+refused, "EXEC")
	if d := sameHash(before, hashSnap(ts, 0, sqlKey)); d != "" {
		t.Fatalf("a refused write changed the database: %s", d)
	}
	mustReply(t, r, ":-1\r\n", "TTL", sqlKey)
	mustReply(t, r, "+hash\r\n", "TYPE", sqlKey)
	mustReply(t, r, ":"+strconv.Itoa(len(before))+"\r\n", "HLEN", sqlKey)
	mustReply(t, r, ":1\r\n", "HEXISTS", sqlKey, "4096")
	mustReply(t, r, ":4096\r\n", "HSTRLEN", sqlKey, "0")
	mustReply(t, r, "$"+strconv.Itoa(len(before["4096"]))+"\r\n"+before["4096"]+"\r\n", "HGET", sqlKey, "4096")
	if keys := q(t, r, "HKEYS", sqlKey).([]any); len(keys) != len(before) {
		t.Fatalf("HKEYS %v", keys)
	}
	// Other hashes are not affected.
	mustReply(t, r, ":1\r\n", "HSET", "plain", "0", "x")
	mustReply(t, r, ":1\r\n", "EXPIRE", "plain", "100")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$1\r\nx\r\n$-1\r\n*1\r\n:1\r\n", "SQL", "INSERT INTO t VALUES (1); SELECT x FROM t")
	mustReply(t, r, ":1\r\n", "DEL", sqlKey)
	mustReply(t, r, ":0\r\n", "EXISTS", sqlKey)
	mustReply(t, r, ":1\r\n", "HSET", sqlKey, "f", "v") // no database there any more
}

// --- 9. reading Redis data from SQL ---

func TestSQLRedisFunction(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "SET", "k", "hello")
	mustReply(t, r, ":2\r\n", "HSET", "h", "f1", "v1", "f2", "v2")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$16\r\nredis('GET','k')\r\n$-1\r\n*1\r\n$5\r\nhello\r\n", "SQL", "SELECT redis('GET','k')")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$1\r\nv\r\n$-1\r\n*1\r\n$-1\r\n", "SQL", "SELECT redis('GET','missing') AS v")
	if row := sqlRows(t, r, "SQL", "SELECT redis('HLEN','h'), typeof(redis('HLEN','h')), redis('STRLEN', ?)", "k")[0]; !slices.Equal(row, []any{int64(2), "integer", int64(5)}) {
		t.Errorf("HLEN: %#v", row)
	}
	if v := sqlOne(t, r, "SQL", "SELECT redis('HGETALL','h')"); v != `["f1","v1","f2","v2"]` {
		t.Errorf("HGETALL as JSON: %#v", v)
	}
	if row := sqlRows(t, r, "SQL", "SELECT count(*), group_concat(value, ',') FROM json_each(redis('HGETALL','h'))")[0]; !slices.Equal(row, []any{int64(4), "f1,v1,f2,v2"}) {
		t.Errorf("json_each: %#v", row)
	}
	// Writes and non-read commands are refused.
	mustReply(t, r, "-ERR SQL error: redis(): only read-only commands can run in redis(), and 'incr' is not one\r\n", "SQL", "SELECT redis('INCR','k')")
	for _, call := range []string{"redis('SET','k','x')", "redis('DEL','k')", "redis('FLUSHALL')", "redis('SQL','SELECT 1')", "redis('sql.query','x','SELECT 1')", "redis('CONFIG','SET','sql-time-limit','1')"} {
		got := r.do("SQL", "SELECT "+call)
		if !strings.HasPrefix(got, "-ERR SQL error: redis(): only read-only commands") || !strings.Contains(got, "read-only") {
			t.Errorf("%s: %q", call, got)
		}
	}
	mustReply(t, r, "$5\r\nhello\r\n", "GET", "k")
	mustReply(t, r, "-ERR SQL error: redis(): wrong number of arguments for 'get' command\r\n", "SQL", "SELECT redis('GET')")
	if got := r.do("SQL", "SELECT redis('NOSUCHCMD')"); !strings.HasPrefix(got, "-ERR SQL error: redis(): unknown command") {
		t.Errorf("unknown command: %q", got)
	}
	if got := r.do("SQL", "SELECT redis()"); !strings.HasPrefix(got, "-ERR SQL error: redis(): wrong number of arguments") {
		t.Errorf("no arguments: %q", got)
	}
	if got := r.do("SQL", "SELECT redis('GET', NULL)"); !strings.HasPrefix(got, "-ERR SQL error: redis(): argument 2 is NULL") {
		t.Errorf("NULL argument: %q", got)
	}
	mustReply(t, r, "-ERR SQL error: redis(): WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "SQL", "SELECT redis('GET','h')")
	// Inside a writing statement (run under the execution lock) and in
	// MULTI/EXEC.
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE t (v)")
	mustReply(t, r, ":1\r\n", "SQL", "INSERT INTO t VALUES (redis('GET','k'))")
	mustReply(t, r, "+OK\r\n", "MULTI")
	mustReply(t, r, "+QUEUED\r\n", "SET", "k", "inmulti")
	mustReply(t, r, "+QUEUED\r\n", "SQL", "INSERT INTO t VALUES (redis('GET','k'))")
	mustReply(t, r, "+QUEUED\r\n", "SQL", "SELECT group_concat(v, ',') FROM t")
	mustReply(t, r, "*3\r\n+OK\r\n:1\r\n*2\r\n*1\r\n*2\r\n$20\r\ngroup_concat(v, ',')\r\n$-1\r\n*1\r\n$13\r\nhello,inmulti\r\n", "EXEC")
	// The client's selected database.
	mustReply(t, r, "+OK\r\n", "SELECT", "3")
	mustReply(t, r, "+OK\r\n", "SET", "k", "db3")
	if v := sqlOne(t, r, "SQL", "SELECT redis('GET','k')"); v != "db3" {
		t.Errorf("redis() in db 3: %#v", v)
	}
}

func TestSQLRedisVirtualTable(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":1\r\n", "HSET", "h", "a", "1")
	mustReply(t, a, ":0\r\n", "SQL", "CREATE VIRTUAL TABLE t USING redis(h)")
	mustReply(t, a, "*2\r\n*2\r\n*2\r\n$3\r\nkey\r\n$-1\r\n*2\r\n$3\r\nval\r\n$-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n", "SQL", "SELECT key, val FROM t ORDER BY key")
	mustReply(t, a, ":1\r\n", "HSET", "h", "b", "2")
	mustReply(t, a, ":1\r\n", "HDEL", "h", "a")
	mustReply(t, a, ":1\r\n", "HSET", "h", "c", "3")
	if got := sqlRows(t, b, "SQL", "SELECT key, val FROM t ORDER BY key"); fmt.Sprint(got) != "[[b 2] [c 3]]" {
		t.Errorf("live hash: %v", got)
	}
	if got := sqlRows(t, a, "SQL", "SELECT sum(val) FROM t WHERE key > 'a'"); fmt.Sprint(got) != "[[5]]" {
		t.Errorf("aggregate %v", got)
	}
	before := hashSnap(ts, 0, "h")
	for _, stmt := range []string{"INSERT INTO t VALUES ('x', 'y', NULL)", "UPDATE t SET val = 'z'", "DELETE FROM t"} {
		if got := a.do("SQL", stmt); !strings.HasPrefix(got, "-ERR SQL error: ") {
			t.Errorf("%s: %q", stmt, got)
		}
	}
	if d := sameHash(before, hashSnap(ts, 0, "h")); d != "" {
		t.Errorf("a write through the virtual table changed the hash: %s", d)
	}
	mustReply(t, a, "+OK\r\n", "SET", "s", "str")
	mustReply(t, a, ":0\r\n", "SQL", "CREATE VIRTUAL TABLE ts USING redis(s)")
	mustReply(t, a, "*2\r\n*2\r\n*2\r\n$3\r\nkey\r\n$-1\r\n*2\r\n$3\r\nval\r\n$-1\r\n*2\r\n$1\r\ns\r\n$3\r\nstr\r\n", "SQL", "SELECT key, val FROM ts")
	mustReply(t, a, ":0\r\n", "SQL", "CREATE VIRTUAL TABLE tm USING redis('missing')")
	mustReply(t, a, "*1\r\n*1\r\n*2\r\n$3\r\nkey\r\n$-1\r\n", "SQL", "SELECT key FROM tm")
	mustReply(t, a, "+OK\r\n", "SET", "missing", "now")
	mustReply(t, b, "*2\r\n*1\r\n*2\r\n$3\r\nval\r\n$-1\r\n*1\r\n$3\r\nnow\r\n", "SQL", "SELECT val FROM tm")
	// A join of live Redis data with a SQL table, in MULTI.
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE names (k, name)")
	mustReply(t, a, ":2\r\n", "SQL", "INSERT INTO names VALUES ('b', 'bee'), ('c', 'sea')")
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "HSET", "h", "b", "20")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "SELECT name, val FROM names JOIN t ON t.key = names.k ORDER BY name")
	mustReply(t, a, "*2\r\n:0\r\n*3\r\n*2\r\n*2\r\n$4\r\nname\r\n$-1\r\n*2\r\n$3\r\nval\r\n$-1\r\n*2\r\n$3\r\nbee\r\n$2\r\n20\r\n*2\r\n$3\r\nsea\r\n$1\r\n3\r\n", "EXEC")
}

// --- 10. INFO sql ---

func TestSQLInfo(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	i0 := infoSQL(t, a)
	for _, f := range []string{"sql_statements", "sql_commits", "sql_rollbacks", "sql_busy_errors", "sql_databases", "sql_pages", "sql_bytes", "sql_errors", "sql_timeouts", "sql_connections"} {
		sqlInfoInt(t, i0, f)
	}
	if sqlInfoInt(t, i0, "sql_databases") != 0 || sqlInfoInt(t, i0, "sql_pages") != 0 {
		t.Errorf("fresh server %v", i0)
	}
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (1)")
	mustReply(t, a, ":0\r\n", "SQL.EXEC", "two", "CREATE TABLE t (x)")
	i1 := infoSQL(t, a)
	pages := q(t, a, "HLEN", sqlKey).(int64) + q(t, a, "HLEN", "two").(int64)
	if d := sqlInfoInt(t, i1, "sql_statements") - sqlInfoInt(t, i0, "sql_statements"); d != 3 {
		t.Errorf("sql_statements moved by %d", d)
	}
	if d := sqlInfoInt(t, i1, "sql_commits") - sqlInfoInt(t, i0, "sql_commits"); d != 3 {
		t.Errorf("sql_commits moved by %d", d)
	}
	if n := sqlInfoInt(t, i1, "sql_databases"); n != 2 {
		t.Errorf("sql_databases %d", n)
	}
	if n := sqlInfoInt(t, i1, "sql_pages"); n != pages {
		t.Errorf("sql_pages %d, HLENs %d", n, pages)
	}
	if n := sqlInfoInt(t, i1, "sql_bytes"); n != pages*4096 {
		t.Errorf("sql_bytes %d", n)
	}
	if !strings.Contains(i1["sqldb0"], `key="_sql:redis_db"`) && !strings.Contains(i1["sqldb1"], `key="_sql:redis_db"`) {
		t.Errorf("per-database lines: %v", i1)
	}
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (2)")
	mustReply(t, a, ":0\r\n", "SQL", "ROLLBACK")
	mustReply(t, a, "-ERR SQL error: no such table: nope\r\n", "SQL", "SELECT * FROM nope")
	// A busy error: b holds the writer lock, a's write in EXEC fails.
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN IMMEDIATE")
	mustReply(t, a, "+OK\r\n", "MULTI")
	mustReply(t, a, "+QUEUED\r\n", "SQL", "INSERT INTO t VALUES (3)")
	mustReply(t, a, "*1\r\n-ERR SQL error: database is locked\r\n", "EXEC")
	mustReply(t, b, ":0\r\n", "SQL", "ROLLBACK")
	i2 := infoSQL(t, a)
	if d := sqlInfoInt(t, i2, "sql_rollbacks") - sqlInfoInt(t, i1, "sql_rollbacks"); d < 1 {
		t.Errorf("sql_rollbacks moved by %d", d)
	}
	if d := sqlInfoInt(t, i2, "sql_commits") - sqlInfoInt(t, i1, "sql_commits"); d != 0 {
		t.Errorf("sql_commits moved by %d without a commit", d)
	}
	if d := sqlInfoInt(t, i2, "sql_busy_errors") - sqlInfoInt(t, i1, "sql_busy_errors"); d != 1 {
		t.Errorf("sql_busy_errors moved by %d", d)
	}
	if d := sqlInfoInt(t, i2, "sql_errors") - sqlInfoInt(t, i1, "sql_errors"); d != 2 {
		t.Errorf("sql_errors moved by %d", d)
	}
	if n := sqlInfoInt(t, i2, "sql_connections"); n != 3 {
		t.Errorf("sql_connections %d", n)
	}
	// A deleted database no longer counts.
	mustReply(t, a, ":1\r\n", "DEL", "two")
	i3 := infoSQL(t, a)
	if n := sqlInfoInt(t, i3, "sql_databases"); n != 1 {
		t.Errorf("sql_databases after DEL %d", n)
	}
	if n := sqlInfoInt(t, i3, "sql_pages"); n != q(t, a, "HLEN", sqlKey).(int64) {
		t.Errorf("sql_pages after DEL %d", n)
	}
}

// --- 11. sandbox and limits ---

func TestSQLSandbox(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	probe := fmt.Sprintf("%s/thredis-sql-sandbox-%d", os.TempDir(), time.Now().UnixNano())
	cwd, _ := os.ReadDir(".")
	mustReply(t, r, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, r, ":1\r\n", "SQL", "INSERT INTO t VALUES (1)")
	const jm = "-ERR SQL error: PRAGMA journal_mode cannot be changed (the database keeps its journal in memory)\r\n"
	for _, c := range []struct{ stmt, want string }{
		{"ATTACH '" + probe + "' AS x", "-ERR SQL error: ATTACH is not allowed\r\n"},
		{"ATTACH DATABASE 'file:" + probe + "?mode=rwc' AS x", "-ERR SQL error: ATTACH is not allowed\r\n"},
		{"ATTACH ':memory:' AS m", "-ERR SQL error: ATTACH is not allowed\r\n"},
		{"DETACH x", "-ERR SQL error: DETACH is not allowed\r\n"},
		{"SELECT load_extension('" + probe + "')", "-ERR SQL error: load_extension() is not allowed\r\n"},
		{"SELECT load_extension('" + probe + "', 'init')", "-ERR SQL error: load_extension() is not allowed\r\n"},
		{"VACUUM INTO '" + probe + "'", "-ERR SQL error: VACUUM INTO is not allowed\r\n"},
		{"/* x */ vacuum main into '" + probe + "'", "-ERR SQL error: VACUUM INTO is not allowed\r\n"},
		{"PRAGMA journal_mode=DELETE", jm},
		{"PRAGMA journal_mode=WAL", jm},
		{"PRAGMA journal_mode=OFF", jm},
		{"PRAGMA journal_mode=TRUNCATE", jm},
		{"PRAGMA main.journal_mode=PERSIST", jm},
		{"PRAGMA locking_mode=EXCLUSIVE", "-ERR SQL error: PRAGMA locking_mode cannot be changed\r\n"},
		{"PRAGMA writable_schema=ON", "-ERR SQL error: PRAGMA writable_schema is not allowed\r\n"},
		{"PRAGMA temp_store_directory='" + os.TempDir() + "'", "-ERR SQL error: PRAGMA temp_store_directory is not allowed\r\n"},
		{"PRAGMA data_store_directory='" + os.TempDir() + "'", "-ERR SQL error: PRAGMA data_store_directory is not allowed\r\n"},
		{"PRAGMA journal_mode", "*2\r\n*1\r\n*2\r\n$12\r\njournal_mode\r\n$-1\r\n*1\r\n$6\r\nmemory\r\n"},
		{"PRAGMA journal_mode=MEMORY", "*2\r\n*1\r\n*2\r\n$12\r\njournal_mode\r\n$-1\r\n*1\r\n$6\r\nmemory\r\n"},
		{"PRAGMA locking_mode", "*2\r\n*1\r\n*2\r\n$12\r\nlocking_mode\r\n$-1\r\n*1\r\n$6\r\nnormal\r\n"},
	} {
		mustReply(t, r, c.want, "SQL", c.stmt)
	}
	// ATTACH of the empty name (what VACUUM does internally) is not
	// available to clients either.
	if got := r.do("SQL", "ATTACH '' AS e"); !strings.HasPrefix(got, "-ERR SQL error: ") {
		t.Errorf("ATTACH '': %q", got)
	}
	// Plain VACUUM works, and the sandbox still holds afterwards.
	mustReply(t, r, ":0\r\n", "SQL", "VACUUM")
	mustReply(t, r, ":0\r\n", "SQL", "vacuum main;")
	mustReply(t, r, "-ERR SQL error: ATTACH is not allowed\r\n", "SQL", "ATTACH '"+probe+"' AS x")
	if got := r.do("SQL", "ATTACH '' AS e"); !strings.HasPrefix(got, "-ERR SQL error: ") {
		t.Errorf("ATTACH '' after VACUUM: %q", got)
	}
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$15\r\nintegrity_check\r\n$-1\r\n*1\r\n$2\r\nok\r\n", "SQL", "PRAGMA integrity_check")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$1\r\nx\r\n$-1\r\n*1\r\n:1\r\n", "SQL", "SELECT x FROM t")
	if _, err := os.Stat(probe); err == nil {
		t.Errorf("%s was created", probe)
	}
	if after, _ := os.ReadDir("."); len(after) != len(cwd) {
		t.Errorf("files appeared in the working directory")
	}
}

func TestSQLTimeLimit(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE t (x)")
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (1)")
	mustReply(t, a, "+OK\r\n", "CONFIG", "SET", "sql-time-limit", "100")
	rec := recordLog(t, ts)
	before := hashSnap(ts, 0, sqlKey)
	t0 := sqlInfoInt(t, infoSQL(t, a), "sql_timeouts")
	const interrupted = "-ERR SQL error: interrupted: the statement ran longer than sql-time-limit (100 ms)\r\n"
	for _, stmt := range []string{
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
		// A write holds the execution lock while it runs.
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) INSERT INTO t SELECT x FROM c",
	} {
		a.write("*2\r\n$3\r\nSQL\r\n$" + strconv.Itoa(len(stmt)) + "\r\n" + stmt + "\r\n")
		time.Sleep(20 * time.Millisecond)
		mustReply(t, b, "+PONG\r\n", "PING") // answered during or right after
		start := time.Now()
		if got := a.readReply(); got != interrupted {
			t.Fatalf("%s: %q", stmt, got)
		}
		if el := time.Since(start); el > 1500*time.Millisecond {
			t.Errorf("interrupted after %v", el)
		}
	}
	mustReply(t, b, "+PONG\r\n", "PING")
	mustReply(t, a, "*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:1\r\n", "SQL", "SELECT count(*) FROM t")
	if d := sameHash(before, hashSnap(ts, 0, sqlKey)); d != "" {
		t.Errorf("an interrupted write changed the hash: %s", d)
	}
	if got := sqlEntries(rec); len(got) != 0 {
		t.Errorf("an interrupted write was logged: %q", got)
	}
	if n := sqlInfoInt(t, infoSQL(t, a), "sql_timeouts"); n != t0+2 {
		t.Errorf("sql_timeouts %d, was %d", n, t0)
	}
	// A read transaction that times out stays usable.
	mustReply(t, a, ":1\r\n", "SQL", "INSERT INTO t VALUES (2)")
	mustReply(t, a, "+OK\r\n", "CONFIG", "SET", "sql-time-limit", "0")
	mustReply(t, a, "*2\r\n*1\r\n*2\r\n$8\r\ncount(*)\r\n$-1\r\n*1\r\n:200000\r\n", "SQL", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200000) SELECT count(*) FROM c")
}

func TestSQLResultAndLengthLimits(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "sql-max-reply-bytes", "1000")
	const tooBig = "-ERR SQL error: the result is larger than sql-max-reply-bytes (1000 bytes)\r\n"
	mustReply(t, r, tooBig, "SQL", "SELECT randomblob(2000)")
	mustReply(t, r, tooBig, "SQL", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 1000) SELECT x FROM c")
	mustReply(t, r, "*2\r\n*1\r\n*2\r\n$9\r\nlength(x)\r\n$-1\r\n*1\r\n:5000\r\n", "SQL", "SELECT length(x) FROM (SELECT randomblob(5000) AS x)")
	mustReply(t, r, "+OK\r\n", "CONFIG", "SET", "sql-max-reply-bytes", "0")
	if got := sqlOne(t, r, "SQL", "SELECT randomblob(2000)").(string); len(got) != 2000 {
		t.Errorf("unbounded reply %d bytes", len(got))
	}
	mustReply(t, r, "-ERR SQL error: string or blob too big\r\n", "SQL", "SELECT zeroblob(2000000000)")
	mustReply(t, r, "-ERR SQL error: string or blob too big\r\n", "SQL", "SELECT length(zeroblob(600000000))")
	deep := "SELECT 1" + strings.Repeat(" + 1", 1100)
	if got := r.do("SQL", deep); !strings.HasPrefix(got, "-ERR SQL error: Expression tree is too large (maximum depth 1000)") {
		t.Errorf("deep expression: %.100q", got)
	}
	mustReply(t, r, "+PONG\r\n", "PING")
}

// --- 12. spilled pages of an unfinished transaction never reach the hash ---

func TestSQLSpillAtomicity(t *testing.T) {
	ts := startServer(t)
	a, b := ts.raw(t), ts.raw(t)
	mustReply(t, a, ":0\r\n", "SQL", "CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB)")
	mustReply(t, a, ":20\r\n", "SQL", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 20) INSERT INTO big SELECT x, randomblob(3000) FROM c")
	mustReply(t, a, "*2\r\n*1\r\n*2\r\n$10\r\ncache_size\r\n$-1\r\n*1\r\n:5\r\n", "SQL", "PRAGMA cache_size=5; PRAGMA cache_size")
	const fill = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300) INSERT INTO big (b) SELECT randomblob(3000) FROM c"
	before := hashSnap(ts, 0, sqlKey)
	sum := sqlOne(t, b, "SQL", "SELECT sum(length(b)) + total(id) FROM big")
	rec := recordLog(t, ts)
	check := func(what string) {
		t.Helper()
		if d := sameHash(before, hashSnap(ts, 0, sqlKey)); d != "" {
			t.Fatalf("%s: the hash changed: %s", what, d)
		}
		if got := sqlEntries(rec); len(got) != 0 {
			t.Fatalf("%s: logged %q", what, got)
		}
		if got := sqlOne(t, b, "SQL", "SELECT sum(length(b)) + total(id) FROM big"); got != sum {
			t.Fatalf("%s: other client reads %v, want %v", what, got, sum)
		}
	}

	// ROLLBACK after spilling.
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":300\r\n", "SQL", fill)
	mustReply(t, a, ":300\r\n", "SQL", "UPDATE big SET b = randomblob(2500) WHERE id > 20")
	check("mid-transaction")
	mustReply(t, a, ":0\r\n", "SQL", "ROLLBACK")
	check("ROLLBACK")

	// A failing statement inside a transaction, then ROLLBACK.
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":300\r\n", "SQL", fill)
	mustReply(t, a, "-ERR SQL error: UNIQUE constraint failed: big.id\r\n", "SQL",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300) INSERT INTO big (id, b) SELECT CASE WHEN x = 300 THEN 1 ELSE 1000 + x END, randomblob(3000) FROM c")
	if n := sqlCount(t, a, sqlKey, "big"); n != 320 {
		t.Fatalf("the failed statement was not undone inside the transaction: %d rows", n)
	}
	check("failed statement")
	mustReply(t, a, ":0\r\n", "SQL", "ROLLBACK")
	check("ROLLBACK after a failed statement")

	// A failing autocommit statement that spilled.
	mustReply(t, a, "-ERR SQL error: UNIQUE constraint failed: big.id\r\n", "SQL",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300) INSERT INTO big (id, b) SELECT CASE WHEN x = 300 THEN 1 ELSE 1000 + x END, randomblob(3000) FROM c")
	check("failed autocommit statement")

	// Disconnect mid-transaction.
	mustReply(t, a, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, a, ":300\r\n", "SQL", fill)
	a.c.Close()
	// The writer lock comes free: b can start a write transaction.
	mustReply(t, b, ":0\r\n", "SQL", "BEGIN IMMEDIATE")
	mustReply(t, b, ":0\r\n", "SQL", "ROLLBACK")
	check("disconnect")
	mustReply(t, b, "*2\r\n*1\r\n*2\r\n$15\r\nintegrity_check\r\n$-1\r\n*1\r\n$2\r\nok\r\n", "SQL", "PRAGMA integrity_check")

	// And a committed spilling transaction does reach the hash, as one
	// entry.
	c := ts.raw(t)
	mustReply(t, c, ":0\r\n", "SQL", "PRAGMA cache_size=5")
	mustReply(t, c, ":0\r\n", "SQL", "BEGIN")
	mustReply(t, c, ":300\r\n", "SQL", fill)
	mustReply(t, c, ":0\r\n", "SQL", "COMMIT")
	if got := sqlEntries(rec); len(got) != 1 || !strings.HasPrefix(got[0], "[HSET _sql:redis_db <") {
		t.Fatalf("committed spill: %q", got)
	}
	if n := sqlCount(t, b, sqlKey, "big"); n != 320 {
		t.Fatal(n)
	}
}
