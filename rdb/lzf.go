package rdb

import (
	"errors"
	"fmt"
)

// LZF, the compression Redis uses for strings in RDB files (rdbcompression).
// The stream is a sequence of items, each starting with a control byte c:
//
//	c < 32:  a literal run; the next c+1 bytes are copied to the output.
//	c >= 32: a back-reference of length (c>>5)+2, or when c>>5 == 7 of
//	         length 7+next+2 (so 3..264); the offset byte(s) follow:
//	         distance = (c&0x1f)<<8 + next + 1 (so 1..8192) bytes back from
//	         the current output position. Source and destination may
//	         overlap, which is how runs of one byte compress.

const (
	lzfMaxLit  = 32          // longest literal run
	lzfMaxRef  = 7 + 255 + 2 // longest back-reference
	lzfMaxDist = 1 << 13     // farthest back-reference
	lzfHashLog = 14          // log2 of the match table size

	// lzfMaxRatio bounds how many output bytes one input byte can yield:
	// a 3-byte back-reference expands to 264 bytes. The Reader refuses an
	// uncompressed length above clen*lzfMaxRatio before allocating, so a
	// forged length cannot make it allocate much more than it has read.
	lzfMaxRatio = lzfMaxRef / 3
)

// lzfTable remembers, per hash of 3 bytes, the last input position that
// started with them. It is reused across calls without clearing: every
// candidate is verified against the input before use, so stale entries
// only cost a missed match.
type lzfTable [1 << lzfHashLog]int32

// lzfCompress compresses in into out and returns the compressed length, or 0
// when the result does not fit in len(out) (the caller then stores the
// string raw, as Redis does). Matching is greedy: at each position the last
// earlier position with the same 3 bytes is tried. Literals are copied out
// in runs when a match (or the end) closes them, and the loop gives up as
// soon as the pending literals alone cannot fit, so incompressible input
// costs one pass at most.
func lzfCompress(in, out []byte, tab *lzfTable) int {
	n := len(in)
	if n == 0 || n > 1<<31-1 { // positions are stored as int32
		return 0
	}
	op, lit, ip := 0, 0, 0 // in[lit:ip] are literals not yet written
	litMax := literalRoom(len(out))
	literals := func(p []byte) bool {
		for len(p) > 0 {
			k := min(len(p), lzfMaxLit)
			if op+1+k > len(out) {
				return false
			}
			out[op] = byte(k - 1)
			copy(out[op+1:], p[:k])
			op += 1 + k
			p = p[k:]
		}
		return true
	}
	for ip+2 < n {
		v := uint32(in[ip])<<16 | uint32(in[ip+1])<<8 | uint32(in[ip+2])
		h := (v * 2654435761) >> (32 - lzfHashLog)
		ref := int(tab[h])
		tab[h] = int32(ip)
		if ref < 0 || ref >= ip || ip-ref > lzfMaxDist ||
			in[ref] != in[ip] || in[ref+1] != in[ip+1] || in[ref+2] != in[ip+2] {
			ip++
			if ip-lit > litMax {
				return 0
			}
			continue
		}
		l := 3
		maxl := min(n-ip, lzfMaxRef)
		for l < maxl && in[ref+l] == in[ip+l] {
			l++
		}
		if !literals(in[lit:ip]) {
			return 0
		}
		dist := ip - ref - 1
		if l-2 < 7 {
			if op+2 > len(out) {
				return 0
			}
			out[op] = byte((l-2)<<5 | dist>>8)
			out[op+1] = byte(dist)
			op += 2
		} else {
			if op+3 > len(out) {
				return 0
			}
			out[op] = byte(7<<5 | dist>>8)
			out[op+1] = byte(l - 2 - 7)
			out[op+2] = byte(dist)
			op += 3
		}
		ip += l
		lit = ip
		litMax = literalRoom(len(out) - op)
		// Index the last positions of the match too, so a repeat that
		// starts inside it can still be found.
		for p := ip - 2; p < ip && p+2 < n; p++ {
			w := uint32(in[p])<<16 | uint32(in[p+1])<<8 | uint32(in[p+2])
			tab[(w*2654435761)>>(32-lzfHashLog)] = int32(p)
		}
	}
	if !literals(in[lit:]) {
		return 0
	}
	return op
}

// literalRoom returns how many literal bytes fit in room bytes of output,
// where each run of up to lzfMaxLit bytes needs a control byte.
func literalRoom(room int) int {
	if room <= 0 {
		return 0
	}
	need := func(k int) int { return k + (k+lzfMaxLit-1)/lzfMaxLit }
	k := room - (room+lzfMaxLit)/(lzfMaxLit+1)
	for need(k+1) <= room {
		k++
	}
	for k > 0 && need(k) > room {
		k--
	}
	return k
}

var errLZFOverflow = errors.New("lzf: data decompresses to more than the declared length")

// lzfDecompress decompresses in into out, which must be exactly the
// declared uncompressed length, and fails unless it is filled exactly.
// Every literal length, back-reference distance and output bound is checked,
// so corrupt input yields an error, never a panic or an out-of-range copy.
func lzfDecompress(in, out []byte) error {
	ip, op := 0, 0
	for ip < len(in) {
		c := int(in[ip])
		ip++
		if c < lzfMaxLit {
			n := c + 1
			if ip+n > len(in) {
				return fmt.Errorf("lzf: literal run of %d bytes at input offset %d passes the end of the %d-byte input", n, ip-1, len(in))
			}
			if op+n > len(out) {
				return errLZFOverflow
			}
			copy(out[op:], in[ip:ip+n])
			ip += n
			op += n
			continue
		}
		n := c >> 5
		if n == 7 {
			if ip >= len(in) {
				return fmt.Errorf("lzf: back-reference at input offset %d is truncated", ip-1)
			}
			n += int(in[ip])
			ip++
		}
		n += 2
		if ip >= len(in) {
			return fmt.Errorf("lzf: back-reference at input offset %d is truncated", ip-1)
		}
		ref := op - (c&0x1f)<<8 - int(in[ip]) - 1
		ip++
		if ref < 0 {
			return fmt.Errorf("lzf: back-reference before the start of the output (distance %d at output offset %d)", op-ref, op)
		}
		if op+n > len(out) {
			return errLZFOverflow
		}
		// The source may overlap the bytes being written (a distance
		// shorter than the length repeats a pattern: distance 1 is a run
		// of one byte). Copying what exists so far, the pattern doubles
		// each round, which gives the byte-by-byte result in few copies.
		for done := 0; done < n; {
			done += copy(out[op+done:op+n], out[ref:op+done])
		}
		op += n
	}
	if op != len(out) {
		return fmt.Errorf("lzf: data decompresses to %d bytes, declared %d", op, len(out))
	}
	return nil
}
