// Package vfs is the "thredis" SQLite VFS: it keeps a SQLite database as
// pages in a PageStore (in the server, a hash key of the keyspace: field =
// page byte offset in decimal, value = the raw page), and gives SQLite
// connections on it atomic commits and WAL-like snapshot isolation without
// any file, journal or shared memory.
//
// # Use
//
// The VFS registers with the SQLite library github.com/mattn/go-sqlite3
// compiles into the binary (cgo; CGO_ENABLED=1, the default, and a C
// compiler are all the build needs). A database is attached under a name
// and opened through database/sql with mattn's driver:
//
//	v, _ := vfs.Register("thredis")          // once per process
//	d, _ := v.Attach("db1", store, vfs.Options{})
//	db, _ := sql.Open("sqlite3", d.DSN())   // file:db1?vfs=thredis&_journal_mode=MEMORY&…
//
// DSN sets journal_mode=MEMORY, which the VFS requires: with OFF a failed
// statement inside a transaction cannot be undone, DELETE/TRUNCATE/PERSIST
// would need a journal file and WAL needs shared memory. The VFS refuses
// `PRAGMA journal_mode` to anything else, `PRAGMA locking_mode=EXCLUSIVE`
// and a `PRAGMA page_size` other than the database's, refuses to open any
// named side file (journal, WAL, super-journal, or a database name that is
// not attached, so ATTACH and VACUUM INTO of paths fail), refuses to load
// extensions, and serves the anonymous scratch files SQLite needs
// (statement journals, sort spills, temp tables, VACUUM's copy) from
// memory. Nothing SQL does creates a file.
//
// # Commits (DESIGN rule 2)
//
// A write transaction's pages go to an overlay private to it; the writer
// reads its own overlay first, everyone else reads committed versions. When
// SQLite has completed a commit it sends SQLITE_FCNTL_COMMIT_PHASETWO; only
// then does the VFS turn the overlay (plus the pages a shrinking
// transaction removed) into one Batch and call PageStore.Commit once. If the
// store refuses, the commit fails (SQLite reports a disk I/O error) and
// nothing is published. ROLLBACK, a failed statement, or a connection
// closed mid-transaction drop the overlay: the store never sees it. SQLite
// can spill pages of a large transaction to the VFS long before it commits;
// they stay in the overlay.
//
// # Snapshots and locking
//
// Every commit publishes a new version. A connection that starts a read
// transaction (SQLite's SHARED lock) pins the newest version and reads it
// until the transaction ends, whatever commits in between; old page
// versions stay alive while a version that needs them is pinned and are
// dropped when the last such reader leaves. Readers never wait for the
// writer and the writer never waits for readers.
//
// Writers are serialized by one writer lock per database (SQLite's RESERVED
// lock). A writer waits for it up to Options.BusyTimeout, then fails with
// SQLITE_BUSY ("database is locked"). A transaction whose snapshot is no
// longer the newest (another writer committed after it started reading)
// cannot write: it fails with SQLITE_BUSY_SNAPSHOT, as in WAL mode. For a
// statement that opened no read transaction before writing (an autocommit
// INSERT, BEGIN IMMEDIATE, the first write after BEGIN) SQLite's own busy
// handler retries on a fresh snapshot; the VFS recognises the retry and has
// it wait for the writer lock before pinning, so writers queue in order
// without SQLite's sleep-and-poll delays. DSN sets SQLite's busy_timeout to
// Options.BusyTimeout so that retry happens.
//
// # External changes
//
// The VFS reads the store only when a database is attached and on Reload.
// When something else replaces the content (DEL, UNLINK, FLUSHDB,
// FLUSHALL, RENAME, COPY, MOVE, RESTORE, an AOF load, a replica's full
// sync), the caller updates the store and calls Database.Reload. That
// bumps the database's epoch: readers already inside a transaction finish
// on their old snapshot, an open write transaction can no longer commit,
// and every connection must run ResetSQL (empty page cache, reload schema,
// acknowledge the epoch) before its next statement. SQLite alone would
// trust its cache while page 1's change counter is unchanged and its schema
// while the schema cookie is unchanged, and replaced content can repeat
// both by coincidence; the VFS therefore refuses to start a transaction on
// a connection that has not acknowledged the epoch (IsStaleEpoch reports
// that error), rather than let a stale cache be used. A connection whose
// database was deleted sees an empty database after the reset.
//
// A page batch that a genuine SQLite commit produced elsewhere (a replica
// applying its master's batch) is published with Database.ApplyExternal
// instead: it carries page 1's new change counter and schema cookie, so
// open connections need no reset.
//
// # The SQL layer's side of the contract
//
// PageStore.Commit runs inside SQLite's commit, on the goroutine running
// the SQL statement, while the database's commit lock is held; Reload and
// ApplyExternal take that lock too. A keyspace-backed store therefore
// expects the SQL layer to hold the server's execution lock while it runs a
// statement that may commit (and COMMIT itself), and does not take the
// lock in Commit; statements that only read run without it (DESIGN rule 3).
//
// # Costs
//
// Crossing from C to Go costs 40-80 ns, so whatever needs no shared Go
// state is answered in C: SQLite's per-transaction probes (file size, the
// change counter at offset 24, journal existence, sync), the uncontended
// writer lock, the RESERVED to EXCLUSIVE upgrade, the unlock after a
// commit, and starting and ending a read transaction while the connection's
// snapshot is still the newest version (a connection keeps it pinned while
// idle; the next commit revokes that pin). A point SELECT on a cached page
// therefore calls no Go at all, and a one-row autocommit INSERT calls Go
// three times: two page writes and the commit. Page buffers of rolled-back
// transactions are reused, and a store that implements PageRecycler lets
// the VFS reuse superseded committed pages too; without that every
// committed page is a fresh allocation, which costs more than the rest of
// the VFS together.
package vfs
