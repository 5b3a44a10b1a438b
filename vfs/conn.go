package vfs

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// SQLite result codes and lock levels used on the Go side (see shim.h).
const (
	rcOK           = C.TH_SQLITE_OK
	rcError        = C.TH_SQLITE_ERROR
	rcBusy         = C.TH_SQLITE_BUSY
	rcBusySnapshot = C.TH_SQLITE_BUSY_SNAPSHOT
	rcNotFound     = C.TH_SQLITE_NOTFOUND
	rcCantOpen     = C.TH_SQLITE_CANTOPEN
	rcProtocol     = C.TH_SQLITE_PROTOCOL
	rcReadOnly     = C.TH_SQLITE_READONLY
	rcShortRead    = C.TH_SQLITE_IOERR_SHORT_READ
	rcIOErrWrite   = C.TH_SQLITE_IOERR_WRITE
	rcIOErrTrunc   = C.TH_SQLITE_IOERR_TRUNCATE
	rcIOErrCommit  = C.TH_SQLITE_IOERR_COMMIT_ATOMIC

	lockNone      = C.TH_LOCK_NONE
	lockShared    = C.TH_LOCK_SHARED
	lockReserved  = C.TH_LOCK_RESERVED
	lockExclusive = C.TH_LOCK_EXCLUSIVE
)

// conn is the Go state of one SQLite connection's main database file.
// SQLite serializes calls on one connection, so conn needs no lock of its
// own; shared state lives in Database.
type conn struct {
	d        *Database
	f        *C.thFile // the lock level lives in f.lock, where C reads it
	h        uintptr   // index in connTab
	snap     *version  // the snapshot; pinned while f.pin != TH_PIN_NONE
	hidx     int       // index in snap.holders; guarded by d.mu
	writer   bool      // holds d.writer (mirrored in f.goUnlock)
	inTxn    bool      // writer with an overlay (lock >= RESERVED)
	epoch    uint64    // content epoch this connection's caches belong to
	readOnly bool

	raceSync atomic.Uint32 // see race_on.go

	// Busy-retry bookkeeping (see lockWriter).
	retry    atomic.Bool // SQLite is retrying the write that just got BUSY
	deadline time.Time   // end of the current busy wait episode
}

func (c *conn) open() {
	d := c.d
	d.mu.Lock()
	d.conns++
	c.epoch = d.epoch
	d.mu.Unlock()
}

func (c *conn) close() int {
	c.unlock(lockNone)
	c.releasePin()
	d := c.d
	d.mu.Lock()
	d.conns--
	d.mu.Unlock()
	return rcOK
}

// setFast publishes the pinned snapshot's size and header to the C side,
// which then answers SQLite's per-transaction probes without calling Go.
func (c *conn) setFast(v *version) {
	f := c.f
	f.size = C.sqlite3_int64(v.size)
	if v.size >= 100 && uint64(f.hdrSeq) != v.seq {
		hdr := unsafe.Slice((*byte)(unsafe.Pointer(&f.hdr[0])), 100)
		clear(hdr[copy(hdr, v.page(0)):])
		f.hdrSeq = C.uint64_t(v.seq)
		c.raceRelease()
	}
	f.fast = 1
}

// The pin state lives in C memory (f.pin) because the C side moves it
// between ACTIVE and IDLE without calling Go, and a committing goroutine
// revokes IDLE pins; all three use atomic operations on it.
const (
	pinNone   = C.TH_PIN_NONE
	pinActive = C.TH_PIN_ACTIVE
	pinIdle   = C.TH_PIN_IDLE
)

func (c *conn) pinPtr() *int32         { return (*int32)(unsafe.Pointer(&c.f.pin)) }
func (c *conn) pinState() int32        { return atomic.LoadInt32(c.pinPtr()) }
func (c *conn) setPin(s int32)         { atomic.StoreInt32(c.pinPtr(), s) }
func (c *conn) casPin(o, n int32) bool { return atomic.CompareAndSwapInt32(c.pinPtr(), o, n) }

// pinLocked makes v the connection's snapshot. d.mu held.
func (c *conn) pinLocked(v *version) {
	c.d.pinConnLocked(c, v)
	c.snap = v
	c.f.snapSeq = C.uint64_t(v.seq)
}

// releasePin drops the connection's pin, active or idle, unless a commit
// revoked the idle pin already.
func (c *conn) releasePin() {
	switch c.pinState() {
	case pinActive:
		c.setPin(pinNone)
	case pinIdle:
		if !c.casPin(pinIdle, pinNone) {
			return // revoked meanwhile
		}
	default:
		return
	}
	d := c.d
	d.mu.Lock()
	d.unpinConnLocked(c, c.snap)
	c.snap = nil
	d.mu.Unlock()
}

// adopt takes over a write transaction the C shim started by taking the
// writer lock itself (an uncontended RESERVED lock, f.writerC). Every Go
// entry point for a connection calls it first.
func (c *conn) adopt() {
	f := c.f
	if f.writerC == 0 {
		return
	}
	f.writerC = 0
	d := c.d
	d.raceAcquireWriter()
	c.setWriter(true)
	if int(f.lock) >= lockReserved && !c.inTxn {
		d.mu.Lock()
		d.beginOverlay(c.snap)
		d.mu.Unlock()
		c.inTxn = true
		c.deadline = time.Time{}
	}
}

func (c *conn) setWriter(w bool) {
	c.writer = w
	c.f.goUnlock = 0
	if w {
		c.f.goUnlock = 1
	}
}

func (c *conn) lockTo(level int) int {
	f := c.f
	f.retryArmed = 0
	if level <= int(f.lock) {
		return rcOK
	}
	if f.lock == lockNone {
		if rc := c.lockShared(); rc != rcOK {
			return rc
		}
		f.lock = lockShared
	}
	if level >= lockReserved && !c.inTxn {
		if rc := c.lockWriter(); rc != rcOK {
			return rc
		}
		f.lock = lockReserved
	}
	if level >= lockExclusive {
		// The C side grants EXCLUSIVE itself unless the snapshot is no
		// longer the newest version. For a connection holding the writer
		// lock only an external change does that; its transaction cannot
		// commit. BUSY_SNAPSHOT is not retried by SQLite's lock loop.
		d := c.d
		d.mu.Lock()
		stale := c.snap != d.cur
		d.mu.Unlock()
		if stale {
			d.busy.Add(1)
			return rcBusySnapshot
		}
		f.lock = lockExclusive
	}
	return rcOK
}

// lockShared starts a read transaction: pin the newest version. (When the
// connection's idle pin is still the newest version, the C side does this
// without calling Go.)
func (c *conn) lockShared() int {
	d := c.d
	c.releasePin() // an idle pin of a superseded version
	retry := c.retry.Swap(false)
	if !retry {
		c.deadline = time.Time{}
	}
	if retry && !c.writer {
		// SQLite is retrying a write that failed because the writer lock
		// was taken or our snapshot was stale. Take the writer lock before
		// pinning, so the snapshot is the newest and cannot go stale: the
		// retry then succeeds instead of racing other writers again.
		if d.acquireWriter(c.deadline, nil) {
			c.setWriter(true)
		}
	}
	d.mu.Lock()
	if c.epoch != d.epoch {
		d.mu.Unlock()
		c.dropWriter()
		// The content was replaced (Reload) since this connection last
		// reset its caches. Refuse rather than let SQLite trust a page
		// cache and schema that may belong to the old content.
		return rcProtocol
	}
	v := d.cur
	c.pinLocked(v)
	d.mu.Unlock()
	c.setPin(pinActive)
	c.setFast(v)
	return rcOK
}

// lockWriter upgrades a read transaction to a write transaction.
//
// SQLite's own busy handler (PRAGMA busy_timeout) retries a write that was
// refused with BUSY when the statement held no read transaction before: it
// drops its read lock, calls the VFS's xSleep, and starts over. The C shim
// recognises that sequence (BUSY on RESERVED, unlock to NONE, xSleep on the
// same thread) and skips the sleep; lockShared then waits for the writer
// lock itself, before pinning. Writers are therefore served in lock order
// with no polling delay, and a busy wait spans at most BusyTimeout across
// all of SQLite's retries (deadline).
func (c *conn) lockWriter() int {
	d := c.d
	if c.readOnly {
		return rcReadOnly // opened with mode=ro; SQLite should not ask
	}
	if !c.writer {
		if !d.tryWriter() {
			c.startBusyWait()
			d.mu.Lock()
			if c.snap != d.cur {
				d.mu.Unlock()
				return c.busy(rcBusySnapshot)
			}
			if c.snap.gone == nil {
				c.snap.gone = make(chan struct{})
			}
			gone := c.snap.gone
			d.mu.Unlock()
			// Wait for the lock, but only while our snapshot is current:
			// once someone commits, this transaction cannot write.
			if !d.acquireWriter(c.deadline, gone) {
				return c.busy(rcBusy)
			}
		}
		c.setWriter(true)
	}
	d.mu.Lock()
	if c.snap != d.cur {
		d.mu.Unlock()
		c.dropWriter()
		return c.busy(rcBusySnapshot)
	}
	d.beginOverlay(c.snap)
	d.mu.Unlock()
	c.deadline = time.Time{}
	c.inTxn = true
	c.f.fast = 0
	return rcOK
}

// startBusyWait starts the busy-wait episode's clock unless SQLite is
// retrying within one already.
func (c *conn) startBusyWait() {
	if c.deadline.IsZero() {
		c.deadline = time.Now().Add(time.Duration(c.d.busyTimeout.Load()))
	}
}

func (c *conn) busy(rc int) int {
	c.startBusyWait()
	c.d.busy.Add(1)
	c.f.retryArmed = 1
	return rc
}

// dropWriter releases the writer lock, discarding an uncommitted overlay.
func (c *conn) dropWriter() {
	if !c.writer {
		return
	}
	d := c.d
	if c.inTxn {
		d.discardOverlay()
		d.rollbacks.Add(1)
		c.inTxn = false
	}
	c.setWriter(false)
	d.releaseWriter()
}

func (c *conn) unlock(level int) int {
	f := c.f
	if level >= int(f.lock) {
		return rcOK
	}
	f.txnDone = 0
	if level < lockReserved {
		// Ending the write transaction without a successful
		// COMMIT_PHASETWO: ROLLBACK, a failed statement in autocommit mode,
		// or the connection closing mid-transaction.
		c.dropWriter()
	}
	if level == lockNone {
		c.releasePin()
		f.fast = 0
	} else if c.snap != nil {
		c.setFast(c.snap)
	}
	f.lock = C.int(level)
	return rcOK
}

// readVersion returns the version plain reads use and a function to call
// when done. Outside a transaction (SQLite reads the header when opening)
// the newest version is pinned for the duration of the read.
func (c *conn) readVersion() (*version, func()) {
	if c.f.lock >= lockShared {
		return c.snap, nil
	}
	d := c.d
	d.mu.Lock()
	v := d.cur
	d.pinLocked(v)
	d.mu.Unlock()
	return v, func() {
		d.mu.Lock()
		d.unpinLocked(v)
		d.mu.Unlock()
	}
}

func (c *conn) read(dst []byte, off int64) int {
	d := c.d
	ps := d.pageSize
	var size int64
	var page func(int64) []byte
	if c.inTxn {
		size = d.ov.size
		page = d.ovRead
	} else {
		v, done := c.readVersion()
		if done != nil {
			defer done()
		}
		size = v.size
		page = v.page
	}
	rc := rcOK
	for len(dst) > 0 {
		if off >= size {
			clear(dst)
			if size == 0 && off == 0 && ps != DefaultPageSize && len(dst) >= 18 {
				// An empty database: tell SQLite the page size it must
				// create the database with, as a header would.
				dst[16] = byte(ps >> 8)
				dst[17] = byte(ps >> 16)
			}
			rc = rcShortRead
			break
		}
		pgno, in := off/ps, off%ps
		n := min(int64(len(dst)), ps-in, size-off)
		if p := page(pgno); p != nil {
			copy(dst[:n], p[in:])
		} else {
			clear(dst[:n])
		}
		dst = dst[n:]
		off += n
	}
	c.raceRelease()
	return rc
}

func (c *conn) write(src []byte, off int64) int {
	d := c.d
	if !c.inTxn {
		return rcIOErrWrite
	}
	ps := d.pageSize
	if int64(len(src)) != ps || off%ps != 0 {
		// SQLite writes whole pages to the main database file; anything
		// else would break the page-per-field layout.
		return rcIOErrWrite
	}
	pgno := off / ps
	d.ovEnsure(pgno)
	if b := d.ov.pages[pgno]; b != nil {
		copy(b, src)
	} else {
		d.ov.pages[pgno] = d.allocPage(src)
		d.ov.touched = append(d.ov.touched, pgno)
	}
	d.ov.size = max(d.ov.size, off+ps)
	return rcOK
}

func (c *conn) truncate(size int64) int {
	d := c.d
	if !c.inTxn || size < 0 || size%d.pageSize != 0 {
		return rcIOErrTrunc
	}
	ov := &d.ov
	if size < ov.size {
		keep := size / d.pageSize
		for _, pgno := range ov.touched {
			if pgno >= keep && ov.pages[pgno] != nil {
				d.free = append(d.free, ov.pages[pgno])
				ov.pages[pgno] = nil
			}
		}
	}
	ov.size = size
	ov.floor = min(ov.floor, size)
	return rcOK
}

func (c *conn) fileSize() int64 {
	if c.inTxn {
		return c.d.ov.size
	}
	v, done := c.readVersion()
	if done != nil {
		done()
	}
	return v.size
}

// commit publishes the write transaction (SQLITE_FCNTL_COMMIT_PHASETWO,
// which SQLite sends only once the transaction has succeeded).
func (c *conn) commit() int {
	if !c.inTxn {
		return rcNotFound
	}
	d := c.d
	ov := &d.ov
	if len(ov.touched) == 0 && ov.size == ov.base.size {
		// A write transaction that changed nothing: no batch, no new
		// version; just end it.
		d.discardOverlay()
		c.inTxn = false
		c.setWriter(false)
		d.releaseWriter()
		c.setFast(c.snap)
		c.f.fast = 0
		c.f.txnDone = 1
		return rcOK
	}
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	d.mu.Lock()
	stale := c.snap != d.cur
	d.mu.Unlock()
	if stale {
		d.setCommitError(ErrStale)
		return rcIOErrCommit
	}
	b := d.buildBatch()
	if err := d.store.Commit(b); err != nil {
		d.setCommitError(err)
		return rcIOErrCommit
	}
	d.mu.Lock()
	v := d.publishLocked(b, c.snap)
	d.unpinConnLocked(c, c.snap)
	c.pinLocked(v)
	d.mu.Unlock()
	d.endCommit()
	d.commits.Add(1)
	c.inTxn = false
	c.setWriter(false)
	d.releaseWriter()
	// SQLite's next call drops the lock to SHARED; the C side does that
	// alone, serving reads from the new version.
	c.setFast(v)
	c.f.fast = 0
	c.f.txnDone = 1
	return rcOK
}

// pragma handles the PRAGMAs the VFS has an opinion about
// (SQLITE_FCNTL_PRAGMA). az[1] is the name, az[2] the argument or NULL;
// az[0] receives a result or error message allocated by SQLite.
func (c *conn) pragma(az **C.char) int {
	args := unsafe.Slice(az, 3)
	name := strings.ToLower(C.GoString(args[1]))
	arg, hasArg := "", args[2] != nil
	if hasArg {
		arg = strings.Trim(C.GoString(args[2]), `"'`)
	}
	fail := func(msg string) int {
		cs := C.CString(msg)
		args[0] = C.th_mprintf(cs)
		C.free(unsafe.Pointer(cs))
		return rcError
	}
	switch name {
	case "journal_mode":
		if hasArg && !strings.EqualFold(arg, "memory") {
			return fail("journal_mode cannot be changed: the thredis VFS keeps its journal in memory (MEMORY)")
		}
	case "locking_mode":
		if hasArg && !strings.EqualFold(arg, "normal") {
			return fail("locking_mode cannot be changed: the thredis VFS requires NORMAL")
		}
	case "page_size":
		if hasArg {
			if n, err := strconv.ParseInt(arg, 10, 64); err != nil || n != c.d.pageSize {
				return fail("page_size cannot be changed: this database uses " + strconv.FormatInt(c.d.pageSize, 10))
			}
		}
	case "thredis_ack_epoch":
		if c.f.lock != lockNone {
			return fail("thredis_ack_epoch: the connection is inside a transaction")
		}
		d := c.d
		d.mu.Lock()
		c.epoch = d.epoch
		d.mu.Unlock()
		cs := C.CString(strconv.FormatUint(c.epoch, 10))
		args[0] = C.th_mprintf(cs)
		C.free(unsafe.Pointer(cs))
		return rcOK
	}
	return rcNotFound
}
