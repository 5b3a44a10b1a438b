// Package sqlcmd runs the SQL commands (SQL, SQL.EXEC, SQL.QUERY): it
// attaches each hash key that holds a database to the thredis SQLite VFS,
// gives every client its own SQLite connection per database (a session),
// runs statements with the server's locking rules, encodes replies, and
// enforces the sandbox and limits.
//
// Locking (DESIGN rule 3). A statement that can only read runs without the
// server's execution lock: it reads a pinned snapshot of the pages, so it
// neither waits for nor blocks keyspace commands or SQL writers. A
// statement that may write, or end a transaction (COMMIT, END, RELEASE,
// BEGIN IMMEDIATE/EXCLUSIVE), runs under the execution lock, so its commit
// — the page batch applied to the hash and appended to the command log —
// is atomic with respect to every other command. Such a statement waits
// for another client's write transaction (SQLite's writer lock) with the
// execution lock released (vfs.Options.WaitHook), so an open transaction
// elsewhere never stalls the server; inside MULTI/EXEC the lock cannot be
// released and the statement fails at once with "database is locked".
package sqlcmd

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/vfs"
)

// Host is what the SQL layer needs from the server.
type Host interface {
	// Lock takes the server's execution lock.
	Lock()
	// Unlock appends the effects propagated since Lock to the command log
	// as one atomic entry (MULTI … EXEC) and releases the lock.
	Unlock()
	// Keyspace returns the keyspace; only used with the lock held.
	Keyspace() *keyspace.Keyspace
	// Propagate adds one command to the effects of the command being
	// executed, for database db; lock held.
	Propagate(db int, argv [][]byte)
	// Flush appends the effects propagated so far as one atomic entry;
	// lock held.
	Flush()
	// Call runs a read-only command on database db with the lock held
	// and returns its RESP2 reply, for the redis() SQL function.
	Call(db int, args [][]byte) []byte
	// ExternalPageWrite reports whether the command being executed writes
	// pages that a SQLite commit made elsewhere (a replica applying its
	// master's page batch); lock held.
	ExternalPageWrite() bool
}

// Config holds the sql-* settings; the server's configuration owns it and
// its directives write it. Fields are atomics so CONFIG SET takes effect
// at once (PageSize and BusyTimeout for databases attached and
// connections opened afterwards).
type Config struct {
	// PageSize is the page size of databases created from now on.
	PageSize atomic.Int64
	// BusyTimeout (ms) bounds the wait for another client's write
	// transaction.
	BusyTimeout atomic.Int64
	// TimeLimit (ms) interrupts a statement running longer; 0 = none.
	TimeLimit atomic.Int64
	// MaxReplyBytes bounds one reply; 0 = none.
	MaxReplyBytes atomic.Int64
	// MaxLength is SQLite's SQLITE_LIMIT_LENGTH for new connections.
	MaxLength atomic.Int64
}

// Stats are the counters INFO sql reports.
type Stats struct {
	Statements atomic.Int64 // statements run
	Errors     atomic.Int64 // statements that failed
	Busy       atomic.Int64 // statements failed with "database is locked"
	Timeouts   atomic.Int64 // statements interrupted by sql-time-limit
}

// Engine is the SQL layer of one server.
type Engine struct {
	host Host
	log  *slog.Logger
	vfs  *vfs.VFS
	// Cfg is the live configuration.
	Cfg *Config
	// Stats are the counters INFO sql reports.
	Stats Stats

	mu     sync.Mutex // guards dbs and nextID
	dbs    map[dbKey]*database
	nextID int
	noWait bool // the execution lock holder is inside EXEC; guarded by the execution lock
}

type dbKey struct {
	db  int
	key string
}

// database is one hash key attached to the VFS.
type database struct {
	e     *Engine
	id    dbKey
	uri   string // opens the database through the VFS
	store *vfs.KeyStore
	vdb   *vfs.Database
}

// stale reports that the hash was changed externally and the VFS must
// reload it (or catch up with it) before the next statement; safe without
// the lock.
func (d *database) stale() bool { return d.store.Stale.Load() || d.store.External.Load() }

// vfsRegistry keeps one VFS registration per name for the process:
// SQLite keeps registered VFS objects forever, and tests start many
// servers.
var (
	vfsMu       sync.Mutex
	vfsRegistry = map[string]*vfs.VFS{}
)

func sharedVFS(name string) (*vfs.VFS, error) {
	vfsMu.Lock()
	defer vfsMu.Unlock()
	if v := vfsRegistry[name]; v != nil {
		return v, nil
	}
	v, err := vfs.Register(name)
	if err != nil {
		return nil, err
	}
	vfsRegistry[name] = v
	return v, nil
}

// engineSeq makes VFS database names unique across the engines of one
// process (tests run several servers).
var engineSeq atomic.Int64

// DefaultConfig returns the defaults of the sql-* directives.
func DefaultConfig() *Config {
	c := &Config{}
	c.PageSize.Store(vfs.DefaultPageSize)
	c.BusyTimeout.Store(5000)
	c.TimeLimit.Store(5000)
	c.MaxReplyBytes.Store(64 << 20)
	c.MaxLength.Store(512 << 20)
	return c
}

// New creates the SQL layer for a server, configured by cfg.
func New(host Host, logger *slog.Logger, cfg *Config) (*Engine, error) {
	v, err := sharedVFS("thredis")
	if err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	installBoost()
	return &Engine{host: host, log: logger, vfs: v, Cfg: cfg, dbs: make(map[dbKey]*database), nextID: int(engineSeq.Add(1)) << 32}, nil
}

// WatchedKeyTouched implements keyspace.Watcher: the hash changed. Our own
// commits are ignored; anything else (DEL, RENAME, FLUSHALL, SWAPDB, a
// replica's or an AOF's HSET) makes the database stale: the next statement
// reloads it, and a commit racing with the change fails. Runs with the
// execution lock held. The reload is deferred because watchers are told
// before the change is made (FLUSHDB, SWAPDB).
func (d *database) WatchedKeyTouched() {
	if d.store.Committing() {
		return
	}
	if d.e.host.ExternalPageWrite() {
		// Pages of a commit made elsewhere: caught up incrementally.
		d.store.External.Store(true)
		return
	}
	d.store.Stale.Store(true)
}

// reloadLocked makes the VFS re-read a stale database. Lock held.
func (d *database) reloadLocked() error {
	if !d.stale() {
		return nil
	}
	// The key now holds another type (DEL then SET): the same reply as
	// for a key that held it from the start.
	if holdsNonHash(d.store.DB, d.id.key) {
		return keyspace.ErrWrongType
	}
	// Stale stays set until the reload is done, so readers checking it
	// without the lock wait for the new content.
	if !d.store.Stale.Load() {
		// Only page batches committed elsewhere: publish what changed,
		// unless the hash turns out not to hold such commits.
		ok, err := d.vdb.SyncExternal()
		if err == nil && ok {
			d.store.External.Store(false)
			return nil
		}
	}
	if err := d.vdb.Reload(); err != nil {
		return err
	}
	releaseCopies(d.vdb)
	d.store.Stale.Store(false)
	d.store.External.Store(false)
	return nil
}

// bigLoad is the database size from which a load's garbage is handed back
// to the operating system at once (releaseCopies).
const bigLoad = 64 << 20

// releaseCopies follows the load of a big database: the VFS gave the hash
// private copies of its pages, so the pages the hash held before (from an
// RDB or AOF load, a replica's sync) are garbage as large as the database.
// The runtime would keep that memory mapped for minutes; a forced
// collection, off the execution lock, returns it now, so resident memory
// does not stay at twice the data.
func releaseCopies(vdb *vfs.Database) {
	if vdb.Stats().Bytes >= bigLoad {
		go debug.FreeOSMemory()
	}
}

// holdsNonHash reports whether key exists with a type other than hash.
func holdsNonHash(db *keyspace.DB, key string) bool {
	k := db.Type([]byte(key))
	return k != keyspace.KindNone && k != keyspace.KindHash
}

// busyWait converts sql-busy-timeout (ms) to vfs.Options.BusyTimeout:
// 0 means no wait, which the VFS spells as a negative duration (its zero
// is the 5 s default).
func busyWait(ms int64) time.Duration {
	if ms <= 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// lookup returns the attached database for key in db (nil if none).
func (e *Engine) lookup(id dbKey) *database {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dbs[id]
}

// attachLocked attaches key of database db to the VFS, loading its pages.
// Execution lock held.
func (e *Engine) attachLocked(id dbKey) (*database, error) {
	if d := e.lookup(id); d != nil {
		return d, nil
	}
	ks := e.host.Keyspace()
	kdb := ks.DB(id.db)
	if holdsNonHash(kdb, id.key) {
		return nil, keyspace.ErrWrongType
	}
	e.mu.Lock()
	e.nextID++
	name := fmt.Sprintf("sql%d", e.nextID)
	e.mu.Unlock()
	d := &database{e: e, id: id, uri: "file:" + name + "?vfs=" + e.vfs.Name()}
	d.store = &vfs.KeyStore{DB: kdb, Key: id.key, Propagate: func(argv [][]byte) { e.host.Propagate(id.db, argv) }}
	d.store.Committed = func() {
		// One log entry per SQL transaction, appended at once: a
		// statement can commit more than once (PRAGMA optimize runs
		// ANALYZE), and a later commit may recycle this one's pages.
		// Inside EXEC the block is one entry and CopyPages protects it.
		if !e.noWait {
			e.host.Flush()
		}
	}
	ps := int(e.Cfg.PageSize.Load())
	if sz := existingPageSize(kdb, id.key); sz > 0 {
		ps = sz
	}
	vdb, err := e.vfs.Attach(name, d.store, vfs.Options{
		PageSize:    ps,
		BusyTimeout: busyWait(e.Cfg.BusyTimeout.Load()),
		WaitHook:    d.waitHook,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotDatabase, err)
	}
	d.vdb = vdb
	releaseCopies(vdb)
	kdb.Watch(id.key, d)
	e.mu.Lock()
	e.dbs[id] = d
	e.mu.Unlock()
	return d, nil
}

// storedSize returns the number of pages and bytes of the database stored
// at key (0, 0 if the key holds none). Lock held.
func storedSize(db *keyspace.DB, key string) (pages, bytes int64) {
	if !IsDatabase(db, []byte(key)) {
		return 0, 0
	}
	h, _ := db.PeekHash([]byte(key))
	h.Range(func(_, v string) bool {
		pages++
		bytes += int64(len(v))
		return true
	})
	return pages, bytes
}

// existingPageSize returns the page size of the database stored at key
// (the length of its page 0), or 0 if there is none.
func existingPageSize(db *keyspace.DB, key string) int {
	h, err := db.PeekHash([]byte(key))
	if err != nil || h == nil {
		return 0
	}
	if v, ok := h.GetString("0"); ok {
		return len(v)
	}
	return 0
}

// waitHook is vfs.Options.WaitHook. Only a statement running under the
// execution lock ever waits for the writer lock (read-only statements
// never take it), so the caller holds the lock: release it while waiting,
// unless inside EXEC, where waiting would stall the server and releasing
// would break the block's atomicity.
func (d *database) waitHook(wait func() bool) bool {
	e := d.e
	if e.noWait {
		return false
	}
	// Other writers commit while we wait; this statement has not written
	// anything yet, so it may not commit until it has the lock again.
	writable := d.store.Writable.Swap(false)
	e.host.Unlock()
	ok := wait()
	e.host.Lock()
	d.store.Writable.Store(writable)
	e.noWait = false
	if d.stale() {
		// Changed while we waited: reload now, so the retry sees the
		// new content (the VFS then refuses the old snapshot).
		if err := d.reloadLocked(); err != nil {
			e.log.Warn("sql: reloading database", "key", d.id.key, "error", err)
		}
	}
	return ok
}

// Info is one line of INFO sql per database plus totals.
type Info struct {
	Databases  int
	Pages      int64
	Bytes      int64
	Commits    uint64
	Rollbacks  uint64
	Busy       int64
	Statements int64
	Errors     int64
	Timeouts   int64
	Conns      int
	PerDB      []DBInfo
}

// DBInfo describes one attached database.
type DBInfo struct {
	DB    int
	Key   string
	Pages int64
	Bytes int64
	Conns int
}

// Info returns the INFO sql figures. Execution lock held.
func (e *Engine) Info() Info {
	e.mu.Lock()
	dbs := make([]*database, 0, len(e.dbs))
	for _, d := range e.dbs {
		dbs = append(dbs, d)
	}
	e.mu.Unlock()
	sort.Slice(dbs, func(i, j int) bool {
		if dbs[i].id.db != dbs[j].id.db {
			return dbs[i].id.db < dbs[j].id.db
		}
		return dbs[i].id.key < dbs[j].id.key
	})
	in := Info{
		Statements: e.Stats.Statements.Load(),
		Errors:     e.Stats.Errors.Load(),
		Busy:       e.Stats.Busy.Load(),
		Timeouts:   e.Stats.Timeouts.Load(),
	}
	for _, d := range dbs {
		st := d.vdb.Stats()
		if d.stale() {
			// Changed (DEL, RENAME, FLUSHALL, ...) since the VFS last
			// loaded it: report what the key holds now.
			st.Pages, st.Bytes = storedSize(d.store.DB, d.id.key)
		}
		in.Commits += st.Commits
		in.Rollbacks += st.Rollbacks
		in.Conns += st.Conns
		if st.Pages == 0 {
			continue // attached, but the key holds no database now
		}
		in.Databases++
		in.Pages += st.Pages
		in.Bytes += st.Bytes
		in.PerDB = append(in.PerDB, DBInfo{DB: d.id.db, Key: d.id.key, Pages: st.Pages, Bytes: st.Bytes, Conns: st.Conns})
	}
	return in
}

// IsDatabase reports whether the hash at key holds a SQL database: page 0
// exists and starts with SQLite's header. Used to refuse hand writes to
// the pages. Lock held.
func IsDatabase(db *keyspace.DB, key []byte) bool {
	h, err := db.PeekHash(key)
	// Pages are over 64 bytes, so a database hash never has the compact
	// encoding: ordinary small hashes are ruled out without a field scan.
	if err != nil || h == nil || h.Compact() {
		return false
	}
	v, ok := h.GetString("0")
	return ok && len(v) >= 100 && v[:16] == "SQLite format 3\x00"
}
