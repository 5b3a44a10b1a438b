// Package keyspace holds thredis's data: numbered databases mapping keys to
// typed values, with key expiry. It knows nothing about sockets or RESP; the
// server serializes every call (a Keyspace is not safe for concurrent use,
// except where a method says otherwise).
package keyspace

import (
	"errors"
	"sync/atomic"
	"time"
	"unsafe"
)

// Errors returned by typed accessors; the server turns them into Redis's
// exact reply texts.
var (
	// ErrWrongType: the key holds a value of another type.
	ErrWrongType = errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")
)

// Kind is the type of a stored value, as TYPE reports it.
type Kind uint8

// The value kinds.
const (
	KindNone Kind = iota
	KindString
	KindHash
	KindList
	KindSet
	KindZSet
)

// String returns the name TYPE replies with.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindHash:
		return "hash"
	case KindList:
		return "list"
	case KindSet:
		return "set"
	case KindZSet:
		return "zset"
	}
	return "none"
}

// object is one key's value. Plain strings (the common case) live in s with
// no extra allocation; a string that is modified in place (APPEND, SETRANGE,
// SETBIT) is promoted to a growable *strBuf in o so repeated appends stay
// amortized O(1); every other type is a pointer in o.
type object struct {
	s   string
	o   any
	lru uint32 // LRU clock (seconds) of the last access
	// snap is the epoch of the latest snapshot that has this value
	// already (or that started before the value was created): a write
	// to a value with an older stamp first hands the value to the
	// running snapshot (see Snapshot).
	snap uint32
}

type strBuf struct{ b []byte }

func (ob *object) kind() Kind {
	switch ob.o.(type) {
	case nil, *strBuf:
		return KindString
	case *Hash:
		return KindHash
	}
	return KindNone
}

// Hooks lets the server observe keyspace events it must act on.
type Hooks interface {
	// KeyExpired is called after key was deleted from db because its TTL
	// passed, so the deletion can be propagated as DEL.
	KeyExpired(db int, key string)
}

// Stats are the keyspace counters INFO reports.
type Stats struct {
	ExpiredKeys     int64
	ExpiredStale    int64
	KeyspaceHits    int64
	KeyspaceMisses  int64
	ExpireCycleTime time.Duration
}

// Keyspace is the set of numbered databases.
type Keyspace struct {
	dbs   []*DB
	hooks Hooks
	// Dirty counts modifications since start (Redis's server.dirty); the
	// server compares it around a command to decide propagation.
	Dirty uint64
	// ReplicaMode makes lookups treat expired keys as missing without
	// deleting them: on a replica only the master's DEL removes a key.
	ReplicaMode bool
	// MasterApplying is set while a replica executes a command from its
	// master: keys whose TTL passed still exist for it, as in Redis, so
	// the master's command acts on the same data it did on the master
	// (a replica's clock may be ahead of its master's).
	MasterApplying bool
	// NoTouch makes lookups leave access times alone, for the command of a
	// client in CLIENT NO-TOUCH mode.
	NoTouch  bool
	Stats    Stats
	lruClock atomic.Uint32
	nowMs    int64 // cached command time; 0 means "read the clock"
	lfu      lfuConfig

	// snap is the snapshot capturing values, nil when none (snapshot.go).
	snap *Snapshot
	// snapEpoch numbers snapshots; new values are stamped with it so a
	// running snapshot leaves them out.
	snapEpoch uint32
	// cowEpoch is the epoch whose frozen hashes are still being read by a
	// snapshot's encoder (0: none): a write to such a hash copies it first.
	cowEpoch uint32
	// snapshotting mirrors cowEpoch != 0 for readers without the lock
	// (the SQL page store, which must not recycle pages a snapshot reads).
	snapshotting atomic.Bool
}

// lfuConfig is the eviction policy's access tracking: under an LFU policy
// each value's stamp holds a 16-bit minutes clock and an 8-bit logarithmic
// access counter instead of an LRU clock, as in Redis.
type lfuConfig struct {
	on        bool
	logFactor int
	decayTime int // minutes per counter decrement; 0 = never decay
}

// SetLFU selects how accesses are tracked, following maxmemory-policy: an
// LFU counter (on, with lfu-log-factor and lfu-decay-time) or an LRU clock.
// Like Redis, values keep their old stamps when the policy changes, so the
// data takes some time to adjust. Callers hold the execution lock.
func (ks *Keyspace) SetLFU(on bool, logFactor, decayTime int) {
	ks.lfu = lfuConfig{on: on, logFactor: logFactor, decayTime: decayTime}
}

// LFU reports whether accesses are tracked with LFU counters (see SetLFU).
func (ks *Keyspace) LFU() bool { return ks.lfu.on }

// New returns a keyspace with n empty databases.
func New(n int, hooks Hooks) *Keyspace {
	ks := &Keyspace{hooks: hooks}
	ks.dbs = make([]*DB, n)
	for i := range ks.dbs {
		ks.dbs[i] = newDB(ks, i)
	}
	ks.TickClock()
	return ks
}

// NumDBs returns the number of databases.
func (ks *Keyspace) NumDBs() int { return len(ks.dbs) }

// DB returns database i (0 <= i < NumDBs).
func (ks *Keyspace) DB(i int) *DB { return ks.dbs[i] }

// TickClock refreshes the coarse LRU clock; safe to call concurrently.
func (ks *Keyspace) TickClock() { ks.lruClock.Store(uint32(time.Now().Unix())) }

// LRUClock returns the access stamp a newly stored value starts with: the
// coarse LRU clock (seconds), or under an LFU policy the LFU minutes clock
// with Redis's initial counter. Callers hold the execution lock.
func (ks *Keyspace) LRUClock() uint32 {
	if ks.lfu.on {
		return ks.lfuMinutes()<<8 | lfuInitVal
	}
	return ks.lruClock.Load()
}

// FreezeTime makes every expiry decision until UnfreezeTime use one
// timestamp, as Redis does for the duration of a command or transaction,
// so a MULTI block sees a consistent clock.
func (ks *Keyspace) FreezeTime() { ks.nowMs = time.Now().UnixMilli() }

// UnfreezeTime returns to reading the clock.
func (ks *Keyspace) UnfreezeTime() { ks.nowMs = 0 }

// NowMs returns the current (possibly frozen) time in Unix milliseconds.
func (ks *Keyspace) NowMs() int64 {
	if ks.nowMs != 0 {
		return ks.nowMs
	}
	return time.Now().UnixMilli()
}

// SwapDB exchanges the contents of databases a and b. Watched keys of both
// are touched. Callers validate the indexes.
func (ks *Keyspace) SwapDB(a, b int) {
	if a == b {
		return
	}
	da, db := ks.dbs[a], ks.dbs[b]
	da.touchAllWatched()
	db.touchAllWatched()
	da.dict, db.dict = db.dict, da.dict
	da.expires, db.expires = db.expires, da.expires
	da.expireCursor, db.expireCursor = 0, 0
	da.touchAllWatched()
	db.touchAllWatched()
	ks.Dirty++
}

// FlushAll empties every database.
func (ks *Keyspace) FlushAll() {
	for _, db := range ks.dbs {
		db.Flush()
	}
}

// KeyCount returns the total number of keys in all databases.
func (ks *Keyspace) KeyCount() int {
	n := 0
	for _, db := range ks.dbs {
		n += db.dict.Len()
	}
	return n
}

// unsafeString views b as a string without copying; only for lookups that do
// not retain the result.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// unsafeBytes views s as bytes without copying; callers must not modify them.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
