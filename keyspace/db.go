package keyspace

import (
	"strconv"
)

// DB is one numbered database: keys, their values and their expiry times.
type DB struct {
	ks      *Keyspace
	id      int
	dict    *Dict[object]
	expires *Dict[int64] // key -> absolute expiry, Unix ms
	watched map[string][]Watcher
}

// Watcher is notified when a key it watches (WATCH) is modified.
type Watcher interface {
	// WatchedKeyTouched marks the watcher's transaction as doomed.
	WatchedKeyTouched()
}

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
		return true
	}
	db.deleteExpired(key)
	return true
}

func (db *DB) deleteExpired(key string) {
	k := string(key) // key may alias a client buffer; the hook may retain it
	db.dict.Delete(k)
	db.expires.Delete(k)
	db.ks.Stats.ExpiredKeys++
	db.ks.Dirty++
	if db.watched != nil {
		db.touchWatched(k)
	}
	if db.ks.hooks != nil {
		db.ks.hooks.KeyExpired(db.id, k)
	}
}

// lookup finds key's object, expiring it first if due. read selects whether
// the access counts toward keyspace hits/misses.
func (db *DB) lookup(key []byte, read bool) *object {
	k := unsafeString(key)
	if db.expireIfNeeded(k) {
		if read {
			db.ks.Stats.KeyspaceMisses++
		}
		return nil
	}
	ob := db.dict.Ref(k)
	if read {
		if ob == nil {
			db.ks.Stats.KeyspaceMisses++
		} else {
			db.ks.Stats.KeyspaceHits++
		}
	}
	if ob != nil {
		ob.lru = db.ks.LRUClock()
	}
	return ob
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
	ob := db.lookup(key, true)
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
	k := unsafeString(key)
	ob := db.dict.Ref(k)
	if ob == nil {
		ob, _ = db.dict.Upsert(string(key))
	}
	*ob = object{s: string(val), lru: db.ks.LRUClock()}
	if !keepTTL && db.expires.Len() > 0 {
		db.expires.Delete(k)
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
		*ob = object{lru: db.ks.LRUClock()}
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
		*ob = object{o: h, lru: db.ks.LRUClock()}
		return h, nil
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
	db.dict.Delete(k)
	if db.expires.Len() > 0 {
		db.expires.Delete(k)
	}
}

// Delete removes key and reports whether it existed.
func (db *DB) Delete(key []byte) bool {
	if db.lookup(key, false) == nil {
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

// SetExpire sets key's absolute expiry (Unix ms). A time already in the past
// deletes the key (and reports the deletion through the KeyExpired hook's
// twin: the caller propagates DEL). Returns false if the key is missing.
func (db *DB) SetExpire(key []byte, whenMs int64) bool {
	if db.lookup(key, false) == nil {
		return false
	}
	k := unsafeString(key)
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
	if db.lookup(key, false) == nil {
		return false
	}
	if !db.expires.Delete(unsafeString(key)) {
		return false
	}
	db.Modified(key)
	return true
}

// Rename moves src's value (and TTL) to dst, replacing dst. When nx is set
// and dst exists nothing happens and false is returned. The caller checks
// that src exists.
func (db *DB) Rename(src, dst []byte, nx bool) bool {
	s := unsafeString(src)
	ob := db.lookup(src, false)
	if ob == nil {
		return false
	}
	if nx && db.Exists(dst) {
		return false
	}
	val := *ob
	when, hasTTL := db.expires.Get(s)
	db.remove(s)
	db.Modified(src)
	d := string(dst)
	if old := db.dict.Ref(d); old != nil {
		*old = val
		db.expires.Delete(d)
	} else {
		db.dict.Set(d, val)
	}
	if hasTTL {
		db.expires.Set(db.sharedKey(d), when)
	}
	db.Modified(dst)
	return true
}

// CopyTo copies key's value and TTL into dst under dstKey (deep copy).
// When replace is false and dstKey exists nothing is copied. Returns whether
// a copy was made. src and dst may be the same database.
func (db *DB) CopyTo(key []byte, dst *DB, dstKey []byte, replace bool) bool {
	ob := db.lookup(key, false)
	if ob == nil {
		return false
	}
	if dst.Exists(dstKey) {
		if !replace {
			return false
		}
		dst.remove(unsafeString(dstKey))
	}
	val := object{s: ob.s, lru: db.ks.LRUClock()}
	switch o := ob.o.(type) {
	case *strBuf:
		val.s = string(o.b)
	case *Hash:
		val.o = o.Clone()
	}
	d := string(dstKey)
	dst.dict.Set(d, val)
	if when, ok := db.expires.Get(unsafeString(key)); ok {
		dst.expires.Set(d, when)
	}
	dst.Modified(dstKey)
	return true
}

// MoveTo moves key to dst if dst has no such key; reports success.
func (db *DB) MoveTo(key []byte, dst *DB) bool {
	if !db.CopyTo(key, dst, key, false) {
		return false
	}
	db.remove(unsafeString(key))
	db.Modified(key)
	return true
}

// Flush removes every key. Watched keys that existed are touched.
func (db *DB) Flush() {
	if db.dict.Len() == 0 {
		return
	}
	db.touchAllWatched()
	db.ks.Dirty += uint64(db.dict.Len())
	db.dict = NewDict[object]()
	db.expires = NewDict[int64]()
}

// RandomKey returns a random non-expired key, or false if none is found.
func (db *DB) RandomKey() (string, bool) {
	// Like Redis, give up after many expired picks so a DB full of
	// logically-expired keys cannot loop forever.
	for tries := 0; tries < 100; tries++ {
		k, _, ok := db.dict.RandomKey()
		if !ok {
			return "", false
		}
		if !db.expired(k) {
			return k, true
		}
		if !db.ks.ReplicaMode {
			db.deleteExpired(k)
		} else if tries > 50 {
			return k, true
		}
	}
	return "", false
}

// Scan visits one cursor step of the key space. fn receives each key and its
// kind; logically expired keys are skipped (and reclaimed).
func (db *DB) Scan(cursor uint64, fn func(key string, kind Kind)) uint64 {
	var expired []string
	next := db.dict.Scan(cursor, func(k string, ob object) {
		if db.expired(k) {
			expired = append(expired, k)
			return
		}
		fn(k, ob.kind())
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
	IdleSecs int64
	Len      int // serialized length estimate
}

// Object returns storage details for key without updating its access time.
func (db *DB) Object(key []byte) (ObjectInfo, bool) {
	k := unsafeString(key)
	if db.expireIfNeeded(k) {
		return ObjectInfo{}, false
	}
	ob := db.dict.Ref(k)
	if ob == nil {
		return ObjectInfo{}, false
	}
	info := ObjectInfo{Kind: ob.kind()}
	idle := int64(db.ks.LRUClock()) - int64(ob.lru)
	if idle < 0 {
		idle = 0
	}
	info.IdleSecs = idle
	switch o := ob.o.(type) {
	case nil:
		info.Len = len(ob.s)
		info.Encoding = stringEncoding(ob.s)
	case *strBuf:
		info.Len = len(o.b)
		info.Encoding = "raw"
	case *Hash:
		info.Len = o.Len()
		info.Encoding = o.Encoding()
	}
	return info, true
}

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

// ActiveExpire samples keys with a TTL and deletes expired ones, Redis's
// activeExpireCycle: it repeats while more than a quarter of a sample was
// expired and the deadline (Unix ns from the caller's clock) allows.
// Returns the number of keys reclaimed.
func (db *DB) ActiveExpire(sample int, deadline func() bool) int {
	total := 0
	for db.expires.Len() > 0 {
		now := db.ks.NowMs()
		n := sample
		if n > db.expires.Len() {
			n = db.expires.Len()
		}
		expired := 0
		var victims []string
		for i := 0; i < n; i++ {
			k, when, ok := db.expires.RandomKey()
			if !ok {
				break
			}
			if when <= now {
				victims = append(victims, k)
			}
		}
		for _, k := range victims {
			if db.expires.Len() == 0 {
				break
			}
			if _, still := db.expires.Get(k); still {
				db.deleteExpired(k)
				expired++
			}
		}
		total += expired
		if expired*4 <= n || deadline() {
			break
		}
	}
	db.dict.RehashFor(100)
	db.expires.RehashFor(100)
	return total
}
