package keyspace

// Hash is a hash value: field -> value. Values are immutable once stored
// (Set replaces them), so a reader may keep a value it obtained after the
// hash changes; the SQL page store relies on this for snapshots.
type Hash struct {
	d *Dict[string]
}

// NewHash returns an empty hash.
func NewHash() *Hash { return &Hash{d: NewDict[string]()} }

// Len returns the number of fields.
func (h *Hash) Len() int { return h.d.Len() }

// Get returns a field's value. The bytes must not be modified.
func (h *Hash) Get(field []byte) ([]byte, bool) {
	v, ok := h.d.Get(unsafeString(field))
	if !ok {
		return nil, false
	}
	return unsafeBytes(v), true
}

// GetString returns a field's value as a string.
func (h *Hash) GetString(field string) (string, bool) { return h.d.Get(field) }

// Set stores a copy of val under field and reports whether the field is new.
func (h *Hash) Set(field, val []byte) bool {
	if ref := h.d.Ref(unsafeString(field)); ref != nil {
		*ref = string(val)
		return false
	}
	h.d.Set(string(field), string(val))
	return true
}

// SetString stores val under field without copying (strings are immutable).
func (h *Hash) SetString(field, val string) bool { return h.d.Set(field, val) }

// Delete removes field and reports whether it existed.
func (h *Hash) Delete(field []byte) bool { return h.d.Delete(unsafeString(field)) }

// Exists reports whether field is present.
func (h *Hash) Exists(field []byte) bool {
	_, ok := h.d.Get(unsafeString(field))
	return ok
}

// Range calls fn for each field until it returns false. The hash must not be
// modified during the walk.
func (h *Hash) Range(fn func(field, val string) bool) { h.d.Range(fn) }

// Random returns a random field and value.
func (h *Hash) Random() (field, val string, ok bool) { return h.d.RandomKey() }

// Scan visits one cursor step (see Dict.Scan).
func (h *Hash) Scan(cursor uint64, fn func(field, val string)) uint64 {
	return h.d.Scan(cursor, fn)
}

// Clone returns a copy of the hash (values are shared: they are immutable).
func (h *Hash) Clone() *Hash {
	c := NewHash()
	h.d.Range(func(k, v string) bool {
		c.d.Set(k, v)
		return true
	})
	return c
}

// Encoding reports the encoding name Redis would use for a hash this size
// with default thresholds (hash-max-listpack-entries 128, value 64).
func (h *Hash) Encoding() string {
	if h.d.Len() > 128 {
		return "hashtable"
	}
	small := true
	h.d.Range(func(k, v string) bool {
		if len(k) > 64 || len(v) > 64 {
			small = false
			return false
		}
		return true
	})
	if small {
		return "listpack"
	}
	return "hashtable"
}
