package keyspace

import (
	"math/rand/v2"
	"strings"
)

// Hash is a hash value: field -> value. Values are immutable once stored
// (Set replaces them), so a reader may keep a value it obtained after the
// hash changes; the SQL page store relies on this for snapshots.
//
// Like Redis, a hash has two encodings. A small one (at most 512 fields,
// no field or value over 64 bytes: Redis 7.0's hash-max-listpack-entries
// and hash-max-listpack-value defaults) is a flat list of pairs in
// insertion order, Redis's "listpack": compact, and the order HGETALL,
// HKEYS and HSCAN show for small hashes is the one Redis shows. A hash that
// outgrows it moves to a Dict ("hashtable") for good; deleting fields never
// converts it back, as in Redis.
type Hash struct {
	pairs []hashPair    // the compact encoding; unused once d is set
	d     *Dict[string] // the hashtable encoding, nil while compact
	// frozen is the epoch of the snapshot whose encoder may be reading
	// this hash without the lock; while that snapshot lasts, writers
	// change a copy instead (DB.HashForWrite).
	frozen uint32
}

type hashPair struct{ field, val string }

// Limits of the compact encoding (Redis 7.0's defaults).
const (
	hashMaxListpackEntries = 512
	hashMaxListpackValue   = 64
)

// NewHash returns an empty hash.
func NewHash() *Hash { return &Hash{} }

// Len returns the number of fields.
func (h *Hash) Len() int {
	if h.d != nil {
		return h.d.Len()
	}
	return len(h.pairs)
}

// index returns the position of field in the compact encoding, or -1.
func (h *Hash) index(field string) int {
	for i := range h.pairs {
		if h.pairs[i].field == field {
			return i
		}
	}
	return -1
}

// convert moves a compact hash to the hashtable encoding.
func (h *Hash) convert() {
	d := NewDict[string]()
	for _, p := range h.pairs {
		d.insert(p.field, p.val)
	}
	h.d = d
	h.pairs = nil
}

// Get returns a field's value. The bytes must not be modified.
func (h *Hash) Get(field []byte) ([]byte, bool) {
	v, ok := h.GetString(unsafeString(field))
	if !ok {
		return nil, false
	}
	return unsafeBytes(v), true
}

// GetString returns a field's value as a string.
func (h *Hash) GetString(field string) (string, bool) {
	if h.d != nil {
		return h.d.Get(field)
	}
	if i := h.index(field); i >= 0 {
		return h.pairs[i].val, true
	}
	return "", false
}

// Set stores a copy of val under field and reports whether the field is new.
func (h *Hash) Set(field, val []byte) bool {
	if h.d != nil {
		if ref := h.d.Ref(unsafeString(field)); ref != nil {
			*ref = string(val)
			return false
		}
		h.d.insert(string(field), string(val))
		return true
	}
	return h.setCompact(unsafeString(field), unsafeString(val), false)
}

// SetString stores val under field without copying (strings are immutable).
func (h *Hash) SetString(field, val string) bool {
	if h.d != nil {
		return h.d.Set(field, val)
	}
	return h.setCompact(field, val, true)
}

// setCompact is Set for the compact encoding. Unless owned, field and val
// alias the caller's buffers and are copied when stored.
func (h *Hash) setCompact(field, val string, owned bool) bool {
	if !owned {
		val = strings.Clone(val)
	}
	if i := h.index(field); i >= 0 {
		// Replaced in place: the field keeps its position, as in a
		// listpack.
		h.pairs[i].val = val
		if len(val) > hashMaxListpackValue {
			h.convert()
		}
		return false
	}
	if !owned {
		field = strings.Clone(field)
	}
	if len(field) > hashMaxListpackValue || len(val) > hashMaxListpackValue || len(h.pairs) >= hashMaxListpackEntries {
		h.convert()
		h.d.insert(field, val)
		return true
	}
	h.pairs = append(h.pairs, hashPair{field: field, val: val})
	return true
}

// Delete removes field and reports whether it existed.
func (h *Hash) Delete(field []byte) bool {
	if h.d != nil {
		return h.d.Delete(unsafeString(field))
	}
	i := h.index(unsafeString(field))
	if i < 0 {
		return false
	}
	// Keep the order of the remaining fields, like a listpack delete.
	n := len(h.pairs) - 1
	copy(h.pairs[i:], h.pairs[i+1:])
	h.pairs[n] = hashPair{} // let the strings be collected
	h.pairs = h.pairs[:n]
	if n == 0 {
		h.pairs = nil
	}
	return true
}

// Exists reports whether field is present.
func (h *Hash) Exists(field []byte) bool {
	_, ok := h.GetString(unsafeString(field))
	return ok
}

// Range calls fn for each field until it returns false: in insertion order
// for a compact hash, in table order otherwise. The hash must not be
// modified during the walk.
func (h *Hash) Range(fn func(field, val string) bool) {
	if h.d != nil {
		h.d.Range(fn)
		return
	}
	for _, p := range h.pairs {
		if !fn(p.field, p.val) {
			return
		}
	}
}

// Random returns a random field and value.
func (h *Hash) Random() (field, val string, ok bool) {
	if h.d != nil {
		return h.d.RandomKey()
	}
	if len(h.pairs) == 0 {
		return "", "", false
	}
	p := h.pairs[rand.IntN(len(h.pairs))]
	return p.field, p.val, true
}

// RandomDistinct returns n distinct fields chosen at random with their
// values (HRANDFIELD with a positive count), in random order; n larger than
// Len means all. Like Redis 7.0 it uses one of two strategies: when n is a
// large share of the hash it shuffles a copy of every field (sampling would
// keep hitting fields already taken); otherwise it samples until it has n
// distinct fields, which costs O(n) instead of O(Len).
func (h *Hash) RandomDistinct(n int) (fields, vals []string) {
	size := h.Len()
	if n > size {
		n = size
	}
	if n*3 > size {
		fields = make([]string, 0, size)
		vals = make([]string, 0, size)
		h.Range(func(f, v string) bool {
			fields = append(fields, f)
			vals = append(vals, v)
			return true
		})
		// Partial Fisher-Yates: the first n slots end up a uniform sample.
		for i := 0; i < n; i++ {
			j := i + rand.IntN(size-i)
			fields[i], fields[j] = fields[j], fields[i]
			vals[i], vals[j] = vals[j], vals[i]
		}
		return fields[:n], vals[:n]
	}
	seen := make(map[string]struct{}, n)
	fields = make([]string, 0, n)
	vals = make([]string, 0, n)
	for len(fields) < n {
		f, v, _ := h.Random()
		if _, dup := seen[f]; dup {
			continue
		}
		seen[f] = struct{}{}
		fields = append(fields, f)
		vals = append(vals, v)
	}
	return fields, vals
}

// Scan visits one cursor step (see Dict.Scan). A compact hash is visited
// whole in one step, in order, and the returned cursor is 0, which is what
// Redis's HSCAN does for a listpack.
func (h *Hash) Scan(cursor uint64, fn func(field, val string)) uint64 {
	if h.d != nil {
		return h.d.Scan(cursor, fn)
	}
	for _, p := range h.pairs {
		fn(p.field, p.val)
	}
	return 0
}

// Clone returns a copy of the hash in the same encoding. Values of the
// hashtable encoding are copied, as Redis's COPY duplicates them: a hash
// holding a SQL database shares its page values with the SQLite VFS, which
// reuses a page's memory once a newer version replaces it, so a copy must
// own its pages. (Compact values are at most 64 bytes and never pages.)
func (h *Hash) Clone() *Hash {
	if h.d == nil {
		return &Hash{pairs: append([]hashPair(nil), h.pairs...)}
	}
	c := &Hash{d: NewDict[string]()}
	h.d.Range(func(k, v string) bool {
		c.d.insert(k, strings.Clone(v))
		return true
	})
	return c
}

// cowClone returns a copy that shares the (immutable) field and value
// strings, for a writer that must not touch a hash a snapshot is reading.
func (h *Hash) cowClone() *Hash {
	if h.d == nil {
		return &Hash{pairs: append([]hashPair(nil), h.pairs...)}
	}
	return &Hash{d: h.d.clone()}
}

// freeze prepares the hash to be read without the lock by a snapshot of the
// given epoch: an ongoing incremental rehash is finished, so lookups by
// other readers no longer move entries, and writers are diverted to a copy.
func (h *Hash) freeze(epoch uint32) {
	if h.d != nil {
		h.d.finishRehash()
	}
	h.frozen = epoch
}

// Encoding reports the encoding name OBJECT ENCODING shows: "listpack" or
// "hashtable".
func (h *Hash) Encoding() string {
	if h.d != nil {
		return "hashtable"
	}
	return "listpack"
}

// Compact reports whether the hash still has the compact (listpack)
// encoding, which commands such as HSCAN answer in a single step.
func (h *Hash) Compact() bool { return h.d == nil }
