package procboost

import (
	"runtime"
	"testing"
)

func TestBeginEndRestoresGOMAXPROCS(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	Begin()
	Begin()
	if got := runtime.GOMAXPROCS(0); got != before+2 {
		t.Fatalf("GOMAXPROCS with two jobs = %d, want %d", got, before+2)
	}
	End()
	End()
	End() // unbalanced: ignored
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS after the jobs = %d, want %d", got, before)
	}
	for i := 0; i < maxBoost+3; i++ {
		Begin()
	}
	if got := runtime.GOMAXPROCS(0); got != before+maxBoost {
		t.Fatalf("GOMAXPROCS with many jobs = %d, want the cap %d", got, before+maxBoost)
	}
	for i := 0; i < maxBoost+3; i++ {
		End()
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS after many jobs = %d, want %d", got, before)
	}
}
