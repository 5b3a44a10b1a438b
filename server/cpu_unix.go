//go:build unix

package server

import (
	"syscall"
	"time"
)

// cpuTimes is user and system CPU time.
type cpuTimes struct{ user, sys time.Duration }

// cpuUsage returns the CPU time of this process and of its waited-for
// children (getrusage), for INFO cpu.
func cpuUsage() (self, children cpuTimes, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return self, children, false
	}
	self = cpuTimes{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = cpuTimes{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
	}
	return self, children, true
}
