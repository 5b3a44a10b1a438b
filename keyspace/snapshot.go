package keyspace

import "errors"

// ErrSnapshotRunning is BeginSnapshot's refusal while another snapshot runs.
var ErrSnapshotRunning = errors.New("a snapshot is already in progress")

// Snapshot is a point-in-time view of the whole keyspace that a background
// goroutine streams out (BGSAVE, AOF rewrite, replica full sync) while
// clients keep writing. Go has no fork, so the view is built without
// copying the keyspace under the lock:
//
//   - A walker visits every database's dict with a resumable Scan cursor, a
//     few hundred buckets per Next call (each call holds the execution lock
//     briefly), and takes each value it has not taken yet.
//   - Every write path first offers the value it is about to change,
//     replace or delete to the snapshot (DB.preWrite): a value stamped
//     with an older epoch is taken as it is now, before the change.
//   - Values created after the snapshot began carry its epoch and are left
//     out.
//
// Taking a value costs O(1) for strings (immutable) and hashes (frozen
// rather than copied: a writer that later changes a frozen hash changes a
// copy, see DB.HashForWrite). Only an in-place string buffer (APPEND,
// SETRANGE) is copied. The taken values are read by the encoder without the
// lock until Release.
//
// A Snapshot is driven with the execution lock held: BeginSnapshot, each
// Next, and Release.
type Snapshot struct {
	ks      *Keyspace
	epoch   uint32
	dicts   []*Dict[object] // each database's dict when the snapshot began
	expires []*Dict[int64]  // the expires dict paired with each of dicts
	sizes   []DBSize
	pending []Item // values taken by write paths since the last Next
	db      int    // database being walked
	cursor  uint64 // Scan cursor in dicts[db]
	done    bool
}

// DBSize is a database's key counts when a snapshot began (RDB's RESIZEDB
// hint).
type DBSize struct{ Keys, Expires int }

// Item is one key of a snapshot: its database, name, expiry and value. Str
// holds a string; Hash a hash that must only be read (Range, Len) until the
// snapshot is released.
type Item struct {
	DB       int
	Key      string
	ExpireMs int64 // absolute Unix ms, -1 when the key has no TTL
	Str      string
	Hash     *Hash
}

// Kind returns the item's value type.
func (it *Item) Kind() Kind {
	if it.Hash != nil {
		return KindHash
	}
	return KindString
}

// BeginSnapshot starts a snapshot of every database as it is now. Only one
// snapshot runs at a time. Lock held.
func (ks *Keyspace) BeginSnapshot() (*Snapshot, error) {
	if ks.cowEpoch != 0 {
		return nil, ErrSnapshotRunning
	}
	ks.snapEpoch++
	s := &Snapshot{ks: ks, epoch: ks.snapEpoch}
	for _, db := range ks.dbs {
		s.dicts = append(s.dicts, db.dict)
		s.expires = append(s.expires, db.expires)
		s.sizes = append(s.sizes, DBSize{Keys: db.dict.Len(), Expires: db.expires.Len()})
	}
	ks.snap = s
	ks.cowEpoch = s.epoch
	ks.snapshotting.Store(true)
	return s, nil
}

// SnapshotActive reports whether a snapshot's encoder may be reading values
// without the lock. Safe without the lock: the SQL page store asks it before
// reusing the memory of a superseded page.
func (db *DB) SnapshotActive() bool { return db.ks.snapshotting.Load() }

// Sizes returns each database's key counts when the snapshot began.
func (s *Snapshot) Sizes() []DBSize { return s.sizes }

// snapshotBucketsPerNext bounds the walker's work per Next call, which holds
// the execution lock: a few hundred buckets take a few microseconds.
const snapshotBucketsPerNext = 256

// Next appends to out the values taken since the last call: those write
// paths handed over, then the next stretch of the walk. done is set when
// every value of the snapshot has been returned; from then on writes are no
// longer intercepted, but the returned values stay readable until Release.
// Lock held.
func (s *Snapshot) Next(out []Item) (items []Item, done bool) {
	out = append(out, s.pending...)
	clear(s.pending)
	s.pending = s.pending[:0]
	if s.done {
		return out, true
	}
	for buckets := 0; buckets < snapshotBucketsPerNext && s.db < len(s.dicts); buckets++ {
		d := s.dicts[s.db]
		s.cursor = d.scanEntries(s.cursor, func(e *dictEntry[object]) {
			if e.val.snap < s.epoch {
				out = append(out, s.take(s.db, e.key, &e.val, s.expires[s.db]))
			}
		})
		if s.cursor == 0 {
			s.db++
		}
	}
	if s.db == len(s.dicts) {
		s.done = true
		if s.ks.snap == s {
			s.ks.snap = nil
		}
		return out, true
	}
	return out, false
}

// Release ends the snapshot: the values it returned must no longer be read.
// It may be called before Next reported done, to abandon the snapshot.
// Lock held.
func (s *Snapshot) Release() {
	ks := s.ks
	if ks.snap == s {
		ks.snap = nil
	}
	if ks.cowEpoch == s.epoch {
		ks.cowEpoch = 0
		ks.snapshotting.Store(false)
	}
	s.done = true
	s.pending = nil
	s.dicts, s.expires = nil, nil
}

// take freezes ob's current value as an Item of database dbi and stamps ob
// as taken.
func (s *Snapshot) take(dbi int, key string, ob *object, expires *Dict[int64]) Item {
	it := Item{DB: dbi, Key: key, ExpireMs: -1}
	if when, ok := expires.Get(key); ok {
		it.ExpireMs = when
	}
	switch o := ob.o.(type) {
	case nil:
		it.Str = ob.s
	case *strBuf:
		it.Str = string(o.b) // modified in place by APPEND and friends
	case *Hash:
		o.freeze(s.epoch)
		it.Hash = o
	}
	ob.snap = s.epoch
	return it
}

// preWrite gives a running snapshot the value of key before a write path
// changes, replaces or deletes it. ob is key's object in db. Lock held.
func (db *DB) preWrite(key string, ob *object) {
	s := db.ks.snap
	if s == nil || ob.snap >= s.epoch {
		return
	}
	// Which database held this dict when the snapshot began? (SWAPDB
	// moves dicts between numbers; a dict created since, by a flush,
	// holds only stamped values and never gets here.)
	dbi := -1
	for i, d := range s.dicts {
		if d == db.dict {
			dbi = i
			break
		}
	}
	if dbi < 0 {
		ob.snap = s.epoch
		return
	}
	// The dict's own copy of the key: key may alias a client's buffer.
	if e := db.dict.find(key); e != nil {
		key = e.key
	}
	s.pending = append(s.pending, s.take(dbi, key, ob, s.expires[dbi]))
}

// Restore stores a value read from a snapshot (an RDB file, a master's full
// sync): a string, or h when h is not nil, with an absolute expiry in Unix
// ms (-1: none). Any existing value of key is replaced. The hash is owned by
// the keyspace from now on. Lock held.
func (db *DB) Restore(key, str string, h *Hash, expireMs int64) {
	ob := object{s: str, lru: db.ks.LRUClock()}
	if h != nil {
		ob.o = h
	}
	k := unsafeBytes(key) // add copies what it keeps
	db.add(k, ob, expireMs)
	db.Modified(k)
}
