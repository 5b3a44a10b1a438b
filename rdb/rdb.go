// Package rdb encodes and decodes Redis's RDB snapshot format, version 10
// (what redis 7.0 writes), as a stream: a Writer emits keys one at a time as
// the caller walks its keyspace, and a Reader hands back one Entry at a time,
// so neither side ever holds a whole snapshot in memory. SAVE/BGSAVE, the AOF
// rewrite preamble and replica full sync all use it, which is why the output
// must load in a stock redis-server and files from one must load here.
//
// The Reader accepts everything redis 7.0 can load (RDB versions 1 to 10,
// including the older ziplist, zipmap, intset and quicklist encodings) except
// streams, module values and function libraries, which thredis does not
// have; those are refused with a clear error rather than skipped, because
// skipping them would silently lose data.
package rdb

import (
	"errors"
	"fmt"
)

// Version is the RDB version written (10): the newest redis 7.0 reads and
// the one it writes, so stock 7.x servers and tools accept our files.
const Version = 10

// Errors wrapped by the Reader and Writer so callers can tell the classes
// apart with errors.Is (for instance to count corrupt transfers separately
// from network errors).
var (
	// ErrCorrupt marks input that is not a well-formed RDB stream.
	ErrCorrupt = errors.New("corrupt RDB data")
	// ErrChecksum marks a stream whose CRC-64 trailer does not match.
	ErrChecksum = errors.New("RDB checksum mismatch")
	// ErrUnsupported marks well-formed data thredis cannot represent
	// (streams, modules, functions, versions newer than Version).
	ErrUnsupported = errors.New("unsupported RDB content")
)

// Opcodes that precede a key or introduce metadata. Any other byte at an
// opcode position is a value type (see the type* constants).
const (
	opFunction2    = 0xF5 // function library (7.0 GA)
	opFunction     = 0xF6 // function library (7.0 release candidates)
	opModuleAux    = 0xF7 // module auxiliary data
	opIdle         = 0xF8 // LRU idle time of the next key, seconds
	opFreq         = 0xF9 // LFU counter of the next key
	opAux          = 0xFA // key/value metadata ("redis-ver", ...)
	opResizeDB     = 0xFB // hash table size hint for the current DB
	opExpireTimeMs = 0xFC // absolute expiry of the next key, ms
	opExpireTime   = 0xFD // absolute expiry of the next key, seconds
	opSelectDB     = 0xFE // switch the current DB
	opEOF          = 0xFF // end of data; the checksum follows
)

// Value types as stored in the file (RDB_TYPE_* in Redis).
const (
	typeString          = 0
	typeList            = 1
	typeSet             = 2
	typeZSet            = 3
	typeHash            = 4
	typeZSet2           = 5
	typeModule          = 6
	typeModule2         = 7
	typeHashZipmap      = 9
	typeListZiplist     = 10
	typeSetIntset       = 11
	typeZSetZiplist     = 12
	typeHashZiplist     = 13
	typeListQuicklist   = 14
	typeStreamListpacks = 15
	typeHashListpack    = 16
	typeZSetListpack    = 17
	typeListQuicklist2  = 18
	typeStreamListpack2 = 19
	typeSetListpack     = 20
	typeStreamListpack3 = 21
)

// String encodings selected by the two top bits 11 of a length byte.
const (
	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// Quicklist (type 18) node containers.
const (
	containerPlain  = 1 // the node is one element, stored as is
	containerPacked = 2 // the node is a listpack of elements
)

// EntryKind says what an Entry describes.
type EntryKind uint8

const (
	// EntryAux is an AUX field (AuxKey, AuxValue), such as "redis-ver".
	EntryAux EntryKind = iota + 1
	// EntryKey is a key with its value (Key, Type, and one of the value
	// fields), in DB, with ExpireMs/LRUIdle/LFUFreq.
	EntryKey
	// EntryResizeDB is the size hint for DB (Keys, Expires) that precedes
	// its keys; a loader may use it to presize its tables.
	EntryResizeDB
)

// String names the kind for messages.
func (k EntryKind) String() string {
	switch k {
	case EntryAux:
		return "aux"
	case EntryKey:
		return "key"
	case EntryResizeDB:
		return "resizedb"
	}
	return fmt.Sprintf("EntryKind(%d)", uint8(k))
}

// ValueType is the logical type of a key's value, whatever encoding the
// file used for it (a hash may come as a listpack, a ziplist, a zipmap or a
// plain field list; the Reader hands all of them back as Hash).
type ValueType uint8

const (
	// TypeString values are in Entry.Str.
	TypeString ValueType = iota + 1
	// TypeHash values are in Entry.Hash.
	TypeHash
	// TypeList values are in Entry.List.
	TypeList
	// TypeSet values are in Entry.Set.
	TypeSet
	// TypeZSet values are in Entry.ZSet.
	TypeZSet
)

// String returns the name TYPE would reply with.
func (t ValueType) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeHash:
		return "hash"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	}
	return fmt.Sprintf("ValueType(%d)", uint8(t))
}

// Aux is one AUX field of the header. Redis writes redis-ver, redis-bits,
// ctime, used-mem, aof-base (and repl-* for replication); the caller decides
// which, since only it knows them.
type Aux struct {
	Key, Value string
}

// Pair is one hash field and its value.
type Pair struct {
	Field, Value string
}

// ZMember is one sorted-set member and its score.
type ZMember struct {
	Member string
	Score  float64
}

// Entry is one item decoded from an RDB stream. The Reader returns a fresh
// Entry from every Next call, so callers may keep it (and its slices).
type Entry struct {
	// Kind selects which of the fields below are meaningful.
	Kind EntryKind
	// DB is the database in effect: the last SELECTDB, or 0 before any.
	DB int

	// AuxKey and AuxValue are set for EntryAux.
	AuxKey, AuxValue string

	// Key is the key's name (EntryKey).
	Key string
	// ExpireMs is the absolute expiry in Unix milliseconds, or -1 when the
	// key does not expire. Second-resolution expiries from old files are
	// converted to milliseconds; times before 1970 read as 0 (expired), so
	// they cannot be mistaken for "no expiry".
	ExpireMs int64
	// Type says which of Str, Hash, List, Set, ZSet holds the value.
	Type ValueType
	// Str is a string value.
	Str string
	// Hash is a hash's fields in file order.
	Hash []Pair
	// List is a list's elements, head first.
	List []string
	// Set is a set's members in file order.
	Set []string
	// ZSet is a sorted set's members in file order (Redis writes them in
	// descending score order for skiplists, ascending for listpacks).
	ZSet []ZMember
	// LRUIdle is the key's idle time in seconds (IDLE opcode, written when
	// maxmemory-policy is an LRU policy), or -1.
	LRUIdle int64
	// LFUFreq is the key's LFU counter 0..255 (FREQ opcode, written when
	// maxmemory-policy is an LFU policy), or -1.
	LFUFreq int

	// Keys and Expires are the size hints of EntryResizeDB.
	Keys, Expires uint64
}
