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
	"runtime/cgo"
	"unsafe"
)

// Module is a read-only virtual table implementation in Go
// (https://sqlite.org/vtab.html), registered with CreateModule.
type Module interface {
	// Connect is xCreate and xConnect: args are the module arguments as
	// SQLite passes them, i.e. argv[3:], raw text with any quotes kept
	// (for "CREATE VIRTUAL TABLE t USING redis(mykey)", args = ["mykey"]).
	// It returns the CREATE TABLE statement to declare
	// (sqlite3_declare_vtab) and the table.
	Connect(c *Conn, args []string) (schema string, t VTable, err error)
}

// VTable is one virtual table of a Module.
type VTable interface {
	// Rows returns every row of a full scan, materialized (it is called
	// from xFilter). Row values are in declared column order; missing
	// trailing values read as NULL.
	Rows() ([][]Value, error)
	// Disconnect releases the table (xDisconnect, and xDestroy on DROP).
	Disconnect()
}

// goModule is what a module's cgo.Handle refers to.
type goModule struct {
	c *Conn
	m Module
}

// CreateModule registers m as virtual table module name on c. Tables are
// read-only (INSERT, UPDATE and DELETE fail with SQLite's "table X may not
// be modified"), every query is a full scan, and the module is not
// eponymous: a table exists only through CREATE VIRTUAL TABLE.
func (c *Conn) CreateModule(name string, m Module) error {
	if c.p == nil {
		return errClosed
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	h := cgo.NewHandle(&goModule{c: c, m: m})
	// On failure SQLite calls the destructor, which deletes h.
	if rc := C.sqb_create_module(c.p, cname, C.uintptr_t(h)); rc != C.SQB_SQLITE_OK {
		return fmt.Errorf("sqlite: create module %s: %w", name, c.err(rc))
	}
	return nil
}

// setErr stores msg for SQLite in *pz (which SQLite frees).
func setErr(pz **C.char, msg string) {
	cs := C.CString(msg)
	*pz = C.sqb_mprintf(cs)
	C.free(unsafe.Pointer(cs))
}

// safeCall runs f, turning a panic into an error: a panic must not unwind
// through SQLite's C frames.
func safeCall(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in virtual table %s: %v", what, r)
		}
	}()
	return f()
}

//export sqbGoVtabConnect
func sqbGoVtabConnect(db *C.sqlite3, aux C.uintptr_t, argc C.int, argv **C.char, pzErr **C.char) C.uintptr_t {
	gm := cgo.Handle(aux).Value().(*goModule)
	cargs := unsafe.Slice(argv, int(argc))
	var args []string
	if len(cargs) > 3 {
		args = make([]string, 0, len(cargs)-3)
		for _, a := range cargs[3:] {
			args = append(args, C.GoString(a))
		}
	}
	var t VTable
	err := safeCall("connect", func() error {
		schema, tab, err := gm.m.Connect(gm.c, args)
		if err != nil {
			return err
		}
		if tab == nil {
			return errors.New("module returned no table")
		}
		cs := C.CString(schema)
		rc := C.sqlite3_declare_vtab(db, cs)
		C.free(unsafe.Pointer(cs))
		if rc != C.SQB_SQLITE_OK {
			tab.Disconnect()
			return fmt.Errorf("declaring virtual table schema %q: %w", schema, dbError(db, rc))
		}
		t = tab
		return nil
	})
	if err != nil {
		setErr(pzErr, err.Error())
		return 0
	}
	return C.uintptr_t(cgo.NewHandle(t))
}

//export sqbGoVtabDisconnect
func sqbGoVtabDisconnect(h C.uintptr_t) {
	hd := cgo.Handle(h)
	t := hd.Value().(VTable)
	hd.Delete()
	_ = safeCall("disconnect", func() error { t.Disconnect(); return nil })
}

// Sizes of the C row structures, for laying rows out in one block.
const (
	sizeofRow = C.sizeof_sqbRow
	sizeofVal = C.sizeof_sqbVal
)

//export sqbGoVtabFilter
func sqbGoVtabFilter(cur *C.sqbCursor, h C.uintptr_t) C.int {
	t := cgo.Handle(h).Value().(VTable)
	var rows [][]Value
	err := safeCall("scan", func() (err error) {
		rows, err = t.Rows()
		return err
	})
	if err == nil {
		err = materialize(cur, rows)
	}
	if err != nil {
		cs := C.CString(err.Error())
		C.sqb_vtab_set_error(cur.base.pVtab, cs)
		C.free(unsafe.Pointer(cs))
		return C.SQB_SQLITE_ERROR
	}
	return C.SQB_SQLITE_OK
}

// materialize copies rows into one malloc'd block owned by cur (freed by
// the next xFilter or xClose): the sqbRow array, then all sqbVal cells, then
// all text and blob bytes. xNext, xEof, xColumn and xRowid then run in C
// without calling Go.
func materialize(cur *C.sqbCursor, rows [][]Value) error {
	if len(rows) == 0 {
		return nil
	}
	nVals, nBytes := 0, 0
	for _, r := range rows {
		nVals += len(r)
		for i := range r {
			if t := r[i].Type; t == TypeText || t == TypeBlob {
				if len(r[i].Bytes) > maxLen {
					return errors.New("string or blob too big")
				}
				nBytes += len(r[i].Bytes)
			}
		}
	}
	total := uint64(len(rows))*sizeofRow + uint64(nVals)*sizeofVal + uint64(nBytes)
	if total > math.MaxInt {
		return errors.New("virtual table result too large")
	}
	mem := C.malloc(C.size_t(total))
	if mem == nil {
		return errors.New("out of memory")
	}
	crows := unsafe.Slice((*C.sqbRow)(mem), len(rows))
	valBase := unsafe.Add(mem, uintptr(len(rows))*sizeofRow)
	var cvals []C.sqbVal
	if nVals > 0 {
		cvals = unsafe.Slice((*C.sqbVal)(valBase), nVals)
	}
	bytesBase := unsafe.Add(valBase, uintptr(nVals)*sizeofVal)
	var cbytes []byte
	if nBytes > 0 {
		cbytes = unsafe.Slice((*byte)(bytesBase), nBytes)
	}
	vi, bi := 0, 0
	for ri, r := range rows {
		crows[ri].n = C.sqlite3_int64(len(r))
		crows[ri].v = nil
		if len(r) > 0 {
			crows[ri].v = &cvals[vi]
		}
		for i := range r {
			v := &r[i]
			cv := &cvals[vi]
			vi++
			*cv = C.sqbVal{}
			switch v.Type {
			case TypeInteger:
				cv._type = C.SQB_SQLITE_INTEGER
				cv.i = C.sqlite3_int64(v.Int)
			case TypeFloat:
				cv._type = C.SQB_SQLITE_FLOAT
				cv.f = C.double(v.Float)
			case TypeText, TypeBlob:
				cv._type = C.int(v.Type)
				cv.n = C.int(len(v.Bytes))
				if len(v.Bytes) > 0 {
					copy(cbytes[bi:], v.Bytes)
					cv.p = (*C.char)(unsafe.Pointer(&cbytes[bi]))
					bi += len(v.Bytes)
				}
			default:
				cv._type = C.SQB_SQLITE_NULL
			}
		}
	}
	cur.mem = mem
	cur.rows = (*C.sqbRow)(mem)
	cur.nRow = C.sqlite3_int64(len(rows))
	cur.iRow = 0
	return nil
}
