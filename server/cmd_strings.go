package server

import (
	"strconv"
)

// stringCommands returns the string family's rows of the command table.
// Arity, flags, key positions and summaries are Redis 7.0's.
func stringCommands() []*Command {
	const rw, ro = FlagWrite | FlagDenyOOM, FlagReadonly
	row := func(name string, arity int, flags Flag, summary, since string, h Handler) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: 1, LastKey: 1, Step: 1, Group: "string",
			Summary: summary, Since: since, Handler: h}
	}
	mget := row("mget", -2, ro|FlagFast, "Get the values of all the given keys", "1.0.0", cmdMget)
	mget.LastKey = -1
	mset := row("mset", -3, rw, "Set multiple keys to multiple values", "1.0.1", cmdMset)
	mset.LastKey, mset.Step = -1, 2
	msetnx := row("msetnx", -3, rw, "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1", cmdMsetnx)
	msetnx.LastKey, msetnx.Step = -1, 2
	lcs := row("lcs", -3, ro, "Find longest common substring", "7.0.0", cmdLcs)
	lcs.LastKey = 2
	return []*Command{
		row("get", 2, ro|FlagFast, "Get the value of a key", "1.0.0", cmdGet),
		row("set", -3, rw, "Set the string value of a key", "1.0.0", cmdSet),
		row("setnx", 3, rw|FlagFast, "Set the value of a key, only if the key does not exist", "1.0.0", cmdSetnx),
		row("setex", 4, rw, "Set the value and expiration of a key", "2.0.0", cmdSetex),
		row("psetex", 4, rw, "Set the value and expiration in milliseconds of a key", "2.6.0", cmdPsetex),
		mget, mset, msetnx,
		row("getset", 3, rw|FlagFast, "Set the string value of a key and return its old value", "1.0.0", cmdGetset),
		row("getdel", 2, FlagWrite|FlagFast, "Get the value of a key and delete the key", "6.2.0", cmdGetdel),
		row("getex", -2, FlagWrite|FlagFast, "Get the value of a key and optionally set its expiration", "6.2.0", cmdGetex),
		row("append", 3, rw|FlagFast, "Append a value to a key", "2.0.0", cmdAppend),
		row("strlen", 2, ro|FlagFast, "Get the length of the value stored in a key", "2.2.0", cmdStrlen),
		row("incr", 2, rw|FlagFast, "Increment the integer value of a key by one", "1.0.0", cmdIncr),
		row("decr", 2, rw|FlagFast, "Decrement the integer value of a key by one", "1.0.0", cmdDecr),
		row("incrby", 3, rw|FlagFast, "Increment the integer value of a key by the given amount", "1.0.0", cmdIncrby),
		row("decrby", 3, rw|FlagFast, "Decrement the integer value of a key by the given number", "1.0.0", cmdDecrby),
		row("incrbyfloat", 3, rw|FlagFast, "Increment the float value of a key by the given amount", "2.6.0", cmdIncrbyfloat),
		row("getrange", 4, ro, "Get a substring of the string stored at a key", "2.4.0", cmdGetrange),
		row("substr", 4, ro, "Get a substring of the string stored at a key", "1.0.0", cmdGetrange),
		row("setrange", 4, rw, "Overwrite part of a string at key starting at the specified offset", "2.2.0", cmdSetrange),
		lcs,
	}
}

// Shared objects of Redis's propagation rewrites (upper case, as Redis
// writes them to the AOF and replication stream).
var (
	argSET       = []byte("SET")
	argPXAT      = []byte("PXAT")
	argKEEPTTL   = []byte("KEEPTTL")
	argDEL       = []byte("DEL")
	argUNLINK    = []byte("UNLINK")
	argPEXPIREAT = []byte("PEXPIREAT")
	argPERSIST   = []byte("PERSIST")
)

// replyWrongType writes the WRONGTYPE error.
func (c *Client) replyWrongType() {
	c.replyError("WRONGTYPE Operation against a key holding the wrong kind of value")
}

// exemptFromLimits reports whether c is this server's master: like Redis,
// size limits are not applied to writes the master already accepted, so a
// replica can never refuse (and diverge on) a command its master ran.
func (c *Client) exemptFromLimits() bool { return c.flags.Load()&uint32(clientMaster) != 0 }

// checkStringLength refuses a string that would grow beyond
// proto-max-bulk-len (Redis's checkStringLength). size is computed by the
// caller without overflow; a negative size means "overflowed".
func (c *Client) checkStringLength(size int64) bool {
	if size >= 0 && (c.exemptFromLimits() || size <= c.s.cfg.protoMaxBulkLen.Load()) {
		return true
	}
	c.replyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	return false
}

// lazyDelArg returns the command Redis propagates for a deletion governed
// by a lazyfree directive: UNLINK when it is enabled, DEL otherwise.
func (c *Client) lazyDelArg(directive string) []byte {
	if v, ok := c.s.cfg.Get(directive); ok && v == "yes" {
		return argUNLINK
	}
	return argDEL
}

// eqFold reports whether b equals the lower-case ASCII word s, ignoring
// case, without allocating.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != s[i] {
			return false
		}
	}
	return true
}

// getString looks key up for reading and replies WRONGTYPE for a
// non-string; ok is false when a reply was written.
func (c *Client) getString(key []byte) (val []byte, found, ok bool) {
	v, found, err := c.DB.GetString(key)
	if err != nil {
		c.replyWrongType()
		return nil, false, false
	}
	return v, found, true
}

func cmdGet(c *Client, args [][]byte) {
	v, found, ok := c.getString(args[1])
	if !ok {
		return
	}
	if !found {
		c.W.Null()
		return
	}
	c.W.Bulk(v)
}

// strOpts are the options of SET and GETEX, parsed with the rules of
// Redis's parseExtendedStringArgumentsOrReply.
type strOpts struct {
	nx, xx, get, keepTTL, persist bool
	unit                          string // "ex", "px", "exat", "pxat"; "" for no expiry
	expire                        []byte // the expiry argument, validated later
}

// parseStrOpts parses args[from:]. forSet selects SET's options (NX XX GET
// KEEPTTL) rather than GETEX's (PERSIST). Like Redis, a repeated option is
// accepted (the last expiry wins) but conflicting ones are a syntax error.
func parseStrOpts(args [][]byte, from int, forSet bool) (strOpts, bool) {
	var o strOpts
	for j := from; j < len(args); j++ {
		a := args[j]
		hasNext := j+1 < len(args)
		switch {
		case eqFold(a, "nx") && forSet && !o.xx:
			o.nx = true
		case eqFold(a, "xx") && forSet && !o.nx:
			o.xx = true
		case eqFold(a, "get") && forSet:
			o.get = true
		case eqFold(a, "keepttl") && forSet && !o.persist && o.unit == "":
			o.keepTTL = true
		case eqFold(a, "persist") && !forSet && !o.keepTTL && o.unit == "":
			o.persist = true
		default:
			unit := ""
			for _, u := range [...]string{"ex", "px", "exat", "pxat"} {
				if eqFold(a, u) {
					unit = u
				}
			}
			if unit == "" || !hasNext || o.keepTTL || o.persist || (o.unit != "" && o.unit != unit) {
				return o, false
			}
			o.unit = unit
			o.expire = args[j+1]
			j++
		}
	}
	return o, true
}

// expireArg parses a relative or absolute expiry argument into absolute Unix
// milliseconds (Redis's getExpireMillisecondsOrReply). unit is "ex", "px",
// "exat" or "pxat".
func (c *Client) expireArg(unit string, arg []byte) (int64, bool) {
	n, ok := parseInt(arg)
	if !ok {
		c.replyError(errNotInteger)
		return 0, false
	}
	invalid := func() (int64, bool) {
		c.replyError("ERR invalid expire time in '" + c.cmd.FullName() + "' command")
		return 0, false
	}
	if n <= 0 {
		return invalid()
	}
	if unit == "ex" || unit == "exat" {
		if n > (1<<63-1)/1000 {
			return invalid()
		}
		n *= 1000
	}
	if unit == "ex" || unit == "px" {
		now := c.s.ks.NowMs()
		if n > 1<<63-1-now {
			return invalid()
		}
		n += now
	}
	return n, true
}

func cmdSet(c *Client, args [][]byte) {
	o, ok := parseStrOpts(args, 3, true)
	if !ok {
		c.replyError(errSyntax)
		return
	}
	c.setGeneric(args[1], args[2], o, false)
}

// setGeneric is Redis's setGenericCommand, shared by SET, SETNX, SETEX and
// PSETEX. intReply selects SETNX's :1/:0 replies instead of +OK/null.
func (c *Client) setGeneric(key, val []byte, o strOpts, intReply bool) {
	var expireAt int64
	if o.unit != "" {
		at, ok := c.expireArg(o.unit, o.expire)
		if !ok {
			return
		}
		expireAt = at
	}
	if o.get {
		old, found, ok := c.getString(key)
		if !ok {
			return
		}
		if found {
			c.W.Bulk(old)
		} else {
			c.W.Null()
		}
	}
	exists := c.DB.Exists(key) // also reclaims an expired key before KEEPTTL applies
	if (o.nx && exists) || (o.xx && !exists) {
		switch {
		case intReply:
			c.W.Int(0)
		case !o.get:
			c.W.Null()
		}
		// Nothing was set: a lazily expired key is propagated as DEL by the
		// keyspace, but the command itself must not be.
		c.Propagate()
		return
	}
	c.DB.SetString(key, val, o.keepTTL)
	if o.unit != "" {
		c.DB.SetExpire(key, expireAt)
		// A relative TTL would drift on a replica or an AOF replay.
		c.Propagate(argSET, key, val, argPXAT, strconv.AppendInt(nil, expireAt, 10))
	} else if o.get {
		// Propagate without GET: the reply is of no use downstream.
		argv := make([][]byte, 0, len(c.args))
		for j, a := range c.args {
			if j >= 3 && eqFold(a, "get") {
				continue
			}
			argv = append(argv, a)
		}
		c.Propagate(argv...)
	}
	switch {
	case intReply:
		c.W.Int(1)
	case !o.get:
		c.W.OK()
	}
}

func cmdSetnx(c *Client, args [][]byte) {
	c.setGeneric(args[1], args[2], strOpts{nx: true}, true)
}

func cmdSetex(c *Client, args [][]byte) {
	c.setGeneric(args[1], args[3], strOpts{unit: "ex", expire: args[2]}, false)
}

func cmdPsetex(c *Client, args [][]byte) {
	c.setGeneric(args[1], args[3], strOpts{unit: "px", expire: args[2]}, false)
}

func cmdMget(c *Client, args [][]byte) {
	c.W.Array(len(args) - 1)
	for _, key := range args[1:] {
		v, found, err := c.DB.GetString(key)
		if err != nil || !found {
			c.W.Null()
			continue
		}
		c.W.Bulk(v)
	}
}

func cmdMset(c *Client, args [][]byte) { c.msetGeneric(args, false) }

func cmdMsetnx(c *Client, args [][]byte) { c.msetGeneric(args, true) }

// msetGeneric is MSET and MSETNX. MSETNX sets nothing (and replies 0) if
// any of the keys exists.
func (c *Client) msetGeneric(args [][]byte, nx bool) {
	if len(args)%2 == 0 {
		c.replyError("ERR wrong number of arguments for '" + c.cmd.Name + "' command")
		return
	}
	if nx {
		for j := 1; j < len(args); j += 2 {
			if c.DB.Exists(args[j]) {
				c.W.Int(0)
				c.Propagate()
				return
			}
		}
	}
	for j := 1; j < len(args); j += 2 {
		c.DB.SetString(args[j], args[j+1], false)
	}
	if nx {
		c.W.Int(1)
	} else {
		c.W.OK()
	}
}

func cmdGetset(c *Client, args [][]byte) {
	key, val := args[1], args[2]
	old, found, ok := c.getString(key)
	if !ok {
		return
	}
	if found {
		c.W.Bulk(old)
	} else {
		c.W.Null()
	}
	c.DB.SetString(key, val, false)
	c.Propagate(argSET, key, val)
}

func cmdGetdel(c *Client, args [][]byte) {
	key := args[1]
	v, found, ok := c.getString(key)
	if !ok {
		return
	}
	if !found {
		c.W.Null()
		c.Propagate()
		return
	}
	c.W.Bulk(v) // copied into the reply before the value is dropped
	c.DB.Delete(key)
	c.Propagate(c.lazyDelArg("lazyfree-lazy-user-del"), key)
}

func cmdGetex(c *Client, args [][]byte) {
	key := args[1]
	o, ok := parseStrOpts(args, 2, false)
	if !ok {
		c.replyError(errSyntax)
		return
	}
	// GETEX itself is never propagated: only its effect, rewritten below.
	c.Propagate()
	v, found, ok := c.getString(key)
	if !ok {
		return
	}
	if !found {
		c.W.Null()
		return
	}
	var at int64
	if o.unit != "" {
		if at, ok = c.expireArg(o.unit, o.expire); !ok {
			return
		}
	}
	c.W.Bulk(v) // before the key may be deleted below
	switch {
	case (o.unit == "exat" || o.unit == "pxat") && at <= c.s.ks.NowMs() && !c.s.ks.ReplicaMode:
		// An absolute time already past deletes the key, as Redis does.
		c.DB.Delete(key)
		c.Propagate(c.lazyDelArg("lazyfree-lazy-expire"), key)
	case o.unit != "":
		c.DB.SetExpire(key, at)
		c.Propagate(argPEXPIREAT, key, strconv.AppendInt(nil, at, 10))
	case o.persist:
		if c.DB.Persist(key) {
			c.Propagate(argPERSIST, key)
		}
	}
}

func cmdAppend(c *Client, args [][]byte) {
	key, val := args[1], args[2]
	cur, found, err := c.DB.StringForWrite(key)
	if err != nil {
		c.replyWrongType()
		return
	}
	if found && !c.checkStringLength(int64(len(cur))+int64(len(val))) {
		return
	}
	// The in-place buffer keeps repeated appends amortized O(1).
	buf, _ := c.DB.StringBuffer(key, true)
	*buf = append(*buf, val...)
	c.DB.Modified(key)
	c.W.Int(int64(len(*buf)))
}

func cmdStrlen(c *Client, args [][]byte) {
	v, _, ok := c.getString(args[1])
	if ok {
		c.W.Int(int64(len(v)))
	}
}

// incrBy adds delta to the integer at key, with Redis's errors. The TTL is
// kept.
func (c *Client) incrBy(key []byte, delta int64) {
	v, found, err := c.DB.StringForWrite(key)
	if err != nil {
		c.replyWrongType()
		return
	}
	var cur int64
	if found {
		n, ok := parseInt(v)
		if !ok {
			c.replyError(errNotInteger)
			return
		}
		cur = n
	}
	if (delta > 0 && cur > 1<<63-1-delta) || (delta < 0 && cur < -1<<63-delta) {
		c.replyError(errOverflow)
		return
	}
	cur += delta
	var buf [24]byte
	c.DB.SetString(key, strconv.AppendInt(buf[:0], cur, 10), true)
	c.W.Int(cur)
}

func cmdIncr(c *Client, args [][]byte) { c.incrBy(args[1], 1) }

func cmdDecr(c *Client, args [][]byte) { c.incrBy(args[1], -1) }

func cmdIncrby(c *Client, args [][]byte) {
	n, ok := parseInt(args[2])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	c.incrBy(args[1], n)
}

func cmdDecrby(c *Client, args [][]byte) {
	n, ok := parseInt(args[2])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	if n == -1<<63 {
		// Negating the minimum would overflow.
		c.replyError("ERR decrement would overflow")
		return
	}
	c.incrBy(args[1], -n)
}

func cmdIncrbyfloat(c *Client, args [][]byte) {
	key := args[1]
	v, found, err := c.DB.StringForWrite(key)
	if err != nil {
		c.replyWrongType()
		return
	}
	if !found {
		v = []byte("0")
	}
	res, status := incrLongDouble(v, args[2])
	switch status {
	case ldInvalid:
		c.replyError(errNotFloat)
		return
	case ldNotFinite:
		c.replyError("ERR increment would produce NaN or Infinity")
		return
	}
	c.DB.SetString(key, res, true)
	c.W.Bulk(res)
	// Replicas and AOF replays get the exact result, never a re-computation
	// that could round differently.
	c.Propagate(argSET, key, res, argKEEPTTL)
}

// rangeArgs parses GETRANGE/BITCOUNT-style start and end arguments.
func (c *Client) rangeArgs(a, b []byte) (start, end int64, ok bool) {
	if start, ok = parseInt(a); !ok {
		c.replyError(errNotInteger)
		return 0, 0, false
	}
	if end, ok = parseInt(b); !ok {
		c.replyError(errNotInteger)
		return 0, 0, false
	}
	return start, end, true
}

func cmdGetrange(c *Client, args [][]byte) {
	start, end, ok := c.rangeArgs(args[2], args[3])
	if !ok {
		return
	}
	v, _, ok := c.getString(args[1])
	if !ok {
		return
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		c.W.Bulk(nil)
		return
	}
	start, end, ok = clampRange(start, end, n)
	if !ok {
		c.W.Bulk(nil)
		return
	}
	c.W.Bulk(v[start : end+1])
}

func cmdSetrange(c *Client, args [][]byte) {
	key, val := args[1], args[3]
	offset, ok := parseInt(args[2])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	if offset < 0 {
		c.replyError("ERR offset is out of range")
		return
	}
	cur, found, err := c.DB.StringForWrite(key)
	if err != nil {
		c.replyWrongType()
		return
	}
	if len(val) == 0 {
		// Setting nothing changes nothing, not even a missing key.
		c.W.Int(int64(len(cur)))
		c.Propagate()
		return
	}
	size := offset + int64(len(val)) // negative on overflow
	if !c.checkStringLength(size) {
		return
	}
	buf, _ := c.DB.StringBuffer(key, !found)
	*buf = growZero(*buf, int(size))
	copy((*buf)[offset:], val)
	c.DB.Modified(key)
	c.W.Int(int64(len(*buf)))
}

// growZero extends b to n bytes with zeros (never shrinks it). Growth goes
// through append, so repeated growth is amortized.
func growZero(b []byte, n int) []byte {
	if n <= len(b) {
		return b
	}
	if n <= cap(b) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	return append(b, make([]byte, n-len(b))...)
}

// lcsLimits are Redis's bounds on LCS inputs.
const lcsMaxLen = 1<<32 - 2

func cmdLcs(c *Client, args [][]byte) {
	a, _, errA := c.DB.GetString(args[1])
	b, _, errB := c.DB.GetString(args[2])
	if errA != nil || errB != nil {
		c.replyError("ERR The specified keys must contain string values")
		return
	}
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(args); j++ {
		switch opt := args[j]; {
		case eqFold(opt, "idx"):
			getIdx = true
		case eqFold(opt, "len"):
			getLen = true
		case eqFold(opt, "withmatchlen"):
			withMatchLen = true
		case eqFold(opt, "minmatchlen") && j+1 < len(args):
			n, ok := parseInt(args[j+1])
			if !ok {
				c.replyError(errNotInteger)
				return
			}
			minMatchLen = max(n, 0)
			j++
		default:
			c.replyError(errSyntax)
			return
		}
	}
	if getIdx && getLen {
		c.replyError("ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	if len(a) >= lcsMaxLen || len(b) >= lcsMaxLen {
		c.replyError("ERR String too long for LCS")
		return
	}
	// The dynamic-programming table is transient memory proportional to
	// the product of the lengths; Redis bounds it by proto-max-bulk-len.
	cells := uint64(len(a)+1) * uint64(len(b)+1)
	if cells*4 > uint64(c.s.cfg.protoMaxBulkLen.Load()) {
		c.replyError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	lcsReply(c, a, b, getLen, getIdx, withMatchLen, minMatchLen)
}

// lcsReply computes the longest common subsequence of a and b with the
// classic O(len(a)*len(b)) table and writes the reply LCS's options ask
// for. Ranges are emitted from the end of the strings backwards, as Redis
// does.
func lcsReply(c *Client, a, b []byte, getLen, getIdx, withMatchLen bool, minMatchLen int64) {
	alen, blen := len(a), len(b)
	w := blen + 1
	tbl := make([]uint32, (alen+1)*w) // tbl[i*w+j] = LCS length of a[:i], b[:j]
	for i := 1; i <= alen; i++ {
		row, prev := tbl[i*w:(i+1)*w], tbl[(i-1)*w:i*w]
		ai := a[i-1]
		for j := 1; j <= blen; j++ {
			if ai == b[j-1] {
				row[j] = prev[j-1] + 1
			} else {
				row[j] = max(prev[j], row[j-1])
			}
		}
	}
	total := tbl[alen*w+blen]
	if getLen {
		c.W.Int(int64(total))
		return
	}
	result := make([]byte, total)
	type match struct{ aStart, aEnd, bStart, bEnd int }
	var matches []match
	idx := total
	cur := match{aStart: -1}
	emit := func() {
		if n := int64(cur.aEnd - cur.aStart + 1); minMatchLen == 0 || n >= minMatchLen {
			matches = append(matches, cur)
		}
		cur.aStart = -1
	}
	for i, j := alen, blen; i > 0 && j > 0; {
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			idx--
			if cur.aStart == -1 {
				cur = match{i - 1, i - 1, j - 1, j - 1}
			} else {
				// Walking backwards, a match right after a match extends
				// the current range.
				cur.aStart, cur.bStart = i-1, j-1
			}
			i--
			j--
			if cur.aStart == 0 || cur.bStart == 0 {
				emit()
			}
			continue
		}
		if tbl[(i-1)*w+j] > tbl[i*w+j-1] {
			i--
		} else {
			j--
		}
		if cur.aStart != -1 {
			emit()
		}
	}
	if !getIdx {
		c.W.Bulk(result)
		return
	}
	c.W.Map(2)
	c.W.BulkString("matches")
	c.W.Array(len(matches))
	for _, m := range matches {
		if withMatchLen {
			c.W.Array(3)
		} else {
			c.W.Array(2)
		}
		c.W.Array(2)
		c.W.Int(int64(m.aStart))
		c.W.Int(int64(m.aEnd))
		c.W.Array(2)
		c.W.Int(int64(m.bStart))
		c.W.Int(int64(m.bEnd))
		if withMatchLen {
			c.W.Int(int64(m.aEnd - m.aStart + 1))
		}
	}
	c.W.BulkString("len")
	c.W.Int(int64(total))
}
