package sqlite

/*
#include <stdlib.h>
#include "bridge.h"

#cgo noescape sqb_result_text
#cgo noescape sqb_result_blob
#cgo noescape sqb_result_error
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// Value is an SQL value passed to or returned from a Go function or
// virtual table. Type is one of TypeInteger ... TypeNull (the zero Type
// also means NULL). Int holds INTEGER values, Float REAL ones, and Bytes
// TEXT and BLOB ones (a copy, owned by the Go side).
type Value struct {
	Type  int
	Int   int64
	Float float64
	Bytes []byte
}

// goFunc is what a function's cgo.Handle refers to.
type goFunc struct {
	fn func(args []Value) (Value, error)
}

// CreateFunction registers a scalar SQL function name taking nArg
// arguments (-1: any number) implemented by fn. deterministic lets SQLite
// use it in indexes and factor calls out of loops. fn's error becomes the
// statement's error (sqlite3_result_error with err.Error()); a panic in fn
// is recovered and reported the same way. fn runs on the goroutine that
// steps the statement.
func (c *Conn) CreateFunction(name string, nArg int, deterministic bool, fn func(args []Value) (Value, error)) error {
	if c.p == nil {
		return errClosed
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	flags := C.int(0)
	if deterministic {
		flags = C.SQB_DETERMINISTIC
	}
	h := cgo.NewHandle(&goFunc{fn: fn})
	// On failure SQLite calls the destructor, which deletes h.
	if rc := C.sqb_create_function(c.p, cname, C.int(nArg), flags, C.uintptr_t(h)); rc != C.SQB_SQLITE_OK {
		return fmt.Errorf("sqlite: create function %s: %w", name, c.err(rc))
	}
	return nil
}

//export sqbGoDeleteHandle
func sqbGoDeleteHandle(h C.uintptr_t) {
	cgo.Handle(h).Delete()
}

// goValues converts n C values to Go, copying their bytes.
func goValues(a *C.sqbVal, n int) []Value {
	cv := unsafe.Slice(a, n)
	vals := make([]Value, n)
	for i := range cv {
		v := &cv[i]
		out := &vals[i]
		out.Type = int(v._type)
		switch out.Type {
		case TypeInteger:
			out.Int = int64(v.i)
		case TypeFloat:
			out.Float = float64(v.f)
		case TypeText, TypeBlob:
			if v.n > 0 && v.p != nil {
				out.Bytes = C.GoBytes(unsafe.Pointer(v.p), v.n)
			} else {
				out.Bytes = []byte{}
			}
		}
	}
	return vals
}

//export sqbGoFunc
func sqbGoFunc(ctx *C.sqlite3_context, h C.uintptr_t, args *C.sqbVal, argc C.int) {
	f := cgo.Handle(h).Value().(*goFunc)
	res, err := callFunc(f.fn, goValues(args, int(argc)))
	if err != nil {
		msg := err.Error()
		C.sqb_result_error(ctx, stringPtr(msg), C.int(len(msg)))
		return
	}
	switch res.Type {
	case TypeInteger:
		C.sqlite3_result_int64(ctx, C.sqlite3_int64(res.Int))
	case TypeFloat:
		C.sqlite3_result_double(ctx, C.double(res.Float))
	case TypeText, TypeBlob:
		if len(res.Bytes) > maxLen {
			msg := "string or blob too big"
			C.sqb_result_error(ctx, stringPtr(msg), C.int(len(msg)))
			return
		}
		if res.Type == TypeText {
			C.sqb_result_text(ctx, bytesPtr(res.Bytes), C.int(len(res.Bytes)))
		} else {
			C.sqb_result_blob(ctx, bytesPtr(res.Bytes), C.int(len(res.Bytes)))
		}
	default:
		C.sqlite3_result_null(ctx)
	}
}

// callFunc calls fn, turning a panic into an error: a panic must not
// unwind through SQLite's C frames.
func callFunc(fn func([]Value) (Value, error), args []Value) (res Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in SQL function: %v", r)
		}
	}()
	return fn(args)
}

// stringPtr returns s's data as a C pointer (nil for "").
func stringPtr(s string) *C.char {
	if len(s) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s)))
}
