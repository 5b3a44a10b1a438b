package server

import (
	"strconv"
	"strings"
	"time"
)

// serverCommands returns the server command family's rows of the command
// table: INFO, TIME, LASTSAVE, SHUTDOWN, MONITOR, DEBUG, SLOWLOG, COMMAND.
func serverCommands() []*Command {
	return []*Command{
		serverCommandInfoRow(),
		{Name: "time", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast, Group: "server", Since: "2.6.0",
			Summary: "Return the current server time", Handler: cmdTime, Tips: []string{"nondeterministic_output"}},
		{Name: "lastsave", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast, Group: "server", Since: "1.0.0",
			Summary: "Get the UNIX time stamp of the last successful save to disk", Handler: cmdLastSave,
			ACL: []string{"@admin", "@dangerous"}, Tips: []string{"nondeterministic_output"}},
		{Name: "save", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagNoMulti, Group: "server", Since: "1.0.0",
			Summary: "Synchronously save the dataset to disk", Handler: cmdSave,
			ACL: []string{"@admin", "@slow", "@dangerous"}},
		{Name: "bgsave", Arity: -1, Flags: FlagAdmin | FlagNoScript, Group: "server", Since: "1.0.0",
			Summary: "Asynchronously save the dataset to disk", Handler: cmdBgsave,
			ACL: []string{"@admin", "@slow", "@dangerous"}},
		{Name: "bgrewriteaof", Arity: 1, Flags: FlagAdmin | FlagNoScript, Group: "server", Since: "1.0.0",
			Summary: "Asynchronously rewrite the append-only file", Handler: cmdBgrewriteaof,
			ACL: []string{"@admin", "@slow", "@dangerous"}},
		{Name: "shutdown", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagNoMulti | FlagAllowBusy | FlagUnlocked,
			Group: "server", Since: "1.0.0", Summary: "Synchronously save the dataset to disk and then shut down the server",
			Handler: cmdShutdown},
		{Name: "monitor", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale, Group: "server", Since: "1.0.0",
			Summary: "Listen for all requests received by the server in real time", Handler: cmdMonitor},
		{Name: "debug", Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale, Group: "server", Since: "1.0.0",
			Summary: "A container for debugging commands", Handler: cmdDebug},
		slowlogCommand(),
		commandCommand(),
	}
}

func cmdTime(c *Client, args [][]byte) {
	now := time.Now()
	c.W.Array(2)
	c.W.BulkString(strconv.FormatInt(now.Unix(), 10))
	c.W.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdLastSave(c *Client, args [][]byte) { c.W.Int(c.s.admin.lastSave.Load()) }

// cmdShutdown stops the server after Redis's prepareForShutdown: a running
// background job is stopped, the dataset is saved when save points are
// configured (or SAVE is given, unless NOSAVE), and the AOF is flushed. A
// failed save keeps the server running unless FORCE. The handler runs
// without the execution lock (FlagUnlocked) so it can wait for the job.
func cmdShutdown(c *Client, args [][]byte) {
	var nosave, save, now, force, abort bool
	for _, a := range args[1:] {
		switch strings.ToLower(string(a)) {
		case "nosave":
			nosave = true
		case "save":
			save = true
		case "now":
			now = true
		case "force":
			force = true
		case "abort":
			abort = true
		default:
			c.replyError(errSyntax)
			return
		}
	}
	if (abort && (nosave || save || now || force)) || (nosave && save) {
		c.replyError(errSyntax)
		return
	}
	if abort {
		// Shutdown never waits (no replicas to catch up, no save), so
		// there is never one in progress to abort.
		c.replyError("ERR No shutdown in progress.")
		return
	}
	c.s.log.Warn("User requested shutdown...")
	if err := c.s.ShutdownSave(save, nosave, force); err != nil {
		c.replyError("ERR Errors trying to SHUTDOWN. Check logs.")
		return
	}
	c.closing = true
}

// cmdMonitor turns the client into a monitor: it is detached (its output
// goes through an asynchronous queue) so other clients can stream command
// lines to it without ever waiting for it (a monitor over the normal
// class's output buffer limit is disconnected).
func cmdMonitor(c *Client, args [][]byte) {
	if c.s.inExec {
		c.replyError("ERR MONITOR isn't allowed for DENY BLOCKING client")
		return
	}
	if c.flags.Load()&uint32(clientMonitor|clientReplica) != 0 {
		return // already a monitor: ignored, like Redis
	}
	c.detach()
	c.out.mu.Lock()
	c.out.limit = int(c.s.cfg.outputHardLimit.Load())
	c.out.mu.Unlock()
	if c.replyMode == replyOn {
		// Send the replies so far and +OK before the first monitored line
		// (a line may be fed as soon as the execution lock is released,
		// before this command's reply would normally be emitted).
		c.W.OK()
		c.out.push(c.W.Bytes())
		c.W.Reset()
	}
	c.flags.Or(uint32(clientMonitor))
	c.s.monitors.add(c)
}
