// Package sqlite is a thin, fast cgo binding to the SQLite C API of the
// SQLite library that github.com/mattn/go-sqlite3 compiles into the binary.
//
// The server needs control that database/sql and mattn's driver do not give:
// statement tails (a request may hold a script), per-statement read-only
// flags (reads run outside the keyspace's exclusive section), a deadline
// enforced by a progress handler, a sandboxing authorizer, and virtual
// tables without build tags. Like package vfs it declares the pieces of
// SQLite's stable ABI it uses in its own header (bridge.h) instead of
// including sqlite3.h, and links against mattn's amalgamation by importing
// the driver package for its side effect.
//
// # Cost model
//
// Every call into C costs tens of nanoseconds, and every call back from C
// into Go far more, so the hot paths are one cgo call each: Prepare, each
// Bind, Step, AppendRow (a whole row serialized to RESP in C) and Reset.
// Apart from Prepare (which allocates its Stmt) none of them allocates on
// success, so a prepared statement can be re-run with no garbage. The
// deadline check, the authorizer and virtual table cursors run entirely
// in C.
//
// # Concurrency
//
// A Conn is opened with SQLITE_OPEN_NOMUTEX: it and its statements must be
// used by one goroutine at a time. The exception is Conn.Interrupt, which
// any goroutine may call at any time, even concurrently with Close.
//
// # Errors
//
// Errors from SQLite are *Error values carrying the primary and extended
// result codes and sqlite3_errmsg's text. The statement-level calls
// (Exec, Prepare, Step, Reset, Finalize) return them unwrapped because the
// message is what a client is shown; setup calls (Open, SetDBConfig,
// CreateFunction, CreateModule) and Bind* wrap them with context. Use IsCode
// or errors.As in either case.
package sqlite
