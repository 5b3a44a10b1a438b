package server

import (
	"strings"
)

func connectionCommands() []*Command {
	return []*Command{
		{Name: "ping", Arity: -1, Flags: FlagFast | FlagStale | FlagLoading, Group: "connection",
			Summary: "Returns the server's liveliness response.", Since: "1.0.0", Handler: cmdPing},
		{Name: "echo", Arity: 2, Flags: FlagFast | FlagStale | FlagLoading, Group: "connection",
			Summary: "Returns the given string.", Since: "1.0.0", Handler: cmdEcho},
		{Name: "quit", Arity: -1, Flags: FlagAllowBusy | FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth, Group: "connection",
			Summary: "Closes the connection.", Since: "1.0.0", Handler: cmdQuit},
		{Name: "select", Arity: 2, Flags: FlagLoading | FlagStale | FlagFast, Group: "connection",
			Summary: "Changes the selected database.", Since: "1.0.0", Handler: cmdSelect},
		{Name: "auth", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagSkipMonitor | FlagSkipSlowlog | FlagAllowBusy, Group: "connection",
			Summary: "Authenticates the connection.", Since: "1.0.0", Handler: cmdAuth},
		{Name: "hello", Arity: -1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagSkipMonitor | FlagSkipSlowlog | FlagAllowBusy, Group: "connection",
			Summary: "Handshakes with the Redis server.", Since: "6.0.0", Handler: cmdHello},
		{Name: "reset", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagAllowBusy, Group: "connection",
			Summary: "Resets the connection.", Since: "6.2.0", Handler: cmdReset},
	}
}

func cmdPing(c *Client, args [][]byte) {
	if len(args) > 2 {
		c.replyError("ERR wrong number of arguments for 'ping' command")
		return
	}
	if len(args) == 2 {
		c.W.Bulk(args[1])
		return
	}
	c.W.Simple("PONG")
}

func cmdEcho(c *Client, args [][]byte) { c.W.Bulk(args[1]) }

func cmdQuit(c *Client, args [][]byte) {
	c.W.OK()
	c.closing = true
}

func cmdSelect(c *Client, args [][]byte) {
	n, ok := parseInt(args[1])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	if n < 0 || n >= int64(c.s.ks.NumDBs()) {
		c.replyError(errDBIndex)
		return
	}
	c.SelectDB(int(n))
	c.W.OK()
}

// checkPassword authenticates user/pass against the default user.
func (c *Client) checkPassword(user, pass string) bool {
	want := c.s.cfg.RequirePass()
	if user != "default" {
		return false
	}
	return want == "" || pass == want
}

func (c *Client) setAuthed(v bool) {
	c.authed = v
}

func cmdAuth(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.replyError(errSyntax)
		return
	}
	user, pass := "default", string(args[1])
	if len(args) == 3 {
		user, pass = string(args[1]), string(args[2])
	} else if c.s.cfg.RequirePass() == "" {
		c.replyError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	if !c.checkPassword(user, pass) {
		c.replyError("WRONGPASS invalid username-password pair or user is disabled.")
		return
	}
	c.setAuthed(true)
	c.W.OK()
}

func cmdHello(c *Client, args [][]byte) {
	proto := c.W.Proto
	i := 1
	if len(args) >= 2 {
		n, ok := parseInt(args[1])
		if !ok {
			c.replyError("ERR Protocol version is not an integer or out of range")
			return
		}
		if n != 2 && n != 3 {
			c.replyError("NOPROTO unsupported protocol version")
			return
		}
		proto = int(n)
		i = 2
	}
	var setName *string
	authUser, authPass := "", ""
	doAuth := false
	for ; i < len(args); i++ {
		opt := strings.ToLower(string(args[i]))
		switch {
		case opt == "auth" && i+2 < len(args):
			doAuth, authUser, authPass = true, string(args[i+1]), string(args[i+2])
			i += 2
		case opt == "setname" && i+1 < len(args):
			name := string(args[i+1])
			if !validClientName(name) {
				c.replyError("ERR Client names cannot contain spaces, newlines or special characters.")
				return
			}
			setName = &name
			i++
		default:
			c.replyError("ERR Syntax error in HELLO option '" + safeArg(args[i]) + "'")
			return
		}
	}
	if doAuth {
		if !c.checkPassword(authUser, authPass) {
			c.replyError("WRONGPASS invalid username-password pair or user is disabled.")
			return
		}
		c.setAuthed(true)
	}
	if !c.authed {
		c.replyError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName != nil {
		c.name.Store(setName)
	}
	c.W.Proto = proto
	role := "master"
	if c.s.readOnly.Load() {
		role = "replica"
	}
	c.W.Map(7)
	c.W.BulkString("server")
	c.W.BulkString("redis")
	c.W.BulkString("version")
	c.W.BulkString(Version)
	c.W.BulkString("proto")
	c.W.Int(int64(proto))
	c.W.BulkString("id")
	c.W.Int(c.ID)
	c.W.BulkString("mode")
	c.W.BulkString("standalone")
	c.W.BulkString("role")
	c.W.BulkString(role)
	c.W.BulkString("modules")
	c.W.Array(0)
}

// validClientName reports whether name is allowed by CLIENT SETNAME: no
// spaces, newlines or other non-printable characters.
func validClientName(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] < '!' || name[i] > '~' {
			return false
		}
	}
	return true
}

func cmdReset(c *Client, args [][]byte) {
	if c.multi != nil {
		c.discardMulti()
	}
	c.unwatchAll()
	// A pooled connection must not keep an open SQL transaction (and the
	// writer lock) or temp tables: the next user starts afresh. Closing
	// does not commit anything, so holding the execution lock is fine.
	c.closeSQL()
	c.SelectDB(0)
	c.W.Proto = 2
	c.name.Store(nil)
	c.replyMode = replyOn
	c.noEvict, c.noTouch = false, false
	if c.flags.Load()&uint32(clientMonitor) != 0 {
		c.s.monitors.remove(c)
		c.flags.And(^uint32(clientMonitor))
	}
	c.setAuthed(c.s.cfg.RequirePass() == "")
	c.W.Simple("RESET")
}
