package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"strconv"

	"github.com/thredis/thredis/memtune"
	"github.com/thredis/thredis/server"
)

// tuneRuntime sets the process-wide Go runtime knobs the way a Redis-like
// server wants them; the returned function undoes the GC tuning.
//
// Threads: io-threads (Redis's directive, default 1) becomes GOMAXPROCS.
// Like Redis, one thread runs the network and command work: with a
// benchmark client or application on the same machine, a second runtime
// thread mostly steals CPU from it and adds cross-thread hand-offs (measured
// on a 2-core machine: about 0.6x of redis-server's pipelined throughput
// with GOMAXPROCS=2, about 0.9-1.0x with 1). SQL statements run in cgo
// calls, on their own OS threads outside GOMAXPROCS; one that runs long
// (and so may keep a P through its page-read callbacks into the VFS) gets
// one more P until it ends (sqlcmd/procboost.go), so long SQL queries still
// run in parallel with commands.
//
// GC: memtune keeps the heap target at live + max(32 MiB, 20%), instead of
// Go's default 2x live, so RSS tracks the dataset like Redis's does.
//
// Explicit GOMAXPROCS / GOGC environment variables win over both.
func tuneRuntime(cfg *server.Config, logger *slog.Logger) func() {
	if os.Getenv("GOMAXPROCS") == "" {
		if v, ok := cfg.Get("io-threads"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				runtime.GOMAXPROCS(n)
			}
		}
	}
	if os.Getenv("GOGC") != "" {
		logger.Info("GOGC set in the environment: adaptive GC target disabled")
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		memtune.Run(ctx, memtune.DefaultPolicy)
	}()
	return func() {
		cancel()
		<-done
	}
}
