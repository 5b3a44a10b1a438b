package server

import (
	"strings"
	"time"
)

// slowlog is Redis's SLOWLOG: the most recent commands that took longer
// than slowlog-log-slower-than microseconds, newest first. It is guarded by
// the execution lock.
type slowlog struct {
	entries []slowlogEntry // oldest first
	nextID  int64
}

type slowlogEntry struct {
	id       int64
	at       int64 // unix seconds
	duration int64 // microseconds
	args     []string
	addr     string
	name     string
}

func (l *slowlog) init() {}

// Redis truncates recorded arguments: at most 32, each at most 128 bytes.
const (
	slowlogMaxArgc   = 32
	slowlogMaxArgLen = 128
)

// slowlogRecord is called after every command (except skip_slowlog ones)
// with the execution lock held, or without it for unlocked commands.
func (s *Server) slowlogRecord(c *Client, args [][]byte, dur time.Duration) {
	redact := c.redact
	c.redact = 0
	threshold := s.cfg.slowlogSlowerThan.Load()
	if threshold < 0 || dur.Microseconds() < threshold {
		return
	}
	maxLen := int(s.cfg.slowlogMaxLen.Load())
	if maxLen <= 0 {
		return
	}
	if !c.locked {
		// Unlocked commands (SQL) record under the lock.
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	e := slowlogEntry{id: s.slowlog.nextID, at: time.Now().Unix(), duration: dur.Microseconds(), addr: c.addr, name: c.Name()}
	s.slowlog.nextID++
	argc := min(len(args), slowlogMaxArgc)
	e.args = make([]string, 0, argc)
	for i := 0; i < argc; i++ {
		if i == slowlogMaxArgc-1 && len(args) > slowlogMaxArgc {
			e.args = append(e.args, "... ("+itoa(len(args)-slowlogMaxArgc+1)+" more arguments)")
			break
		}
		a := args[i]
		switch {
		case i < 64 && redact&(1<<uint(i)) != 0:
			e.args = append(e.args, "(redacted)")
		case len(a) > slowlogMaxArgLen:
			e.args = append(e.args, string(a[:slowlogMaxArgLen])+"... ("+itoa(len(a)-slowlogMaxArgLen)+" more bytes)")
		default:
			e.args = append(e.args, string(a))
		}
	}
	s.slowlog.entries = append(s.slowlog.entries, e)
	if over := len(s.slowlog.entries) - maxLen; over > 0 {
		s.slowlog.entries = append(s.slowlog.entries[:0], s.slowlog.entries[over:]...)
	}
}

func slowlogCommand() *Command {
	admin := FlagAdmin | FlagLoading | FlagStale
	return &Command{Name: "slowlog", Arity: -2, Group: "server", Since: "2.2.12",
		Summary: "A container for slow log commands", Handler: dispatchSub, Sub: map[string]*Command{
			"get": {Arity: -2, Flags: admin, Group: "server", Since: "2.2.12", Summary: "Get the slow log's entries",
				Handler: cmdSlowlogGet, Tips: []string{"request_policy:all_nodes", "nondeterministic_output"}},
			"len": {Arity: 2, Flags: admin, Group: "server", Since: "2.2.12", Summary: "Get the slow log's length",
				Handler: cmdSlowlogLen, Tips: []string{"request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"}},
			"reset": {Arity: 2, Flags: admin, Group: "server", Since: "2.2.12", Summary: "Clear all entries from the slow log",
				Handler: cmdSlowlogReset, Tips: []string{"request_policy:all_nodes", "response_policy:all_succeeded"}},
			"help": {Arity: 2, Flags: FlagLoading | FlagStale, Group: "server", Since: "6.2.0",
				Summary: "Show helpful text about the different subcommands", Handler: cmdSlowlogHelp},
		}}
}

func cmdSlowlogGet(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.replyError(subcommandSyntaxError("slowlog", args[1]))
		return
	}
	count := int64(10)
	if len(args) == 3 {
		n, ok := parseInt(args[2])
		if !ok || n < -1 {
			c.replyError("ERR count should be greater than or equal to -1")
			return
		}
		count = n
	}
	entries := c.s.slowlog.entries
	if count == -1 || count > int64(len(entries)) {
		count = int64(len(entries))
	}
	c.W.Array(int(count))
	for i := 0; i < int(count); i++ {
		e := &entries[len(entries)-1-i]
		c.W.Array(6)
		c.W.Int(e.id)
		c.W.Int(e.at)
		c.W.Int(e.duration)
		c.W.Array(len(e.args))
		for _, a := range e.args {
			c.W.BulkString(a)
		}
		c.W.BulkString(e.addr)
		c.W.BulkString(e.name)
	}
}

func cmdSlowlogLen(c *Client, args [][]byte) { c.W.Int(int64(len(c.s.slowlog.entries))) }

func cmdSlowlogReset(c *Client, args [][]byte) {
	clear(c.s.slowlog.entries)
	c.s.slowlog.entries = c.s.slowlog.entries[:0]
	c.W.OK()
}

func cmdSlowlogHelp(c *Client, args [][]byte) {
	c.replyHelp("SLOWLOG",
		"GET [<count>]",
		"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
		"    Entries are made of:",
		"    id, timestamp, time in microseconds, arguments array, client IP and port,",
		"    client name",
		"LEN",
		"    Return the length of the slowlog.",
		"RESET",
		"    Reset the slowlog.",
	)
}

// subcommandSyntaxError is Redis's addReplySubcommandSyntaxError text.
func subcommandSyntaxError(cmd string, sub []byte) string {
	return "ERR unknown subcommand or wrong number of arguments for '" + safeArg(sub) + "'. Try " + strings.ToUpper(cmd) + " HELP."
}
