package sqlite

/*
#include "bridge.h"

#cgo noescape sqb_bind_text
#cgo noescape sqb_bind_blob
*/
import "C"

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

// Column and value types (sqlite3_column_type).
const (
	TypeInteger = 1
	TypeFloat   = 2
	TypeText    = 3
	TypeBlob    = 4
	TypeNull    = 5
)

// Stmt is a prepared statement. It belongs to its Conn and shares its
// one-goroutine-at-a-time rule.
type Stmt struct {
	c *Conn
	p *C.sqlite3_stmt
}

// Finalize destroys the statement. Like sqlite3_finalize it returns the
// error of the statement's most recent Step, if that failed. Finalizing
// twice, or after the Conn was closed, is a no-op.
func (s *Stmt) Finalize() error {
	p := s.p
	s.p = nil
	if p == nil || s.c.p == nil {
		return nil
	}
	if rc := C.sqlite3_finalize(p); rc != C.SQB_SQLITE_OK {
		return s.c.err(rc)
	}
	return nil
}

// Reset rewinds the statement so it can be stepped again; bindings are
// kept. Like sqlite3_reset it returns the error of the most recent Step,
// if that failed.
func (s *Stmt) Reset() error {
	if s.c.p == nil {
		return errClosed
	}
	if rc := C.sqlite3_reset(s.p); rc != C.SQB_SQLITE_OK {
		return s.c.err(rc)
	}
	return nil
}

// ClearBindings sets every parameter back to NULL.
func (s *Stmt) ClearBindings() { C.sqlite3_clear_bindings(s.p) }

// Readonly reports whether the statement makes no direct change to the
// database file (sqlite3_stmt_readonly): true for SELECT, and also for
// BEGIN, COMMIT and ROLLBACK, which change only the connection's state.
func (s *Stmt) Readonly() bool { return C.sqlite3_stmt_readonly(s.p) != 0 }

// SQL returns the statement's text (without the tail).
func (s *Stmt) SQL() string { return C.GoString(C.sqlite3_sql(s.p)) }

// ParamCount returns the largest parameter index (sqlite3_bind_parameter_count).
func (s *Stmt) ParamCount() int { return int(C.sqlite3_bind_parameter_count(s.p)) }

// bindErr wraps a failed bind's result code with the parameter index.
func (s *Stmt) bindErr(i int, rc C.int) error {
	return fmt.Errorf("sqlite: bind parameter %d: %w", i, s.c.err(rc))
}

// BindInt64 binds v to parameter i (1-based).
func (s *Stmt) BindInt64(i int, v int64) error {
	if rc := C.sqlite3_bind_int64(s.p, C.int(i), C.sqlite3_int64(v)); rc != C.SQB_SQLITE_OK {
		return s.bindErr(i, rc)
	}
	return nil
}

// BindFloat binds v to parameter i (1-based).
func (s *Stmt) BindFloat(i int, v float64) error {
	if rc := C.sqlite3_bind_double(s.p, C.int(i), C.double(v)); rc != C.SQB_SQLITE_OK {
		return s.bindErr(i, rc)
	}
	return nil
}

// BindNull binds NULL to parameter i (1-based).
func (s *Stmt) BindNull(i int) error {
	if rc := C.sqlite3_bind_null(s.p, C.int(i)); rc != C.SQB_SQLITE_OK {
		return s.bindErr(i, rc)
	}
	return nil
}

// BindText binds v as TEXT to parameter i (1-based). SQLite copies v
// (SQLITE_TRANSIENT), so the caller may reuse it at once. A nil v binds
// NULL; an empty non-nil v binds the empty string.
func (s *Stmt) BindText(i int, v []byte) error {
	if v == nil {
		return s.BindNull(i)
	}
	if len(v) > maxLen {
		return s.bindErr(i, C.SQB_SQLITE_TOOBIG)
	}
	if rc := C.sqb_bind_text(s.p, C.int(i), bytesPtr(v), C.int(len(v))); rc != C.SQB_SQLITE_OK {
		return s.bindErr(i, rc)
	}
	return nil
}

// BindBlob binds v as a BLOB to parameter i (1-based), copying it like
// BindText. A nil v binds NULL; an empty non-nil v a zero-length blob.
func (s *Stmt) BindBlob(i int, v []byte) error {
	if v == nil {
		return s.BindNull(i)
	}
	if len(v) > maxLen {
		return s.bindErr(i, C.SQB_SQLITE_TOOBIG)
	}
	if rc := C.sqb_bind_blob(s.p, C.int(i), bytesPtr(v), C.int(len(v))); rc != C.SQB_SQLITE_OK {
		return s.bindErr(i, rc)
	}
	return nil
}

// maxLen is the longest string or blob a C int length can describe.
const maxLen = 1<<31 - 1

// bytesPtr returns v's data as a C pointer (nil for an empty v, which C
// replaces with a static empty string).
func bytesPtr(v []byte) *C.char {
	if len(v) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(unsafe.SliceData(v)))
}

// ColumnCount returns the number of result columns (0 for statements that
// return no data).
func (s *Stmt) ColumnCount() int { return int(C.sqlite3_column_count(s.p)) }

// ColumnName returns the name of result column i (0-based).
func (s *Stmt) ColumnName(i int) string {
	return C.GoString(C.sqlite3_column_name(s.p, C.int(i)))
}

// ColumnDeclType returns the declared type of result column i when it is
// a table column, and "" for expressions.
func (s *Stmt) ColumnDeclType(i int) string {
	p := C.sqlite3_column_decltype(s.p, C.int(i))
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// Step runs the statement to its next result row: (true, nil) when a row
// is available, (false, nil) when the statement has finished, and an
// *Error (with sqlite3_errmsg's text) on failure. It is one cgo call and
// does not allocate unless it fails.
func (s *Stmt) Step() (row bool, err error) {
	if s.c.p == nil || s.p == nil {
		return false, errClosed
	}
	switch rc := C.sqlite3_step(s.p); rc {
	case C.SQB_SQLITE_ROW:
		return true, nil
	case C.SQB_SQLITE_DONE:
		return false, nil
	default:
		return false, s.c.err(rc)
	}
}

// ColumnType returns the type (TypeInteger ... TypeNull) of column i of
// the current row.
func (s *Stmt) ColumnType(i int) int { return int(C.sqlite3_column_type(s.p, C.int(i))) }

// ColumnInt64 returns column i of the current row as an integer.
func (s *Stmt) ColumnInt64(i int) int64 { return int64(C.sqlite3_column_int64(s.p, C.int(i))) }

// ColumnFloat returns column i of the current row as a float.
func (s *Stmt) ColumnFloat(i int) float64 { return float64(C.sqlite3_column_double(s.p, C.int(i))) }

// ColumnText returns a copy of column i of the current row as text ("" for
// NULL). Numbers are rendered the way SQLite renders them.
func (s *Stmt) ColumnText(i int) string {
	b := C.sqb_column_text(s.p, C.int(i))
	if b.p == nil {
		return ""
	}
	return C.GoStringN(b.p, b.n)
}

// ColumnBytes returns a copy of the bytes of column i of the current row:
// a blob's bytes, or the text of any other non-NULL value. NULL gives nil,
// an empty value a non-nil empty slice.
func (s *Stmt) ColumnBytes(i int) []byte {
	b := C.sqb_column_bytes(s.p, C.int(i))
	if b._type == C.SQB_SQLITE_NULL {
		return nil
	}
	if b.n == 0 {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(b.p), b.n)
}

// AppendRow appends the current row to dst as a RESP array of ColumnCount
// elements and returns the extended slice:
//
//   - INTEGER: ":<n>\r\n"
//   - NULL: "$-1\r\n" (RESP2) or "_\r\n" (RESP3)
//   - REAL: SQLite's own text for the value (sqlite3_column_text, e.g. 1.5
//     -> "1.5", 3.0 -> "3.0", 1e300 -> "1.0e+300"), as a bulk string in
//     RESP2 and as a double ",<text>\r\n" in RESP3, where non-finite values
//     are ",inf", ",-inf" (SQLite stores NaN as NULL)
//   - TEXT and BLOB: a binary-safe bulk string "$<len>\r\n<bytes>\r\n"
//
// The row is serialized in C, in one cgo call, into a buffer the Conn owns
// and reuses; this then copies it into dst, so AppendRow allocates only
// when dst must grow.
func (s *Stmt) AppendRow(dst []byte, resp3 bool) []byte {
	r3 := C.int(0)
	if resp3 {
		r3 = 1
	}
	n := C.sqb_append_row(s.c.p, s.p, r3)
	if n < 0 {
		panic("sqlite: out of memory serializing a row")
	}
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(s.c.p.buf)), int(n))...)
}

// ErrRowsTooBig is returned by Run when the rows outgrew its limit.
var ErrRowsTooBig = errors.New("sqlite: the result is larger than the limit")

// RunResult describes a statement Run to completion.
type RunResult struct {
	// Rows is the number of result rows appended.
	Rows int
	// Changes is the number of rows the statement inserted, updated or
	// deleted: 0 for statements that changed none (DDL, SELECT), unlike
	// sqlite3_changes, which keeps an earlier statement's count.
	Changes int64
	// Reprepares is SQLite's recompile counter for the statement (after a
	// schema change); column names and types may differ once it moves.
	Reprepares int
	// Long reports that the statement ran long enough for the hook of
	// SetLongStatementHook to be called.
	Long bool
}

// Run steps the bound statement to completion in one cgo call, appending
// every result row to dst as a RESP array (see AppendRow), and resets it.
// limit > 0 stops it with ErrRowsTooBig once the rows take more than limit
// bytes; timeout > 0 arms the connection's deadline (SetDeadline) that
// long from now, timeout == 0 clears it. On a SQLite error the statement
// is reset too, and the error carries SQLite's message.
func (s *Stmt) Run(dst []byte, resp3 bool, limit int64, timeout time.Duration) ([]byte, RunResult, error) {
	var res RunResult
	if s.c.p == nil || s.p == nil {
		return dst, res, errClosed
	}
	r3 := C.int(0)
	if resp3 {
		r3 = 1
	}
	r := C.sqb_run(s.c.p, s.p, r3, C.sqlite3_int64(limit), C.sqlite3_int64(timeout))
	if r.len > 0 {
		dst = append(dst, unsafe.Slice((*byte)(unsafe.Pointer(s.c.p.buf)), int(r.len))...)
	}
	res = RunResult{Rows: int(r.rows), Changes: int64(r.changes), Reprepares: int(r.reprepares), Long: r.longFired != 0}
	rc := r.rc
	switch rc {
	case C.SQB_SQLITE_OK:
		return dst, res, nil
	case C.SQB_RUN_TOO_BIG:
		return dst, res, ErrRowsTooBig
	case C.SQB_RUN_NOMEM:
		return dst, res, &Error{Code: ErrNoMem, ExtendedCode: ErrNoMem, Msg: "out of memory"}
	}
	err := s.c.err(rc)
	C.sqlite3_reset(s.p)
	return dst, res, err
}

// longHook is the function SetLongStatementHook installed.
var longHook atomic.Pointer[func()]

// SetLongStatementHook makes Stmt.Run call fn once a statement has run for
// after (checked by the progress handler, every 1000 virtual machine
// instructions), on the statement's own thread, from inside SQLite; the
// statement's RunResult.Long then tells the caller to undo whatever fn
// did. after <= 0 switches it off. It is process-wide, like what it is
// for (the SQL layer gives the Go scheduler one more thread while a long
// statement runs): call it before statements run.
func SetLongStatementHook(after time.Duration, fn func()) {
	longHook.Store(&fn)
	C.sqb_long_ns = C.sqlite3_int64(max(after, 0))
}

//export sqbGoLongStatement
func sqbGoLongStatement() {
	if fn := longHook.Load(); fn != nil && *fn != nil {
		(*fn)()
	}
}
