package memtune

import (
	"context"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	p := DefaultPolicy
	cases := []struct {
		live uint64
		want int
	}{
		{0, 800},
		{1 << 20, 800},  // tiny heap: capped at MaxPercent
		{32 << 20, 100}, // headroom 32 MiB on 32 MiB live
		{64 << 20, 50},  // 32 MiB on 64 MiB
		{160 << 20, 20}, // 20% fraction takes over
		{10 << 30, 20},  // huge heap stays at the floor
	}
	for _, c := range cases {
		if got := p.Percent(c.live); got != c.want {
			t.Errorf("Percent(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestBeginLoad: while a load runs the GC target is at least LoadPercent,
// and it returns to the policy's value afterwards.
func TestBeginLoad(t *testing.T) {
	p := Policy{MinHeadroom: 1, Fraction: 0.2, MinPercent: 20, MaxPercent: 20, Interval: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, p); close(done) }()
	defer func() { cancel(); <-done }()
	gogc := func() int {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64())
	}
	waitFor := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); gogc() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("GOGC %d, want %d", gogc(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(20)
	BeginLoad()
	waitFor(LoadPercent)
	EndLoad()
	waitFor(20)
}
