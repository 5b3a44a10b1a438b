package keyspace

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
)

// Dict is a chained hash table keyed by string, modelled on Redis's dict:
// power-of-two bucket arrays, incremental rehashing spread over operations
// (so growing a table with millions of keys never stalls a client), random
// sampling (RANDOMKEY, active expiry, HRANDFIELD) and a reverse-binary SCAN
// cursor that stays valid across resizes. Go's built-in map offers neither a
// resumable cursor nor cheap sampling, which is why the keyspace has its own.
//
// A Dict is not safe for concurrent use; the server serializes access.
type Dict[V any] struct {
	seed      maphash.Seed
	tables    [2][]*dictEntry[V]
	used      [2]int
	rehashIdx int // -1 when not rehashing
}

type dictEntry[V any] struct {
	key  string
	val  V
	next *dictEntry[V]
}

const dictInitialSize = 4

// NewDict returns an empty dict.
func NewDict[V any]() *Dict[V] {
	return &Dict[V]{seed: maphash.MakeSeed(), rehashIdx: -1}
}

// Len returns the number of keys.
func (d *Dict[V]) Len() int { return d.used[0] + d.used[1] }

func (d *Dict[V]) hash(key string) uint64 { return maphash.String(d.seed, key) }

func (d *Dict[V]) rehashing() bool { return d.rehashIdx >= 0 }

// rehashStep moves up to n non-empty buckets from the old table to the new
// one, visiting at most 10*n empty buckets, like Redis's dictRehash.
func (d *Dict[V]) rehashStep(n int) {
	if !d.rehashing() {
		return
	}
	emptyVisits := n * 10
	old := d.tables[0]
	for n > 0 && d.used[0] > 0 {
		for old[d.rehashIdx] == nil {
			d.rehashIdx++
			emptyVisits--
			if emptyVisits == 0 {
				return
			}
		}
		e := old[d.rehashIdx]
		mask := uint64(len(d.tables[1]) - 1)
		for e != nil {
			next := e.next
			idx := d.hash(e.key) & mask
			e.next = d.tables[1][idx]
			d.tables[1][idx] = e
			d.used[0]--
			d.used[1]++
			e = next
		}
		old[d.rehashIdx] = nil
		d.rehashIdx++
		n--
	}
	if d.used[0] == 0 {
		d.tables[0] = d.tables[1]
		d.used[0] = d.used[1]
		d.tables[1] = nil
		d.used[1] = 0
		d.rehashIdx = -1
	}
}

// finishRehash completes an ongoing incremental rehash.
func (d *Dict[V]) finishRehash() {
	for d.rehashing() {
		d.rehashStep(1 << 20)
	}
}

// clone returns a copy with the same seed and bucket layout, so no key is
// hashed again; the entries are allocated in one block. Values are copied
// as they are (shallow).
func (d *Dict[V]) clone() *Dict[V] {
	c := &Dict[V]{seed: d.seed, used: d.used, rehashIdx: d.rehashIdx}
	slab := make([]dictEntry[V], d.Len())
	i := 0
	for t := 0; t < 2; t++ {
		if d.tables[t] == nil {
			continue
		}
		tab := make([]*dictEntry[V], len(d.tables[t]))
		for b, e := range d.tables[t] {
			var prev *dictEntry[V]
			for ; e != nil; e = e.next {
				n := &slab[i]
				i++
				n.key, n.val = e.key, e.val
				if prev == nil {
					tab[b] = n
				} else {
					prev.next = n
				}
				prev = n
			}
		}
		c.tables[t] = tab
	}
	return c
}

// RehashFor spends roughly the given number of bucket moves on an ongoing
// rehash; the server's cron calls it so idle dicts finish resizing. A dict
// that is not rehashing but has become sparse starts shrinking here (like
// Redis's tryResizeHashTables): deletions only shrink a table that is not
// already rehashing, so a mass delete that overlaps a resize would
// otherwise leave a huge, nearly empty table until the next delete.
func (d *Dict[V]) RehashFor(steps int) {
	if !d.rehashing() {
		d.shrinkIfNeeded()
	}
	d.rehashStep(steps)
}

func (d *Dict[V]) resize(size int) {
	if d.rehashing() {
		return
	}
	if size < dictInitialSize {
		size = dictInitialSize
	}
	size = 1 << bits.Len(uint(size-1))
	if size == len(d.tables[0]) {
		return
	}
	if d.tables[0] == nil {
		d.tables[0] = make([]*dictEntry[V], size)
		return
	}
	d.tables[1] = make([]*dictEntry[V], size)
	d.rehashIdx = 0
}

func (d *Dict[V]) expandIfNeeded() {
	if d.rehashing() {
		return
	}
	if len(d.tables[0]) == 0 {
		d.resize(dictInitialSize)
		return
	}
	if d.used[0] >= len(d.tables[0]) {
		d.resize(d.used[0] * 2)
	}
}

// shrinkIfNeeded keeps memory proportional to content after mass deletes.
func (d *Dict[V]) shrinkIfNeeded() {
	if d.rehashing() || len(d.tables[0]) <= dictInitialSize {
		return
	}
	if d.used[0]*10 < len(d.tables[0]) {
		d.resize(d.used[0])
	}
}

func (d *Dict[V]) find(key string) *dictEntry[V] {
	if d.Len() == 0 {
		return nil
	}
	if d.rehashing() {
		d.rehashStep(1)
	}
	h := d.hash(key)
	for t := 0; t < 2; t++ {
		tab := d.tables[t]
		if len(tab) == 0 {
			break
		}
		for e := tab[h&uint64(len(tab)-1)]; e != nil; e = e.next {
			if e.key == key {
				return e
			}
		}
		if !d.rehashing() {
			break
		}
	}
	return nil
}

// Get returns the value stored under key.
func (d *Dict[V]) Get(key string) (V, bool) {
	if e := d.find(key); e != nil {
		return e.val, true
	}
	var zero V
	return zero, false
}

// Ref returns a pointer to the value stored under key so callers can update
// it in place, or nil. The pointer is valid until the key is deleted.
func (d *Dict[V]) Ref(key string) *V {
	if e := d.find(key); e != nil {
		return &e.val
	}
	return nil
}

// Set stores val under key and reports whether the key was new.
func (d *Dict[V]) Set(key string, val V) bool {
	if e := d.find(key); e != nil {
		e.val = val
		return false
	}
	d.insert(key, val)
	return true
}

// insert adds a key that the caller knows is absent and returns a pointer
// to its value slot.
func (d *Dict[V]) insert(key string, val V) *V {
	d.expandIfNeeded()
	t := 0
	if d.rehashing() {
		t = 1
	}
	tab := d.tables[t]
	idx := d.hash(key) & uint64(len(tab)-1)
	e := &dictEntry[V]{key: key, val: val, next: tab[idx]}
	tab[idx] = e
	d.used[t]++
	return &e.val
}

// Upsert returns a pointer to key's value slot, creating a zero value if the
// key is absent, and whether it was created.
func (d *Dict[V]) Upsert(key string) (*V, bool) {
	if e := d.find(key); e != nil {
		return &e.val, false
	}
	var zero V
	return d.insert(key, zero), true
}

// Delete removes key and reports whether it was present.
func (d *Dict[V]) Delete(key string) bool {
	_, ok := d.Pop(key)
	return ok
}

// Pop removes key and returns its value.
func (d *Dict[V]) Pop(key string) (V, bool) {
	var zero V
	if d.Len() == 0 {
		return zero, false
	}
	if d.rehashing() {
		d.rehashStep(1)
	}
	h := d.hash(key)
	for t := 0; t < 2; t++ {
		tab := d.tables[t]
		if len(tab) == 0 {
			break
		}
		idx := h & uint64(len(tab)-1)
		var prev *dictEntry[V]
		for e := tab[idx]; e != nil; e = e.next {
			if e.key == key {
				if prev == nil {
					tab[idx] = e.next
				} else {
					prev.next = e.next
				}
				d.used[t]--
				v := e.val
				d.shrinkIfNeeded()
				return v, true
			}
			prev = e
		}
		if !d.rehashing() {
			break
		}
	}
	return zero, false
}

// Clear removes every key.
func (d *Dict[V]) Clear() {
	d.tables = [2][]*dictEntry[V]{}
	d.used = [2]int{}
	d.rehashIdx = -1
}

// Range calls fn for every key until fn returns false. The dict must not be
// modified during the walk.
func (d *Dict[V]) Range(fn func(key string, val V) bool) {
	for t := 0; t < 2; t++ {
		for _, e := range d.tables[t] {
			for ; e != nil; e = e.next {
				if !fn(e.key, e.val) {
					return
				}
			}
		}
	}
}

// RandomKey returns a key chosen at random (uniform over buckets, like
// Redis's dictGetRandomKey), or false when the dict is empty.
func (d *Dict[V]) RandomKey() (string, V, bool) {
	var zero V
	if d.Len() == 0 {
		return "", zero, false
	}
	if d.rehashing() {
		d.rehashStep(1)
	}
	var e *dictEntry[V]
	for e == nil {
		if d.rehashing() {
			// Buckets below rehashIdx in the old table are empty.
			n0, n1 := len(d.tables[0]), len(d.tables[1])
			i := d.rehashIdx + rand.IntN(n0+n1-d.rehashIdx)
			if i >= n0 {
				e = d.tables[1][i-n0]
			} else {
				e = d.tables[0][i]
			}
		} else {
			e = d.tables[0][rand.IntN(len(d.tables[0]))]
		}
	}
	n := 0
	for x := e; x != nil; x = x.next {
		n++
	}
	for i := rand.IntN(n); i > 0; i-- {
		e = e.next
	}
	return e.key, e.val, true
}

// Scan visits the keys of the bucket(s) at cursor and returns the next
// cursor, 0 when the iteration is complete. Every key present for the whole
// iteration is visited at least once, even across resizes (Redis's
// reverse-binary cursor).
func (d *Dict[V]) Scan(cursor uint64, fn func(key string, val V)) uint64 {
	return d.scanEntries(cursor, func(e *dictEntry[V]) { fn(e.key, e.val) })
}

// scanEntries is Scan handing out the entries themselves, so the caller
// can update values in place.
func (d *Dict[V]) scanEntries(cursor uint64, fn func(e *dictEntry[V])) uint64 {
	if d.Len() == 0 {
		return 0
	}
	emit := func(e *dictEntry[V]) {
		for ; e != nil; e = e.next {
			fn(e)
		}
	}
	if !d.rehashing() {
		tab := d.tables[0]
		m0 := uint64(len(tab) - 1)
		emit(tab[cursor&m0])
		cursor |= ^m0
		cursor = bits.Reverse64(cursor)
		cursor++
		cursor = bits.Reverse64(cursor)
		return cursor
	}
	small, large := d.tables[0], d.tables[1]
	if len(small) > len(large) {
		small, large = large, small
	}
	m0, m1 := uint64(len(small)-1), uint64(len(large)-1)
	emit(small[cursor&m0])
	for {
		emit(large[cursor&m1])
		cursor |= ^m1
		cursor = bits.Reverse64(cursor)
		cursor++
		cursor = bits.Reverse64(cursor)
		if cursor&(m0^m1) == 0 {
			break
		}
	}
	return cursor
}
