package server

import (
	"github.com/thredis/thredis/keyspace"
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

type watchedKey struct {
	db  *keyspace.DB
	key string
	// expired records whether the key was already logically expired when
	// watched, so EXEC can tell "expired since WATCH" (a change) apart.
	expired bool
}

// WatchedKeyTouched implements keyspace.Watcher.
func (c *Client) WatchedKeyTouched() {
	c.casDirty = true
	c.flags.Or(uint32(clientDirtyCAS))
}

func isTxCommand(cmd *Command) bool {
	switch cmd.Name {
	case "exec", "discard", "multi", "watch", "unwatch", "quit", "reset":
		return true
	}
	return false
}

func (c *Client) queue(cmd *Command, args [][]byte) {
	// Arguments alias the request buffer of this read only; redcon copies
	// each command's bytes, so they stay valid until EXEC.
	c.multi.queue = append(c.multi.queue, queuedCommand{cmd: cmd, args: args})
	c.W.Simple("QUEUED")
}

func (c *Client) unwatchAll() {
	for _, w := range c.watched {
		w.db.Unwatch(w.key, c)
	}
	c.watched = nil
	c.casDirty = false
	c.flags.And(^uint32(clientDirtyCAS))
}

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
		key := string(k)
		dup := false
		for _, w := range c.watched {
			if w.db == c.DB && w.key == key {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		c.watched = append(c.watched, watchedKey{db: c.DB, key: key, expired: c.DB.IsExpired(k)})
		c.DB.Watch(key, c)
	}
	c.W.OK()
}

func cmdUnwatch(c *Client, args [][]byte) {
	c.unwatchAll()
	c.W.OK()
}

// watchedKeyExpired reports whether a watched key expired after WATCH,
// which Redis treats as a modification.
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
		c.replyError("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	if c.casDirty || c.watchedKeyExpired() {
		c.discardMulti()
		c.W.NullArray()
		return
	}
	c.multi = nil
	c.flags.And(^uint32(clientMulti))
	c.unwatchAll()

	// The whole block runs under the execution lock with a frozen clock,
	// and its effects become one atomic log entry.
	s.ks.FreezeTime()
	s.inExec = true
	c.W.Array(len(m.queue))
	for _, q := range m.queue {
		if s.replicaReadOnlyRefuses(c, q.cmd) {
			c.replyError(readOnlyError)
			continue
		}
		c.call(q.cmd, q.args)
	}
	s.inExec = false
	s.ks.UnfreezeTime()
	s.flushPropagation(true)
}
