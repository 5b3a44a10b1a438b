package server

import (
	"bytes"
	"math"
	"math/big"
	"strconv"

	"github.com/thredis/thredis/glob"
	"github.com/thredis/thredis/keyspace"
)

// Error texts specific to the hash commands (Redis 7.0's wording).
const (
	errHashNotInteger  = "ERR hash value is not an integer"
	errHashNotFloat    = "ERR hash value is not a float"
	errIncrNaNOrInf    = "ERR value is NaN or Infinity"
	errIncrMakesNaNInf = "ERR increment would produce NaN or Infinity"
	errInvalidCursor   = "ERR invalid cursor"
	errRandCountRange  = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
	errRandCountValues = "ERR value is out of range"
)

// maxUnboundedReply caps a reply whose size the client chose (HRANDFIELD
// with a huge negative count) when no client output buffer limit is
// configured: Redis would buffer it until memory ran out; we drop the
// client instead, as an output buffer limit would.
const maxUnboundedReply = 1 << 30

// hashCommands returns the hash command family's rows of the command table.
func hashCommands() []*Command {
	const (
		w    = FlagWrite | FlagDenyOOM | FlagFast | FlagGuardSQL
		ro   = FlagReadonly | FlagFast
		slow = FlagReadonly
	)
	row := func(name string, arity int, flags Flag, since, summary string, h Handler) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: 1, LastKey: 1, Step: 1,
			Group: "hash", Summary: summary, Since: since, Handler: h}
	}
	return []*Command{
		row("hset", -4, w, "2.0.0", "Set the string value of a hash field", cmdHset),
		row("hmset", -4, w, "2.0.0", "Set multiple hash fields to multiple values", cmdHmset),
		row("hsetnx", 4, w, "2.0.0", "Set the value of a hash field, only if the field does not exist", cmdHsetnx),
		row("hget", 3, ro, "2.0.0", "Get the value of a hash field", cmdHget),
		row("hmget", -3, ro, "2.0.0", "Get the values of all the given hash fields", cmdHmget),
		row("hdel", -3, FlagWrite|FlagFast|FlagGuardSQL, "2.0.0", "Delete one or more hash fields", cmdHdel),
		row("hexists", 3, ro, "2.0.0", "Determine if a hash field exists", cmdHexists),
		row("hlen", 2, ro, "2.0.0", "Get the number of fields in a hash", cmdHlen),
		row("hstrlen", 3, ro, "3.2.0", "Get the length of the value of a hash field", cmdHstrlen),
		row("hkeys", 2, slow, "2.0.0", "Get all the fields in a hash", cmdHkeys),
		row("hvals", 2, slow, "2.0.0", "Get all the values in a hash", cmdHvals),
		row("hgetall", 2, slow, "2.0.0", "Get all the fields and values in a hash", cmdHgetall),
		row("hincrby", 4, w, "2.0.0", "Increment the integer value of a hash field by the given number", cmdHincrby),
		row("hincrbyfloat", 4, w, "2.6.0", "Increment the float value of a hash field by the given amount", cmdHincrbyfloat),
		row("hrandfield", -2, slow, "6.2.0", "Get one or multiple random fields from a hash", cmdHrandfield),
		row("hscan", -3, slow, "2.8.0", "Incrementally iterate hash fields and associated values", cmdHscan),
	}
}

// readHash returns the hash at key for a read command. It replies
// WRONGTYPE itself and reports ok=false in that case; a missing key is
// (nil, true).
func (c *Client) readHash(key []byte) (*keyspace.Hash, bool) {
	h, err := c.DB.Hash(key)
	if err != nil {
		c.replyWrongType()
		return nil, false
	}
	return h, true
}

// writeHash is readHash for write commands (no hit/miss accounting; a
// missing key is created empty when create is set).
func (c *Client) writeHash(key []byte, create bool) (*keyspace.Hash, bool) {
	h, err := c.DB.HashForWrite(key, create)
	if err != nil {
		c.replyWrongType()
		return nil, false
	}
	return h, true
}

// hashChanged records n changes to key, as Redis's server.dirty counts one
// per field written or deleted (which is what save policies and
// INFO's rdb_changes_since_last_save see); Modified counts the first and
// invalidates WATCH.
func (c *Client) hashChanged(key []byte, n int) {
	c.DB.Modified(key)
	if n > 1 {
		c.s.ks.Dirty += uint64(n - 1)
	}
}

// setPairs stores args' field/value pairs (from args[2]) in the hash at
// args[1] and returns how many fields were new; ok is false after an error
// reply.
func (c *Client) setPairs(args [][]byte) (created int64, ok bool) {
	if len(args)%2 == 1 {
		// Redis reports an odd field/value count as an arity error, named
		// after the command actually called (hset or hmset).
		c.replyError("ERR wrong number of arguments for '" + c.cmd.Name + "' command")
		return 0, false
	}
	h, ok := c.writeHash(args[1], true)
	if !ok {
		return 0, false
	}
	for i := 2; i < len(args); i += 2 {
		if h.Set(args[i], args[i+1]) {
			created++
		}
	}
	c.hashChanged(args[1], (len(args)-2)/2)
	return created, true
}

func cmdHset(c *Client, args [][]byte) {
	if n, ok := c.setPairs(args); ok {
		c.W.Int(n)
	}
}

func cmdHmset(c *Client, args [][]byte) {
	if _, ok := c.setPairs(args); ok {
		c.W.OK()
	}
}

func cmdHsetnx(c *Client, args [][]byte) {
	h, ok := c.writeHash(args[1], true)
	if !ok {
		return
	}
	if h.Exists(args[2]) {
		c.W.Int(0)
		return
	}
	h.Set(args[2], args[3])
	c.hashChanged(args[1], 1)
	c.W.Int(1)
}

func cmdHget(c *Client, args [][]byte) {
	h, ok := c.readHash(args[1])
	if !ok {
		return
	}
	if h != nil {
		if v, found := h.Get(args[2]); found {
			c.W.Bulk(v)
			return
		}
	}
	c.W.Null()
}

func cmdHmget(c *Client, args [][]byte) {
	h, ok := c.readHash(args[1])
	if !ok {
		return
	}
	c.W.Array(len(args) - 2)
	for _, f := range args[2:] {
		if h != nil {
			if v, found := h.Get(f); found {
				c.W.Bulk(v)
				continue
			}
		}
		c.W.Null()
	}
}

func cmdHdel(c *Client, args [][]byte) {
	h, ok := c.writeHash(args[1], false)
	if !ok {
		return
	}
	deleted := 0
	if h != nil {
		for _, f := range args[2:] {
			if h.Delete(f) {
				deleted++
				if h.Len() == 0 {
					break
				}
			}
		}
	}
	if deleted > 0 {
		// Dirty only moves when something was removed, so an HDEL of
		// absent fields is not propagated.
		c.hashChanged(args[1], deleted)
		c.DB.DeleteIfEmpty(args[1])
	}
	c.W.Int(int64(deleted))
}

func cmdHexists(c *Client, args [][]byte) {
	h, ok := c.readHash(args[1])
	if !ok {
		return
	}
	if h != nil && h.Exists(args[2]) {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}

func cmdHlen(c *Client, args [][]byte) {
	h, ok := c.readHash(args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(h.Len()))
}

func cmdHstrlen(c *Client, args [][]byte) {
	h, ok := c.readHash(args[1])
	if !ok {
		return
	}
	if h != nil {
		if v, found := h.Get(args[2]); found {
			c.W.Int(int64(len(v)))
			return
		}
	}
	c.W.Int(0)
}

func cmdHkeys(c *Client, args [][]byte)   { c.getAll(args[1], true, false) }
func cmdHvals(c *Client, args [][]byte)   { c.getAll(args[1], false, true) }
func cmdHgetall(c *Client, args [][]byte) { c.getAll(args[1], true, true) }

// getAll replies with a hash's fields, values or both (HKEYS, HVALS,
// HGETALL). Both together are a map in RESP3, like Redis; a flat array
// otherwise.
func (c *Client) getAll(key []byte, fields, vals bool) {
	h, ok := c.readHash(key)
	if !ok {
		return
	}
	n := 0
	if h != nil {
		n = h.Len()
	}
	if fields && vals {
		c.W.Map(n)
	} else {
		c.W.Array(n)
	}
	if h == nil {
		return
	}
	h.Range(func(f, v string) bool {
		if fields {
			c.W.BulkString(f)
		}
		if vals {
			c.W.BulkString(v)
		}
		return true
	})
}

func cmdHincrby(c *Client, args [][]byte) {
	incr, ok := parseInt(args[3])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	h, ok := c.writeHash(args[1], true)
	if !ok {
		return
	}
	var cur int64
	if v, found := h.Get(args[2]); found {
		if cur, ok = parseInt(v); !ok {
			c.replyError(errHashNotInteger)
			return
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		c.replyError(errOverflow)
		c.DB.DeleteIfEmpty(args[1]) // do not leave a hash created just now behind
		return
	}
	cur += incr
	var buf [24]byte
	h.Set(args[2], strconv.AppendInt(buf[:0], cur, 10))
	c.hashChanged(args[1], 1)
	c.W.Int(cur)
}

// cmdHincrbyfloat adds in long double precision like Redis (see
// longdouble.go) and propagates the result as HSET key field value, so a
// replica or an AOF replay stores the very same string whatever its own
// floating point would have produced.
func cmdHincrbyfloat(c *Client, args [][]byte) {
	incr, ok := parseLongDouble(args[3])
	if !ok {
		c.replyError(errNotFloat)
		return
	}
	if incr.IsInf() {
		c.replyError(errIncrNaNOrInf)
		return
	}
	h, ok := c.writeHash(args[1], true)
	if !ok {
		return
	}
	cur := new(big.Float).SetPrec(ldPrec)
	if v, found := h.Get(args[2]); found {
		if cur, ok = parseLongDouble(v); !ok {
			c.replyError(errHashNotFloat)
			return
		}
	}
	sum := new(big.Float).SetPrec(ldPrec)
	if !cur.IsInf() {
		sum.Add(cur, incr)
	}
	if cur.IsInf() || (sum.Sign() != 0 && sum.MantExp(nil) > ldMaxExp) {
		c.replyError(errIncrMakesNaNInf)
		c.DB.DeleteIfEmpty(args[1])
		return
	}
	out := formatLongDouble(sum)
	h.Set(args[2], out)
	c.hashChanged(args[1], 1)
	c.W.Bulk(out)
	c.Propagate([]byte("HSET"), args[1], args[2], out)
}

func cmdHrandfield(c *Client, args [][]byte) {
	if len(args) >= 3 {
		count, ok := parseInt(args[2])
		if !ok {
			c.replyError(errNotInteger)
			return
		}
		if count == math.MinInt64 {
			// Redis takes the count as a long in [-LONG_MAX, LONG_MAX].
			c.replyError(errRandCountRange)
			return
		}
		if len(args) > 4 || (len(args) == 4 && !bytes.EqualFold(args[3], []byte("withvalues"))) {
			c.replyError(errSyntax)
			return
		}
		withValues := len(args) == 4
		if withValues && (count < -math.MaxInt64/2 || count > math.MaxInt64/2) {
			// Two replies per element must not overflow the count.
			c.replyError(errRandCountValues)
			return
		}
		c.randFields(args[1], count, withValues)
		return
	}
	h, ok := c.readHash(args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.Null()
		return
	}
	f, _, _ := h.Random()
	c.W.BulkString(f)
}

// randFields is HRANDFIELD with a count: a positive count asks for that
// many distinct fields (all of them if the hash is smaller), a negative one
// for that many independent draws, repeats allowed. With values, RESP3
// gets each pair as a two-element array, RESP2 a flat array.
func (c *Client) randFields(key []byte, count int64, withValues bool) {
	h, ok := c.readHash(key)
	if !ok {
		return
	}
	if h == nil || count == 0 {
		c.W.Array(0) // an empty array in RESP3 too, as in Redis
		return
	}
	pairs := withValues && c.W.RESP3()
	header := func(n int) {
		if withValues && !pairs {
			c.W.Array(2 * n)
		} else {
			c.W.Array(n)
		}
	}
	emit := func(f, v string) {
		if pairs {
			c.W.Array(2)
		}
		c.W.BulkString(f)
		if withValues {
			c.W.BulkString(v)
		}
	}
	size := h.Len()
	if count < 0 || count == 1 {
		n := count
		if n < 0 {
			n = -n
		}
		start := c.W.Len()
		header(int(n))
		limit := c.s.cfg.outputHardLimit.Load()
		if limit <= 0 {
			limit = maxUnboundedReply
		}
		for i := int64(0); i < n; i++ {
			f, v, _ := h.Random()
			emit(f, v)
			if i&1023 == 1023 && int64(c.W.Len()-start) > limit {
				c.s.log.Warn("closing client whose HRANDFIELD reply exceeded the output buffer limit",
					"id", c.ID, "count", count, "limit", limit)
				c.W.Truncate(start)
				c.closing = true
				return
			}
		}
		return
	}
	if count >= int64(size) {
		header(size)
		h.Range(func(f, v string) bool {
			emit(f, v)
			return true
		})
		return
	}
	fields, vals := h.RandomDistinct(int(count))
	header(len(fields))
	for i := range fields {
		emit(fields[i], vals[i])
	}
}

func cmdHscan(c *Client, args [][]byte) {
	cursor, ok := parseScanCursor(args[2])
	if !ok {
		c.replyError(errInvalidCursor)
		return
	}
	h, ok := c.readHash(args[1])
	if !ok {
		return
	}
	if h == nil {
		// Redis answers a missing key before looking at the options.
		c.W.Array(2)
		c.W.BulkString("0")
		c.W.Array(0)
		return
	}
	count, pattern, _, ok := c.scanOptions(args, 3, false)
	if !ok {
		return
	}
	// found holds field, value, field, value, ...
	var found []string
	collect := func(f, v string) { found = append(found, f, v) }
	if h.Compact() {
		// Redis keeps a small hash as one listpack and returns it whole
		// in a single step, whatever the cursor and COUNT.
		h.Range(func(f, v string) bool {
			collect(f, v)
			return true
		})
		cursor = 0
	} else {
		// As in Redis, COUNT is compared with fields and values together,
		// and a sparse table is walked for at most 10*COUNT buckets.
		maxIter := int64(math.MaxInt64)
		if count <= math.MaxInt64/10 {
			maxIter = count * 10
		}
		for {
			cursor = h.Scan(cursor, collect)
			if cursor == 0 || maxIter == 0 || int64(len(found)) >= count {
				break
			}
			maxIter--
		}
	}
	if pattern != nil {
		kept := found[:0]
		for i := 0; i < len(found); i += 2 {
			if glob.Match(pattern, []byte(found[i]), false) {
				kept = append(kept, found[i], found[i+1])
			}
		}
		found = kept
	}
	c.W.Array(2)
	var buf [20]byte
	c.W.Bulk(strconv.AppendUint(buf[:0], cursor, 10))
	c.W.Array(len(found))
	for _, s := range found {
		c.W.BulkString(s)
	}
}
