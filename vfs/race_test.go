//go:build race

package vfs

// raceEnabled lets expensive randomized tests scale down under the race
// detector, which slows the Go side of every step several times.
const raceEnabled = true
