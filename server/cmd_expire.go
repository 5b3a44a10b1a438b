package server

import (
	"math"
	"strconv"

	"github.com/thredis/thredis/keyspace"
)

// Error texts of the expire commands (Redis 7.0's wording).
const (
	errExpireNXCombo = "ERR NX and XX, GT or LT options at the same time are not compatible"
	errExpireGTLT    = "ERR GT and LT options at the same time are not compatible"
)

// expireCommands returns the expire command family's rows of the command
// table. Arity, flags, key positions and summaries are Redis 7.0's.
func expireCommands() []*Command {
	row := func(name string, arity int, flags Flag, summary, since string, h Handler) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: 1, LastKey: 1, Step: 1, Group: "generic",
			Summary: summary, Since: since, Handler: h}
	}
	const w, ro = FlagWrite | FlagFast, FlagReadonly | FlagFast
	return []*Command{
		row("expire", -3, w|FlagGuardSQL, "Set a key's time to live in seconds", "1.0.0", cmdExpire),
		row("pexpire", -3, w|FlagGuardSQL, "Set a key's time to live in milliseconds", "2.6.0", cmdPexpire),
		row("expireat", -3, w|FlagGuardSQL, "Set the expiration for a key as a UNIX timestamp", "1.2.0", cmdExpireat),
		row("pexpireat", -3, w|FlagGuardSQL, "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0", cmdPexpireat),
		row("ttl", 2, ro, "Get the time to live for a key in seconds", "1.0.0", cmdTTL),
		row("pttl", 2, ro, "Get the time to live for a key in milliseconds", "2.6.0", cmdPTTL),
		row("expiretime", 2, ro, "Get the expiration Unix timestamp for a key", "7.0.0", cmdExpiretime),
		row("pexpiretime", 2, ro, "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", cmdPexpiretime),
		row("persist", 2, w, "Remove the expiration from a key", "2.2.0", cmdPersist),
	}
}

func cmdExpire(c *Client, args [][]byte)    { expireGeneric(c, args, c.s.ks.NowMs(), true) }
func cmdPexpire(c *Client, args [][]byte)   { expireGeneric(c, args, c.s.ks.NowMs(), false) }
func cmdExpireat(c *Client, args [][]byte)  { expireGeneric(c, args, 0, true) }
func cmdPexpireat(c *Client, args [][]byte) { expireGeneric(c, args, 0, false) }

// Expire condition flags (EXPIRE ... NX|XX|GT|LT).
const (
	expireNX = 1 << iota
	expireXX
	expireGT
	expireLT
)

// parseExpireFlags parses the options after EXPIRE's time; it replies and
// returns false on error. Every option is read before the compatibility
// checks, as in Redis.
func parseExpireFlags(c *Client, opts [][]byte) (int, bool) {
	flags := 0
	for _, o := range opts {
		switch {
		case eqFold(o, "nx"):
			flags |= expireNX
		case eqFold(o, "xx"):
			flags |= expireXX
		case eqFold(o, "gt"):
			flags |= expireGT
		case eqFold(o, "lt"):
			flags |= expireLT
		default:
			c.replyError("ERR Unsupported option " + string(o))
			return 0, false
		}
	}
	if flags&expireNX != 0 && flags&(expireXX|expireGT|expireLT) != 0 {
		c.replyError(errExpireNXCombo)
		return 0, false
	}
	if flags&expireGT != 0 && flags&expireLT != 0 {
		c.replyError(errExpireGTLT)
		return 0, false
	}
	return flags, true
}

// expireGeneric is Redis 7.0's expireGenericCommand. base is the time a
// relative argument counts from (0 for the absolute forms) and seconds
// selects the unit. The effect is propagated as PEXPIREAT with an absolute
// time (the options kept, as Redis does), or as DEL when the time has
// already passed, so a replica or an AOF replay can never diverge.
func expireGeneric(c *Client, args [][]byte, base int64, seconds bool) {
	key := args[1]
	flags, ok := parseExpireFlags(c, args[3:])
	if !ok {
		return
	}
	when, ok := parseInt(args[2])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	invalid := func() { c.replyError("ERR invalid expire time in '" + c.cmd.FullName() + "' command") }
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			invalid()
			return
		}
		when *= 1000
	}
	if when > math.MaxInt64-base {
		invalid()
		return
	}
	when += base

	// Only the rewrites below are propagated; a call that changes nothing
	// (but may have reclaimed an expired key, which propagates its own
	// DEL) is not.
	c.Propagate()
	cur := c.DB.ExpireTime(key, 0)
	if cur == -2 {
		c.W.Int(0)
		return
	}
	// A key without a TTL counts as an infinite one for GT and LT.
	if (flags&expireNX != 0 && cur != -1) ||
		(flags&expireXX != 0 && cur == -1) ||
		(flags&expireGT != 0 && (cur == -1 || when <= cur)) ||
		(flags&expireLT != 0 && cur != -1 && when >= cur) {
		c.W.Int(0)
		return
	}
	if when <= c.s.ks.NowMs() && !c.s.ks.ReplicaMode {
		// A time already past deletes the key at once. A replica keeps it
		// and waits for its master's DEL instead.
		c.DB.Delete(key)
		c.Propagate(c.lazyDelArg("lazyfree-lazy-expire"), key)
		c.W.Int(1)
		return
	}
	c.DB.SetExpire(key, when)
	argv := make([][]byte, 0, len(args))
	argv = append(argv, argPEXPIREAT, key, strconv.AppendInt(nil, when, 10))
	if base == 0 && !seconds {
		// PEXPIREAT itself is propagated as sent, like Redis does.
		argv = append(argv[:0], args[:3]...)
	}
	argv = append(argv, args[3:]...)
	c.Propagate(argv...)
	c.W.Int(1)
}

// ttlGeneric serves TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a
// missing key, -1 for one without a TTL, else the remaining (or absolute,
// with abs) time, rounded to the nearest second unless ms.
func ttlGeneric(c *Client, args [][]byte, ms, abs bool) {
	when := c.DB.ExpireTime(args[1], keyspace.LookupRead|keyspace.LookupNoTouch)
	if when < 0 {
		c.W.Int(when)
		return
	}
	t := when
	if !abs {
		t -= c.s.ks.NowMs()
		if t < 0 {
			t = 0
		}
	}
	if !ms {
		// Unsigned, so a time near the int64 limit rounds instead of
		// overflowing (t is never negative here).
		t = int64((uint64(t) + 500) / 1000)
	}
	c.W.Int(t)
}

func cmdTTL(c *Client, args [][]byte)         { ttlGeneric(c, args, false, false) }
func cmdPTTL(c *Client, args [][]byte)        { ttlGeneric(c, args, true, false) }
func cmdExpiretime(c *Client, args [][]byte)  { ttlGeneric(c, args, false, true) }
func cmdPexpiretime(c *Client, args [][]byte) { ttlGeneric(c, args, true, true) }

// cmdPersist removes a key's TTL; it is propagated only when there was one.
func cmdPersist(c *Client, args [][]byte) {
	if c.DB.Persist(args[1]) {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}
