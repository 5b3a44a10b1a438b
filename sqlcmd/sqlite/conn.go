package sqlite

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	// The SQLite library this package binds to is the one mattn's driver
	// compiles into the binary; importing the package links it in.
	_ "github.com/mattn/go-sqlite3"
)

// Error is a SQLite error: the primary and extended result codes and the
// message SQLite reported (sqlite3_errmsg).
type Error struct {
	// Code is the primary result code (ExtendedCode & 0xff), e.g. ErrBusy.
	Code int
	// ExtendedCode is the extended result code, e.g. ErrBusySnapshot.
	ExtendedCode int
	// Msg is SQLite's English message, e.g. "no such table: t".
	Msg string
}

// Error returns SQLite's message alone, because that is what a client
// should see (no "sqlite:" prefix or code numbers).
func (e *Error) Error() string { return e.Msg }

// Result codes (https://sqlite.org/rescode.html). The primary codes are
// what Error.Code holds; the extended ones what Error.ExtendedCode may hold.
const (
	OK            = 0
	ErrError      = 1
	ErrInternal   = 2
	ErrPerm       = 3
	ErrAbort      = 4
	ErrBusy       = 5
	ErrLocked     = 6
	ErrNoMem      = 7
	ErrReadonly   = 8
	ErrInterrupt  = 9
	ErrIOErr      = 10
	ErrCorrupt    = 11
	ErrNotFound   = 12
	ErrFull       = 13
	ErrCantOpen   = 14
	ErrProtocol   = 15
	ErrEmpty      = 16
	ErrSchema     = 17
	ErrTooBig     = 18
	ErrConstraint = 19
	ErrMismatch   = 20
	ErrMisuse     = 21
	ErrNoLFS      = 22
	ErrAuth       = 23
	ErrFormat     = 24
	ErrRange      = 25
	ErrNotADB     = 26

	// ErrBusySnapshot is SQLITE_BUSY_SNAPSHOT: the transaction's snapshot
	// is no longer the newest, so it cannot write (the thredis VFS reports
	// this like WAL mode does).
	ErrBusySnapshot = ErrBusy | 2<<8
	// ErrConstraintPrimaryKey is SQLITE_CONSTRAINT_PRIMARYKEY.
	ErrConstraintPrimaryKey = ErrConstraint | 6<<8
	// ErrConstraintUnique is SQLITE_CONSTRAINT_UNIQUE.
	ErrConstraintUnique = ErrConstraint | 8<<8
)

// IsCode reports whether err is (or wraps) an *Error with the given result
// code. A primary code (<= 0xff) is compared with Error.Code, an extended
// one with Error.ExtendedCode.
func IsCode(err error, code int) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if code > 0xff {
		return e.ExtendedCode == code
	}
	return e.Code == code
}

// Limit categories for SetLimit (https://sqlite.org/c3ref/c_limit_attached.html).
const (
	LimitLength            = 0
	LimitSQLLength         = 1
	LimitColumn            = 2
	LimitExprDepth         = 3
	LimitCompoundSelect    = 4
	LimitVDBEOp            = 5
	LimitFunctionArg       = 6
	LimitAttached          = 7
	LimitLikePatternLength = 8
	LimitVariableNumber    = 9
	LimitTriggerDepth      = 10
	LimitWorkerThreads     = 11
)

// Integer options for SetDBConfig (https://sqlite.org/c3ref/c_dbconfig_defensive.html).
const (
	DBConfigEnableFKey          = 1002
	DBConfigEnableTrigger       = 1003
	DBConfigEnableLoadExtension = 1005
	DBConfigDefensive           = 1010
	DBConfigDQSDML              = 1013
	DBConfigDQSDDL              = 1014
	DBConfigEnableView          = 1015
	DBConfigTrustedSchema       = 1017
)

// openFlags: read/write, create, URI file names (the URI names the VFS),
// no SQLite mutex (a Conn is used by one goroutine at a time, so the
// mutex would be pure overhead), and extended result codes.
const openFlags = C.SQB_OPEN_READWRITE | C.SQB_OPEN_CREATE | C.SQB_OPEN_URI | C.SQB_OPEN_NOMUTEX |
	C.SQB_OPEN_EXRESCODE

// Conn is a SQLite database connection. It must be used by one goroutine
// at a time, except for Interrupt.
// init switches SQLite's memory statistics off before anything opens a
// database (the library initializes on first use; see sqb_memstatus_off).
// In a process where SQLite is already initialized this is a no-op.
func init() { C.sqb_memstatus_off() }

type Conn struct {
	p *C.sqbConn
	// mu serializes Interrupt, which may come from any goroutine, with
	// Close, so that Interrupt never touches a closed connection.
	mu sync.Mutex
}

// Open opens uri with sqlite3_open_v2 (read/write, create, URI names, no
// mutex, extended result codes) and installs the deadline progress
// handler. The URI names the VFS, e.g. "file:d1?vfs=thredis"; ":memory:"
// and "file:x?mode=memory" work too.
func Open(uri string) (*Conn, error) {
	curi := C.CString(uri)
	defer C.free(unsafe.Pointer(curi))
	var rc C.int
	p := C.sqb_open(curi, openFlags, &rc)
	if p == nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", uri, codeError(ErrNoMem))
	}
	if rc != C.SQB_SQLITE_OK {
		var err error
		if p.db != nil {
			err = dbError(p.db, rc)
		} else {
			err = codeError(rc)
		}
		C.sqb_close(p)
		return nil, fmt.Errorf("sqlite: open %q: %w", uri, err)
	}
	return &Conn{p: p}, nil
}

// dbError builds the *Error for result code rc from db's error state.
func dbError(db *C.sqlite3, rc C.int) error {
	ext := int(rc)
	if ext&0xff == ext {
		// A primary code: the connection may know the extended one.
		if x := int(C.sqlite3_extended_errcode(db)); x&0xff == ext {
			ext = x
		}
	}
	return &Error{Code: ext & 0xff, ExtendedCode: ext, Msg: C.GoString(C.sqlite3_errmsg(db))}
}

// codeError builds an *Error for rc with SQLite's generic text for it, for
// when no connection holds a message.
func codeError[T ~int32 | ~int](rc T) error {
	return &Error{Code: int(rc) & 0xff, ExtendedCode: int(rc), Msg: C.GoString(C.sqlite3_errstr(C.int(rc)))}
}

var errClosed = &Error{Code: ErrMisuse, ExtendedCode: ErrMisuse, Msg: "sqlite: connection is closed"}

// err returns the *Error for result code rc on c.
func (c *Conn) err(rc C.int) error {
	if c.p == nil {
		return errClosed
	}
	return dbError(c.p.db, rc)
}

// Close finalizes every statement still open on c (a Stmt of c must not be
// used afterwards, except that Finalize is a no-op) and closes the
// connection. Closing twice is safe.
func (c *Conn) Close() error {
	c.mu.Lock()
	p := c.p
	c.p = nil
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	if rc := C.sqb_close(p); rc != C.SQB_SQLITE_OK {
		return fmt.Errorf("sqlite: close: %w", codeError(rc))
	}
	return nil
}

// Exec runs sql, which may hold several statements, discarding any result
// rows (sqlite3_exec). It is meant for PRAGMAs and setup, not per request:
// it copies sql to C memory.
func (c *Conn) Exec(sql string) error {
	if c.p == nil {
		return errClosed
	}
	cs := C.CString(sql)
	defer C.free(unsafe.Pointer(cs))
	if rc := C.sqb_exec(c.p, cs); rc != C.SQB_SQLITE_OK {
		return c.err(rc)
	}
	return nil
}

// Prepare compiles the first SQL statement in sql (sqlite3_prepare_v3,
// passing the length so that sql needs no NUL terminator and is not
// copied). tail is the rest of sql after that statement, a sub-slice of
// sql. When sql holds only whitespace, comments or empty statements, st is
// nil, err is nil and tail is empty. On error tail is where SQLite stopped
// parsing. Prepare clears LastDenial.
func (c *Conn) Prepare(sql []byte) (st *Stmt, tail []byte, err error) {
	if c.p == nil {
		return nil, nil, errClosed
	}
	if len(sql) == 0 {
		return nil, sql, nil
	}
	if len(sql) > math.MaxInt32 {
		return nil, nil, codeError(ErrTooBig)
	}
	r := C.sqb_prepare(c.p, (*C.char)(unsafe.Pointer(unsafe.SliceData(sql))), C.int(len(sql)))
	tail = sql[int(r.tail):]
	if r.rc != C.SQB_SQLITE_OK {
		return nil, tail, c.err(r.rc)
	}
	if r.st == nil {
		return nil, tail, nil
	}
	return &Stmt{c: c, p: r.st}, tail, nil
}

// Changes returns the number of rows the most recent INSERT, UPDATE or
// DELETE changed (sqlite3_changes64).
func (c *Conn) Changes() int64 { return int64(C.sqlite3_changes64(c.p.db)) }

// TotalChanges returns the number of rows changed since the connection
// opened (sqlite3_total_changes64).
func (c *Conn) TotalChanges() int64 { return int64(C.sqlite3_total_changes64(c.p.db)) }

// LastInsertRowID returns the rowid of the most recent successful INSERT
// into a rowid table (sqlite3_last_insert_rowid).
func (c *Conn) LastInsertRowID() int64 { return int64(C.sqlite3_last_insert_rowid(c.p.db)) }

// AutoCommit reports whether the connection is outside an explicit
// transaction (sqlite3_get_autocommit).
func (c *Conn) AutoCommit() bool { return C.sqlite3_get_autocommit(c.p.db) != 0 }

// SetLimit sets run-time limit id (one of the Limit constants) to v and
// returns its previous value; a negative v only reads it (sqlite3_limit).
func (c *Conn) SetLimit(id, v int) int {
	return int(C.sqlite3_limit(c.p.db, C.int(id), C.int(v)))
}

// SetDBConfig sets one of the integer sqlite3_db_config options (the
// DBConfig constants) to v (0 off, 1 on).
func (c *Conn) SetDBConfig(op int, v int) error {
	if c.p == nil {
		return errClosed
	}
	if rc := C.sqb_db_config_int(c.p, C.int(op), C.int(v)); rc != C.SQB_SQLITE_OK {
		// An unknown op returns SQLITE_ERROR without setting a message.
		return fmt.Errorf("sqlite: db_config option %d: %w", op, codeError(rc))
	}
	return nil
}

// SetDeadline makes statements on c fail with ErrInterrupt once the
// monotonic clock passes t; the zero t removes the deadline. It also
// resets DeadlineExceeded.
//
// The check is a progress handler written in C, run every 1000 virtual
// machine instructions, that compares clock_gettime(CLOCK_MONOTONIC) with
// the deadline stored in the C connection struct: no Go call per check.
// Setting a deadline costs one cgo call (to read that clock), clearing it
// none.
func (c *Conn) SetDeadline(t time.Time) {
	if t.IsZero() {
		c.p.deadline = 0
		c.p.deadlineHit = 0
		return
	}
	C.sqb_set_deadline(c.p, C.sqlite3_int64(time.Until(t)))
}

// DeadlineExceeded reports whether a statement was interrupted because the
// deadline passed (rather than by Interrupt) since the last SetDeadline.
func (c *Conn) DeadlineExceeded() bool { return c.p.deadlineHit != 0 }

// Interrupt makes the statement running on c, if any, fail with
// ErrInterrupt as soon as possible (sqlite3_interrupt). It is safe to call
// from any goroutine, while another goroutine runs a statement on c or
// closes it. With no statement running it has no effect.
func (c *Conn) Interrupt() {
	c.mu.Lock()
	if c.p != nil {
		C.sqlite3_interrupt(c.p.db)
	}
	c.mu.Unlock()
}

// EnableSandbox installs an authorizer, written in C so that no check
// calls Go, that denies (SQLITE_DENY, so the statement fails to prepare
// with ErrAuth) what a client must not do to a server-owned database:
//
//   - ATTACH (except of the empty file name, a private temporary
//     database, which plain VACUUM attaches internally; VACUUM INTO a
//     file is refused as an ATTACH) and DETACH;
//   - calling load_extension();
//   - setting PRAGMA writable_schema, temp_store_directory or
//     data_store_directory (reading them is allowed);
//   - PRAGMA journal_mode with an argument other than MEMORY, and
//     PRAGMA locking_mode with one other than NORMAL.
//
// A denied statement fails with ErrAuth (even a denied function call,
// for which SQLite itself reports SQLITE_ERROR), and LastDenial tells
// why. SetTrusted(true) lifts all of it for the server's
// own statements. Installing an authorizer expires existing prepared
// statements (they recompile on next use), so call this right after Open.
func (c *Conn) EnableSandbox() { C.sqb_enable_sandbox(c.p) }

// SetTrusted switches the sandbox off (on == true) or back on. The
// authorizer runs when a statement is compiled, which may also happen
// inside Step when SQLite recompiles a statement after a schema change, so
// keep trust on across Step too for internal statements that need it.
func (c *Conn) SetTrusted(on bool) {
	if on {
		c.p.trusted = 1
	} else {
		c.p.trusted = 0
	}
}

// LastDenial returns a short English reason for the sandbox's most recent
// denial, e.g. "ATTACH is not allowed", or "" if nothing was denied since
// the last Prepare (or Exec), which clears it.
func (c *Conn) LastDenial() string {
	if c.p == nil || c.p.denial == nil {
		return ""
	}
	return C.GoString(c.p.denial)
}
