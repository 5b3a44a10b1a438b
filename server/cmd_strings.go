package server

import (
	"strconv"
	"strings"
)

func stringCommands() []*Command {
	return []*Command{
		{Name: "get", Arity: 2, Flags: FlagReadonly | FlagFast, FirstKey: 1, LastKey: 1, Step: 1, Group: "string",
			Summary: "Returns the string value of a key.", Since: "1.0.0", Handler: cmdGet},
		{Name: "set", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Group: "string",
			Summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", Since: "1.0.0", Handler: cmdSet},
		{Name: "incr", Arity: 2, Flags: FlagWrite | FlagDenyOOM | FlagFast, FirstKey: 1, LastKey: 1, Step: 1, Group: "string",
			Summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", Since: "1.0.0", Handler: cmdIncr},
	}
}

// replyWrongType writes the WRONGTYPE error.
func (c *Client) replyWrongType() {
	c.replyError("WRONGTYPE Operation against a key holding the wrong kind of value")
}

func cmdGet(c *Client, args [][]byte) {
	v, found, err := c.DB.GetString(args[1])
	if err != nil {
		c.replyWrongType()
		return
	}
	if !found {
		c.W.Null()
		return
	}
	c.W.Bulk(v)
}

// expireArg parses a relative or absolute expiry argument into absolute Unix
// milliseconds. unit is "ex", "px", "exat" or "pxat".
func (c *Client) expireArg(unit string, arg []byte) (int64, bool) {
	n, ok := parseInt(arg)
	if !ok {
		c.replyError(errNotInteger)
		return 0, false
	}
	if n <= 0 {
		c.replyError("ERR invalid expire time in '" + c.cmd.Name + "' command")
		return 0, false
	}
	switch unit {
	case "ex", "exat":
		if n > (1<<63-1)/1000 {
			c.replyError("ERR invalid expire time in '" + c.cmd.Name + "' command")
			return 0, false
		}
		n *= 1000
	}
	switch unit {
	case "ex", "px":
		now := c.s.ks.NowMs()
		if n > 1<<63-1-now {
			c.replyError("ERR invalid expire time in '" + c.cmd.Name + "' command")
			return 0, false
		}
		n += now
	}
	return n, true
}

func cmdSet(c *Client, args [][]byte) {
	var nx, xx, get, keepTTL bool
	var expireAt int64
	expUnit := ""
	for i := 3; i < len(args); i++ {
		opt := strings.ToLower(string(args[i]))
		switch {
		case opt == "nx" && !xx:
			nx = true
		case opt == "xx" && !nx:
			xx = true
		case opt == "get":
			get = true
		case opt == "keepttl" && expUnit == "":
			keepTTL = true
		case (opt == "ex" || opt == "px" || opt == "exat" || opt == "pxat") && expUnit == "" && !keepTTL && i+1 < len(args):
			expUnit = opt
			i++
			at, ok := c.expireArg(opt, args[i])
			if !ok {
				return
			}
			expireAt = at
		default:
			c.replyError(errSyntax)
			return
		}
	}
	key, val := args[1], args[2]
	if get {
		old, found, err := c.DB.GetString(key)
		if err != nil {
			c.replyWrongType()
			return
		}
		if found {
			c.W.Bulk(append([]byte(nil), old...))
		} else {
			c.W.Null()
		}
	}
	exists := c.DB.Exists(key)
	if (nx && exists) || (xx && !exists) {
		if !get {
			c.W.Null()
		}
		c.Propagate()
		return
	}
	c.DB.SetString(key, val, keepTTL)
	if expUnit != "" {
		c.DB.SetExpire(key, expireAt)
		c.Propagate([]byte("SET"), key, val, []byte("PXAT"), []byte(strconv.FormatInt(expireAt, 10)))
	} else if get {
		if keepTTL {
			c.Propagate([]byte("SET"), key, val, []byte("KEEPTTL"))
		} else {
			c.Propagate([]byte("SET"), key, val)
		}
	}
	if !get {
		c.W.OK()
	}
}

// incrBy adds delta to the integer at key, with Redis's errors.
func (c *Client) incrBy(key []byte, delta int64) {
	v, found, err := c.DB.GetString(key)
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
