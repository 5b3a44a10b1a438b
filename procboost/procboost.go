// Package procboost gives the Go scheduler one more P (GOMAXPROCS) for each
// piece of long-running work while it runs, and takes it back afterwards.
//
// Why: thredis runs with one P by default (io-threads 1), like Redis's
// single main thread. Work that keeps a thread busy for a long time would
// then starve every client until the runtime preempts it, every 10 ms or
// so: a SQL statement that reads pages through the VFS keeps its P across
// its cgo callbacks (measured: GET p99 20 ms, 150 GET/s during a scan), and
// a BGSAVE's encoder is pure CPU for seconds (p99 20–40 ms, max 60+ ms).
// One more P per such job keeps clients served; it costs two short
// stop-the-world pauses per job, and short commands never touch it.
//
// It is process-wide, as GOMAXPROCS is: the state lives here rather than in
// a server because several servers in one process (tests) share it.
package procboost

import (
	"runtime"
	"sync"
)

// maxBoost bounds the extra Ps all running jobs may add.
const maxBoost = 8

var (
	mu     sync.Mutex
	base   int // GOMAXPROCS before the first running boost
	active int // jobs running
)

// Begin adds a P for a job that is starting (or has been running long);
// each Begin must be followed by one End.
func Begin() {
	mu.Lock()
	defer mu.Unlock()
	if active == 0 {
		base = runtime.GOMAXPROCS(0)
	}
	active++
	if active <= maxBoost {
		runtime.GOMAXPROCS(base + active)
	}
}

// End takes back the P of a job that ended.
func End() {
	mu.Lock()
	defer mu.Unlock()
	if active == 0 {
		return
	}
	active--
	if active < maxBoost {
		runtime.GOMAXPROCS(base + active)
	}
}
