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

// dataSyncKeepP is dataSync for the appendfsync always group commit when
// the process runs on a single P (GOMAXPROCS=1, io-threads 1): the
// fdatasync is made as a raw system call, so the calling goroutine keeps
// its P and the runtime does not hand the P over to another thread.
//
// Why: with a plain (blocking) system call, sysmon takes the P away after
// 20 µs or more and starts another thread to run it; that thread finds
// every client waiting for this very sync, polls, sleeps; when the
// fdatasync returns, its thread must get the P back. On a small machine
// those hand-offs (futex wake-ups, a third runnable thread competing with
// the server's and the clients' for the cores, sysmon polling every 20 µs
// meanwhile) made each group commit cycle ~40% longer than redis-server's,
// whose single thread simply blocks in fdatasync. Keeping the P does
// exactly what Redis does: nothing else runs on the server's one P during
// the sync. (Under appendfsync always every write waits for the sync
// anyway; reads wait for it too, as they do in Redis.)
//
// With more than one P the blocking call is used: other Ps keep running,
// and a garbage collection's stop-the-world must not wait for the disk.
func dataSyncKeepP(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return dataSync(f)
	}
	var errno syscall.Errno
	if cerr := sc.Control(func(fd uintptr) {
		for {
			_, _, errno = syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0)
			if errno != syscall.EINTR {
				return
			}
		}
	}); cerr != nil {
		return dataSync(f)
	}
	if errno != 0 {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: errno}
	}
	return nil
}
