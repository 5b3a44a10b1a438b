package sqlcmd

import (
	"sync"
	"time"

	"github.com/thredis/thredis/procboost"
	"github.com/thredis/thredis/sqlcmd/sqlite"
)

// longStatement is how long a statement runs before it gets a scheduler
// thread of its own (package procboost). SQLite runs in cgo calls, which do
// not count against GOMAXPROCS while they stay in C, but a statement that
// reads pages outside SQLite's cache calls back into Go (the VFS) for every
// page, and a thread that keeps calling back keeps its P.
const longStatement = 2 * time.Millisecond

var boostOnce sync.Once

// installBoost arms the long-statement hook once per process: the hook
// (called from inside SQLite, on the statement's thread) begins a boost,
// and the session ends it once the statement has returned to Go.
func installBoost() {
	boostOnce.Do(func() { sqlite.SetLongStatementHook(longStatement, procboost.Begin) })
}
