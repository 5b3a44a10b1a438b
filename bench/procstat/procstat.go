// Package procstat reads a process's memory and CPU figures from Linux's
// /proc, for the benchmark helpers that watch a server from outside
// (bench/persist, bench/repl).
package procstat

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// RSSKB returns VmRSS of pid in kB, -1 if it cannot be read.
func RSSKB(pid int) int64 {
	return field(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

// PrivateKB returns the kB of pages pid maps that no other process maps
// (Private_Clean + Private_Dirty of smaps_rollup), -1 if unreadable.
func PrivateKB(pid int) int64 {
	p := fmt.Sprintf("/proc/%d/smaps_rollup", pid)
	a, b := field(p, "Private_Clean:"), field(p, "Private_Dirty:")
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}

// Children lists the child processes of pid (any thread's children).
func Children(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if v, err := strconv.Atoi(s); err == nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// CPUMillis is the user + system CPU time of pid, its reaped children
// included (redis's fork), in ms; 0 for pid 0 or when unreadable.
func CPUMillis(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// fields after the command name, which is in parentheses
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime..cstime are fields 14..17
	var t int64
	for _, k := range []int{14, 15, 16, 17} {
		v, _ := strconv.ParseInt(f[k-3], 10, 64)
		t += v
	}
	return t * 10 // USER_HZ is 100 on Linux
}

// field returns the number after a "Name:" line's label in a /proc file,
// -1 if the file or the line cannot be read.
func field(path, label string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, label); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return v
				}
			}
		}
	}
	return -1
}
