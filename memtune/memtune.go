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
	"time"
)

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
		if diff := want - cur; diff*10 > cur || -diff*10 > cur {
			debug.SetGCPercent(want)
			cur = want
		}
	}
}
