package keyspace

import "errors"

// ErrAdoptDuringSnapshot is returned by Adopt while a snapshot runs: the
// adopted values carry no snapshot stamps, so a running snapshot could not
// tell them from the values it must capture.
var ErrAdoptDuringSnapshot = errors.New("keyspace: cannot adopt another keyspace while a snapshot is running")

// Adopt replaces the contents of every database with src's, which was
// built without the execution lock (a replica loading its master's
// snapshot while clients keep reading the old data), in O(databases).
// Watchers of keys in the old or the new contents are told, as SWAPDB
// does (MULTI/WATCH, SQL databases whose pages changed). src must have as
// many databases and must not be used afterwards. Callers hold the
// execution lock.
func (ks *Keyspace) Adopt(src *Keyspace) error {
	if ks.snap != nil || ks.cowEpoch != 0 {
		return ErrAdoptDuringSnapshot
	}
	if len(src.dbs) != len(ks.dbs) {
		return errors.New("keyspace: cannot adopt a keyspace with another number of databases")
	}
	for i, db := range ks.dbs {
		from := src.dbs[i]
		db.touchAllWatched()
		ks.Dirty += uint64(db.dict.Len())
		db.dict, db.expires = from.dict, from.expires
		db.expireCursor = 0
		from.dict, from.expires = NewDict[object](), NewDict[int64]()
		db.touchAllWatched()
		ks.Dirty += uint64(db.dict.Len())
	}
	return nil
}
