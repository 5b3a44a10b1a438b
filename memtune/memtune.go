// Package memtune adapts the Go garbage collector's target to the live heap
// so a thredis process behaves like Redis on both ends: with a small
// dataset, GC runs rarely (a generous fixed headroom keeps CPU per request
// low under load), and with a large dataset the headroom shrinks to a
// fraction of the live heap so resident memory stays close to the data
// size instead of Go's default 2x.
package memtune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// loads counts bulk loads in progress (BeginLoad). Process-wide, like the
// GC setting it steers.
var loads atomic.Int32

// LoadPercent is the least GOGC while a bulk load runs: a heap growing from
// nothing to its full size under a 20% headroom would be marked a dozen
// times over (about 6× its final size); 100% marks it about twice.
const LoadPercent = 100

// BeginLoad marks the start of a bulk load (a replica loading its master's
// snapshot, a dataset loaded at start-up): until the matching EndLoad, the
// GC target is at least LoadPercent, trading some transient memory for
// much less GC work while the live heap only grows.
func BeginLoad() { loads.Add(1) }

// EndLoad ends what BeginLoad began.
func EndLoad() { loads.Add(-1) }

// Policy sets the heap headroom: the GC target is live + max(MinHeadroom,
// live*Fraction), expressed to the runtime as a GOGC percentage clamped to
// [MinPercent, MaxPercent].
type Policy struct {
	MinHeadroom uint64  // bytes of garbage allowed regardless of heap size
	Fraction    float64 // headroom as a fraction of the live heap
	MinPercent  int
	MaxPercent  int
	Interval    time.Duration // how often the live heap is sampled
}

// DefaultPolicy: 32 MiB or 20% of the live heap, GOGC between 20 and 800.
var DefaultPolicy = Policy{MinHeadroom: 32 << 20, Fraction: 0.20, MinPercent: 20, MaxPercent: 800, Interval: 100 * time.Millisecond}

// Percent returns the GOGC value the policy wants for a live heap size.
func (p Policy) Percent(live uint64) int {
	if live == 0 {
		return p.MaxPercent
	}
	head := float64(live) * p.Fraction
	if h := float64(p.MinHeadroom); h > head {
		head = h
	}
	pct := int(head / float64(live) * 100)
	if pct < p.MinPercent {
		pct = p.MinPercent
	}
	if pct > p.MaxPercent {
		pct = p.MaxPercent
	}
	return pct
}

// Run samples the live heap every Interval and retunes GOGC when the wanted
// percentage moves by more than a tenth, until ctx is done. It restores
// the previous setting on return.
func Run(ctx context.Context, p Policy) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	cur := p.Percent(sample[0].Value.Uint64())
	prev := debug.SetGCPercent(cur)
	defer debug.SetGCPercent(prev)
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		want := p.Percent(sample[0].Value.Uint64())
		if loads.Load() > 0 {
			want = max(want, LoadPercent)
		}
		if diff := want - cur; diff*10 > cur || -diff*10 > cur {
			debug.SetGCPercent(want)
			cur = want
		}
	}
}
