package sqlcmd

import (
	"runtime"
	"sync"
	"time"

	"github.com/thredis/thredis/sqlcmd/sqlite"
)

// longStatement is how long a statement runs before it gets a scheduler
// thread of its own (see procBoost).
const longStatement = 2 * time.Millisecond

// maxBoost bounds the extra scheduler threads long statements may add.
const maxBoost = 8

// procBoost gives the Go scheduler one more P (GOMAXPROCS) for every SQL
// statement that has been running for longStatement, and takes it back
// when the statement ends.
//
// Why: SQLite runs in cgo calls, which do not count against GOMAXPROCS
// while they stay in C, but a statement that reads pages outside SQLite's
// cache calls back into Go (the VFS) for every page, and a thread that
// keeps calling back keeps its P: Go's monitor takes a P back only from a
// cgo call that has not returned for a while. With thredis's default of
// one P (io-threads 1), a long scan would starve every client until the
// runtime's 10 ms preemption, slice after slice (measured: GET p99 20 ms,
// 150 GET/s during a scan). One more P per long statement keeps clients
// served while it runs, and costs two stop-the-world pauses of a few
// microseconds per long statement; short statements, the vast majority,
// never touch it.
//
// It is process-wide, as GOMAXPROCS is; the state lives here rather than
// in an Engine because several servers in one process (tests) share it.
type procBoost struct {
	mu     sync.Mutex
	base   int // GOMAXPROCS before the first boost
	active int // long statements running
}

var boost procBoost

var boostOnce sync.Once

// installBoost arms the long-statement hook once per process.
func installBoost() {
	boostOnce.Do(func() { sqlite.SetLongStatementHook(longStatement, boost.begin) })
}

// begin is called from inside SQLite, on the long statement's thread.
func (b *procBoost) begin() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active == 0 {
		b.base = runtime.GOMAXPROCS(0)
	}
	b.active++
	if b.active <= maxBoost {
		runtime.GOMAXPROCS(b.base + b.active)
	}
}

// end is called once the long statement has returned to Go.
func (b *procBoost) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active == 0 {
		return
	}
	b.active--
	if b.active < maxBoost {
		runtime.GOMAXPROCS(b.base + b.active)
	}
}
