package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/memtune"
	"github.com/thredis/thredis/replication"
)

// Replication, replica side: REPLICAOF starts a link goroutine that
// connects to the master, runs the handshake, asks to continue its history
// (PSYNC) or loads the master's snapshot into a fresh keyspace (clients
// keep reading the old data meanwhile) and swaps it in, then applies the
// stream through a master client — the ordinary command path, so a SQL
// page batch (MULTI / HSET … / EXEC) is applied atomically and SQL
// readers never see half of one. The stream's bytes, once applied, are
// appended to our own backlog and fed to our own replicas unchanged.

// Link states, as ROLE names them.
const (
	linkConnect    = "connect"
	linkConnecting = "connecting"
	linkHandshake  = "handshake"
	linkSync       = "sync"
	linkConnected  = "connected"
)

// replicaLink is the connection to our master.
type replicaLink struct {
	s    *Server
	host string
	port int

	stopped atomic.Bool // set under the execution lock by REPLICAOF
	done    chan struct{}

	// Guarded by the execution lock.
	state     string
	mc        *Client // the master client while connected
	downSince time.Time
	// syncStart, syncTotal and syncRead describe a running full sync
	// (INFO master_sync_*).
	syncStart time.Time
	syncTotal int64
	syncRead  atomic.Int64

	lastIO atomic.Int64 // unix nanos of the last byte from the master

	wmu  sync.Mutex // serializes writes to conn (ACKs)
	conn net.Conn
}

func (l *replicaLink) masterClient() *Client { return l.mc }

// isConnected reports whether the stream is flowing. Lock held.
func (l *replicaLink) isConnected() bool { return l.state == linkConnected }

// sendAck writes REPLCONF ACK offset to the master.
func (l *replicaLink) sendAck(offset int64) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.conn == nil {
		return
	}
	msg := cmdlog.AppendCommand(nil, [][]byte{[]byte("REPLCONF"), []byte("ACK"), strconv.AppendInt(nil, offset, 10)})
	l.conn.SetWriteDeadline(time.Now().Add(time.Second))
	l.conn.Write(msg)
	l.conn.SetWriteDeadline(time.Time{})
}

// cron sends the once-a-second ACK. Lock held (the write has a short
// deadline).
func (l *replicaLink) cron(now time.Time) {
	if l.state == linkConnected {
		go l.sendAck(l.s.repl.offsetNow.Load())
	}
}

// setState changes the link state. Lock held.
func (l *replicaLink) setState(st string) {
	if l.stopped.Load() {
		return
	}
	l.state = st
	down := st != linkConnected
	if down && !l.s.repl.masterDown.Load() {
		l.downSince = time.Now()
	}
	l.s.repl.masterDown.Store(down)
}

// startReplication makes this server a replica of host:port. A server that
// was a master offers its own history to the new master (PSYNC with its id
// and offset, Redis's cached "myself" master), except at start-up from the
// replicaof directive, where it has none worth continuing. Lock held.
func (s *Server) startReplication(host string, port int, atStartup bool) {
	r := &s.repl
	wasMaster := r.link == nil
	s.stopLink()
	if wasMaster {
		s.ensureBacklog()
		s.feedOwnLog(false)
		// Our own history can be continued by a master that shares it
		// (a promoted replica of ours).
		r.canContinue = !atStartup
	}
	s.readOnly.Store(s.cfg.boolValue("replica-read-only"))
	s.ks.ReplicaMode = true
	l := &replicaLink{s: s, host: host, port: port, done: make(chan struct{}), state: linkConnect, downSince: time.Now()}
	r.link = l
	r.isReplica.Store(true)
	r.masterDown.Store(true)
	s.cfg.store("replicaof", host+" "+strconv.Itoa(port))
	go l.run()
	s.log.Info("connecting to master", "master", net.JoinHostPort(host, strconv.Itoa(port)))
}

// stopLink ends the link to the master, if any. Lock held; the link's
// goroutine notices (it checks stopped under the lock before applying
// anything) and exits on its own.
func (s *Server) stopLink() {
	l := s.repl.link
	if l == nil {
		return
	}
	l.stopped.Store(true)
	l.wmu.Lock()
	if l.conn != nil {
		l.conn.Close()
	}
	l.wmu.Unlock()
	if l.mc != nil {
		l.mc.conn.Close()
	}
	s.repl.link = nil
	s.repl.isReplica.Store(false)
	s.repl.masterDown.Store(false)
}

// promote is REPLICAOF NO ONE: the replica becomes a master keeping its
// data and, as PSYNC2's second id, the history it shared with its old
// master, so that master's other replicas can continue with it. Lock held.
func (s *Server) promote() {
	r := &s.repl
	if r.link == nil {
		return
	}
	s.stopLink()
	r.ids.Shift(r.masterOffset())
	// Our replicas must hear about the new id: they reconnect and
	// continue with ID2.
	r.master.CloseAll()
	s.readOnly.Store(false)
	s.ks.ReplicaMode = false
	s.ensureBacklog()
	s.feedOwnLog(true)
	s.cfg.store("replicaof", "")
	s.log.Info("MASTER MODE enabled", "replid", r.ids.ID, "replid2", r.ids.ID2, "offset", r.masterOffset())
}

func cmdReplicaof(c *Client, args [][]byte) {
	s := c.s
	if strings.EqualFold(string(args[1]), "no") && strings.EqualFold(string(args[2]), "one") {
		if s.repl.link != nil {
			s.promote()
		}
		c.W.OK()
		return
	}
	port, ok := parseInt(args[2])
	if !ok || port < 0 || port > 65535 {
		c.replyError("ERR Invalid master port")
		return
	}
	host := string(args[1])
	if l := s.repl.link; l != nil && l.host == host && l.port == int(port) {
		c.W.Simple("OK Already connected to specified master")
		return
	}
	s.startReplication(host, int(port), false)
	c.W.OK()
}

// run connects, synchronizes and applies the stream until stopped,
// reconnecting after failures (once a second, as Redis's cron does).
func (l *replicaLink) run() {
	defer close(l.done)
	s := l.s
	backoff := 100 * time.Millisecond
	for !l.stopped.Load() {
		start := time.Now()
		err := l.session()
		if l.stopped.Load() {
			return
		}
		s.log.Warn("replication link to master lost", "master", net.JoinHostPort(l.host, strconv.Itoa(l.port)), "err", err)
		s.mu.Lock()
		l.setState(linkConnect)
		s.mu.Unlock()
		if time.Since(start) > 5*time.Second {
			backoff = 100 * time.Millisecond
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, time.Second)
	}
}

// deadlineReader refreshes the connection's read deadline before every
// read, so a master that goes silent for repl-timeout ends the link, and
// counts the bytes read.
type deadlineReader struct {
	l       *replicaLink
	conn    net.Conn
	timeout time.Duration
}

func (d deadlineReader) Read(p []byte) (int, error) {
	d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	n, err := d.conn.Read(p)
	if n > 0 {
		d.l.lastIO.Store(time.Now().UnixNano())
	}
	return n, err
}

// session is one connection to the master: handshake, sync, stream.
func (l *replicaLink) session() error {
	s := l.s
	s.mu.Lock()
	if l.stopped.Load() {
		s.mu.Unlock()
		return nil
	}
	l.setState(linkConnecting)
	r := &s.repl
	hc := replication.HandshakeConfig{
		ListeningPort: s.announcedPort(),
		Timeout:       time.Duration(mustInt(s.cfgValue("repl-timeout"))) * time.Second,
	}
	hc.User, _ = s.cfg.Get("masteruser")
	hc.Password, _ = s.cfg.Get("masterauth")
	hc.AnnounceIP, _ = s.cfg.Get("replica-announce-ip")
	if r.canContinue {
		hc.ReplID, hc.Offset = r.ids.ID, r.masterOffset()
	}
	s.mu.Unlock()

	conn, err := net.DialTimeout("tcp", net.JoinHostPort(l.host, strconv.Itoa(l.port)), hc.Timeout)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(!s.cfg.boolValue("repl-disable-tcp-nodelay"))
	}
	l.wmu.Lock()
	if l.stopped.Load() {
		l.wmu.Unlock()
		conn.Close()
		return nil
	}
	l.conn = conn
	l.wmu.Unlock()
	defer func() {
		l.wmu.Lock()
		l.conn = nil
		l.wmu.Unlock()
		conn.Close()
	}()
	l.lastIO.Store(time.Now().UnixNano())
	dr := deadlineReader{l: l, conn: conn, timeout: hc.Timeout}
	br := bufio.NewReaderSize(dr, 64<<10)

	s.mu.Lock()
	l.setState(linkHandshake)
	s.mu.Unlock()
	reply, err := replication.Handshake(conn, br, hc)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if reply.Full {
		if err := l.fullSync(conn, br, reply, hc.Timeout); err != nil {
			return fmt.Errorf("full synchronization: %w", err)
		}
	} else {
		s.mu.Lock()
		if l.stopped.Load() {
			s.mu.Unlock()
			return nil
		}
		if reply.ReplID != "" && reply.ReplID != r.ids.ID {
			// The master's history continues ours under a new id:
			// ours becomes the second id, and our replicas must
			// reconnect to learn it.
			r.ids.ShiftTo(reply.ReplID, r.masterOffset())
			r.master.CloseAll()
		}
		s.mu.Unlock()
		s.log.Info("partial resynchronization with master succeeded", "replid", reply.ReplID)
	}
	// The first ACK at once: a diskless master puts us online with it.
	l.sendAck(s.repl.offsetNow.Load())
	return l.stream(conn, br)
}

// announcedPort is the port a replica tells its master it listens on.
func (s *Server) announcedPort() int {
	if p := mustInt(s.cfgValue("replica-announce-port")); p != 0 {
		return int(p)
	}
	if ta, ok := s.addr.(*net.TCPAddr); ok {
		return ta.Port
	}
	return s.cfg.Port
}

// fullSync loads the master's snapshot into a staging keyspace, without
// the execution lock (clients are served the old data meanwhile), then
// swaps it in.
func (l *replicaLink) fullSync(conn net.Conn, br *bufio.Reader, reply replication.SyncReply, timeout time.Duration) error {
	s := l.s
	s.mu.Lock()
	l.setState(linkSync)
	l.syncStart = time.Now()
	l.syncRead.Store(0)
	n := s.ks.NumDBs()
	s.mu.Unlock()
	p, err := replication.ReadPayload(conn, br, timeout)
	if err != nil {
		return err
	}
	s.mu.Lock()
	l.syncTotal = p.Size()
	s.mu.Unlock()
	s.log.Info("receiving the master's snapshot", "bytes", p.Size(), "diskless", p.Diskless())
	staging := keyspace.New(n, nil)
	memtune.BeginLoad()
	st, err := loadRDBInto(staging, newCountingReader(p.Reader(), &l.syncRead), false)
	memtune.EndLoad()
	if err != nil {
		return fmt.Errorf("loading the master's snapshot: %w", err)
	}
	if err := p.Finish(); err != nil {
		return err
	}
	streamDB := 0
	if v, ok := st.aux["repl-stream-db"]; ok {
		if d, err := strconv.Atoi(v); err == nil && d >= 0 && d < n {
			streamDB = d
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.stopped.Load() {
		return nil
	}
	// A running snapshot job (a BGSAVE, an AOF rewrite, our own
	// replicas' sync) describes data that is about to be replaced: stop
	// it, as Redis kills its child.
	s.waitJobLocked(true)
	if l.stopped.Load() {
		return nil
	}
	if err := s.ks.Adopt(staging); err != nil {
		return err
	}
	r := &s.repl
	r.ids.ID = reply.ReplID
	r.ids.ClearSecond()
	r.backlog = replication.NewBacklog(int(mustInt(s.cfgValue("repl-backlog-size"))), reply.Offset)
	r.offsetNow.Store(reply.Offset)
	r.canContinue = true
	r.streamDB = streamDB
	// Our replicas followed the old history: they must sync again.
	r.master.CloseAll()
	s.log.Info("MASTER <-> REPLICA sync: finished with success", "keys", st.loaded,
		"ms", time.Since(l.syncStart).Milliseconds())
	if s.aof.m != nil {
		// The AOF must describe the new data: restart it from a rewrite
		// of it, as Redis stops and restarts its AOF after a sync (the
		// old files would replay the stream onto the old data).
		if err := s.disableAOF(); err != nil {
			s.log.Warn("closing the AOF before restarting it after the sync", "err", err)
		}
		if err := s.applyAppendOnly(true); err != nil {
			s.log.Warn("restarting the AOF after the sync failed", "err", err)
		}
	}
	return nil
}

// countingReader counts the bytes read through it. It is an
// io.ByteReader when its source is (a bufio.Reader over the connection), so
// the RDB decoder reads exactly up to the RDB's end and never consumes the
// stream after it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingByteReader is a countingReader over an io.ByteReader.
type countingByteReader struct {
	countingReader
	br io.ByteReader
}

func (c *countingByteReader) ReadByte() (byte, error) {
	b, err := c.br.ReadByte()
	if err == nil {
		c.n.Add(1)
	}
	return b, err
}

// newCountingReader wraps r, keeping it an io.ByteReader if it is one.
func newCountingReader(r io.Reader, n *atomic.Int64) io.Reader {
	if br, ok := r.(io.ByteReader); ok {
		return &countingByteReader{countingReader{r, n}, br}
	}
	return &countingReader{r, n}
}

// stream applies the master's command stream through the master client,
// batch by batch under the execution lock, and proxies each applied
// command's bytes to our backlog and replicas.
func (l *replicaLink) stream(conn net.Conn, br *bufio.Reader) error {
	s := l.s
	mc := s.newClient(conn, s.nextID.Add(1))
	mc.authed = true
	mc.flags.Store(uint32(clientMaster))
	// What the handshake reader already holds is the stream's start.
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		mc.rd.buf = append(mc.rd.buf, b...)
		br.Discard(n)
	}
	s.mu.Lock()
	if l.stopped.Load() {
		s.mu.Unlock()
		return nil
	}
	mc.SelectDB(s.repl.streamDB)
	l.mc = mc
	l.setState(linkConnected)
	s.mu.Unlock()
	s.clientMu.Lock()
	s.clients[mc.ID] = mc
	s.clientMu.Unlock()
	defer func() {
		s.mu.Lock()
		if l.mc == mc {
			l.mc = nil
		}
		s.repl.streamDB = mc.DBIndex
		mc.multi = nil
		mc.queued.Store(0)
		s.mu.Unlock()
		s.clientMu.Lock()
		delete(s.clients, mc.ID)
		s.clientMu.Unlock()
	}()
	s.log.Info("MASTER <-> REPLICA sync: master accepted, streaming")
	timeout := time.Duration(mustInt(s.cfgValue("repl-timeout"))) * time.Second
	rd := &mc.rd
	var txn []byte // the open transaction's bytes, fed at its EXEC
	for {
		for {
			args, msg := rd.next(true, s.cfg.protoMaxBulkLen.Load())
			if msg != "" {
				mc.release()
				return fmt.Errorf("protocol error in the master's stream: %s", msg)
			}
			if args == nil {
				break
			}
			raw := rd.buf[rd.start:rd.at]
			mc.lock()
			if l.stopped.Load() {
				mc.release()
				return nil
			}
			mc.dispatch(args)
			if mc.W.Len() > 0 {
				if b := mc.W.Bytes(); b[0] == '-' {
					s.log.Warn("command from master failed", "command", string(args[0]), "reply", strings.TrimSpace(string(b)))
				}
				mc.W.Reset()
			}
			// Like Redis, our offset (and what we proxy) moves by whole
			// transactions: a link lost inside MULTI … EXEC resumes at
			// the MULTI, and our own replicas never see half of one.
			switch {
			case mc.multi != nil:
				txn = append(txn, raw...)
			case len(txn) > 0:
				txn = append(txn, raw...)
				s.repl.feed(txn)
				txn = txn[:0]
			default:
				s.repl.feed(raw)
			}
			if mc.batch++; mc.batch >= maxBatchUnderLock {
				mc.release()
			}
		}
		mc.release()
		conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := rd.fill(conn)
		if n > 0 {
			l.lastIO.Store(time.Now().UnixNano())
			s.stats.netInputBytes.Add(int64(n))
			continue
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("the master closed the connection")
		}
		return err
	}
}

// startConfiguredReplication starts the replicaof directive's link (at
// start-up, once listening).
func (s *Server) startConfiguredReplication() {
	v, _ := s.cfg.Get("replicaof")
	f := strings.Fields(v)
	if len(f) != 2 {
		return
	}
	port, _ := strconv.Atoi(f[1])
	s.mu.Lock()
	s.startReplication(f[0], port, true)
	s.mu.Unlock()
}
