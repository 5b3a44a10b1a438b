package server

import (
	"strconv"
	"time"
)

// replicationCommands returns the replication family's rows: REPLICAOF
// (and SLAVEOF), the replica protocol's PSYNC, SYNC and REPLCONF, WAIT
// and ROLE.
func replicationCommands() []*Command {
	const dangerous = "@dangerous"
	replicaof := func(name string) *Command {
		return &Command{Name: name, Arity: 3, Flags: FlagAdmin | FlagNoScript | FlagStale, Group: "server", Since: "5.0.0",
			Summary: "Make the server a replica of another instance, or promote it as master.", Handler: cmdReplicaof,
			ACL: []string{"@admin", "@slow", dangerous}}
	}
	slaveof := replicaof("slaveof")
	slaveof.Since, slaveof.Summary = "1.0.0", "Make the server a replica of another instance, or promote it as master. Deprecated starting with Redis 5. Use REPLICAOF instead."
	return []*Command{
		replicaof("replicaof"),
		slaveof,
		{Name: "psync", Arity: -3, Flags: FlagAdmin | FlagNoScript | FlagNoMulti, Group: "server", Since: "2.8.0",
			Summary: "Internal command used for replication", Handler: cmdPsync, ACL: []string{"@admin", "@slow", dangerous}},
		{Name: "sync", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagNoMulti, Group: "server", Since: "1.0.0",
			Summary: "Internal command used for replication", Handler: cmdPsync, ACL: []string{"@admin", "@slow", dangerous}},
		{Name: "replconf", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagAllowBusy, Group: "server",
			Since: "3.0.0", Summary: "An internal command for configuring the replication stream", Handler: cmdReplconf,
			ACL: []string{"@admin", "@slow", dangerous}},
		{Name: "wait", Arity: 3, Flags: FlagNoScript | FlagUnlocked, Group: "generic", Since: "3.0.0",
			Summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
			Handler: cmdWait, ACL: []string{"@slow", "@connection"}},
		{Name: "role", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast, Group: "server", Since: "2.8.12",
			Summary: "Return the role of the instance in the context of replication", Handler: cmdRole,
			ACL: []string{"@admin", "@fast", dangerous}},
	}
}

// cmdRole is ROLE: ["master", offset, [[ip, port, offset], …]] or
// ["slave", host, port, state, offset].
func cmdRole(c *Client, args [][]byte) {
	s := c.s
	r := &s.repl
	if l := r.link; l != nil {
		c.W.Array(5)
		c.W.BulkString("slave")
		c.W.BulkString(l.host)
		c.W.Int(int64(l.port))
		c.W.BulkString(l.state)
		off := int64(-1)
		if l.state == linkConnected {
			off = r.masterOffset()
		}
		c.W.Int(off)
		return
	}
	list := r.master.List(time.Now())
	c.W.Array(3)
	c.W.BulkString("master")
	c.W.Int(r.masterOffset())
	n := 0
	for _, i := range list {
		if i.State.String() == "online" {
			n++
		}
	}
	c.W.Array(n)
	for _, i := range list {
		if i.State.String() != "online" {
			continue
		}
		c.W.Array(3)
		c.W.BulkString(i.IP)
		c.W.BulkString(strconv.Itoa(i.Port))
		c.W.BulkString(strconv.FormatInt(i.Offset, 10))
	}
}

// infoReplication renders INFO replication with Redis 7.0's fields.
func (s *Server) infoReplication(b *infoBuilder) {
	r := &s.repl
	now := time.Now()
	if l := r.link; l != nil {
		b.kv("role", "slave")
		b.kv("master_host", l.host)
		b.num("master_port", int64(l.port))
		up := l.state == linkConnected
		b.kv("master_link_status", map[bool]string{true: "up", false: "down"}[up])
		lastIO := int64(-1)
		if t := l.lastIO.Load(); t != 0 && (up || l.state == linkSync) {
			lastIO = int64(now.Sub(time.Unix(0, t)) / time.Second)
		}
		b.num("master_last_io_seconds_ago", lastIO)
		syncing := l.state == linkSync
		b.kv("master_sync_in_progress", boolDigit(syncing))
		b.num("slave_read_repl_offset", r.masterOffset())
		b.num("slave_repl_offset", r.masterOffset())
		if syncing {
			read := l.syncRead.Load()
			total := l.syncTotal
			left, perc := int64(-1), "0.00"
			if total > 0 {
				left = total - read
				perc = strconv.FormatFloat(float64(read)*100/float64(total), 'f', 2, 64)
			}
			b.num("master_sync_total_bytes", total)
			b.num("master_sync_read_bytes", read)
			b.num("master_sync_left_bytes", left)
			b.kv("master_sync_perc", perc)
			b.num("master_sync_last_io_seconds_ago", int64(now.Sub(time.Unix(0, l.lastIO.Load()))/time.Second))
		}
		if !up {
			b.num("master_link_down_since_seconds", int64(now.Sub(l.downSince)/time.Second))
		}
		b.num("slave_priority", mustInt(s.cfgValue("replica-priority")))
		b.kv("slave_read_only", boolDigit(s.readOnly.Load()))
		b.kv("replica_announced", boolDigit(s.cfg.boolValue("replica-announced")))
	} else {
		b.kv("role", "master")
	}
	list := r.master.List(now)
	b.num("connected_slaves", int64(len(list)))
	if need := s.cfg.minReplicasToWrite.Load(); need > 0 && s.cfg.minReplicasMaxLag.Load() > 0 {
		b.num("min_slaves_good_slaves", int64(r.master.Good(s.cfg.minReplicasMaxLag.Load(), now)))
	}
	for i, info := range list {
		b.kv("slave"+strconv.Itoa(i), info.String())
	}
	b.kv("master_failover_state", "no-failover")
	b.kv("master_replid", r.ids.ID)
	b.kv("master_replid2", r.ids.ID2)
	b.num("master_repl_offset", r.masterOffset())
	b.num("second_repl_offset", r.ids.SecondOffset)
	bl := r.backlog
	b.kv("repl_backlog_active", boolDigit(bl != nil))
	size, _ := s.cfg.Get("repl-backlog-size")
	b.kv("repl_backlog_size", size)
	if bl != nil {
		b.num("repl_backlog_first_byte_offset", bl.FirstOffset())
		b.num("repl_backlog_histlen", bl.HistLen())
	} else {
		b.kv("repl_backlog_first_byte_offset", "0")
		b.kv("repl_backlog_histlen", "0")
	}
}
