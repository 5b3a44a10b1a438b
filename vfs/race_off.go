//go:build !race

package vfs

// raceRelease and raceAcquire only matter to the race detector; see
// race_on.go.
func (c *conn) raceRelease()           {}
func (c *conn) raceAcquire()           {}
func (d *Database) raceReleaseWriter() {}
func (d *Database) raceAcquireWriter() {}
