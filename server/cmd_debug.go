package server

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/thredis/thredis/keyspace"
)

const errDebugNotAllowed = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."

// cmdDebug implements the DEBUG subcommands thredis supports. Like Redis
// 7.0 it is refused unless enable-debug-command allows it.
func cmdDebug(c *Client, args [][]byte) {
	if !allowProtected(c.s.cfg.debugCommand, isLoopback(c.netConn().RemoteAddr())) {
		c.replyError(errDebugNotAllowed)
		return
	}
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "help" && len(args) == 2:
		debugHelp(c)
	case sub == "sleep" && len(args) == 3:
		// Holds the execution lock for the duration, like Redis's
		// single-threaded sleep: every other client waits.
		secs := strtod(string(args[2]))
		if secs > 0 {
			time.Sleep(time.Duration(secs * float64(time.Second)))
		}
		c.W.OK()
	case sub == "object" && len(args) == 3:
		debugObject(c, args[2])
	case sub == "set-active-expire" && len(args) == 3:
		n, _ := strconv.Atoi(string(args[2]))
		c.s.admin.noActiveExpire.Store(n == 0)
		c.W.OK()
	case sub == "error" && len(args) == 3:
		c.replyError(string(args[2]))
	case sub == "log" && len(args) == 3:
		c.s.log.Warn("DEBUG LOG: " + string(args[2]))
		c.W.OK()
	default:
		c.replyError(subcommandSyntaxError("debug", args[1]))
	}
}

func debugHelp(c *Client) {
	c.replyHelp("DEBUG",
		"ERROR <string>",
		"    Return a Redis protocol error with <string> as message. Useful for clients",
		"    unit tests to simulate Redis errors.",
		"LOG <message>",
		"    Write <message> to the server log.",
		"OBJECT <key>",
		"    Show low level info about `key` and associated value.",
		"SET-ACTIVE-EXPIRE <0|1>",
		"    Setting it to 0 disables expiring keys in background when they are not",
		"    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
		"    default.",
		"SLEEP <seconds>",
		"    Stop the server for <seconds>. Decimals allowed.",
	)
}

// strtod parses the longest numeric prefix of s like C's strtod (0 if
// none), which is how Redis reads DEBUG SLEEP's argument.
func strtod(s string) float64 {
	s = strings.TrimLeft(s, " \t")
	for n := len(s); n > 0; n-- {
		if f, err := strconv.ParseFloat(s[:n], 64); err == nil || isRangeErr(err) {
			if math.IsNaN(f) {
				return 0
			}
			return f
		}
	}
	return 0
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// debugObject writes DEBUG OBJECT's line. Redis prints the value's memory
// address; thredis's values have no stable address, so "Value at" is a
// per-key identifier (a hash of database and key) instead.
func debugObject(c *Client, key []byte) {
	ks := c.s.ks
	info, ok := c.DB.Object(key)
	if !ok {
		c.replyError(errNoSuchKey)
		return
	}
	// Reading the value for refcount/serializedlength must not count as an
	// access: no LRU update, no hit.
	hits, misses := ks.Stats.KeyspaceHits, ks.Stats.KeyspaceMisses
	noTouch := ks.NoTouch
	ks.NoTouch = true
	refcount, serLen := 1, info.Len
	switch info.Kind {
	case keyspace.KindString:
		if v, found, _ := c.DB.GetString(key); found {
			serLen = rdbStringLen(v)
			if info.Encoding == "int" {
				if n, ok := parseInt(v); ok && n >= 0 && n < 10000 {
					refcount = math.MaxInt32 // Redis's shared integers
				}
			}
		}
	case keyspace.KindHash:
		if h, err := c.DB.Hash(key); err == nil && h != nil {
			serLen = rdbLenLen(uint64(h.Len()))
			h.Range(func(f, v string) bool {
				serLen += rdbStringLen([]byte(f)) + rdbStringLen([]byte(v))
				return true
			})
		}
	}
	ks.NoTouch = noTouch
	ks.Stats.KeyspaceHits, ks.Stats.KeyspaceMisses = hits, misses
	h := fnv.New64a()
	fmt.Fprintf(h, "%d:%s", c.DBIndex, key)
	lru := (int64(ks.LRUClock()) - info.IdleSecs) & lruClockMax
	c.W.Simple(fmt.Sprintf("Value at:0x%012x refcount:%d encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d",
		h.Sum64()&0xffffffffffff, refcount, info.Encoding, serLen, lru, info.IdleSecs))
}

// rdbLenLen is the size of an RDB length prefix.
func rdbLenLen(n uint64) int {
	switch {
	case n < 1<<6:
		return 1
	case n < 1<<14:
		return 2
	case n <= math.MaxUint32:
		return 5
	}
	return 9
}

// rdbStringLen is the size of a string in an RDB file without LZF
// compression: integers that fit 32 bits take 2, 3 or 5 bytes.
func rdbStringLen(v []byte) int {
	if len(v) <= 11 {
		if n, ok := parseInt(v); ok {
			switch {
			case n >= math.MinInt8 && n <= math.MaxInt8:
				return 2
			case n >= math.MinInt16 && n <= math.MaxInt16:
				return 3
			case n >= math.MinInt32 && n <= math.MaxInt32:
				return 5
			}
		}
	}
	return rdbLenLen(uint64(len(v))) + len(v)
}
