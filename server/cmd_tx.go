package server

import (
	"github.com/thredis/thredis/keyspace"
)

// Transaction errors, with Redis 7's exact texts.
const (
	errExecAbort      = "EXECABORT Transaction discarded because of previous errors."
	errExecAbortCause = "EXECABORT Transaction discarded because of: "
	errNotInMulti     = "ERR Command not allowed inside a transaction"
)

// multiState is a client's open MULTI block.
type multiState struct {
	queue   []queuedCommand
	aborted bool // a command was refused while queueing: EXEC fails with EXECABORT
}

type queuedCommand struct {
	cmd  *Command
	args [][]byte
}

// watchedKey is one WATCHed key. Each is registered with its database as a
// keyspace.Watcher of its own, so a notification knows which key it is
// about (needed for keys that were already expired when watched).
type watchedKey struct {
	c   *Client
	db  *keyspace.DB
	key string
	// expired records that the key was already logically expired when it
	// was watched. Such a key does not doom the transaction by being
	// reclaimed (the first notification: every write to an expired key
	// first deletes it), nor by expiring; only a later change does — Redis
	// 7.0's touchWatchedKey and isWatchedKeyExpired rules.
	expired bool
}

// WatchedKeyTouched implements keyspace.Watcher. It runs with the execution
// lock held, from whichever client (or the expiry cycle) changed the key.
func (w *watchedKey) WatchedKeyTouched() {
	if w.expired {
		w.expired = false
		return
	}
	w.c.casDirty = true
	w.c.flags.Or(uint32(clientDirtyCAS))
}

// isTxCommand reports whether cmd runs at once inside MULTI instead of
// being queued (Redis's list in processCommand; UNWATCH is queued).
func isTxCommand(cmd *Command) bool {
	if cmd.Parent != nil { // e.g. SLOWLOG RESET is not RESET
		return false
	}
	switch cmd.Name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return true
	}
	return false
}

// queue records a command for EXEC and replies +QUEUED.
func (c *Client) queue(cmd *Command, args [][]byte) {
	// A transaction that can only fail keeps nothing (Redis does the same,
	// for clients that pipeline without reading replies). args alias the
	// connection's read buffer, which is reused for the next requests, so
	// the queue keeps a copy.
	if !c.multi.aborted && !c.casDirty {
		c.multi.queue = append(c.multi.queue, queuedCommand{cmd: cmd, args: cloneArgs(args)})
		c.queued.Add(1)
	}
	c.W.Simple("QUEUED")
}

// cloneArgs copies a request's arguments into one fresh block of memory.
func cloneArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}

// unwatchAll forgets every watched key and the dirty flag.
func (c *Client) unwatchAll() {
	for _, w := range c.watched {
		w.db.Unwatch(w.key, w)
	}
	clear(c.watched)
	c.watched = c.watched[:0]
	c.casDirty = false
	c.flags.And(^uint32(clientDirtyCAS))
}

// discardMulti ends the MULTI block and unwatches everything.
func (c *Client) discardMulti() {
	c.multi = nil
	c.flags.And(^uint32(clientMulti))
	c.unwatchAll()
}

func txCommands() []*Command {
	return []*Command{
		{Name: "multi", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy, Group: "transactions",
			Summary: "Starts a transaction.", Since: "1.2.0", Handler: cmdMulti},
		{Name: "exec", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSkipSlowlog, Group: "transactions",
			Summary: "Executes all commands in a transaction.", Since: "1.2.0", Handler: cmdExec},
		{Name: "discard", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy, Group: "transactions",
			Summary: "Discards a transaction.", Since: "2.0.0", Handler: cmdDiscard},
		{Name: "watch", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy, FirstKey: 1, LastKey: -1, Step: 1, Group: "transactions",
			Summary: "Monitors changes to keys to determine the execution of a transaction.", Since: "2.2.0", Handler: cmdWatch},
		{Name: "unwatch", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy, Group: "transactions",
			Summary: "Forgets about watched keys of a transaction.", Since: "2.2.0", Handler: cmdUnwatch},
	}
}

func cmdMulti(c *Client, args [][]byte) {
	if c.multi != nil {
		c.replyError("ERR MULTI calls can not be nested")
		return
	}
	c.multi = &multiState{}
	c.queued.Store(0)
	c.flags.Or(uint32(clientMulti))
	c.W.OK()
}

func cmdDiscard(c *Client, args [][]byte) {
	if c.multi == nil {
		c.replyError("ERR DISCARD without MULTI")
		return
	}
	c.discardMulti()
	c.W.OK()
}

func cmdWatch(c *Client, args [][]byte) {
	if c.multi != nil {
		c.replyError("ERR WATCH inside MULTI is not allowed")
		return
	}
	for _, k := range args[1:] {
		if c.isWatching(c.DB, k) {
			continue
		}
		w := &watchedKey{c: c, db: c.DB, key: string(k), expired: c.DB.IsExpired(k)}
		c.watched = append(c.watched, w)
		c.DB.Watch(w.key, w)
	}
	c.W.OK()
}

func (c *Client) isWatching(db *keyspace.DB, key []byte) bool {
	for _, w := range c.watched {
		if w.db == db && w.key == string(key) {
			return true
		}
	}
	return false
}

func cmdUnwatch(c *Client, args [][]byte) {
	c.unwatchAll()
	c.W.OK()
}

// watchedKeyExpired reports whether a watched key expired after WATCH,
// which Redis treats as a modification even if nobody touched the key.
func (c *Client) watchedKeyExpired() bool {
	for _, w := range c.watched {
		if !w.expired && w.db.IsExpired([]byte(w.key)) {
			return true
		}
	}
	return false
}

func cmdExec(c *Client, args [][]byte) {
	s := c.s
	if c.multi == nil {
		c.replyError("ERR EXEC without MULTI")
		return
	}
	m := c.multi
	if m.aborted {
		c.discardMulti()
		c.replyError(errExecAbort)
		return
	}
	if c.casDirty || c.watchedKeyExpired() {
		c.discardMulti()
		c.W.NullArray()
		return
	}
	// A server that became a read-only replica after the writes were
	// queued refuses the whole block, as Redis's processCommand does for
	// EXEC (the queued flags make EXEC a write).
	for _, q := range m.queue {
		if s.replicaReadOnlyRefuses(c, q.cmd) {
			c.discardMulti()
			c.replyError(errExecAbortCause + readOnlyError)
			return
		}
	}
	c.discardMulti()

	// The whole block runs under the execution lock with a frozen clock
	// (so expiry decisions are consistent across it), and its effects
	// become one atomic log entry, in execution order.
	s.ks.FreezeTime()
	s.inExec = true
	c.W.Array(len(m.queue))
	for _, q := range m.queue {
		c.call(q.cmd, q.args)
	}
	s.inExec = false
	s.ks.UnfreezeTime()
	s.flushPropagation(true)
}
