// Package cmdlog is thredis's single ordered stream of write effects
// (DESIGN.md rule 1). The server appends every executed write command — and
// every MULTI/EXEC block or SQL page batch as one entry — in execution order,
// under the same serialization that executed it. The AOF and replication are
// just subscribers; neither captures commands on its own.
package cmdlog

import (
	"strconv"
	"sync"
	"sync/atomic"
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
// ordered by construction. The subscriber list is copy-on-write behind an
// atomic pointer so the hot path (every write command) takes no lock and,
// with no subscribers, does no work beyond numbering the entry.
type Log struct {
	mu   sync.Mutex // serializes Subscribe/Unsubscribe
	subs atomic.Pointer[[]Subscriber]
	seq  atomic.Uint64
}

// New returns an empty log.
func New() *Log { return &Log{} }

// Append publishes e and returns its sequence number (1-based). Callers
// must serialize Append (the server's execution lock does).
func (l *Log) Append(e *Entry) uint64 {
	seq := l.seq.Add(1)
	if subs := l.subs.Load(); subs != nil {
		for _, s := range *subs {
			s.Publish(seq, e)
		}
	}
	return seq
}

// Seq returns the sequence number of the last appended entry.
func (l *Log) Seq() uint64 { return l.seq.Load() }

// Subscribe adds s; it will see every entry appended after this call.
func (l *Log) Subscribe(s Subscriber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var next []Subscriber
	if cur := l.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, s)
	l.subs.Store(&next)
}

// Unsubscribe removes s.
func (l *Log) Unsubscribe(s Subscriber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.subs.Load()
	if cur == nil {
		return
	}
	var next []Subscriber
	for _, x := range *cur {
		if x != s {
			next = append(next, x)
		}
	}
	if len(next) == 0 {
		l.subs.Store(nil)
		return
	}
	l.subs.Store(&next)
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

// Encoder turns entries into the command stream Redis writes to an AOF and
// sends to replicas: each op as a RESP array, a SELECT whenever the
// database changes, and MULTI ... EXEC around an atomic entry. Like Redis
// 7.0, an atomic entry of a single op is not wrapped: one command is atomic
// by itself. An Encoder keeps the stream's current database, so one
// Encoder serves one stream.
type Encoder struct {
	db int
}

// NewEncoder returns an encoder for a fresh stream, whose first op is
// preceded by a SELECT.
func NewEncoder() *Encoder { return &Encoder{db: -1} }

// SetDB tells the encoder which database the stream's reader has selected
// (for example 0 after a full resynchronization), or -1 for unknown.
func (enc *Encoder) SetDB(db int) { enc.db = db }

// Append appends e's encoding to dst.
func (enc *Encoder) Append(dst []byte, e *Entry) []byte {
	if len(e.Ops) == 0 {
		return dst
	}
	wrap := e.Atomic && len(e.Ops) > 1
	if wrap {
		// The SELECT for the first op goes before MULTI, as Redis does.
		dst = enc.selectDB(dst, e.Ops[0].DB)
		dst = AppendCommand(dst, [][]byte{[]byte("MULTI")})
	}
	for _, op := range e.Ops {
		dst = enc.selectDB(dst, op.DB)
		dst = AppendCommand(dst, op.Argv)
	}
	if wrap {
		dst = AppendCommand(dst, [][]byte{[]byte("EXEC")})
	}
	return dst
}

func (enc *Encoder) selectDB(dst []byte, db int) []byte {
	if db == enc.db {
		return dst
	}
	enc.db = db
	return AppendCommand(dst, [][]byte{[]byte("SELECT"), strconv.AppendInt(nil, int64(db), 10)})
}

// AppendCommand appends argv as a RESP multibulk request.
func AppendCommand(dst []byte, argv [][]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(argv)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range argv {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}
