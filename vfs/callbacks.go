package vfs

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// The functions below are the C shim's entry points into Go (shim.c). Each
// is a thin adapter: find the connection behind the handle, convert the
// arguments, call the conn method.

func connOf(h C.uintptr_t) *conn { return connTab.get(uintptr(h)) }

// connFor is connOf for the file callbacks: it also adopts a write
// transaction the C shim started (conn.adopt).
func connFor(h C.uintptr_t) *conn {
	c := connTab.get(uintptr(h))
	c.adopt()
	return c
}

//export thgoOpen
func thgoOpen(vh C.uintptr_t, name *C.char, flags C.int, f *C.thFile) C.int {
	v := cgo.Handle(vh).Value().(*VFS)
	return C.int(v.open(C.GoString(name), int(flags), f))
}

//export thgoClose
func thgoClose(h C.uintptr_t) C.int {
	c := connFor(h)
	rc := c.close()
	connTab.remove(c.h)
	return C.int(rc)
}

//export thgoRead
func thgoRead(h C.uintptr_t, p unsafe.Pointer, n C.int, off C.sqlite3_int64) C.int {
	return C.int(connFor(h).read(unsafe.Slice((*byte)(p), int(n)), int64(off)))
}

//export thgoWrite
func thgoWrite(h C.uintptr_t, p unsafe.Pointer, n C.int, off C.sqlite3_int64) C.int {
	return C.int(connFor(h).write(unsafe.Slice((*byte)(p), int(n)), int64(off)))
}

//export thgoTruncate
func thgoTruncate(h C.uintptr_t, size C.sqlite3_int64) C.int {
	return C.int(connFor(h).truncate(int64(size)))
}

//export thgoFileSize
func thgoFileSize(h C.uintptr_t, size *C.sqlite3_int64) C.int {
	*size = C.sqlite3_int64(connFor(h).fileSize())
	return rcOK
}

//export thgoLock
func thgoLock(h C.uintptr_t, level C.int) C.int {
	return C.int(connFor(h).lockTo(int(level)))
}

//export thgoUnlock
func thgoUnlock(h C.uintptr_t, level C.int) C.int {
	return C.int(connFor(h).unlock(int(level)))
}

//export thgoCheckReserved
func thgoCheckReserved(h C.uintptr_t) C.int {
	if connOf(h).d.writerHeld() {
		return 1
	}
	return 0
}

//export thgoCommit
func thgoCommit(h C.uintptr_t) C.int {
	return C.int(connFor(h).commit())
}

//export thgoPragma
func thgoPragma(h C.uintptr_t, az **C.char) C.int {
	return C.int(connFor(h).pragma(az))
}

// thgoRetry marks the connection behind h as retrying a refused write
// (see conn.lockWriter) and reports whether it exists. In rare cases the
// thread-local hint outlives its connection and h is free or reused: the
// worst outcome is one skipped sleep and one early writer-lock wait.
//
//export thgoRetry
func thgoRetry(h C.uintptr_t) C.int {
	c := connOf(h)
	if c == nil {
		return 0
	}
	c.retry.Store(true)
	return 1
}
