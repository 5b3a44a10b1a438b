// Package cmdlog is thredis's single ordered stream of write effects
// (DESIGN.md rule 1). The server appends every executed write command — and
// every MULTI/EXEC block or SQL page batch as one entry — in execution order,
// under the same serialization that executed it. The AOF and replication are
// just subscribers; neither captures commands on its own.
package cmdlog

import (
	"sync"
)

// Op is one command of an entry, with the database it applies to.
type Op struct {
	DB   int
	Argv [][]byte
}

// Entry is one atomic unit of the log. Atomic entries (transactions, SQL page
// batches) are wrapped in MULTI/EXEC by readers that replay them elsewhere.
type Entry struct {
	Ops    []Op
	Atomic bool
}

// Subscriber receives entries synchronously, in log order, while the writer
// that produced them still holds the execution lock. Argv slices are only
// valid during the call: a subscriber that keeps them must copy (or encode)
// them before returning. Publish must not block for long.
type Subscriber interface {
	Publish(seq uint64, e *Entry)
}

// Log fans entries out to subscribers and numbers them.
//
// Append is called with the server's execution lock held, so entries are
// ordered by construction; Log's own mutex only guards the subscriber list
// against concurrent Subscribe/Unsubscribe calls.
type Log struct {
	mu   sync.Mutex
	subs []Subscriber
	seq  uint64
}

// New returns an empty log.
func New() *Log { return &Log{} }

// Append publishes e and returns its sequence number (1-based).
func (l *Log) Append(e *Entry) uint64 {
	l.mu.Lock()
	l.seq++
	seq := l.seq
	for _, s := range l.subs {
		s.Publish(seq, e)
	}
	l.mu.Unlock()
	return seq
}

// Seq returns the sequence number of the last appended entry.
func (l *Log) Seq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Subscribe adds s; it will see every entry appended after this call.
func (l *Log) Subscribe(s Subscriber) {
	l.mu.Lock()
	l.subs = append(l.subs, s)
	l.mu.Unlock()
}

// Unsubscribe removes s.
func (l *Log) Unsubscribe(s Subscriber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.subs {
		if x == s {
			l.subs = append(l.subs[:i:i], l.subs[i+1:]...)
			return
		}
	}
}

// Recorder is an in-memory subscriber that keeps deep copies of every entry;
// tests and tools use it to observe the log.
type Recorder struct {
	mu      sync.Mutex
	entries []Entry
}

// Publish implements Subscriber.
func (r *Recorder) Publish(_ uint64, e *Entry) {
	c := Entry{Atomic: e.Atomic, Ops: make([]Op, len(e.Ops))}
	for i, op := range e.Ops {
		argv := make([][]byte, len(op.Argv))
		for j, a := range op.Argv {
			argv[j] = append([]byte(nil), a...)
		}
		c.Ops[i] = Op{DB: op.DB, Argv: argv}
	}
	r.mu.Lock()
	r.entries = append(r.entries, c)
	r.mu.Unlock()
}

// Entries returns a copy of the recorded entries.
func (r *Recorder) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Entry(nil), r.entries...)
}
