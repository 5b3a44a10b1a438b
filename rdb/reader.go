package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unsafe"
)

// ReaderOptions control how strictly a Reader checks its input.
type ReaderOptions struct {
	// VerifyChecksum checks the CRC-64 trailer (rdbchecksum yes on load).
	// A zero trailer means the writer had checksums off and is accepted,
	// as Redis does. Without it the CRC is not computed at all.
	VerifyChecksum bool
}

// readBufSize is the Reader's buffer: reads from the source are at least
// this large when possible, and strings up to this size are decoded
// straight from it without an intermediate copy.
const readBufSize = 64 << 10

// allocCap bounds how many elements a Reader preallocates for a collection
// from its declared length, which is untrusted: a forged length must not
// turn a few bytes of input into a huge allocation. Past it, slices grow
// only as elements are actually read.
const allocCap = 1024

// maxDB bounds SELECTDB indexes so they fit an int everywhere; real files
// use 0..15 (the caller checks against its own database count).
const maxDB = math.MaxInt32

// Reader decodes an RDB stream one entry at a time. It checks every length
// and bound against the data actually present, so corrupt or hostile input
// yields an error (naming what was being read and the offset), never a
// panic or a hang; memory grows with the data actually read (an LZF string
// may expand it at most 88 times, the format's limit), never with a
// declared length.
// After an error, every later Next returns the same error.
type Reader struct {
	src    io.Reader
	buf    []byte
	r, w   int   // buf[r:w] is read from src but not yet consumed
	base   int64 // stream offset of buf[0]
	crcPos int   // buf[crcPos:r] is consumed but not yet added to crc
	crc    uint64
	srcErr error // the error src returned, reported once the buffer drains
	zeroes int   // consecutive empty reads, to give up on a stuck source

	verify   bool
	exact    bool // read no further than needed (a buffered source)
	version  int
	db       int
	done     bool
	err      error
	lastType byte // file type of the last key read, for tests
}

// NewReader reads and checks the "REDISnnnn" magic and returns a Reader
// positioned at the first entry. Versions 1 through 10 are accepted (what
// redis 7.0 loads); a newer one is refused, because its encodings may be
// ones this package cannot know.
//
// The Reader reads r in blocks of up to 64 KiB, so it may consume bytes past
// the end of the RDB data; when the RDB is embedded in a longer stream (a
// replication transfer), bound r to the payload, e.g. with io.LimitReader.
func NewReader(r io.Reader, opts ReaderOptions) (*Reader, error) {
	rd := &Reader{src: r, buf: make([]byte, readBufSize), verify: opts.VerifyChecksum}
	// A buffered source (a *bufio.Reader, say) is read exactly: what
	// follows the RDB stays in it for the caller (an old AOF whose RDB
	// preamble is followed by commands).
	_, rd.exact = r.(io.ByteReader)
	magic, err := rd.take(9)
	if err != nil {
		return nil, fmt.Errorf("rdb: reading the file header: %w", err)
	}
	if string(magic[:5]) != "REDIS" {
		return nil, fmt.Errorf("rdb: %w: not an RDB file (header %q, want \"REDIS\" and a version)", ErrCorrupt, magic)
	}
	v := 0
	for _, c := range magic[5:] {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("rdb: %w: bad version in the file header %q", ErrCorrupt, magic)
		}
		v = v*10 + int(c-'0')
	}
	if v < 1 {
		return nil, fmt.Errorf("rdb: %w: bad RDB version %d", ErrCorrupt, v)
	}
	if v > Version {
		return nil, fmt.Errorf("rdb: %w: RDB version %d is newer than %d, the newest this server reads (written by a newer Redis?)", ErrUnsupported, v, Version)
	}
	rd.version = v
	return rd, nil
}

// Version returns the file's RDB version from its header.
func (r *Reader) Version() int { return r.version }

// Offset returns how many bytes of the stream have been consumed.
func (r *Reader) Offset() int64 { return r.base + int64(r.r) }

// Next returns the next AUX field, RESIZEDB hint or key. After the EOF
// opcode (and, when enabled, a matching checksum) it returns io.EOF; a
// stream that ends before the EOF opcode is an error wrapping
// io.ErrUnexpectedEOF. Keys whose collection is empty are skipped, as
// Redis 7 does when loading. Each call returns a new Entry.
func (r *Reader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.done {
		return nil, io.EOF
	}
	e, err := r.next()
	if err != nil {
		if err != io.EOF {
			r.err = err
		}
		return nil, err
	}
	return e, nil
}

func (r *Reader) next() (*Entry, error) {
	expire, idle, freq := int64(-1), int64(-1), -1
	for {
		start := r.Offset()
		op, err := r.readByte()
		if err != nil {
			return nil, fmt.Errorf("rdb: reading the next opcode at offset %d: %w", start, err)
		}
		switch op {
		case opAux:
			k, err := r.readString()
			if err != nil {
				return nil, fmt.Errorf("rdb: reading an AUX field name (opcode at offset %d): %w", start, err)
			}
			v, err := r.readString()
			if err != nil {
				return nil, fmt.Errorf("rdb: reading the value of AUX field %q (opcode at offset %d): %w", k, start, err)
			}
			return &Entry{Kind: EntryAux, DB: r.db, AuxKey: k, AuxValue: v, ExpireMs: -1, LRUIdle: -1, LFUFreq: -1}, nil
		case opResizeDB:
			keys, err := r.readLen()
			if err != nil {
				return nil, fmt.Errorf("rdb: reading RESIZEDB (opcode at offset %d): %w", start, err)
			}
			expires, err := r.readLen()
			if err != nil {
				return nil, fmt.Errorf("rdb: reading RESIZEDB (opcode at offset %d): %w", start, err)
			}
			return &Entry{Kind: EntryResizeDB, DB: r.db, Keys: keys, Expires: expires, ExpireMs: -1, LRUIdle: -1, LFUFreq: -1}, nil
		case opSelectDB:
			db, err := r.readLen()
			if err != nil {
				return nil, fmt.Errorf("rdb: reading SELECTDB (opcode at offset %d): %w", start, err)
			}
			if db > maxDB {
				return nil, fmt.Errorf("rdb: %w: SELECTDB %d at offset %d is out of range", ErrCorrupt, db, start)
			}
			r.db = int(db)
		case opExpireTimeMs:
			p, err := r.take(8)
			if err != nil {
				return nil, fmt.Errorf("rdb: reading EXPIRETIME_MS (opcode at offset %d): %w", start, err)
			}
			expire = int64(binary.LittleEndian.Uint64(p))
			if expire < 0 {
				// Before 1970: long expired, like any past time.
				expire = 0
			}
		case opExpireTime:
			p, err := r.take(4)
			if err != nil {
				return nil, fmt.Errorf("rdb: reading EXPIRETIME (opcode at offset %d): %w", start, err)
			}
			expire = max(int64(int32(binary.LittleEndian.Uint32(p))), 0) * 1000
		case opIdle:
			v, err := r.readLen()
			if err != nil {
				return nil, fmt.Errorf("rdb: reading IDLE (opcode at offset %d): %w", start, err)
			}
			idle = int64(min(v, math.MaxInt64))
		case opFreq:
			v, err := r.readByte()
			if err != nil {
				return nil, fmt.Errorf("rdb: reading FREQ (opcode at offset %d): %w", start, err)
			}
			freq = int(v)
		case opModuleAux:
			return nil, fmt.Errorf("rdb: %w: module data is not supported (MODULE_AUX opcode at offset %d)", ErrUnsupported, start)
		case opFunction, opFunction2:
			return nil, fmt.Errorf("rdb: %w: function libraries are not supported (FUNCTION opcode at offset %d; delete them with FUNCTION FLUSH before saving)", ErrUnsupported, start)
		case opEOF:
			return nil, r.finish(start)
		default:
			e, err := r.readKey(op, start)
			if err != nil {
				return nil, err
			}
			if e == nil { // empty collection: dropped, with its expiry
				expire, idle, freq = -1, -1, -1
				continue
			}
			e.DB, e.ExpireMs, e.LRUIdle, e.LFUFreq = r.db, expire, idle, freq
			return e, nil
		}
	}
}

// finish reads the checksum trailer that follows the EOF opcode.
func (r *Reader) finish(start int64) error {
	r.sumConsumed()
	if r.version >= 5 {
		p, err := r.take(8)
		if err != nil {
			return fmt.Errorf("rdb: reading the checksum after the EOF opcode at offset %d: %w", start, err)
		}
		sum := binary.LittleEndian.Uint64(p)
		if r.verify && sum != 0 && sum != r.crc {
			return fmt.Errorf("rdb: %w: the file says %016x, its content hashes to %016x (EOF opcode at offset %d)", ErrChecksum, sum, r.crc, start)
		}
	}
	r.done = true
	return io.EOF
}

// readKey reads the key name and value of a key of file type typ, whose
// type byte was at offset start. It returns nil for an empty collection.
func (r *Reader) readKey(typ byte, start int64) (*Entry, error) {
	var name string
	if int(typ) < len(typeNames) {
		name = typeNames[typ]
	}
	known := name != ""
	if !known {
		name = fmt.Sprintf("unknown value type %d", typ)
	}
	key, err := r.readString()
	if err != nil {
		if !known {
			return nil, fmt.Errorf("rdb: %w: unknown opcode or value type 0x%02x at offset %d", ErrCorrupt, typ, start)
		}
		return nil, fmt.Errorf("rdb: reading the name of a %s key (type byte at offset %d): %w", name, start, err)
	}
	e := &Entry{Kind: EntryKey, Key: key}
	r.lastType = typ
	if err := r.readValue(e, typ); err != nil {
		return nil, fmt.Errorf("rdb: reading key %q (%s, at offset %d): %w", key, name, start, err)
	}
	if e.Type != TypeString && len(e.Hash)+len(e.List)+len(e.Set)+len(e.ZSet) == 0 {
		return nil, nil
	}
	return e, nil
}

// typeNames names file value types for messages; "" marks unknown types.
var typeNames = [...]string{
	typeString:          "string",
	typeList:            "list (linked list)",
	typeSet:             "set",
	typeZSet:            "zset (string scores)",
	typeHash:            "hash",
	typeZSet2:           "zset",
	typeModule:          "module value (type 6)",
	typeModule2:         "module value (type 7)",
	typeHashZipmap:      "hash (zipmap)",
	typeListZiplist:     "list (ziplist)",
	typeSetIntset:       "set (intset)",
	typeZSetZiplist:     "zset (ziplist)",
	typeHashZiplist:     "hash (ziplist)",
	typeListQuicklist:   "list (quicklist of ziplists)",
	typeStreamListpacks: "stream (type 15)",
	typeHashListpack:    "hash (listpack)",
	typeZSetListpack:    "zset (listpack)",
	typeListQuicklist2:  "list (quicklist)",
	typeStreamListpack2: "stream (type 19)",
	typeSetListpack:     "set (listpack)",
	typeStreamListpack3: "stream (type 21)",
}

// readValue decodes a value of file type typ into e.
func (r *Reader) readValue(e *Entry, typ byte) error {
	switch typ {
	case typeString:
		e.Type = TypeString
		s, err := r.readString()
		e.Str = s
		return err
	case typeList:
		e.Type = TypeList
		return r.readStrings(&e.List)
	case typeSet:
		e.Type = TypeSet
		return r.readStrings(&e.Set)
	case typeZSet, typeZSet2:
		e.Type = TypeZSet
		return r.readZSet(e, typ == typeZSet2)
	case typeHash:
		e.Type = TypeHash
		return r.readHash(e)
	case typeHashZipmap:
		e.Type = TypeHash
		return r.readBlob("zipmap", func(blob []byte) error {
			return zipmapEach(blob, func(f, v string) { e.Hash = append(e.Hash, Pair{f, v}) })
		})
	case typeListZiplist:
		e.Type = TypeList
		return r.readBlobElements("ziplist", ziplistEach, func(s string) { e.List = append(e.List, s) })
	case typeSetIntset:
		e.Type = TypeSet
		return r.readBlobElements("intset", intsetEach, func(s string) { e.Set = append(e.Set, s) })
	case typeSetListpack:
		e.Type = TypeSet
		return r.readBlobElements("listpack", listpackEach, func(s string) { e.Set = append(e.Set, s) })
	case typeHashZiplist, typeHashListpack:
		e.Type = TypeHash
		parse, kind := ziplistEach, "ziplist"
		if typ == typeHashListpack {
			parse, kind = listpackEach, "listpack"
		}
		var pending string
		odd := false
		err := r.readBlobElements(kind, parse, func(s string) {
			if odd {
				e.Hash = append(e.Hash, Pair{pending, s})
			}
			pending, odd = s, !odd
		})
		if err == nil && odd {
			err = fmt.Errorf("%w: %s has a field without a value", ErrCorrupt, kind)
		}
		return err
	case typeZSetZiplist, typeZSetListpack:
		e.Type = TypeZSet
		parse, kind := ziplistEach, "ziplist"
		if typ == typeZSetListpack {
			parse, kind = listpackEach, "listpack"
		}
		var member string
		odd := false
		var bad error
		err := r.readBlobElements(kind, parse, func(s string) {
			if odd && bad == nil {
				score, err := parseScore(s)
				if err != nil {
					bad = fmt.Errorf("member %q: %w", member, err)
				}
				e.ZSet = append(e.ZSet, ZMember{member, score})
			}
			member, odd = s, !odd
		})
		if err == nil {
			err = bad
		}
		if err == nil && odd {
			err = fmt.Errorf("%w: %s has a member without a score", ErrCorrupt, kind)
		}
		return err
	case typeListQuicklist, typeListQuicklist2:
		e.Type = TypeList
		return r.readQuicklist(e, typ == typeListQuicklist2)
	case typeModule, typeModule2:
		return fmt.Errorf("%w: module data is not supported", ErrUnsupported)
	case typeStreamListpacks, typeStreamListpack2, typeStreamListpack3:
		return fmt.Errorf("%w: stream keys are not supported", ErrUnsupported)
	}
	return fmt.Errorf("%w: unknown value type %d", ErrCorrupt, typ)
}

// readStrings reads a length-prefixed sequence of strings (list and set).
func (r *Reader) readStrings(dst *[]string) error {
	n, err := r.readLen()
	if err != nil {
		return fmt.Errorf("reading the length: %w", err)
	}
	out := make([]string, 0, min(n, allocCap))
	for i := uint64(0); i < n; i++ {
		s, err := r.readString()
		if err != nil {
			return fmt.Errorf("reading element %d of %d: %w", i, n, err)
		}
		out = append(out, s)
	}
	*dst = out
	return nil
}

// readHash reads a type-4 hash: a length, then field and value strings.
func (r *Reader) readHash(e *Entry) error {
	n, err := r.readLen()
	if err != nil {
		return fmt.Errorf("reading the length: %w", err)
	}
	e.Hash = make([]Pair, 0, min(n, allocCap))
	for i := uint64(0); i < n; i++ {
		f, err := r.readString()
		if err != nil {
			return fmt.Errorf("reading field %d of %d: %w", i, n, err)
		}
		v, err := r.readString()
		if err != nil {
			return fmt.Errorf("reading the value of field %q (%d of %d): %w", f, i, n, err)
		}
		e.Hash = append(e.Hash, Pair{f, v})
	}
	return nil
}

// readZSet reads a type-3 (scores as strings) or type-5 (binary scores)
// sorted set.
func (r *Reader) readZSet(e *Entry, binaryScores bool) error {
	n, err := r.readLen()
	if err != nil {
		return fmt.Errorf("reading the length: %w", err)
	}
	e.ZSet = make([]ZMember, 0, min(n, allocCap))
	for i := uint64(0); i < n; i++ {
		m, err := r.readString()
		if err != nil {
			return fmt.Errorf("reading member %d of %d: %w", i, n, err)
		}
		var score float64
		start := r.Offset()
		if binaryScores {
			var p []byte
			if p, err = r.take(8); err == nil {
				score = math.Float64frombits(binary.LittleEndian.Uint64(p))
			}
		} else {
			score, err = r.readStringScore()
		}
		if err == nil && math.IsNaN(score) {
			err = fmt.Errorf("at offset %d: %w: NaN score", start, ErrCorrupt)
		}
		if err != nil {
			return fmt.Errorf("reading the score of member %q (%d of %d): %w", m, i, n, err)
		}
		e.ZSet = append(e.ZSet, ZMember{m, score})
	}
	return nil
}

// readStringScore reads an old-style score: a length byte (253 NaN,
// 254 +inf, 255 -inf) then that many ASCII bytes.
func (r *Reader) readStringScore() (float64, error) {
	start := r.Offset()
	n, err := r.readByte()
	if err != nil {
		return 0, err
	}
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	p, err := r.take(int(n))
	if err != nil {
		return 0, err
	}
	f, err := parseScore(string(p))
	if err != nil {
		return 0, fmt.Errorf("at offset %d: %w", start, err)
	}
	return f, nil
}

// parseScore parses a score stored as text (strtod's syntax, which Go's
// ParseFloat accepts too, "inf" included); NaN is refused as Redis does.
func parseScore(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%w: score %q is not a number", ErrCorrupt, s)
	}
	if math.IsNaN(f) {
		return 0, fmt.Errorf("%w: NaN score", ErrCorrupt)
	}
	return f, nil
}

// readQuicklist reads a list stored as nodes: ziplists (type 14) or, for
// type 18, listpacks and plain single elements. Empty nodes are skipped, as
// Redis does.
func (r *Reader) readQuicklist(e *Entry, v2 bool) error {
	n, err := r.readLen()
	if err != nil {
		return fmt.Errorf("reading the node count: %w", err)
	}
	add := func(s string) { e.List = append(e.List, s) }
	for i := uint64(0); i < n; i++ {
		if !v2 {
			if err := r.readBlobElements("ziplist", ziplistEach, add); err != nil {
				return fmt.Errorf("node %d of %d: %w", i, n, err)
			}
			continue
		}
		start := r.Offset()
		container, err := r.readLen()
		if err != nil {
			return fmt.Errorf("node %d of %d: reading the container type: %w", i, n, err)
		}
		switch container {
		case containerPlain:
			s, err := r.readString()
			if err != nil {
				return fmt.Errorf("node %d of %d (plain): %w", i, n, err)
			}
			add(s)
		case containerPacked:
			if err := r.readBlobElements("listpack", listpackEach, add); err != nil {
				return fmt.Errorf("node %d of %d: %w", i, n, err)
			}
		default:
			return fmt.Errorf("node %d of %d: at offset %d: %w: unknown quicklist container %d", i, n, start, ErrCorrupt, container)
		}
	}
	return nil
}

// readBlobElements reads a string holding an encoded collection and feeds
// its elements to add.
func (r *Reader) readBlobElements(kind string, parse func([]byte, func(string)) error, add func(string)) error {
	return r.readBlob(kind, func(blob []byte) error { return parse(blob, add) })
}

// readBlob reads a string holding an encoded structure and parses it; parse
// errors name the structure and where its string starts in the stream.
func (r *Reader) readBlob(kind string, parse func([]byte) error) error {
	start := r.Offset()
	blob, err := r.readBytes()
	if err != nil {
		return fmt.Errorf("reading the %s: %w", kind, err)
	}
	if err := parse(blob); err != nil {
		return fmt.Errorf("in the %s at offset %d: %w", kind, start, err)
	}
	return nil
}

// readLen reads an RDB length (6, 14, 32 or 64 bits).
func (r *Reader) readLen() (uint64, error) {
	start := r.Offset()
	b, err := r.readByte()
	if err != nil {
		return 0, fmt.Errorf("reading a length at offset %d: %w", start, err)
	}
	n, enc, err := r.lenFrom(b)
	if err != nil {
		return 0, fmt.Errorf("reading a length at offset %d: %w", start, err)
	}
	if enc {
		return 0, fmt.Errorf("reading a length at offset %d: %w: found a string encoding (0x%02x)", start, ErrCorrupt, b)
	}
	return n, nil
}

// lenFrom decodes a length whose first byte is b; enc reports the special
// "encoded string" form, with the encoding in n.
func (r *Reader) lenFrom(b byte) (n uint64, enc bool, err error) {
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3f), false, nil
	case 1:
		b2, err := r.readByte()
		return uint64(b&0x3f)<<8 | uint64(b2), false, err
	case 3:
		return uint64(b & 0x3f), true, nil
	}
	switch b {
	case 0x80:
		p, err := r.take(4)
		if err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(p)), false, nil
	case 0x81:
		p, err := r.take(8)
		if err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(p), false, nil
	}
	return 0, false, fmt.Errorf("%w: invalid length prefix 0x%02x", ErrCorrupt, b)
}

// readString reads an RDB string (raw, integer or LZF).
func (r *Reader) readString() (string, error) {
	b, err := r.readBytes()
	if err != nil {
		return "", err
	}
	// b is freshly allocated and never written again, so it can back the
	// string without a second copy (which for a big value would double the
	// peak memory of loading it).
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// readBytes reads an RDB string into a new slice the caller owns.
func (r *Reader) readBytes() ([]byte, error) {
	start := r.Offset()
	b, err := r.readByte()
	if err != nil {
		return nil, fmt.Errorf("reading a string at offset %d: %w", start, err)
	}
	n, enc, err := r.lenFrom(b)
	if err != nil {
		return nil, fmt.Errorf("reading a string length at offset %d: %w", start, err)
	}
	if !enc {
		p, err := r.readN(n, true)
		if err != nil {
			return nil, fmt.Errorf("reading a %d-byte string at offset %d: %w", n, start, err)
		}
		return p, nil
	}
	var v int64
	switch n {
	case encInt8:
		var c byte
		c, err = r.readByte()
		v = int64(int8(c))
	case encInt16:
		var p []byte
		if p, err = r.take(2); err == nil {
			v = int64(int16(binary.LittleEndian.Uint16(p)))
		}
	case encInt32:
		var p []byte
		if p, err = r.take(4); err == nil {
			v = int64(int32(binary.LittleEndian.Uint32(p)))
		}
	case encLZF:
		p, err := r.readLZF()
		if err != nil {
			return nil, fmt.Errorf("reading a compressed string at offset %d: %w", start, err)
		}
		return p, nil
	default:
		return nil, fmt.Errorf("reading a string at offset %d: %w: unknown string encoding %d", start, ErrCorrupt, n)
	}
	if err != nil {
		return nil, fmt.Errorf("reading an integer string at offset %d: %w", start, err)
	}
	return strconv.AppendInt(nil, v, 10), nil
}

// readLZF reads the compressed and uncompressed lengths and the compressed
// bytes of an LZF string and decompresses them.
func (r *Reader) readLZF() ([]byte, error) {
	clen, err := r.readLen()
	if err != nil {
		return nil, fmt.Errorf("compressed length: %w", err)
	}
	ulen, err := r.readLen()
	if err != nil {
		return nil, fmt.Errorf("uncompressed length: %w", err)
	}
	if clen == 0 || ulen == 0 || clen > math.MaxInt/lzfMaxRatio || ulen > clen*lzfMaxRatio {
		return nil, fmt.Errorf("%w: impossible LZF lengths (%d compressed, %d uncompressed)", ErrCorrupt, clen, ulen)
	}
	c, err := r.readN(clen, false)
	if err != nil {
		return nil, fmt.Errorf("reading %d compressed bytes: %w", clen, err)
	}
	out := make([]byte, ulen)
	if err := lzfDecompress(c, out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return out, nil
}

// readN reads n bytes. With own, or when n exceeds the buffer, the result
// is a new slice; otherwise it aliases the buffer and is valid only until
// the next read. A big n is read in buffer-sized pieces into a slice grown
// as data arrives, so a forged length costs no more memory than the data
// that is really there.
func (r *Reader) readN(n uint64, own bool) ([]byte, error) {
	if n <= readBufSize {
		p, err := r.take(int(n))
		if err != nil || !own {
			return p, err
		}
		return append(make([]byte, 0, len(p)), p...), nil
	}
	if n > math.MaxInt {
		return nil, fmt.Errorf("%w: length %d is too large", ErrCorrupt, n)
	}
	out := make([]byte, 0, readBufSize)
	for rest := int(n); rest > 0; {
		k := min(rest, readBufSize)
		p, err := r.take(k)
		if err != nil {
			return nil, err
		}
		if len(out)+k > cap(out) {
			grown := make([]byte, len(out), min(int(n), 2*cap(out)))
			copy(grown, out)
			out = grown
		}
		out = append(out, p...)
		rest -= k
	}
	return out, nil
}

// readByte consumes one byte.
func (r *Reader) readByte() (byte, error) {
	if r.r == r.w {
		if err := r.fill(1); err != nil {
			return 0, err
		}
	}
	b := r.buf[r.r]
	r.r++
	return b, nil
}

// take consumes n <= readBufSize bytes and returns them in place (valid
// until the next read).
func (r *Reader) take(n int) ([]byte, error) {
	if r.w-r.r < n {
		if err := r.fill(n); err != nil {
			return nil, err
		}
	}
	p := r.buf[r.r : r.r+n : r.r+n]
	r.r += n
	return p, nil
}

// fill reads from the source until at least n bytes are buffered. A source
// that ends first yields io.ErrUnexpectedEOF: every caller is inside an
// item, since only the EOF opcode may end the stream.
func (r *Reader) fill(n int) error {
	if r.r+n > len(r.buf) {
		r.sumConsumed()
		copy(r.buf, r.buf[r.r:r.w])
		r.base += int64(r.r)
		r.w -= r.r
		r.r, r.crcPos = 0, 0
	}
	for r.w-r.r < n {
		if r.srcErr != nil {
			if r.srcErr == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return r.srcErr
		}
		end := len(r.buf)
		if r.exact {
			end = r.r + n
		}
		m, err := r.src.Read(r.buf[r.w:end])
		r.w += m
		switch {
		case err != nil:
			r.srcErr = err
		case m == 0:
			// Like bufio: a reader that keeps returning nothing
			// is broken; do not spin on it.
			if r.zeroes++; r.zeroes >= 100 {
				r.srcErr = io.ErrNoProgress
			}
		default:
			r.zeroes = 0
		}
	}
	return nil
}

// sumConsumed adds the consumed but not yet checksummed bytes to the CRC.
func (r *Reader) sumConsumed() {
	if r.verify {
		r.crc = CRC64(r.crc, r.buf[r.crcPos:r.r])
	}
	r.crcPos = r.r
}
