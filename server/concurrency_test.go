package server

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// 50 clients hammer shared counters with INCR, HINCRBY and MULTI/EXEC
// blocks for a fixed time; every increment must be counted exactly once,
// and a transaction's increments must never be seen half-applied.
func TestConcurrentCountersExact(t *testing.T) {
	ts := startServer(t)
	const clients = 50
	deadline := time.Now().Add(1500 * time.Millisecond)
	var (
		wg                         sync.WaitGroup
		incrs, hincrs, txs, partly atomic.Int64
	)
	for id := 0; id < clients; id++ {
		rdb := ts.client(t)
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				var err error
				switch n % 3 {
				case 0:
					err = rdb.Incr(ctx, "c:incr").Err()
					if err == nil {
						incrs.Add(1)
					}
				case 1:
					err = rdb.HIncrBy(ctx, "c:hash", "f"+strconv.Itoa(id%5), 2).Err()
					if err == nil {
						hincrs.Add(2)
					}
				default:
					// Both counters move together; each transaction also
					// checks the pair it read inside the block was equal.
					var a, b *redis.StringCmd
					_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.Incr(ctx, "c:txa")
						p.HIncrBy(ctx, "c:txh", "b", 1)
						a = p.Get(ctx, "c:txa")
						b = p.HGet(ctx, "c:txh", "b")
						return nil
					})
					if err == nil {
						txs.Add(1)
						if a.Val() != b.Val() {
							partly.Add(1)
						}
					}
				}
				if err != nil {
					t.Errorf("client %d: %v", id, err)
					return
				}
			}
		}(id)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	rdb := ts.client(t)
	if got, _ := rdb.Get(ctx, "c:incr").Int64(); got != incrs.Load() {
		t.Errorf("INCR counter = %d, want %d", got, incrs.Load())
	}
	var hsum int64
	for f, v := range rdb.HGetAll(ctx, "c:hash").Val() {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("field %s = %q", f, v)
		}
		hsum += n
	}
	if hsum != hincrs.Load() {
		t.Errorf("HINCRBY sum = %d, want %d", hsum, hincrs.Load())
	}
	a, _ := rdb.Get(ctx, "c:txa").Int64()
	b, _ := rdb.HGet(ctx, "c:txh", "b").Int64()
	if a != txs.Load() || b != txs.Load() {
		t.Errorf("transaction counters = %d, %d, want %d", a, b, txs.Load())
	}
	if partly.Load() != 0 {
		t.Errorf("%d transactions saw the other's increments half-applied", partly.Load())
	}
	if incrs.Load() < clients || txs.Load() < clients {
		t.Errorf("too little work done: %d INCR, %d transactions", incrs.Load(), txs.Load())
	}
}

// Optimistic locking: 50 clients increment one counter with GET, WATCH,
// MULTI, SET, EXEC and retry on conflict. The total must be exact, and
// conflicts must actually have happened (and been detected).
func TestConcurrentWatchRetries(t *testing.T) {
	ts := startServer(t)
	const clients, each = 50, 20
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	for id := 0; id < clients; id++ {
		rdb := ts.client(t)
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for attempt := 0; ; attempt++ {
					if attempt > 10000 {
						t.Errorf("client %d: no progress", id)
						return
					}
					err := rdb.Watch(ctx, func(tx *redis.Tx) error {
						v, err := tx.Get(ctx, "w:counter").Int64()
						if err != nil && !errors.Is(err, redis.Nil) {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
							p.Set(ctx, "w:counter", v+1, 0)
							return nil
						})
						return err
					}, "w:counter")
					if err == nil {
						break
					}
					if !errors.Is(err, redis.TxFailedErr) {
						t.Errorf("client %d: %v", id, err)
						return
					}
					conflicts.Add(1)
				}
			}
		}(id)
	}
	wg.Wait()
	rdb := ts.client(t)
	if got, _ := rdb.Get(ctx, "w:counter").Int64(); got != clients*each {
		t.Fatalf("counter = %d, want %d (%d conflicts)", got, clients*each, conflicts.Load())
	}
	if conflicts.Load() == 0 {
		t.Fatalf("no WATCH conflict among %d concurrent read-modify-writes", clients*each)
	}
	t.Logf("%d increments, %d WATCH conflicts retried", clients*each, conflicts.Load())
}

// Pipelines of many clients interleave only at command boundaries: each
// client's replies come back complete and in its own order.
func TestConcurrentPipelinesKeepOrder(t *testing.T) {
	ts := startServer(t)
	const clients, depth = 20, 200
	var wg sync.WaitGroup
	for id := 0; id < clients; id++ {
		rdb := ts.client(t)
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			key := fmt.Sprintf("p:%d", id)
			cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := 0; i < depth; i++ {
					p.Incr(ctx, key)
					p.Echo(ctx, strconv.Itoa(i))
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < depth; i++ {
				if n := cmds[2*i].(*redis.IntCmd).Val(); n != int64(i+1) {
					t.Errorf("client %d: INCR #%d = %d", id, i, n)
					return
				}
				if s := cmds[2*i+1].(*redis.StringCmd).Val(); s != strconv.Itoa(i) {
					t.Errorf("client %d: ECHO #%d = %q", id, i, s)
					return
				}
			}
		}(id)
	}
	wg.Wait()
}
