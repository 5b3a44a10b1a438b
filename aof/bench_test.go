package aof

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkAppendWaitSyncedAlways measures appendfsync always throughput:
// N clients each append a command (under a shared lock, as the server's
// execution lock) and wait for it to be on disk before sending the next.
// Group commit lets one fsync serve many clients; appends/fsync is
// reported.
func BenchmarkAppendWaitSyncedAlways(b *testing.B) {
	for _, clients := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			cfg := testConfig(b.TempDir())
			cfg.Fsync = Always
			m := mustOpen(b, cfg)
			if err := m.Start(); err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			cmd := enc("SET", "key:000000000001", strings.Repeat("v", 64))
			var lock sync.Mutex
			var left atomic.Int64
			left.Store(int64(b.N))
			b.SetBytes(int64(len(cmd)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						lock.Lock()
						off := m.Append(cmd)
						lock.Unlock()
						if err := m.WaitSynced(off); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if s := m.Stats(); s.Fsyncs > 0 {
				b.ReportMetric(float64(b.N)/float64(s.Fsyncs), "appends/fsync")
			}
		})
	}
}
