package memtune

import "testing"

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
