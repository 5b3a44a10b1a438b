//go:build race

package vfs

// The C shim moves a connection's pin from ACTIVE to IDLE with its own
// atomics, after the connection's last page reads in Go; a committing
// goroutine then revokes the pin with a Go atomic and may prune and reuse
// what the connection read. That ordering is real (a seq_cst store in C
// after the reads, on the same thread), but the race detector does not see
// C atomics. In race builds these two calls restate the edge in Go.

// raceRelease marks the end of page reads by the connection.
func (c *conn) raceRelease() { c.raceSync.Add(1) }

// raceAcquire orders what follows after the connection's page reads.
func (c *conn) raceAcquire() { c.raceSync.Load() }

// The writer lock is a word in C memory that the C shim may take with its
// own atomics; the overlay it guards is Go memory. Restate the lock's
// ordering for the race detector.
func (d *Database) raceReleaseWriter() { d.raceW.Add(1) }
func (d *Database) raceAcquireWriter() { d.raceW.Load() }
