package keyspace

import (
	"math/rand/v2"
	"strconv"
)

// DB is one numbered database: keys, their values and their expiry times.
type DB struct {
	ks      *Keyspace
	id      int
	dict    *Dict[object]
	expires *Dict[int64] // key -> absolute expiry, Unix ms
	watched map[string][]Watcher
	// expireCursor is where the active expiry cycle resumes scanning
	// expires (a Dict.Scan cursor, so no key is skipped across resizes).
	expireCursor uint64
	// victims is the active expiry cycle's reusable scratch list.
	victims []string
}

// Watcher is notified when a key it watches (WATCH) is modified.
type Watcher interface {
	// WatchedKeyTouched marks the watcher's transaction as doomed.
	WatchedKeyTouched()
}

// LookupFlag selects the side effects of a key lookup, like Redis's
// LOOKUP_* flags. A lookup always reclaims a key whose TTL has passed.
type LookupFlag uint8

const (
	// LookupNoTouch leaves the key's access time (LRU clock or LFU
	// counter) alone, as EXISTS, TYPE, TTL and OBJECT do.
	LookupNoTouch LookupFlag = 1 << iota
	// LookupRead counts the lookup toward keyspace hits and misses, as
	// read commands do (write commands' lookups are not counted).
	LookupRead
)

func newDB(ks *Keyspace, id int) *DB {
	return &DB{ks: ks, id: id, dict: NewDict[object](), expires: NewDict[int64]()}
}

// ID returns the database number.
func (db *DB) ID() int { return db.id }

// Len returns the number of keys (including logically expired ones not yet
// reclaimed, like Redis's DBSIZE).
func (db *DB) Len() int { return db.dict.Len() }

// ExpiresLen returns the number of keys with a TTL.
func (db *DB) ExpiresLen() int { return db.expires.Len() }

// Modified records a change to key: it bumps the dirty counter (which drives
// propagation and save policies) and invalidates WATCHers of key. Typed
// accessors that hand out mutable values (HashForWrite, StringBuffer) leave
// this to the caller, who knows whether anything actually changed.
func (db *DB) Modified(key []byte) {
	db.ks.Dirty++
	if db.watched != nil {
		db.touchWatched(unsafeString(key))
	}
}

// expired reports whether key's TTL has passed.
func (db *DB) expired(key string) bool {
	if db.expires.Len() == 0 {
		return false
	}
	when, ok := db.expires.Get(key)
	return ok && when <= db.ks.NowMs()
}

// expireIfNeeded deletes key if its TTL has passed and reports whether the
// key is (logically) gone.
func (db *DB) expireIfNeeded(key string) bool {
	if !db.expired(key) {
		return false
	}
	if db.ks.ReplicaMode {
		return !db.ks.MasterApplying
	}
	db.deleteExpired(key)
	return true
}

// deleteExpired removes a key whose TTL passed and reports it through the
// KeyExpired hook, which propagates it as DEL. Like Redis it does not bump
// Dirty: the deletion is propagated by itself, and a write command that
// merely reclaimed an expired key (EXPIRE, DEL of an expired key, ...) did
// nothing that needs propagating.
func (db *DB) deleteExpired(key string) {
	// The hook may retain the key, and key may alias a client's argument
	// buffer: hand it the dict's own (immutable) copy instead.
	if e := db.dict.find(key); e != nil {
		key = e.key
		db.preWrite(key, &e.val)
	}
	db.dict.Delete(key)
	db.expires.Delete(key)
	db.ks.Stats.ExpiredKeys++
	if db.watched != nil {
		db.touchWatched(key)
	}
	if db.ks.hooks != nil {
		db.ks.hooks.KeyExpired(db.id, key)
	}
}

// lookup finds key's object, expiring it first if due. read selects whether
// the access counts toward keyspace hits/misses.
func (db *DB) lookup(key []byte, read bool) *object {
	if read {
		return db.lookupFlags(key, LookupRead)
	}
	return db.lookupFlags(key, 0)
}

// lookupFlags is Redis's lookupKey: it reclaims an expired key, updates the
// access time unless LookupNoTouch, and counts hits/misses for LookupRead.
func (db *DB) lookupFlags(key []byte, flags LookupFlag) *object {
	k := unsafeString(key)
	var ob *object
	if !db.expireIfNeeded(k) {
		ob = db.dict.Ref(k)
	}
	if flags&LookupRead != 0 {
		if ob == nil {
			db.ks.Stats.KeyspaceMisses++
		} else {
			db.ks.Stats.KeyspaceHits++
		}
	}
	if ob != nil && flags&LookupNoTouch == 0 && !db.ks.NoTouch {
		db.ks.touch(ob)
	}
	return ob
}

// Lookup returns the kind of key's value (KindNone if it does not exist),
// with the side effects flags select. It is the generic commands' lookup
// (EXISTS, TYPE, TOUCH, ...).
func (db *DB) Lookup(key []byte, flags LookupFlag) Kind {
	ob := db.lookupFlags(key, flags)
	if ob == nil {
		return KindNone
	}
	return ob.kind()
}

// Exists reports whether key exists (without touching hit/miss stats).
func (db *DB) Exists(key []byte) bool { return db.lookup(key, false) != nil }

// Type returns the kind of key's value, KindNone if it does not exist.
func (db *DB) Type(key []byte) Kind {
	ob := db.lookup(key, false)
	if ob == nil {
		return KindNone
	}
	return ob.kind()
}

// Touch refreshes key's access time and reports whether it exists.
func (db *DB) Touch(key []byte) bool { return db.lookup(key, false) != nil }

// GetString returns the string stored at key. The returned slice must not be
// modified or retained past the current command. found is false for a
// missing key; err is ErrWrongType for a non-string.
func (db *DB) GetString(key []byte) (val []byte, found bool, err error) {
	return stringOf(db.lookup(key, true))
}

// stringOf returns the string held by ob (nil: missing key).
func stringOf(ob *object) (val []byte, found bool, err error) {
	if ob == nil {
		return nil, false, nil
	}
	switch o := ob.o.(type) {
	case nil:
		return unsafeBytes(ob.s), true, nil
	case *strBuf:
		return o.b, true, nil
	}
	return nil, true, ErrWrongType
}

// SetString stores a copy of val at key, replacing any value of any type.
// The TTL is cleared unless keepTTL.
func (db *DB) SetString(key, val []byte, keepTTL bool) {
	db.setString(key, string(val), keepTTL)
}

// setString stores s at key. The lookup expires a stale key first, so
// KEEPTTL never resurrects a TTL that has already passed.
func (db *DB) setString(key []byte, s string, keepTTL bool) {
	ob := db.lookup(key, false)
	if ob == nil {
		ob, _ = db.dict.Upsert(string(key))
	} else {
		db.preWrite(unsafeString(key), ob)
	}
	*ob = object{s: s, lru: db.ks.LRUClock(), snap: db.ks.snapEpoch}
	if !keepTTL && db.expires.Len() > 0 {
		db.expires.Delete(unsafeString(key))
	}
	db.Modified(key)
}

// StringBuffer returns a growable buffer holding key's string so the caller
// can modify it in place (APPEND, SETRANGE, SETBIT). A missing key is
// created empty when create is set, else nil is returned. The caller must
// call Modified if it changes the buffer.
func (db *DB) StringBuffer(key []byte, create bool) (*[]byte, error) {
	ob := db.lookup(key, false)
	if ob == nil {
		if !create {
			return nil, nil
		}
		ob, _ = db.dict.Upsert(string(key))
		*ob = object{lru: db.ks.LRUClock(), snap: db.ks.snapEpoch}
	} else {
		db.preWrite(unsafeString(key), ob)
	}
	switch o := ob.o.(type) {
	case nil:
		sb := &strBuf{b: []byte(ob.s)}
		ob.s = ""
		ob.o = sb
		return &sb.b, nil
	case *strBuf:
		return &o.b, nil
	}
	return nil, ErrWrongType
}

// Hash returns the hash stored at key for reading, nil if missing.
func (db *DB) Hash(key []byte) (*Hash, error) {
	ob := db.lookup(key, true)
	if ob == nil {
		return nil, nil
	}
	if h, ok := ob.o.(*Hash); ok {
		return h, nil
	}
	return nil, ErrWrongType
}

// HashForWrite returns the hash at key for modification, creating an empty
// one if missing and create is set (else nil). The caller must call Modified
// after a change and DeleteIfEmpty after removals.
func (db *DB) HashForWrite(key []byte, create bool) (*Hash, error) {
	ob := db.lookup(key, false)
	if ob == nil {
		if !create {
			return nil, nil
		}
		h := NewHash()
		ob, _ = db.dict.Upsert(string(key))
		*ob = object{o: h, lru: db.ks.LRUClock(), snap: db.ks.snapEpoch}
		return h, nil
	}
	h, ok := ob.o.(*Hash)
	if !ok {
		return nil, ErrWrongType
	}
	db.preWrite(unsafeString(key), ob)
	if h.frozen != 0 && h.frozen == db.ks.cowEpoch {
		// A snapshot's encoder is reading this hash: change a copy.
		h = h.cowClone()
		ob.o = h
	}
	return h, nil
}

// PeekHash returns the hash at key for reading without any side effect of
// a lookup (no expiry, access time or hit/miss stats), nil if missing. The
// SQL layer uses it to inspect a database's pages.
func (db *DB) PeekHash(key []byte) (*Hash, error) {
	ob := db.dict.Ref(unsafeString(key))
	if ob == nil {
		return nil, nil
	}
	if h, ok := ob.o.(*Hash); ok {
		return h, nil
	}
	return nil, ErrWrongType
}

// DeleteIfEmpty removes key if it holds an empty collection, as Redis does
// when the last field or member is removed.
func (db *DB) DeleteIfEmpty(key []byte) bool {
	ob := db.dict.Ref(unsafeString(key))
	if ob == nil {
		return false
	}
	if h, ok := ob.o.(*Hash); ok && h.Len() == 0 {
		db.remove(unsafeString(key))
		return true
	}
	return false
}

func (db *DB) remove(k string) {
	if db.ks.snap != nil {
		if ob := db.dict.Ref(k); ob != nil {
			db.preWrite(k, ob)
		}
	}
	db.dict.Delete(k)
	if db.expires.Len() > 0 {
		db.expires.Delete(k)
	}
}

// add stores ob under key with an expiry time unless when is negative.
// The key is normally absent (the caller looked it up), but on a replica a
// logically expired key is still stored, and is replaced here.
func (db *DB) add(key []byte, ob object, when int64) {
	ref, created := db.dict.Upsert(string(key))
	if !created {
		db.preWrite(unsafeString(key), ref)
	}
	ob.snap = db.ks.snapEpoch // a new key: not part of a running snapshot
	*ref = ob
	if when >= 0 {
		db.expires.Set(db.sharedKey(unsafeString(key)), when)
	} else if !created {
		db.expires.Delete(unsafeString(key))
	}
}

// Delete removes key and reports whether it existed. On a replica a key
// whose TTL passed is still stored (lookups hide it; its master's DEL is
// what removes it): it is removed too, but reported as not existing.
func (db *DB) Delete(key []byte) bool {
	if db.lookup(key, false) == nil {
		if db.ks.ReplicaMode && db.dict.find(unsafeString(key)) != nil {
			db.remove(unsafeString(key))
			db.Modified(key)
		}
		return false
	}
	db.remove(unsafeString(key))
	db.Modified(key)
	return true
}

// TTL returns key's absolute expiry in Unix ms; ok is false if the key has
// none. exists is false if the key does not exist.
func (db *DB) TTL(key []byte) (whenMs int64, ok, exists bool) {
	if db.lookup(key, false) == nil {
		return 0, false, false
	}
	when, ok := db.expires.Get(unsafeString(key))
	return when, ok, true
}

// ExpireTime looks key up with flags and returns its absolute expiry in
// Unix ms, -1 if it has none and -2 if the key does not exist (the
// convention of TTL, PTTL, EXPIRETIME and PEXPIRETIME).
func (db *DB) ExpireTime(key []byte, flags LookupFlag) int64 {
	if db.lookupFlags(key, flags) == nil {
		return -2
	}
	if when, ok := db.expires.Get(unsafeString(key)); ok {
		return when
	}
	return -1
}

// SetExpire sets key's absolute expiry (Unix ms), even one already past
// (the caller decides whether a past time deletes the key instead, as it
// does not on a replica). Returns false if the key is missing.
func (db *DB) SetExpire(key []byte, whenMs int64) bool {
	ob := db.lookup(key, false)
	if ob == nil {
		return false
	}
	k := unsafeString(key)
	db.preWrite(k, ob)
	if ref := db.expires.Ref(k); ref != nil {
		*ref = whenMs
	} else {
		db.expires.Set(db.sharedKey(k), whenMs)
	}
	db.Modified(key)
	return true
}

// sharedKey returns the dict's own copy of k so the expires table shares the
// key's bytes instead of holding a second copy.
func (db *DB) sharedKey(k string) string {
	if e := db.dict.find(k); e != nil {
		return e.key
	}
	return string([]byte(k))
}

// Persist removes key's TTL and reports whether it had one.
func (db *DB) Persist(key []byte) bool {
	ob := db.lookup(key, false)
	if ob == nil {
		return false
	}
	if _, ok := db.expires.Get(unsafeString(key)); !ok {
		return false
	}
	db.preWrite(unsafeString(key), ob)
	if !db.expires.Delete(unsafeString(key)) {
		return false
	}
	db.Modified(key)
	return true
}

// Rename moves src's value (and TTL) to dst, replacing dst unless nx is
// set. It reports whether src existed and whether the value was moved (with
// nx, not when dst exists). src and dst must differ: Redis answers a rename
// onto itself without touching anything, which the caller handles.
func (db *DB) Rename(src, dst []byte, nx bool) (exists, moved bool) {
	s := unsafeString(src)
	ob := db.lookup(src, false)
	if ob == nil {
		return false, false
	}
	// A running snapshot takes src's value under src's name first, so
	// the moved value is not taken again under dst.
	db.preWrite(s, ob)
	val := *ob
	when, hasTTL := db.expires.Get(s)
	if !hasTTL {
		when = -1
	}
	// A write lookup of dst: an expired dst is reclaimed (and its DEL
	// propagated) before it is replaced, as in Redis.
	if db.lookup(dst, false) != nil {
		if nx {
			return true, false
		}
		db.remove(unsafeString(dst))
	}
	db.add(dst, val, when)
	db.remove(s)
	db.Modified(src)
	db.Modified(dst)
	return true, true
}

// clone returns a deep copy of ob's value, so the copy and the original
// can change independently (COPY).
func (ob *object) clone() object {
	c := object{s: ob.s, lru: ob.lru}
	switch o := ob.o.(type) {
	case *strBuf:
		c.s = string(o.b)
	case *Hash:
		c.o = o.Clone()
	case nil:
	default:
		panic("keyspace: clone of an unknown value type")
	}
	return c
}

// CopyTo copies key's value and TTL into dst under dstKey (deep copy), as
// COPY does. When dstKey exists it is replaced if replace is set, else
// nothing is copied. Returns whether a copy was made. src and dst may be
// the same database, but then key and dstKey must differ.
func (db *DB) CopyTo(key []byte, dst *DB, dstKey []byte, replace bool) bool {
	ob := db.lookupFlags(key, LookupRead)
	if ob == nil {
		return false
	}
	val := ob.clone()
	val.lru = db.ks.LRUClock()
	when, ok := db.expires.Get(unsafeString(key))
	if !ok {
		when = -1
	}
	if dst.lookup(dstKey, false) != nil {
		if !replace {
			return false
		}
		dst.remove(unsafeString(dstKey))
	}
	dst.add(dstKey, val, when)
	dst.Modified(dstKey)
	return true
}

// MoveTo moves key (its value and TTL) to dst, as MOVE does; it does
// nothing when key is missing or already exists in dst. Reports success.
// The value is moved, not copied, so moving a huge key is O(1).
func (db *DB) MoveTo(key []byte, dst *DB) bool {
	if db == dst {
		return false
	}
	ob := db.lookup(key, false)
	if ob == nil {
		return false
	}
	when, ok := db.expires.Get(unsafeString(key))
	if !ok {
		when = -1
	}
	if dst.lookup(key, false) != nil {
		return false
	}
	db.preWrite(unsafeString(key), ob) // see Rename
	val := *ob
	dst.add(key, val, when)
	db.remove(unsafeString(key))
	db.Modified(key)
	dst.Modified(key)
	return true
}

// Flush removes every key. Watched keys that existed are touched. The old
// tables are simply dropped: the garbage collector reclaims them in the
// background, so a flush is O(1) for the caller (FLUSHDB ASYNC and SYNC
// alike).
func (db *DB) Flush() {
	if db.dict.Len() == 0 {
		return
	}
	db.touchAllWatched()
	db.ks.Dirty += uint64(db.dict.Len())
	db.dict = NewDict[object]()
	db.expires = NewDict[int64]()
	db.expireCursor = 0
}

// maxReserve caps Reserve: the hint comes from a file or a master, and a
// corrupt one must not allocate gigabytes up front.
const maxReserve = 1 << 23

// Reserve presizes an empty database's tables for n keys, expires of them
// with a TTL (an RDB's RESIZEDB hint), so a load does not rehash its way
// up. A database that already holds keys is left alone.
func (db *DB) Reserve(n, expires int) {
	if db.dict.Len() == 0 && n > 0 {
		db.dict.resize(min(n, maxReserve))
	}
	if db.expires.Len() == 0 && expires > 0 {
		db.expires.resize(min(expires, maxReserve))
	}
}

// RandomKey returns a random key that is not expired, or false if the
// database is empty (Redis's dbRandomKey). Expired keys it picks are
// reclaimed, so on a master it always ends. On a replica, which must not
// delete them, a database of keys that all have a TTL may be entirely
// logically expired: after 100 such picks it returns one anyway, as Redis
// does.
func (db *DB) RandomKey() (string, bool) {
	tries := 100
	allVolatile := db.dict.Len() == db.expires.Len()
	for {
		k, _, ok := db.dict.RandomKey()
		if !ok {
			return "", false
		}
		if _, hasTTL := db.expires.Get(k); hasTTL {
			if allVolatile && db.ks.ReplicaMode {
				tries--
				if tries == 0 {
					return k, true
				}
			}
			if db.expireIfNeeded(k) {
				continue
			}
		}
		return k, true
	}
}

// Keys calls fn for every key that is not logically expired, until fn
// returns false (KEYS). Expired keys are skipped but not reclaimed, as in
// Redis. key is a read-only view, valid until the key is deleted; the
// database must not be modified during the walk.
func (db *DB) Keys(fn func(key []byte) bool) {
	now := db.ks.NowMs()
	hasExpires := db.expires.Len() > 0
	db.dict.Range(func(k string, _ object) bool {
		if hasExpires {
			if when, ok := db.expires.Get(k); ok && when <= now {
				return true
			}
		}
		return fn(unsafeBytes(k))
	})
}

// Scan visits one cursor step of the key space (Redis's dictScan on the
// main dict) and returns the next cursor, 0 when the iteration is
// complete. fn receives each key (a read-only view that stays valid) and
// its kind; logically expired keys are skipped and reclaimed.
func (db *DB) Scan(cursor uint64, fn func(key []byte, kind Kind)) uint64 {
	var expired []string
	next := db.dict.Scan(cursor, func(k string, ob object) {
		if db.expired(k) {
			expired = append(expired, k)
			return
		}
		fn(unsafeBytes(k), ob.kind())
	})
	for _, k := range expired {
		db.expireIfNeeded(k)
	}
	return next
}

// ObjectInfo describes a key's storage for OBJECT and DEBUG OBJECT.
type ObjectInfo struct {
	Kind     Kind
	Encoding string
	// IdleSecs is the time since the last access (meaningful under an
	// LRU policy; Redis reports it only then).
	IdleSecs int64
	// Freq is the logarithmic access counter (meaningful under an LFU
	// policy only).
	Freq int
	// SharedInt is set for an "int" string in 0..9999, which Redis keeps
	// as a shared object (OBJECT REFCOUNT reports INT_MAX for it).
	SharedInt bool
	Len       int // serialized length estimate
}

// Object returns storage details for key without updating its access time
// or the keyspace hit/miss counters (DEBUG OBJECT).
func (db *DB) Object(key []byte) (ObjectInfo, bool) { return db.ObjectLookup(key, LookupNoTouch) }

// ObjectLookup is Object with the lookup's side effects chosen by flags;
// OBJECT uses LookupNoTouch|LookupRead, as Redis's OBJECT counts as a read.
func (db *DB) ObjectLookup(key []byte, flags LookupFlag) (ObjectInfo, bool) {
	ob := db.lookupFlags(key, flags)
	if ob == nil {
		return ObjectInfo{}, false
	}
	info := ObjectInfo{Kind: ob.kind()}
	if db.ks.lfu.on {
		info.Freq = int(db.ks.lfuDecr(ob.lru))
	} else {
		info.IdleSecs = db.ks.idleSecs(ob.lru)
	}
	switch o := ob.o.(type) {
	case nil:
		info.Len = len(ob.s)
		info.Encoding = stringEncoding(ob.s)
		if info.Encoding == "int" {
			n, _ := strconv.ParseInt(ob.s, 10, 64)
			info.SharedInt = n >= 0 && n < sharedIntegers
		}
	case *strBuf:
		info.Len = len(o.b)
		info.Encoding = "raw"
	case *Hash:
		info.Len = o.Len()
		info.Encoding = o.Encoding()
	}
	return info, true
}

// sharedIntegers is Redis's OBJ_SHARED_INTEGERS: integer values below it
// are stored as shared objects.
const sharedIntegers = 10000

// stringEncoding mirrors Redis's choice: canonical integers are "int",
// short strings "embstr", the rest "raw".
func stringEncoding(s string) string {
	if len(s) <= 20 {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(n, 10) == s {
			return "int"
		}
	}
	if len(s) <= 44 {
		return "embstr"
	}
	return "raw"
}

// Watch registers w to be told when key changes.
func (db *DB) Watch(key string, w Watcher) {
	if db.watched == nil {
		db.watched = make(map[string][]Watcher)
	}
	db.watched[key] = append(db.watched[key], w)
}

// Unwatch removes w's registration for key.
func (db *DB) Unwatch(key string, w Watcher) {
	ws := db.watched[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(db.watched, key)
		if len(db.watched) == 0 {
			db.watched = nil
		}
	} else {
		db.watched[key] = ws
	}
}

// IsExpired reports whether key exists but its TTL has passed (used by EXEC
// to honour WATCH on keys that expired in between).
func (db *DB) IsExpired(key []byte) bool { return db.expired(unsafeString(key)) }

func (db *DB) touchWatched(key string) {
	for _, w := range db.watched[key] {
		w.WatchedKeyTouched()
	}
}

func (db *DB) touchAllWatched() {
	for k, ws := range db.watched {
		if db.dict.find(k) == nil {
			continue
		}
		for _, w := range ws {
			w.WatchedKeyTouched()
		}
	}
}

// ActiveExpire is one database's share of Redis's active expiry cycle: it
// checks about sample keys with a TTL, resuming a Dict.Scan cursor over the
// expires table (so, unlike random sampling, every key is eventually
// visited, even across resizes), deletes those whose time has passed, and
// repeats while more than 10% of a round was expired and deadline() is
// false. A round visits at most 20*sample buckets, so a sparse table cannot
// stretch it. Nothing is deleted on a replica: there only the master's DEL
// removes keys. Returns the number of keys reclaimed.
func (db *DB) ActiveExpire(sample int, deadline func() bool) int {
	total := 0
	for !db.ks.ReplicaMode && db.expires.Len() > 0 && sample > 0 {
		now := db.ks.NowMs()
		victims := db.victims[:0]
		sampled := 0
		for buckets := 0; sampled < sample && buckets < sample*20; buckets++ {
			db.expireCursor = db.expires.Scan(db.expireCursor, func(k string, when int64) {
				sampled++
				if when <= now {
					victims = append(victims, k)
				}
			})
			if db.expireCursor == 0 {
				break // a full pass: start over in the next round
			}
		}
		for _, k := range victims {
			if _, still := db.expires.Get(k); still {
				db.deleteExpired(k)
				total++
			}
		}
		clear(victims)
		db.victims = victims[:0]
		if sampled == 0 || len(victims)*100 <= sampled*10 || deadline() {
			break
		}
	}
	db.dict.RehashFor(100)
	db.expires.RehashFor(100)
	return total
}

// lfuInitVal is Redis's LFU_INIT_VAL: the counter a new key starts with, so
// it is not evicted before it had a chance to be accessed.
const lfuInitVal = 5

// touch records an access to ob: the LRU clock, or under an LFU policy a
// logarithmic increment of the counter after its time decay (Redis's
// updateLFU).
func (ks *Keyspace) touch(ob *object) {
	if !ks.lfu.on {
		ob.lru = ks.lruClock.Load()
		return
	}
	counter := ks.lfuDecr(ob.lru)
	if counter < 255 {
		base := float64(counter) - lfuInitVal
		if base < 0 {
			base = 0
		}
		if rand.Float64() < 1/(base*float64(ks.lfu.logFactor)+1) {
			counter++
		}
	}
	ob.lru = ks.lfuMinutes()<<8 | uint32(counter)
}

// lfuMinutes is Redis's LFUGetTimeInMinutes: a 16-bit minutes clock.
func (ks *Keyspace) lfuMinutes() uint32 { return (ks.lruClock.Load() / 60) & 0xffff }

// lfuDecr returns an LFU stamp's counter after Redis's decay: one step per
// lfu-decay-time minutes since the stamp's last decrement time.
func (ks *Keyspace) lfuDecr(stamp uint32) uint32 {
	ldt, counter := stamp>>8&0xffff, stamp&0xff
	if ks.lfu.decayTime <= 0 {
		return counter
	}
	now := ks.lfuMinutes()
	elapsed := now - ldt
	if now < ldt {
		elapsed = 0xffff - ldt + now
	}
	periods := elapsed / uint32(ks.lfu.decayTime)
	if periods >= counter {
		return 0
	}
	return counter - periods
}

// idleSecs returns the seconds since an LRU stamp.
func (ks *Keyspace) idleSecs(stamp uint32) int64 {
	idle := int64(ks.lruClock.Load()) - int64(stamp)
	if idle < 0 {
		idle = 0
	}
	return idle
}
