// Package replication implements Redis's master/replica protocol for
// thredis: the replication backlog and ids (PSYNC2), the master's view of
// its replicas (offsets, acknowledgements, WAIT, min-replicas-to-write),
// and the replica's side of the wire protocol (handshake, the full-sync
// payload). It never executes commands: the server applies what a replica
// receives through its own command path (DESIGN.md).
package replication

// Backlog is Redis's replication backlog: a circular buffer holding the
// last Size bytes of the replication stream, so a replica that lost its
// link can continue from its offset (PSYNC) instead of a full sync.
//
// Offsets follow Redis: Offset is master_repl_offset, the number of stream
// bytes produced so far (plus the offset the stream started at); the
// first byte held is at FirstOffset = Offset - HistLen + 1. A Backlog is
// not safe for concurrent use; the server guards it with its execution
// lock.
type Backlog struct {
	buf     []byte
	idx     int   // where the next byte goes
	histlen int64 // bytes held (≤ len(buf))
	offset  int64
}

// NewBacklog returns an empty backlog of size bytes whose stream continues
// after offset.
func NewBacklog(size int, offset int64) *Backlog {
	if size < 1 {
		size = 1
	}
	return &Backlog{buf: make([]byte, size), offset: offset}
}

// Size returns the capacity (repl-backlog-size).
func (b *Backlog) Size() int { return len(b.buf) }

// Offset returns master_repl_offset: the stream offset after the last byte.
func (b *Backlog) Offset() int64 { return b.offset }

// HistLen returns how many bytes the backlog holds (repl_backlog_histlen).
func (b *Backlog) HistLen() int64 { return b.histlen }

// FirstOffset returns repl_backlog_first_byte_offset: the offset of the
// oldest byte held, counted from 1 like Redis.
func (b *Backlog) FirstOffset() int64 { return b.offset - b.histlen + 1 }

// Append adds stream bytes; the oldest bytes are overwritten when full.
func (b *Backlog) Append(p []byte) {
	b.offset += int64(len(p))
	size := len(b.buf)
	if len(p) >= size {
		// Only the tail fits.
		copy(b.buf, p[len(p)-size:])
		b.idx = 0
		b.histlen = int64(size)
		return
	}
	n := copy(b.buf[b.idx:], p)
	if n < len(p) {
		copy(b.buf, p[n:])
	}
	b.idx = (b.idx + len(p)) % size
	b.histlen = min(b.histlen+int64(len(p)), int64(size))
}

// Covers reports whether a replica that has processed the stream up to
// offset (its PSYNC offset minus one) can continue from the backlog: the
// bytes after it are all held. Redis's test is psync_offset in
// [first byte, master_repl_offset + 1].
func (b *Backlog) Covers(offset int64) bool {
	next := offset + 1
	return next >= b.FirstOffset() && next <= b.offset+1
}

// Since calls fn with the bytes after offset, in order (at most two
// slices of the ring); Covers(offset) must hold.
func (b *Backlog) Since(offset int64, fn func(p []byte)) {
	n := b.offset - offset // bytes to send
	if n <= 0 {
		return
	}
	size := int64(len(b.buf))
	start := (int64(b.idx) - n + size) % size
	if start+n <= size {
		fn(b.buf[start : start+n])
		return
	}
	fn(b.buf[start:])
	fn(b.buf[:(start+n)-size])
}

// Resize changes the capacity, keeping as much of the newest history as
// fits (CONFIG SET repl-backlog-size).
func (b *Backlog) Resize(size int) {
	if size < 1 {
		size = 1
	}
	if size == len(b.buf) {
		return
	}
	keep := min(b.histlen, int64(size))
	nb := make([]byte, size)
	var at int
	b.Since(b.offset-keep, func(p []byte) { at += copy(nb[at:], p) })
	b.buf, b.histlen, b.idx = nb, keep, int(keep)%size
}
