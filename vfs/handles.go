package vfs

import (
	"sync"
	"sync/atomic"
)

// connTab maps the integer handles the C shim keeps in each open database
// file (thFile.h) to their connections. Every VFS callback starts with this
// lookup, so reads are lock-free: an atomic load of the slot array and of
// the slot. It is process-wide because SQLite's file objects are; like
// cgo.Handle (whose lookup is a sync.Map and too slow for this path), it
// holds no state beyond the mapping.
var connTab handleTable

type handleTable struct {
	mu    sync.Mutex
	slots atomic.Pointer[[]atomic.Pointer[conn]]
	free  []uintptr
	next  uintptr
}

// add registers c and returns its handle, never 0.
func (t *handleTable) add(c *conn) uintptr {
	t.mu.Lock()
	defer t.mu.Unlock()
	var h uintptr
	if n := len(t.free); n > 0 {
		h = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.next++
		h = t.next
	}
	var cur []atomic.Pointer[conn]
	if p := t.slots.Load(); p != nil {
		cur = *p
	}
	if int(h) >= len(cur) {
		grown := make([]atomic.Pointer[conn], max(2*len(cur), 64))
		for i := range cur {
			grown[i].Store(cur[i].Load())
		}
		cur = grown
		t.slots.Store(&cur)
	}
	cur[h].Store(c)
	return h
}

// get returns the connection for h, or nil if h is not (or no longer)
// registered.
func (t *handleTable) get(h uintptr) *conn {
	p := t.slots.Load()
	if p == nil || h >= uintptr(len(*p)) {
		return nil
	}
	return (*p)[h].Load()
}

// remove unregisters h.
func (t *handleTable) remove(h uintptr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	(*t.slots.Load())[h].Store(nil)
	t.free = append(t.free, h)
}
