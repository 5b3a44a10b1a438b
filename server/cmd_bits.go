package server

import (
	"encoding/binary"
	"math/bits"
)

// bitCommands returns the bitmap family's rows of the command table (Redis
// 7.0's arity, flags, key positions and summaries).
func bitCommands() []*Command {
	row := func(name string, arity int, flags Flag, summary, since string, h Handler) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: 1, LastKey: 1, Step: 1, Group: "bitmap",
			Summary: summary, Since: since, Handler: h}
	}
	bitop := row("bitop", -4, FlagWrite|FlagDenyOOM, "Perform bitwise operations between strings", "2.6.0", cmdBitop)
	bitop.FirstKey, bitop.LastKey = 2, -1
	return []*Command{
		row("setbit", 4, FlagWrite|FlagDenyOOM, "Sets or clears the bit at offset in the string value stored at key", "2.2.0", cmdSetbit),
		row("getbit", 3, FlagReadonly|FlagFast, "Returns the bit value at offset in the string value stored at key", "2.2.0", cmdGetbit),
		row("bitcount", -2, FlagReadonly, "Count set bits in a string", "2.6.0", cmdBitcount),
		row("bitpos", -3, FlagReadonly, "Find first bit set or clear in a string", "2.8.7", cmdBitpos),
		bitop,
	}
}

// bitOffset parses a SETBIT/GETBIT offset. Like Redis it is limited to
// proto-max-bulk-len bytes (except for the master's stream), so a single
// SETBIT cannot allocate more than any string could hold.
func (c *Client) bitOffset(arg []byte) (uint64, bool) {
	n, ok := parseInt(arg)
	if !ok || n < 0 || (!c.exemptFromLimits() && n>>3 >= c.s.cfg.protoMaxBulkLen.Load()) {
		c.replyError("ERR bit offset is not an integer or out of range")
		return 0, false
	}
	return uint64(n), true
}

func cmdSetbit(c *Client, args [][]byte) {
	key := args[1]
	off, ok := c.bitOffset(args[2])
	if !ok {
		return
	}
	on, ok := parseInt(args[3])
	if !ok || on&^1 != 0 {
		c.replyError("ERR bit is not an integer or out of range")
		return
	}
	byteIdx, mask := int(off>>3), byte(1)<<(7-off&7)
	cur, found, err := c.DB.StringForWrite(key)
	if err != nil {
		c.replyWrongType()
		return
	}
	if found && byteIdx < len(cur) && (cur[byteIdx]&mask != 0) == (on == 1) {
		// The bit already has that value: nothing changes, nothing is
		// propagated (Redis 7.0 does not count it as a write either).
		c.W.Int(on)
		c.Propagate()
		return
	}
	buf, _ := c.DB.StringBuffer(key, !found)
	*buf = growZero(*buf, byteIdx+1)
	old := (*buf)[byteIdx] & mask
	if on == 1 {
		(*buf)[byteIdx] |= mask
	} else {
		(*buf)[byteIdx] &^= mask
	}
	c.DB.Modified(key)
	if old != 0 {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}

func cmdGetbit(c *Client, args [][]byte) {
	off, ok := c.bitOffset(args[2])
	if !ok {
		return
	}
	v, _, ok := c.getString(args[1])
	if !ok {
		return
	}
	if byteIdx := off >> 3; byteIdx < uint64(len(v)) && v[byteIdx]&(1<<(7-off&7)) != 0 {
		c.W.Int(1)
		return
	}
	c.W.Int(0)
}

// bitRange converts BITCOUNT/BITPOS start and end (bytes, or bits when
// isBit) into an inclusive range of bit positions inside a string of n
// bytes, clamping like Redis. ok is false for an empty range.
func bitRange(start, end int64, isBit bool, n int64) (first, last int64, ok bool) {
	total := n
	if isBit {
		total <<= 3
	}
	start, end, ok = clampRange(start, end, total)
	if !ok {
		return 0, 0, false
	}
	if isBit {
		return start, end, true
	}
	return start << 3, end<<3 + 7, true
}

// clampRange resolves Redis's inclusive start/end indexes (negative ones
// count from the end) against a length, clamping like getrangeCommand and
// bitcountCommand do. ok is false for an empty range.
func clampRange(start, end, length int64) (int64, int64, bool) {
	if start < 0 {
		start += length
	}
	if end < 0 {
		end += length
	}
	start, end = max(start, 0), max(end, 0)
	if end >= length {
		end = length - 1
	}
	if start > end {
		return 0, 0, false
	}
	return start, end, true
}

// unitArg parses the optional BYTE|BIT argument.
func (c *Client) unitArg(args [][]byte, i int) (isBit, ok bool) {
	if i >= len(args) {
		return false, true
	}
	switch {
	case eqFold(args[i], "bit"):
		return true, true
	case eqFold(args[i], "byte"):
		return false, true
	}
	c.replyError(errSyntax)
	return false, false
}

func cmdBitcount(c *Client, args [][]byte) {
	// Redis 7.0 looks the key up before parsing the range: a missing key
	// answers 0 whatever the other arguments are.
	v, found, ok := c.getString(args[1])
	if !ok {
		return
	}
	if !found {
		c.W.Int(0)
		return
	}
	first, last := int64(0), int64(len(v))*8-1
	switch len(args) {
	case 2:
	case 4, 5:
		start, end, ok := c.rangeArgs(args[2], args[3])
		if !ok {
			return
		}
		if start < 0 && end < 0 && start > end {
			c.W.Int(0)
			return
		}
		isBit, ok := c.unitArg(args, 4)
		if !ok {
			return
		}
		if first, last, ok = bitRange(start, end, isBit, int64(len(v))); !ok {
			c.W.Int(0)
			return
		}
	default:
		c.replyError(errSyntax)
		return
	}
	if len(v) == 0 {
		c.W.Int(0)
		return
	}
	c.W.Int(countBits(v, first, last))
}

// countBits counts the set bits of p in the inclusive bit range
// [first, last].
func countBits(p []byte, first, last int64) int64 {
	fb, lb := first>>3, last>>3
	if fb == lb {
		return int64(bits.OnesCount8(p[fb] & (0xff >> (first & 7)) & (0xff << (7 - last&7))))
	}
	n := int64(bits.OnesCount8(p[fb]&(0xff>>(first&7)))) + int64(bits.OnesCount8(p[lb]&(0xff<<(7-last&7))))
	return n + popcount(p[fb+1:lb])
}

// popcount counts the set bits of p, eight bytes at a time.
func popcount(p []byte) int64 {
	var n int
	for len(p) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(p))
		p = p[8:]
	}
	for _, b := range p {
		n += bits.OnesCount8(b)
	}
	return int64(n)
}

func cmdBitpos(c *Client, args [][]byte) {
	bit, ok := parseInt(args[2])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	if bit != 0 && bit != 1 {
		c.replyError("ERR The bit argument must be 1 or 0.")
		return
	}
	v, found, ok := c.getString(args[1])
	if !ok {
		return
	}
	if !found {
		// A missing key is an endless run of zeros.
		if bit == 1 {
			c.W.Int(-1)
		} else {
			c.W.Int(0)
		}
		return
	}
	n := int64(len(v))
	first, last := int64(0), n*8-1
	endGiven := false
	switch len(args) {
	case 3:
	case 4, 5, 6:
		start, ok := parseInt(args[3])
		if !ok {
			c.replyError(errNotInteger)
			return
		}
		isBit, ok := c.unitArg(args, 5)
		if !ok {
			return
		}
		end := n - 1
		if isBit {
			end = n*8 - 1
		}
		if len(args) >= 5 {
			if end, ok = parseInt(args[4]); !ok {
				c.replyError(errNotInteger)
				return
			}
			endGiven = true
		}
		if first, last, ok = bitRange(start, end, isBit, n); !ok {
			c.W.Int(-1)
			return
		}
	default:
		c.replyError(errSyntax)
		return
	}
	if n == 0 {
		c.W.Int(-1)
		return
	}
	if pos := findBit(v, first, last, byte(bit)); pos >= 0 {
		c.W.Int(pos)
		return
	}
	// No match. Looking for a 0 without an explicit end, the string
	// counts as padded with zeros on the right: the first bit past the
	// range is the answer.
	if bit == 0 && !endGiven {
		c.W.Int(last + 1)
		return
	}
	c.W.Int(-1)
}

// findBit returns the position of the first bit equal to want in the
// inclusive bit range [first, last] of p, or -1.
func findBit(p []byte, first, last int64, want byte) int64 {
	skip := byte(0) // a byte that cannot contain a match
	if want == 0 {
		skip = 0xff
	}
	i := first
	for i <= last {
		if i&7 == 0 && i+63 <= last {
			w := binary.BigEndian.Uint64(p[i>>3:])
			if want == 0 {
				w = ^w
			}
			if w != 0 {
				return i + int64(bits.LeadingZeros64(w))
			}
			i += 64
			continue
		}
		if i&7 == 0 && i+7 <= last && p[i>>3] == skip {
			i += 8
			continue
		}
		if (p[i>>3]>>(7-i&7))&1 == want {
			return i
		}
		i++
	}
	return -1
}

// Bitwise operations of BITOP.
const (
	bitopAnd = iota
	bitopOr
	bitopXor
	bitopNot
)

func cmdBitop(c *Client, args [][]byte) {
	var op int
	switch opname := args[1]; {
	case eqFold(opname, "and"):
		op = bitopAnd
	case eqFold(opname, "or"):
		op = bitopOr
	case eqFold(opname, "xor"):
		op = bitopXor
	case eqFold(opname, "not"):
		op = bitopNot
	default:
		c.replyError(errSyntax)
		return
	}
	if op == bitopNot && len(args) != 4 {
		c.replyError("ERR BITOP NOT must be called with a single source key.")
		return
	}
	dest := args[2]
	srcs := make([][]byte, 0, len(args)-3)
	maxLen := 0
	for _, key := range args[3:] {
		v, _, ok := c.getString(key) // a missing key is an empty string
		if !ok {
			return
		}
		srcs = append(srcs, v)
		maxLen = max(maxLen, len(v))
	}
	if maxLen == 0 {
		// The result is empty: the destination is deleted, and only if it
		// existed is that a change worth propagating.
		if !c.DB.Delete(dest) {
			c.Propagate()
		}
		c.W.Int(0)
		return
	}
	// The sources alias stored values (dest may be one of them), so the
	// result goes to a fresh buffer that the keyspace then adopts.
	res := make([]byte, maxLen)
	bitopApply(op, res, srcs)
	c.DB.SetStringOwned(dest, res, false)
	c.W.Int(int64(maxLen))
}

// bitopApply computes op over srcs into res (len(res) is the longest
// source); shorter sources count as zero-padded, as in Redis.
func bitopApply(op int, res []byte, srcs [][]byte) {
	if op == bitopNot {
		s := srcs[0]
		i := 0
		for ; i+8 <= len(s); i += 8 {
			binary.LittleEndian.PutUint64(res[i:], ^binary.LittleEndian.Uint64(s[i:]))
		}
		for ; i < len(s); i++ {
			res[i] = ^s[i]
		}
		return
	}
	copy(res, srcs[0])
	for _, s := range srcs[1:] {
		if op == bitopAnd {
			clear(res[len(s):]) // x AND 0 = 0 past the end of s
		}
		i := 0
		for ; i+8 <= len(s); i += 8 {
			x, y := binary.LittleEndian.Uint64(res[i:]), binary.LittleEndian.Uint64(s[i:])
			switch op {
			case bitopAnd:
				x &= y
			case bitopOr:
				x |= y
			case bitopXor:
				x ^= y
			}
			binary.LittleEndian.PutUint64(res[i:], x)
		}
		for ; i < len(s); i++ {
			switch op {
			case bitopAnd:
				res[i] &= s[i]
			case bitopOr:
				res[i] |= s[i]
			case bitopXor:
				res[i] ^= s[i]
			}
		}
	}
}
