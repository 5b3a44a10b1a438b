package server

import (
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/resp"
	"github.com/thredis/thredis/sqlcmd"
)

// Client is one connection's state. Its fields are used by the goroutine
// serving the connection; fields read by other clients (CLIENT LIST, KILL)
// are atomics or guarded by the execution lock.
type Client struct {
	s    *Server
	conn net.Conn
	addr string // the peer's address, "ip:port"
	rd   reqReader
	// ID is the client's unique, increasing id (CLIENT ID).
	ID int64
	// W receives the replies of the command being executed.
	W resp.Writer
	// DB is the selected database; DBIndex its number.
	DB      *keyspace.DB
	DBIndex int

	name    atomic.Pointer[string]
	libName atomic.Pointer[string]
	libVer  atomic.Pointer[string]
	authed  bool

	cmd  *Command // command being executed
	args [][]byte
	// propOverride is set when the handler chose its own propagation.
	propOverride bool

	multi    *multiState
	watched  []*watchedKey
	casDirty bool // a watched key changed (guarded by the execution lock)

	created         time.Time
	lastInteraction atomic.Int64 // unix nanos, refreshed once per pipeline batch
	lastCmd         atomic.Pointer[Command]
	clock           int64 // unix nanos when the current command started (see call)
	locked          bool  // holds the execution lock across a pipeline batch
	batch           int   // commands run since the lock was taken
	closing         bool  // close after flushing (QUIT, CLIENT KILL of self)
	replyMode       int   // replyOn, replyOff, replySkip
	noEvict         bool
	noTouch         bool
	flags           atomic.Uint32 // clientFlag bits, for CLIENT LIST

	out *asyncOut // non-nil once detached (MONITOR, replication streams)

	// sql is the client's SQL session, created by its first SQL command
	// (atomic: CLIENT KILL interrupts it from another goroutine).
	sql atomic.Pointer[sqlcmd.Session]

	// queued counts the commands queued in the open MULTI block, for
	// CLIENT LIST's multi= (the queue itself is not safe to read from
	// other clients).
	queued atomic.Int32
	// aofWait is the AOF offset the client's replies wait for (0:
	// nothing to wait for); see waitAOF.
	aofWait uint64
	// replConf is what the connection announced with REPLCONF (a replica
	// before its PSYNC).
	replConf replConf
	// replOff is master_repl_offset after the client's last write: what
	// WAIT waits for replicas to acknowledge.
	replOff int64
	// killed is set by Kill, so a blocked WAIT gives up.
	killed atomic.Bool
	// redact marks argument positions SLOWLOG must hide (CONFIG SET
	// requirepass ...), bit i for args[i]; reset by slowlogRecord.
	redact uint64
}

const (
	replyOn = iota
	replyOff
	replySkip     // drop the reply of the next command only
	replySkipNext // set by CLIENT REPLY SKIP while it runs; becomes replySkip
)

type clientFlag uint32

const (
	clientMonitor clientFlag = 1 << iota
	clientMulti
	clientDirtyCAS
	clientReplica
	clientMaster
)

// Limits that bound the work done under the execution lock for one client
// before others get a turn, and the reply bytes buffered before a flush.
const (
	maxBatchUnderLock = 64
	flushThreshold    = 64 << 10
)

// internalClient returns a client without a connection that runs commands
// for the server itself (the SQL redis() function, AOF replay) on database
// db, replying in RESP2. It is created holding the execution lock, as its
// callers do.
func (s *Server) internalClient(db int, addr string) *Client {
	c := &Client{s: s, ID: -1, DB: s.ks.DB(db), DBIndex: db, authed: true, locked: true, addr: addr}
	c.W.Proto = 2
	return c
}

// newClient creates the state of a freshly accepted connection.
func (s *Server) newClient(nc net.Conn, id int64) *Client {
	c := &Client{s: s, conn: nc, ID: id, created: time.Now()}
	if a := nc.RemoteAddr(); a != nil {
		c.addr = a.String()
	}
	c.W.Proto = 2
	c.DB = s.ks.DB(0)
	c.authed = s.cfg.RequirePass() == ""
	c.lastInteraction.Store(time.Now().UnixNano())
	return c
}

// teardown releases everything the client holds.
func (c *Client) teardown() {
	s := c.s
	c.release()
	c.closeSQL()
	s.mu.Lock()
	c.unwatchAll()
	s.replicaGone(c)
	s.mu.Unlock()
	s.monitors.remove(c)
	s.clientMu.Lock()
	delete(s.clients, c.ID)
	s.clientMu.Unlock()
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return true // unix sockets are local
	}
	return ta.IP.IsLoopback()
}

func (c *Client) netConn() net.Conn { return c.conn }

// lock takes the execution lock unless the client already holds it for its
// current pipeline batch.
func (c *Client) lock() {
	if !c.locked {
		c.s.mu.Lock()
		c.locked = true
		c.batch = 0
		c.clock = c.s.nowNano()
		c.lastInteraction.Store(c.clock)
	}
}

// release gives the execution lock back.
func (c *Client) release() {
	if c.locked {
		c.locked = false
		c.s.mu.Unlock()
	}
}

// process runs one request, honouring CLIENT REPLY.
func (c *Client) process(args [][]byte) {
	if c.replyMode == replyOn {
		c.dispatch(args)
		if c.replyMode == replySkipNext {
			c.replyMode = replySkip
		}
		return
	}
	c.processQuiet(args)
}

// processQuiet runs a request under CLIENT REPLY OFF or SKIP: it executes
// normally, but its reply (errors and +QUEUED included) is dropped, unless
// it turned replies back on (CLIENT REPLY ON answers OK). SKIP covers
// exactly one command.
func (c *Client) processQuiet(args [][]byte) {
	skipping := c.replyMode == replySkip
	start := c.W.Len()
	c.dispatch(args)
	if c.replyMode != replyOn && c.W.Len() > start {
		c.W.Truncate(start)
	}
	switch {
	case c.replyMode == replySkipNext:
		c.replyMode = replySkip
	case skipping && c.replyMode == replySkip:
		c.replyMode = replyOn
	}
}

// dispatch runs one request: lookup, checks, MULTI queueing, execution.
func (c *Client) dispatch(args [][]byte) {
	s := c.s
	s.stats.commandsProcessed.Add(1)
	cmd, msg := s.table.resolve(args)
	if msg != "" {
		c.reject(cmd, msg)
		return
	}
	if !c.authed && cmd.Flags&FlagNoAuth == 0 {
		c.reject(cmd, "NOAUTH Authentication required.")
		return
	}
	if s.replicaReadOnlyRefuses(c, cmd) {
		c.reject(cmd, readOnlyError)
		return
	}
	if msg := s.diskErrorRefuses(c, cmd); msg != "" {
		c.reject(cmd, msg)
		return
	}
	if s.repl.masterDown.Load() && cmd.Flags&FlagStale == 0 && c.flags.Load()&uint32(clientMaster) == 0 &&
		!s.cfg.boolValue("replica-serve-stale-data") {
		c.reject(cmd, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
		return
	}
	if s.noReplicasRefuses(c, cmd) {
		c.reject(cmd, errNoReplicas)
		return
	}
	if c.multi != nil && !isTxCommand(cmd) {
		if cmd.Flags&FlagNoMulti != 0 {
			c.reject(cmd, errNotInMulti)
			return
		}
		c.queue(cmd, args)
		return
	}
	c.call(cmd, args)
}

// reject replies with an error for a command that was refused before
// execution; inside MULTI it also dooms the transaction (EXECABORT).
func (c *Client) reject(cmd *Command, msg string) {
	if cmd != nil {
		cmd.stats.rejected.Add(1)
	}
	if c.multi != nil {
		c.multi.aborted = true
	}
	c.replyError(msg)
}

// replyError writes an error reply and counts it in errorstats.
func (c *Client) replyError(msg string) {
	c.W.Error(msg)
	c.s.countError(msg)
}

func (s *Server) countError(msg string) {
	s.stats.totalErrorReplies.Add(1)
	code := msg
	if i := strings.IndexByte(code, ' '); i >= 0 {
		code = code[:i]
	}
	s.errStatsMu.Lock()
	s.errStats[code]++
	s.errStatsMu.Unlock()
}

func unknownCommandError(args [][]byte) string {
	// Redis prints the name with "%.128s" and appends "'%.*s' " for each
	// argument while the list is under 128 bytes, each cut to what is
	// left of those 128: C strings, so a NUL byte ends each one.
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.Write(cStringPrefix(args[0], 128))
	b.WriteString("', with args beginning with: ")
	n := 0
	for _, a := range args[1:] {
		if n >= 128 {
			break
		}
		s := cStringPrefix(a, 128-n)
		b.WriteByte('\'')
		b.Write(s)
		b.WriteString("' ")
		n += len(s) + 3
	}
	return b.String()
}

// call executes cmd, records its statistics and propagates its effects.
func (c *Client) call(cmd *Command, args [][]byte) {
	s := c.s
	if cmd.Flags&FlagUnlocked == 0 {
		c.lock()
	} else {
		// An unlocked command (SQL) manages the execution lock itself;
		// a lock kept from the earlier commands of a pipeline batch is
		// given back so a long read holds nobody up. Inside EXEC the lock
		// stays: the block is atomic.
		if c.locked && !s.inExec {
			c.release()
		}
		if !c.locked {
			c.clock = s.nowNano()
			c.lastInteraction.Store(c.clock)
		}
	}
	prevCmd, prevArgs := c.cmd, c.args
	c.cmd, c.args = cmd, args
	logSeq := s.cmdlog.Seq()
	c.propOverride = false
	var dirty uint64
	if c.locked {
		dirty = s.ks.Dirty
	}
	start := c.W.Len()
	// One clock read per command: the end of one command is the start of
	// the next in a pipeline batch (reading the clock twice per command
	// was a measurable share of a pipelined SET).
	t0 := c.clock
	noTouch := c.noTouch && c.locked // keyspace state: only under the lock
	if noTouch {
		s.ks.NoTouch = cmd.Name != "touch" // CLIENT NO-TOUCH exempts TOUCH
	}
	if c.flags.Load()&uint32(clientMaster) != 0 && c.locked {
		// The master link (or an AOF replay): HSET / HDEL on a SQL key
		// are page batches of commits made elsewhere; keys past their
		// TTL still exist for it on a replica.
		s.externalPages = cmd.Name == "hset" || cmd.Name == "hdel"
		s.ks.MasterApplying = true
		c.safeHandle(cmd, args)
		s.ks.MasterApplying = false
		s.externalPages = false
	} else if !c.guardSQL(cmd, args) {
		c.safeHandle(cmd, args)
	}
	if noTouch {
		s.ks.NoTouch = false
	}
	c.clock = s.nowNano()
	dur := time.Duration(c.clock - t0)
	if cmd.Flags&FlagWrite != 0 && !c.propOverride && s.ks.Dirty != dirty {
		if cmd.Flags&FlagUnlocked != 0 {
			// Unlocked handlers propagate explicitly; dirty may have moved
			// because of other clients.
		} else {
			s.prop = append(s.prop, cmdlog.Op{DB: c.DBIndex, Argv: args})
		}
	}
	if !s.inExec && c.locked {
		s.flushPropagation(false)
	}
	if s.aof.live.Load() != nil && s.cmdlog.Seq() != logSeq {
		// Something was logged while this command ran: its reply waits
		// until the AOF has written it (and fsynced it, under appendfsync
		// always), as Redis writes its AOF buffer before replying, so a
		// crashed process never loses an acknowledged write (see flush).
		c.aofWait = s.aof.end.Load()
	}
	if s.cmdlog.Seq() != logSeq {
		c.replOff = s.repl.offsetNow.Load()
	}
	cmd.stats.calls.Add(1)
	cmd.stats.usec.Add(dur.Microseconds())
	if c.W.Len() > start && c.W.Bytes()[start] == '-' {
		cmd.stats.failed.Add(1)
	}
	c.lastCmd.Store(cmd)
	if cmd.Flags&FlagSkipSlowlog == 0 {
		s.slowlogRecord(c, args, dur)
	}
	if s.monitors.count.Load() > 0 && cmd.Flags&(FlagSkipMonitor|FlagAdmin) == 0 {
		s.monitors.feed(c, args)
	}
	c.cmd, c.args = prevCmd, prevArgs
}

// safeHandle runs the handler, turning a panic into an error reply so one
// bad command cannot take the server or other clients down.
func (c *Client) safeHandle(cmd *Command, args [][]byte) {
	start := c.W.Len()
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("panic in command", "command", cmd.FullName(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.W.Truncate(start)
			c.replyError(fmt.Sprintf("ERR internal error while executing '%s': %v", cmd.FullName(), r))
		}
	}()
	cmd.Handler(c, args)
}

// Propagate replaces the automatic propagation of the current command with
// the given command (Redis's rewrite for propagation, e.g. SET EX -> PXAT).
// It may be called several times to emit several commands; calling it with
// no arguments suppresses propagation. argv may alias the command's
// arguments: the effects are handed to the command log before the command
// returns (inside EXEC, the arguments are the queue's own copies).
func (c *Client) Propagate(argv ...[]byte) {
	c.propOverride = true
	if len(argv) > 0 {
		c.s.prop = append(c.s.prop, cmdlog.Op{DB: c.DBIndex, Argv: argv})
	}
}

// SelectDB switches the client's database.
func (c *Client) SelectDB(i int) {
	c.DB = c.s.ks.DB(i)
	c.DBIndex = i
}

// Name returns the client's name (CLIENT SETNAME).
func (c *Client) Name() string {
	if p := c.name.Load(); p != nil {
		return *p
	}
	return ""
}
