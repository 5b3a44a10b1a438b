package vfs

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"net/url"
	"runtime/cgo"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	// The SQLite library this VFS registers with is the one mattn's driver
	// compiles into the binary.
	sqlite3 "github.com/mattn/go-sqlite3"
)

// ResetSQL is what the SQL layer runs on a connection, outside any
// transaction, when the Database's Epoch differs from the one the
// connection last acknowledged (after Reload): it empties the page cache,
// drops the cached schema, and acknowledges the new epoch. Until it runs,
// the VFS refuses to start a transaction on the connection (SQLITE_PROTOCOL,
// "locking protocol"), so a stale cache is never used; see IsStaleEpoch.
//
// Why the connection cannot do this alone: SQLite trusts its page cache
// while page 1's change counter is unchanged and its schema while the
// schema cookie is unchanged, and wholly replaced content can repeat both
// values by coincidence.
const ResetSQL = "PRAGMA shrink_memory; PRAGMA writable_schema=RESET; PRAGMA thredis_ack_epoch"

// IsStaleEpoch reports whether err is the VFS refusing to start a
// transaction on a connection that has not run ResetSQL since the
// database's content was replaced. The SQL layer resets the connection and
// runs the statement again.
func IsStaleEpoch(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrProtocol
}

// VFS is a registered SQLite VFS. Databases are attached to it under names;
// a connection opens one with the URI returned by Database.DSN.
//
// A VFS stays registered for the life of the process (SQLite keeps pointers
// to it), so register each name once, typically at startup.
type VFS struct {
	name string
	h    cgo.Handle

	mu  sync.Mutex
	dbs map[string]*Database
}

// Register registers a VFS named name with SQLite. It fails if SQLite
// already knows a VFS of that name.
func Register(name string) (*VFS, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return nil, fmt.Errorf("vfs: invalid VFS name %q", name)
	}
	v := &VFS{name: name, dbs: make(map[string]*Database)}
	v.h = cgo.NewHandle(v)
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if rc := C.th_register(cs, C.uintptr_t(v.h)); rc != rcOK {
		v.h.Delete()
		return nil, fmt.Errorf("vfs: registering %q with SQLite failed (result code %d; name already taken?)", name, int(rc))
	}
	return v, nil
}

// Name returns the VFS name used in URIs (vfs=<name>).
func (v *VFS) Name() string { return v.name }

// Attach makes store available as database name, loading its pages. The
// name is an opaque handle (a keyspace key may be mapped to any name); it
// must be non-empty and free of NUL bytes.
func (v *VFS) Attach(name string, store PageStore, o Options) (*Database, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return nil, fmt.Errorf("vfs: invalid database name %q", name)
	}
	v.mu.Lock()
	_, dup := v.dbs[name]
	v.mu.Unlock()
	if dup {
		return nil, fmt.Errorf("vfs: database %q is already attached", name)
	}
	d, err := newDatabase(v, name, store, o)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, dup := v.dbs[name]; dup {
		return nil, fmt.Errorf("vfs: database %q is already attached", name)
	}
	v.dbs[name] = d
	return d, nil
}

// Lookup returns the database attached as name, or nil.
func (v *VFS) Lookup(name string) *Database {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.dbs[name]
}

// Detach removes a database. It fails while connections have it open.
func (v *VFS) Detach(name string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.dbs[name]
	if d == nil {
		return fmt.Errorf("vfs: database %q is not attached", name)
	}
	d.mu.Lock()
	n := d.conns
	d.mu.Unlock()
	if n > 0 {
		return fmt.Errorf("vfs: database %q has %d open connections", name, n)
	}
	delete(v.dbs, name)
	C.free(d.cdb)
	d.cdb = nil
	return nil
}

// DSN returns the database/sql data source name that opens the database
// with mattn's driver ("sqlite3"): the VFS, journal_mode=MEMORY (required:
// OFF loses atomicity, DELETE/TRUNCATE/PERSIST would need journal files,
// WAL needs shared memory), synchronous=OFF (there is nothing to sync) and
// SQLite's busy handler, which retries writes the VFS refused with
// SQLITE_BUSY (see Options.BusyTimeout).
func (d *Database) DSN() string {
	ms := max(time.Duration(d.busyTimeout.Load()).Milliseconds(), 1)
	return "file:" + url.PathEscape(d.name) + "?vfs=" + url.QueryEscape(d.vfs.name) +
		"&_journal_mode=MEMORY&_sync=OFF&_busy_timeout=" + strconv.FormatInt(ms, 10)
}

// open creates the Go state for a connection opening database name.
func (v *VFS) open(name string, flags int, f *C.thFile) int {
	v.mu.Lock()
	d := v.dbs[name]
	if d == nil {
		v.mu.Unlock()
		return rcCantOpen
	}
	c := &conn{d: d, f: f, readOnly: flags&C.TH_OPEN_READONLY != 0}
	c.open() // under v.mu, so Detach sees the connection
	v.mu.Unlock()
	c.h = connTab.add(c)
	f.h = C.uintptr_t(c.h)
	f.db = (*C.thDb)(d.cdb)
	if c.readOnly {
		f.readOnly = 1
	}
	return rcOK
}

// TempFilesOpened returns how many scratch files (statement journals, sort
// spills, temp and transient databases) SQLite has opened through any
// thredis VFS in this process. They live in memory, never on disk.
func TempFilesOpened() uint64 { return uint64(C.th_temp_files()) }

// cAllocDB allocates a database's C-visible state (a zeroed thDb).
func cAllocDB() unsafe.Pointer { return C.calloc(1, C.sizeof_thDb) }

// seqPtr is the newest version's sequence number, read by the C shim.
func (d *Database) seqPtr() *uint64 { return (*uint64)(unsafe.Pointer(&(*C.thDb)(d.cdb).seq)) }

// writerPtr is the writer lock word, 1 while a connection holds it.
func (d *Database) writerPtr() *int32 { return (*int32)(unsafe.Pointer(&(*C.thDb)(d.cdb).writer)) }
