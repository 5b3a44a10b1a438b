package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/thredis/thredis/canonint"
)

// WriterOptions mirror the redis.conf settings that change the bytes of an
// RDB file.
type WriterOptions struct {
	// Compress stores strings longer than 20 bytes LZF-compressed when that
	// saves at least 4 bytes (rdbcompression yes, with Redis's thresholds).
	Compress bool
	// Checksum ends the file with its CRC-64; when false the trailer is 8
	// zero bytes, which loaders read as "no checksum" (rdbchecksum no) and
	// which saves the CRC's CPU time.
	Checksum bool
}

// writeBufSize is how much a Writer buffers before handing bytes to the
// underlying writer: large enough that the CRC and the write syscalls run
// over big blocks, small enough to not matter per open Writer.
const writeBufSize = 64 << 10

// Writer streams an RDB file: Header, then for each DB a SelectDB followed by
// its keys, then Close. Writes are buffered; the CRC covers every byte
// written. After any error the output is incomplete and every later call
// returns the same error, so a caller may check only Close's result.
type Writer struct {
	w       io.Writer
	opts    WriterOptions
	buf     []byte
	crc     uint64
	flushed int64
	err     error
	state   writerState
	lzf     *lzfTable // allocated on first compression attempt
	scratch []byte    // compression output, reused
}

type writerState uint8

const (
	stateNew writerState = iota
	stateBody
	stateClosed
)

// NewWriter returns a Writer that writes to w. Nothing is written until
// Header is called.
func NewWriter(w io.Writer, opts WriterOptions) *Writer {
	return &Writer{w: w, opts: opts, buf: make([]byte, 0, writeBufSize)}
}

// Written returns the number of bytes written so far, including those still
// buffered (what the file size will be once they are flushed).
func (w *Writer) Written() int64 {
	return w.flushed + int64(len(w.buf))
}

// Header writes the "REDIS0010" magic and one AUX field per element of aux,
// in order. It must be the first call.
func (w *Writer) Header(aux []Aux) error {
	if err := w.check("header", stateNew); err != nil {
		return err
	}
	w.state = stateBody
	w.buf = fmt.Appendf(w.buf, "REDIS%04d", Version)
	for _, a := range aux {
		w.buf = append(w.buf, opAux)
		err := w.writeString(a.Key)
		if err == nil {
			err = w.writeString(a.Value)
		}
		if err != nil {
			return w.fail(fmt.Errorf("rdb: writing aux field %q: %w", a.Key, err))
		}
	}
	return nil
}

// SelectDB starts database db. keys and expires are the RESIZEDB hints
// (how many keys, and how many of them with an expiry, follow); a loader
// presizes its tables from them, so they should be accurate but a wrong
// value does not make the file invalid.
func (w *Writer) SelectDB(db int, keys, expires uint64) error {
	if err := w.check("SELECTDB", stateBody); err != nil {
		return err
	}
	if db < 0 {
		return w.fail(fmt.Errorf("rdb: SELECTDB %d: negative database index", db))
	}
	w.buf = append(w.buf, opSelectDB)
	w.buf = appendLen(w.buf, uint64(db))
	w.buf = append(w.buf, opResizeDB)
	w.buf = appendLen(w.buf, keys)
	w.buf = appendLen(w.buf, expires)
	if err := w.maybeFlush(); err != nil {
		return w.fail(fmt.Errorf("rdb: writing SELECTDB %d: %w", db, err))
	}
	return nil
}

// String writes a string key. expireMs is the absolute expiry in Unix
// milliseconds, or negative for none. The value (like the key) is stored as
// an integer when it is a canonical decimal integer that fits 32 bits,
// LZF-compressed when Compress is set and that pays, else raw.
func (w *Writer) String(key, val string, expireMs int64) error {
	if err := w.beginKey(key, typeString, expireMs); err != nil {
		return err
	}
	if err := w.writeString(val); err != nil {
		return w.fail(fmt.Errorf("rdb: writing string key %q: %w", key, err))
	}
	return nil
}

// Hash writes a hash key with n fields, which each must yield exactly (in
// any order, no field twice); each is an iter.Seq2, so maps.All(m) fits. It is stored as a plain field list (type 4),
// which every Redis version loads and re-encodes as it sees fit. A hash
// with no fields is skipped: Redis has no empty keys and drops one on load.
// If each yields a different number of pairs than n, Hash fails rather than
// write a file whose declared length does not match its contents.
func (w *Writer) Hash(key string, n int, each func(yield func(field, val string) bool), expireMs int64) error {
	return w.collection(key, "hash", typeHash, n, expireMs, func(yield func() bool) error {
		var err error
		each(func(field, val string) bool {
			if !yield() {
				return false
			}
			if err = w.writeString(field); err == nil {
				err = w.writeString(val)
			}
			return err == nil
		})
		return err
	})
}

// List writes a list key with n elements, head first, which each must
// yield exactly. It is stored as a plain element list (type 1), which Redis
// 7 loads into its usual quicklist. An empty list is skipped, as in Hash.
func (w *Writer) List(key string, n int, each func(yield func(elem string) bool), expireMs int64) error {
	return w.collection(key, "list", typeList, n, expireMs, w.members(each))
}

// Set writes a set key with n members, which each must yield exactly (no
// member twice). It is stored as a plain member list (type 2). An empty set
// is skipped, as in Hash.
func (w *Writer) Set(key string, n int, each func(yield func(member string) bool), expireMs int64) error {
	return w.collection(key, "set", typeSet, n, expireMs, w.members(each))
}

// ZSet writes a sorted set key with n members, which each must yield
// exactly (any order, no member twice). Scores are stored as binary doubles
// (type 5), so they load back bit for bit; NaN is refused because Redis
// refuses it on load. An empty sorted set is skipped, as in Hash.
func (w *Writer) ZSet(key string, n int, each func(yield func(member string, score float64) bool), expireMs int64) error {
	return w.collection(key, "zset", typeZSet2, n, expireMs, func(yield func() bool) error {
		var err error
		each(func(member string, score float64) bool {
			if !yield() {
				return false
			}
			if math.IsNaN(score) {
				err = fmt.Errorf("member %q has a NaN score", member)
				return false
			}
			if err = w.writeString(member); err == nil {
				w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(score))
			}
			return err == nil
		})
		return err
	})
}

// members adapts a one-string iterator to collection's callback.
func (w *Writer) members(each func(yield func(string) bool)) func(yield func() bool) error {
	return func(yield func() bool) error {
		var err error
		each(func(s string) bool {
			if !yield() {
				return false
			}
			err = w.writeString(s)
			return err == nil
		})
		return err
	}
}

// collection writes a key whose value is a length followed by elements
// written by body, which calls yield before each element; yield reports
// false once more than n elements came, so body stops early.
func (w *Writer) collection(key, kind string, typ byte, n int, expireMs int64, body func(yield func() bool) error) error {
	if err := w.check("key", stateBody); err != nil {
		return err
	}
	if n < 0 {
		return w.fail(fmt.Errorf("rdb: %s key %q: negative length %d", kind, key, n))
	}
	count := 0
	yield := func() bool {
		count++
		return count <= n
	}
	if n == 0 {
		if err := body(yield); err != nil {
			return w.fail(fmt.Errorf("rdb: %s key %q: %w", kind, key, err))
		}
		if count > 0 {
			return w.fail(fmt.Errorf("rdb: %s key %q: declared empty but has elements", kind, key))
		}
		return nil
	}
	if err := w.beginKey(key, typ, expireMs); err != nil {
		return err
	}
	w.buf = appendLen(w.buf, uint64(n))
	if err := body(yield); err != nil {
		return w.fail(fmt.Errorf("rdb: writing %s key %q: %w", kind, key, err))
	}
	if count != n {
		what := fmt.Sprintf("%d", count)
		if count > n {
			what = "more"
		}
		return w.fail(fmt.Errorf("rdb: %s key %q: declared %d elements but got %s; the output is unusable", kind, key, n, what))
	}
	if err := w.maybeFlush(); err != nil {
		return w.fail(fmt.Errorf("rdb: writing %s key %q: %w", kind, key, err))
	}
	return nil
}

// beginKey writes the optional expiry, the value type and the key name.
func (w *Writer) beginKey(key string, typ byte, expireMs int64) error {
	if err := w.check("key", stateBody); err != nil {
		return err
	}
	if expireMs >= 0 {
		w.buf = append(w.buf, opExpireTimeMs)
		w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(expireMs))
	}
	w.buf = append(w.buf, typ)
	if err := w.writeString(key); err != nil {
		return w.fail(fmt.Errorf("rdb: writing key %q: %w", key, err))
	}
	return nil
}

// Flush hands all buffered bytes to the underlying writer, for callers
// streaming to a socket that must not sit on a partial buffer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.flush(); err != nil {
		return w.fail(fmt.Errorf("rdb: flushing: %w", err))
	}
	return nil
}

// Close writes the EOF opcode and the checksum trailer (CRC-64 of every
// preceding byte, little-endian, or zeros without Checksum) and flushes.
// It does not close the underlying writer.
func (w *Writer) Close() error {
	if err := w.check("EOF", stateBody); err != nil {
		return err
	}
	w.state = stateClosed
	w.buf = append(w.buf, opEOF)
	if err := w.flush(); err != nil {
		return w.fail(fmt.Errorf("rdb: writing EOF: %w", err))
	}
	var sum uint64
	if w.opts.Checksum {
		sum = w.crc
	}
	// The trailer is not part of the checksummed data, so it bypasses
	// flush's CRC update.
	var trailer [8]byte
	binary.LittleEndian.PutUint64(trailer[:], sum)
	if _, err := w.w.Write(trailer[:]); err != nil {
		return w.fail(fmt.Errorf("rdb: writing checksum: %w", err))
	}
	w.flushed += 8
	return nil
}

// check refuses calls out of order and after an error.
func (w *Writer) check(what string, want writerState) error {
	if w.err != nil {
		return w.err
	}
	if w.state == want {
		return nil
	}
	switch w.state {
	case stateNew:
		return w.fail(fmt.Errorf("rdb: %s before Header", what))
	case stateClosed:
		return w.fail(fmt.Errorf("rdb: %s after Close", what))
	default:
		return w.fail(errors.New("rdb: Header called twice"))
	}
}

// fail records err as the Writer's sticky error and returns it.
func (w *Writer) fail(err error) error {
	w.err = err
	return err
}

// maybeFlush flushes once the buffer is full, keeping it near writeBufSize.
func (w *Writer) maybeFlush() error {
	if len(w.buf) >= writeBufSize {
		return w.flush()
	}
	return nil
}

// flush checksums and writes out the buffer.
func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if w.opts.Checksum {
		w.crc = CRC64(w.crc, w.buf)
	}
	n, err := w.w.Write(w.buf)
	w.flushed += int64(n)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	w.buf = w.buf[:0]
	return err
}

// writeString writes s in RDB string encoding, choosing the encoding by the
// rules of Redis's rdbSaveRawString: an integer when s is a canonical
// decimal that fits 32 bits, else LZF when enabled, s is longer than 20 bytes
// and compression saves at least 4 bytes, else raw.
func (w *Writer) writeString(s string) error {
	if w.appendIntString(s) {
		return w.maybeFlush()
	}
	if w.opts.Compress && len(s) > 20 {
		if out := w.compress(s); out != nil {
			w.buf = append(w.buf, 0xC0|encLZF)
			w.buf = appendLen(w.buf, uint64(len(out)))
			w.buf = appendLen(w.buf, uint64(len(s)))
			return writeChunks(w, out)
		}
	}
	w.buf = appendLen(w.buf, uint64(len(s)))
	return writeChunks(w, s)
}

// writeChunks appends a payload through the buffer, flushing as it fills,
// so a huge value never grows the buffer beyond writeBufSize plus a little.
func writeChunks[T string | []byte](w *Writer, p T) error {
	for len(p) > 0 {
		room := writeBufSize - len(w.buf)
		if room <= 0 {
			if err := w.flush(); err != nil {
				return err
			}
			continue
		}
		k := min(room, len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
	}
	return w.maybeFlush()
}

// appendIntString appends s as an INT8/16/32 encoding and reports true when
// s is exactly what formatting the integer gives back ("007", "-0" and
// "+1" stay strings, as in Redis).
func (w *Writer) appendIntString(s string) bool {
	// "-2147483648" is the longest string an INT32 encoding can hold.
	if len(s) > 11 {
		return false
	}
	v, ok := canonint.Parse([]byte(s))
	if !ok {
		return false
	}
	switch {
	case v >= math.MinInt8 && v <= math.MaxInt8:
		w.buf = append(w.buf, 0xC0|encInt8, byte(v))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		w.buf = append(w.buf, 0xC0|encInt16)
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		w.buf = append(w.buf, 0xC0|encInt32)
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(v))
	default:
		return false
	}
	return true
}

// compress returns s LZF-compressed, or nil when that does not save at
// least 4 bytes: like Redis, the output room is 4 bytes shorter than the
// input and a result that does not fit counts as a failure. The returned
// slice is reused by the next call.
func (w *Writer) compress(s string) []byte {
	maxOut := len(s) - 4
	if cap(w.scratch) < maxOut {
		w.scratch = make([]byte, maxOut)
	}
	if w.lzf == nil {
		w.lzf = new(lzfTable)
	}
	out := w.scratch[:maxOut]
	// lzfCompress only reads its input, so it can see the string's bytes
	// in place instead of a copy of every value.
	n := lzfCompress(unsafe.Slice(unsafe.StringData(s), len(s)), out, w.lzf)
	if n == 0 {
		return nil
	}
	return out[:n]
}

// appendLen appends an RDB length: 6 bits, 14 bits, 32 or 64 bits big-endian,
// whichever is shortest.
func appendLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, 0x40|byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		b = append(b, 0x80)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	default:
		b = append(b, 0x81)
		return binary.BigEndian.AppendUint64(b, n)
	}
}
