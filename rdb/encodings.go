package rdb

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Parsers for the compact encodings Redis dumps as opaque strings: ziplist
// (Redis 2.6-6.2), listpack (7.0+), intset and zipmap (before 2.6). Redis
// writes them byte for byte as they sit in its memory, so each parser
// validates the whole structure (header counts, every entry's extent, the
// end marker) before trusting any of it. Integers stored in them come back
// as their decimal strings, which is what Redis returns for them.

// blobErr reports a structural problem at offset off inside an encoded blob.
func blobErr(off int, format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrCorrupt, off, fmt.Sprintf(format, args...))
}

// Ziplist layout: zlbytes u32, zltail u32, zllen u16, entries, 0xFF. Each
// entry is prevlen (1 byte, or 0xFE and a u32), an encoding byte (with
// length bytes for strings) and the data. All multi-byte header fields are
// little-endian except string lengths, which are big-endian.
const (
	ziplistHeader = 10
	ziplistEnd    = 0xFF
)

// ziplistEach validates the ziplist zl and calls add for each element.
func ziplistEach(zl []byte, add func(string)) error {
	if len(zl) < ziplistHeader+1 {
		return blobErr(0, "ziplist of %d bytes is shorter than its header", len(zl))
	}
	if n := binary.LittleEndian.Uint32(zl); uint64(n) != uint64(len(zl)) {
		return blobErr(0, "ziplist header says %d bytes, the string has %d", n, len(zl))
	}
	tail := int(binary.LittleEndian.Uint32(zl[4:]))
	declared := int(binary.LittleEndian.Uint16(zl[8:]))
	end := len(zl) - 1
	if zl[end] != ziplistEnd {
		return blobErr(end, "ziplist does not end with 0xFF")
	}
	p, prevlen, count, last := ziplistHeader, 0, 0, ziplistHeader
	for p < end {
		start := p
		// prevlen: the previous entry's size, 1 or 5 bytes.
		var pl int
		if zl[p] < 0xFE {
			pl = int(zl[p])
			p++
		} else if zl[p] == 0xFE {
			if p+5 > end {
				return blobErr(start, "ziplist entry %d: truncated prevlen", count)
			}
			pl = int(binary.LittleEndian.Uint32(zl[p+1:]))
			p += 5
		} else {
			return blobErr(start, "ziplist entry %d: end marker before the end", count)
		}
		if pl != prevlen {
			return blobErr(start, "ziplist entry %d: prevlen %d, the previous entry has %d bytes", count, pl, prevlen)
		}
		if p >= end {
			return blobErr(p, "ziplist entry %d: truncated before its encoding", count)
		}
		enc := zl[p]
		strLen := -1
		var v int64
		switch enc >> 6 {
		case 0:
			strLen = int(enc & 0x3f)
			p++
		case 1:
			if p+2 > end {
				return blobErr(p, "ziplist entry %d: truncated string length", count)
			}
			strLen = int(enc&0x3f)<<8 | int(zl[p+1])
			p += 2
		case 2:
			if enc != 0x80 || p+5 > end {
				return blobErr(p, "ziplist entry %d: bad string length encoding 0x%02x", count, enc)
			}
			strLen = int(binary.BigEndian.Uint32(zl[p+1:]))
			p += 5
		default:
			size := 0
			switch enc {
			case 0xC0:
				size = 2
			case 0xD0:
				size = 4
			case 0xE0:
				size = 8
			case 0xF0:
				size = 3
			case 0xFE:
				size = 1
			default:
				if enc < 0xF1 || enc > 0xFD {
					return blobErr(p, "ziplist entry %d: unknown encoding 0x%02x", count, enc)
				}
				v = int64(enc&0x0f) - 1 // immediate 0..12
			}
			p++
			if p+size > end {
				return blobErr(p, "ziplist entry %d: truncated integer", count)
			}
			if size > 0 {
				v = leInt(zl[p : p+size])
			}
			p += size
		}
		if strLen >= 0 {
			if strLen > end-p {
				return blobErr(p, "ziplist entry %d: %d-byte string passes the end", count, strLen)
			}
			add(string(zl[p : p+strLen]))
			p += strLen
		} else {
			add(strconv.FormatInt(v, 10))
		}
		prevlen, last = p-start, start
		count++
	}
	if declared != 0xFFFF && declared != count {
		return blobErr(8, "ziplist header says %d entries, found %d", declared, count)
	}
	if tail != last {
		return blobErr(4, "ziplist tail offset %d, the last entry is at %d", tail, last)
	}
	return nil
}

// leInt decodes a little-endian two's complement integer of 1 to 8 bytes.
func leInt(b []byte) int64 {
	var u uint64
	for i := len(b) - 1; i >= 0; i-- {
		u = u<<8 | uint64(b[i])
	}
	shift := 64 - 8*uint(len(b))
	return int64(u<<shift) >> shift
}

// Listpack layout: total bytes u32, element count u16 (0xFFFF: unknown),
// entries, 0xFF. Each entry is an encoding byte with its data, followed by
// "backlen", the entry's size written so it can be read backwards.
const (
	listpackHeader = 6
	listpackEnd    = 0xFF
)

// listpackEach validates the listpack lp and calls add for each element.
func listpackEach(lp []byte, add func(string)) error {
	if len(lp) < listpackHeader+1 {
		return blobErr(0, "listpack of %d bytes is shorter than its header", len(lp))
	}
	if n := binary.LittleEndian.Uint32(lp); uint64(n) != uint64(len(lp)) {
		return blobErr(0, "listpack header says %d bytes, the string has %d", n, len(lp))
	}
	declared := int(binary.LittleEndian.Uint16(lp[4:]))
	end := len(lp) - 1
	if lp[end] != listpackEnd {
		return blobErr(end, "listpack does not end with 0xFF")
	}
	p, count := listpackHeader, 0
	var bl [5]byte
	for p < end {
		start := p
		b := lp[p]
		hdr, strLen, intSize := 1, -1, 0
		var v int64
		switch {
		case b&0x80 == 0: // 0xxxxxxx: 7-bit unsigned
			v = int64(b)
		case b&0xC0 == 0x80: // 10xxxxxx: string up to 63 bytes
			strLen = int(b & 0x3f)
		case b&0xE0 == 0xC0: // 110xxxxx yyyyyyyy: 13-bit signed
			hdr = 2
		case b&0xF0 == 0xE0: // 1110xxxx yyyyyyyy: string up to 4095 bytes
			hdr = 2
		case b == 0xF0: // 11110000 + u32: longer string
			hdr = 5
		case b >= 0xF1 && b <= 0xF4: // int16, int24, int32, int64
			intSize = [...]int{2, 3, 4, 8}[b-0xF1]
		default:
			return blobErr(p, "listpack entry %d: unknown encoding 0x%02x", count, b)
		}
		if hdr > end-p {
			return blobErr(p, "listpack entry %d: truncated header", count)
		}
		switch {
		case b&0xE0 == 0xC0:
			u := int64(b&0x1f)<<8 | int64(lp[p+1])
			if u >= 1<<12 {
				u -= 1 << 13
			}
			v = u
		case b&0xF0 == 0xE0:
			strLen = int(b&0x0f)<<8 | int(lp[p+1])
		case b == 0xF0:
			strLen = int(binary.LittleEndian.Uint32(lp[p+1:]))
		}
		p += hdr
		if strLen >= 0 {
			if strLen > end-p {
				return blobErr(p, "listpack entry %d: %d-byte string passes the end", count, strLen)
			}
			p += strLen
		} else if intSize > 0 {
			if intSize > end-p {
				return blobErr(p, "listpack entry %d: truncated integer", count)
			}
			v = leInt(lp[p : p+intSize])
			p += intSize
		}
		size := p - start
		want := appendBacklen(bl[:0], size)
		if len(want) > end-p || string(lp[p:p+len(want)]) != string(want) {
			return blobErr(p, "listpack entry %d: bad backlen for a %d-byte entry", count, size)
		}
		if strLen >= 0 {
			add(string(lp[p-strLen : p]))
		} else {
			add(strconv.FormatInt(v, 10))
		}
		p += len(want)
		count++
	}
	if declared != 0xFFFF && declared != count {
		return blobErr(4, "listpack header says %d entries, found %d", declared, count)
	}
	return nil
}

// appendBacklen appends a listpack backlen for an entry of size bytes:
// 7 bits per byte, most significant first, every byte but the first with
// the high bit set, so a reader going backwards knows where it stops.
func appendBacklen(b []byte, size int) []byte {
	var n int
	switch {
	case size <= 127:
		n = 1
	case size < 16383:
		n = 2
	case size < 2097151:
		n = 3
	case size < 268435455:
		n = 4
	default:
		n = 5
	}
	for i := n - 1; i >= 0; i-- {
		c := byte(size>>(7*uint(i))) & 127
		if i < n-1 {
			c |= 128
		}
		b = append(b, c)
	}
	return b
}

// intsetEach validates the intset is (encoding u32 of 2, 4 or 8 bytes per
// value, count u32, sorted little-endian values) and calls add for each.
func intsetEach(is []byte, add func(string)) error {
	if len(is) < 8 {
		return blobErr(0, "intset of %d bytes is shorter than its header", len(is))
	}
	width := uint64(binary.LittleEndian.Uint32(is))
	count := uint64(binary.LittleEndian.Uint32(is[4:]))
	if width != 2 && width != 4 && width != 8 {
		return blobErr(0, "intset has unknown integer width %d", width)
	}
	if 8+count*width != uint64(len(is)) {
		return blobErr(4, "intset says %d values of %d bytes, the string has %d bytes", count, width, len(is))
	}
	w := int(width)
	var prev int64
	for i := 0; i < int(count); i++ {
		off := 8 + i*w
		v := leInt(is[off : off+w])
		if i > 0 && v <= prev {
			return blobErr(off, "intset values are not strictly increasing")
		}
		prev = v
		add(strconv.FormatInt(v, 10))
	}
	return nil
}

// zipmapEach validates the zipmap zm (a count byte, then key and value
// each with a length, values followed by unused "free" bytes, then 0xFF)
// and calls add for each field.
func zipmapEach(zm []byte, add func(field, value string)) error {
	if len(zm) < 2 {
		return blobErr(0, "zipmap of %d bytes is too short", len(zm))
	}
	end := len(zm) - 1
	if zm[end] != 0xFF {
		return blobErr(end, "zipmap does not end with 0xFF")
	}
	// zipmapLen reads a length: 1 byte below 254, or 254 and a u32.
	zipmapLen := func(p int) (int, int, error) {
		if zm[p] < 254 {
			return int(zm[p]), p + 1, nil
		}
		if zm[p] == 254 && p+5 <= end {
			return int(binary.LittleEndian.Uint32(zm[p+1:])), p + 5, nil
		}
		return 0, p, blobErr(p, "zipmap: bad length byte 0x%02x", zm[p])
	}
	p := 1
	for p < end {
		klen, q, err := zipmapLen(p)
		if err != nil {
			return err
		}
		if klen > end-q {
			return blobErr(q, "zipmap: %d-byte field passes the end", klen)
		}
		field := zm[q : q+klen]
		p = q + klen
		if p >= end {
			return blobErr(p, "zipmap: field %q has no value", field)
		}
		vlen, q, err := zipmapLen(p)
		if err != nil {
			return err
		}
		if q >= end {
			return blobErr(q, "zipmap: value of %q is truncated", field)
		}
		free := int(zm[q])
		q++
		if vlen > end-q || free > end-q-vlen {
			return blobErr(q, "zipmap: value of %q passes the end", field)
		}
		add(string(field), string(zm[q:q+vlen]))
		p = q + vlen + free
	}
	return nil
}
