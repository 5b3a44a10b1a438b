package aof

import (
	"os"
	"syscall"
)

// dataSync flushes f's data (and the metadata needed to read it back, such
// as its size) with fdatasync, as Redis's redis_fsync does on Linux: it
// skips timestamps, which saves a journal commit on every append.
func dataSync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
