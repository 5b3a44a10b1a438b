package keyspace

// StringForWrite returns key's string like GetString, but as a write-path
// lookup (Redis's lookupKeyWrite): it does not count toward keyspace hits or
// misses, so read-modify-write commands (INCR, APPEND, SETRANGE, ...) leave
// the hit ratio in INFO alone, as they do in Redis. The returned slice must
// not be modified or retained past the current command.
func (db *DB) StringForWrite(key []byte) (val []byte, found bool, err error) {
	return stringOf(db.lookup(key, false))
}

// SetStringOwned stores val at key like SetString, but takes ownership of
// val instead of copying it: the caller must never touch val again. It saves
// a second allocation for results built fresh by a command (BITOP's output
// can be hundreds of megabytes).
func (db *DB) SetStringOwned(key, val []byte, keepTTL bool) {
	db.setString(key, unsafeString(val), keepTTL)
}
