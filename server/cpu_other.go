//go:build !unix

package server

import "time"

// cpuTimes is user and system CPU time.
type cpuTimes struct{ user, sys time.Duration }

// cpuUsage is unavailable without getrusage; INFO cpu is then empty.
func cpuUsage() (self, children cpuTimes, ok bool) { return self, children, false }
