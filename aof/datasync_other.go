//go:build !linux

package aof

import "os"

// dataSync flushes f to stable storage (fdatasync where the system has it;
// a full fsync here).
func dataSync(f *os.File) error { return f.Sync() }

// dataSyncKeepP is dataSync (see the Linux version).
func dataSyncKeepP(f *os.File) error { return dataSync(f) }
