package server

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/rdb"
	"github.com/thredis/thredis/replication"
)

// Replication, master side. The replication stream is one more reader of
// the command log (DESIGN rule 1): each entry is encoded as Redis does
// (SELECT as needed, MULTI/EXEC around atomic entries: a SQL commit's page
// batch reaches replicas as one transaction) into the backlog and every
// replica's output queue. A replica of ours proxies its master's stream
// byte for byte instead (repl_replica.go), so offsets agree along a chain,
// which PSYNC2 relies on.

// replState is the server's replication state. Fields are guarded by the
// execution lock unless they are atomics.
type replState struct {
	ids replication.IDs
	// backlog exists once a replica connected (or this server follows a
	// master); until then the offset does not move, as in Redis.
	backlog *replication.Backlog
	offset  int64 // master_repl_offset while backlog is nil
	// offsetNow mirrors master_repl_offset for readers without the lock
	// (WAIT's target, the replica's ACKs).
	offsetNow atomic.Int64
	master    *replication.Master
	enc       *cmdlog.Encoder
	buf       []byte
	// subscribed: this master feeds its own command log to the stream.
	subscribed bool

	noReplicasSince time.Time
	lastPing        time.Time
	lastCron        time.Time
	// getackAt is master_repl_offset right after the last REPLCONF GETACK
	// sent: another WAIT with no write since needs no new one.
	getackAt int64

	syncFull, syncPartialOK, syncPartialErr atomic.Int64

	// Replica side (repl_replica.go).
	link *replicaLink
	// canContinue: our history (ids.ID up to the offset) is one a master
	// may continue (PSYNC) rather than resend in full.
	canContinue bool
	// streamDB is the database the master's stream has selected: the
	// master client's, kept across links and announced to our own
	// replicas' snapshots (repl-stream-db).
	streamDB int
	// masterDown is set while this replica has no link to its master
	// (replica-serve-stale-data no refuses most commands then).
	masterDown atomic.Bool
	// isReplica mirrors link != nil for readers without the lock.
	isReplica atomic.Bool
}

func (r *replState) init() {
	r.ids = replication.NewIDs()
	r.master = replication.NewMaster()
	r.enc = cmdlog.NewEncoder()
}

// masterOffset returns master_repl_offset. Lock held.
func (r *replState) masterOffset() int64 {
	if r.backlog != nil {
		return r.backlog.Offset()
	}
	return r.offset
}

// Publish implements cmdlog.Subscriber: a master's entries become stream
// bytes. Lock held.
func (r *replState) Publish(_ uint64, e *cmdlog.Entry) {
	r.buf = r.enc.Append(r.buf[:0], e)
	r.feed(r.buf)
}

// feed appends bytes to the stream: the backlog and every replica. Lock
// held.
func (r *replState) feed(p []byte) {
	if r.backlog == nil || len(p) == 0 {
		return
	}
	r.backlog.Append(p)
	r.offsetNow.Store(r.backlog.Offset())
	r.master.Feed(p)
}

// ensureBacklog creates the backlog at the current offset. Lock held.
func (s *Server) ensureBacklog() {
	r := &s.repl
	if r.backlog == nil {
		r.backlog = replication.NewBacklog(int(mustInt(s.cfgValue("repl-backlog-size"))), r.offset)
		r.offsetNow.Store(r.offset)
	}
}

// resizeBacklog is CONFIG SET repl-backlog-size.
func (s *Server) resizeBacklog(size int64) {
	if b := s.repl.backlog; b != nil {
		b.Resize(int(min(size, 1<<40)))
	}
}

// applyReplicaReadOnly is CONFIG SET replica-read-only.
func (s *Server) applyReplicaReadOnly(on bool) {
	if s.repl.link != nil {
		s.readOnly.Store(on)
	}
}

// feedOwnLog makes this master's command log feed the stream (on: it is a
// master with a backlog) or stops it (it follows a master). Lock held.
func (s *Server) feedOwnLog(on bool) {
	r := &s.repl
	if on == r.subscribed {
		return
	}
	r.subscribed = on
	if on {
		r.enc.SetDB(-1) // the next command says which database it is for
		s.cmdlog.Subscribe(r)
	} else {
		s.cmdlog.Unsubscribe(r)
	}
}

// replicaSink sends a replica's stream through its connection's output
// queue.
type replicaSink struct{ c *Client }

func (k replicaSink) Push(p []byte) { k.c.out.push(p) }
func (k replicaSink) Close() {
	k.c.out.close()
	k.c.conn.Close()
}

// replConf is what a connection announced with REPLCONF before PSYNC.
type replConf struct {
	port              int
	ip                string
	capaEOF, capaPSYN bool
}

func cmdReplconf(c *Client, args [][]byte) {
	s := c.s
	if len(args)%2 == 0 {
		c.replyError(errSyntax)
		return
	}
	for i := 1; i < len(args); i += 2 {
		opt, val := strings.ToLower(string(args[i])), args[i+1]
		switch opt {
		case "listening-port":
			n, ok := parseInt(val)
			if !ok || n < 0 || n > 65535 {
				c.replyError(errNotInteger)
				return
			}
			c.replConf.port = int(n)
		case "ip-address":
			c.replConf.ip = string(val)
		case "capa":
			switch strings.ToLower(string(val)) {
			case "eof":
				c.replConf.capaEOF = true
			case "psync2":
				c.replConf.capaPSYN = true
			}
		case "ack":
			// Sent by replicas, never answered.
			if c.flags.Load()&uint32(clientReplica) == 0 {
				return
			}
			if off, ok := parseInt(val); ok {
				s.repl.master.Ack(c.ID, off)
			}
			return
		case "getack":
			// Sent by our master in its stream: answered with an ACK of
			// what was processed before it (never with a reply).
			if l := s.repl.link; l != nil && c == l.masterClient() {
				l.sendAck(s.repl.masterOffset())
			}
			return
		case "rdb-only", "rdb-filter-only":
			// redis-cli --rdb's options: accepted and ignored.
		default:
			c.replyError("ERR Unrecognized REPLCONF option: " + string(args[i]))
			return
		}
	}
	c.W.OK()
}

// cmdPsync is PSYNC replid offset (and SYNC, the pre-PSYNC form): the
// connection becomes a replica, served from the backlog (+CONTINUE) or
// with a snapshot (+FULLRESYNC).
func cmdPsync(c *Client, args [][]byte) {
	s := c.s
	if c.flags.Load()&uint32(clientReplica) != 0 {
		return // already a replica: ignored, as Redis does
	}
	if l := s.repl.link; l != nil && !l.isConnected() {
		c.W.Error("NOMASTERLINK Can't SYNC while not connected with my master")
		return
	}
	legacy := strings.EqualFold(string(args[0]), "sync")
	s.ensureBacklog()
	if s.repl.link == nil {
		s.feedOwnLog(true)
	}
	// Replies still queued (a pipelined REPLCONF) go out before the
	// stream does.
	// client-output-buffer-limit replica: a replica whose unsent stream
	// (queued for its socket, or buffered while its snapshot is sent)
	// exceeds the hard limit is dropped.
	lim := s.cfg.replicaLimit()
	limit := int(min(lim.hard, 1<<62))
	s.repl.master.PendingLimit = limit
	c.detach()
	c.out.mu.Lock()
	c.out.limit = limit
	c.out.soft = int(min(lim.soft, 1<<62))
	c.out.softFor = time.Duration(lim.softSecs) * time.Second
	c.out.mu.Unlock()
	if c.W.Len() > 0 {
		c.out.push(c.W.Bytes())
		c.W.Reset()
	}
	c.flags.Or(uint32(clientReplica))
	ip := c.replConf.ip
	if ip == "" {
		if ta, ok := c.conn.RemoteAddr().(*net.TCPAddr); ok {
			ip = ta.IP.String()
		}
	}
	rep := &replication.Replica{ClientID: c.ID, IP: ip, Port: c.replConf.port, CapaEOF: c.replConf.capaEOF,
		CapaPSYNC2: c.replConf.capaPSYN, Legacy: legacy}
	sink := replicaSink{c}
	r := &s.repl
	if !legacy {
		id := string(args[1])
		off, ok := parseInt(args[2])
		if ok {
			if yes, why := r.ids.CanContinue(id, off, r.backlog); yes {
				line := "+CONTINUE\r\n"
				if rep.CapaPSYNC2 {
					line = "+CONTINUE " + r.ids.ID + "\r\n"
				}
				sink.Push([]byte(line))
				r.backlog.Since(off-1, sink.Push)
				rep.HeaderSent = true
				r.master.Add(rep, sink, replication.StateOnline)
				r.syncPartialOK.Add(1)
				s.log.Info("partial resynchronization accepted", "replica", c.addr, "offset", off,
					"bytes", r.backlog.Offset()-off+1)
				return
			} else if id != "?" {
				r.syncPartialErr.Add(1)
				s.log.Info("partial resynchronization not accepted", "replica", c.addr, "reason", why)
			}
		}
	}
	r.syncFull.Add(1)
	r.master.Add(rep, sink, replication.StateWaitBgsave)
	s.log.Info("replica asks for synchronization", "replica", c.addr)
	s.startReplicaSync()
}

// replicaGone forgets a replica whose connection closed. Lock held.
func (s *Server) replicaGone(c *Client) {
	if c.flags.Load()&uint32(clientReplica) == 0 {
		return
	}
	if s.repl.master.Remove(c.ID) != nil {
		s.log.Info("connection with replica lost", "replica", c.addr)
	}
	if s.repl.master.Len() == 0 {
		s.repl.noReplicasSince = time.Now()
	}
}

// startReplicaSync starts the snapshot that brings the replicas waiting
// for a full synchronization up: streamed straight to their sockets
// (repl-diskless-sync, when they all understand the $EOF form, after
// repl-diskless-sync-delay so more replicas can share it) or saved to the
// RDB file and then sent. The stream produced after the snapshot's point
// is buffered for them and follows it. Nothing starts while another
// snapshot job runs: the end of that job calls this again. Lock held.
func (s *Server) startReplicaSync() {
	r := &s.repl
	if s.persist.job != nil {
		return
	}
	if l := r.link; l != nil && l.mc == nil {
		// We serve a sync only while our own link is up (the stream
		// db and offset are the link's).
		return
	}
	waiting := r.master.Waiting()
	if len(waiting) == 0 {
		return
	}
	diskless := s.cfg.boolValue("repl-diskless-sync")
	for _, rep := range waiting {
		if !rep.CapaEOF {
			diskless = false
		}
	}
	if diskless {
		delay := time.Duration(mustInt(s.cfgValue("repl-diskless-sync-delay"))) * time.Second
		maxN := int(mustInt(s.cfgValue("repl-diskless-sync-max-replicas")))
		if delay > 0 && (maxN == 0 || len(waiting) < maxN) {
			oldest := waiting[0].Added
			if time.Since(oldest) < delay {
				return // the cron starts it when the delay has passed
			}
		}
	}
	off := r.masterOffset()
	streamDB := 0
	if r.link == nil {
		// Our own stream: force a SELECT before the next command.
		r.enc.SetDB(-1)
	} else {
		// The stream we proxy has this database selected; the replica's
		// master client starts there (repl-stream-db).
		streamDB = r.link.mc.DBIndex
	}
	for _, rep := range waiting {
		r.master.SetState(rep, replication.StateSendBulk)
		if !rep.Legacy {
			rep.Sink().Push([]byte("+FULLRESYNC " + r.ids.ID + " " + strconv.FormatInt(off, 10) + "\r\n"))
		}
	}
	aux := append(s.rdbAux(false),
		rdb.Aux{Key: "repl-stream-db", Value: strconv.Itoa(streamDB)},
		rdb.Aux{Key: "repl-id", Value: r.ids.ID},
		rdb.Aux{Key: "repl-offset", Value: strconv.FormatInt(off, 10)})
	var err error
	if diskless {
		err = s.startDisklessSync(waiting, aux)
	} else {
		err = s.startDiskSync(waiting, aux)
	}
	if err != nil {
		s.log.Warn("cannot start the replicas' synchronization", "err", err)
		for _, rep := range waiting {
			rep.Sink().Close()
		}
	}
}

// syncWriteWindow bounds the snapshot bytes queued for a replica's socket:
// the encoder waits for the slowest replica beyond it.
const syncWriteWindow = 4 << 20

// fanWriter writes a snapshot to several replicas' output queues, paced by
// each; a replica whose connection fails drops out, and the write fails
// only when none is left.
type fanWriter struct{ outs []*asyncOut }

func (f *fanWriter) Write(p []byte) (int, error) {
	alive := 0
	for i, o := range f.outs {
		if o == nil {
			continue
		}
		if !o.pushWait(p, syncWriteWindow) {
			f.outs[i] = nil
			continue
		}
		alive++
	}
	if alive == 0 {
		return 0, errors.New("every replica of the synchronization disconnected")
	}
	return len(p), nil
}

// startDisklessSync streams the snapshot to the replicas' sockets in the
// $EOF form: "$EOF:<mark>\r\n", the RDB, the mark. Lock held.
func (s *Server) startDisklessSync(reps []*replication.Replica, aux []rdb.Aux) error {
	var markb [replication.EOFMarkLen / 2]byte
	rand.Read(markb[:])
	mark := hex.EncodeToString(markb[:])
	fan := &fanWriter{}
	for _, rep := range reps {
		o := rep.Sink().(replicaSink).c.out
		fan.outs = append(fan.outs, o)
		o.push([]byte("$EOF:" + mark + "\r\n"))
		rep.HeaderSent = true
	}
	write := func(st snapshotStream) error {
		bw := bufio.NewWriterSize(fan, 256<<10)
		if _, err := s.writeRDB(bw, st, aux); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		_, err := fan.Write([]byte(mark))
		return err
	}
	done := func(j *snapJob, err error) {
		s.finishReplicaSync(reps, err, j.start, true)
	}
	if err := s.startSnapshotJob("rdb", write, nil, done); err != nil {
		return err
	}
	s.log.Info("starting diskless synchronization with replicas", "replicas", len(reps))
	return nil
}

// startDiskSync is a BGSAVE whose file is then sent to the replicas in the
// $<len> form. Lock held.
func (s *Server) startDiskSync(reps []*replication.Replica, aux []rdb.Aux) error {
	path := s.rdbPath()
	return s.startBgsaveWith(aux, func(err error) {
		if err != nil {
			s.finishReplicaSync(reps, err, time.Now(), false)
			return
		}
		for _, rep := range reps {
			f, err := os.Open(path)
			if err != nil {
				s.finishReplicaSync([]*replication.Replica{rep}, err, time.Now(), false)
				continue
			}
			go s.sendSyncFile(rep, f)
		}
	})
}

// sendSyncFile sends a saved snapshot to one replica, then moves it to
// the live stream.
func (s *Server) sendSyncFile(rep *replication.Replica, f *os.File) {
	defer f.Close()
	start := time.Now()
	o := rep.Sink().(replicaSink).c.out
	err := func() error {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		s.mu.Lock()
		o.push([]byte("$" + strconv.FormatInt(st.Size(), 10) + "\r\n"))
		rep.HeaderSent = true
		s.mu.Unlock()
		buf := make([]byte, 256<<10)
		for {
			n, err := f.Read(buf)
			if n > 0 && !o.pushWait(buf[:n], syncWriteWindow) {
				return errors.New("replica disconnected")
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}()
	s.mu.Lock()
	s.finishReplicaSync([]*replication.Replica{rep}, err, start, false)
	s.mu.Unlock()
}

// finishReplicaSync puts replicas whose snapshot was sent online (the
// stream buffered meanwhile follows, after a diskless snapshot only once
// the replica acknowledged it), or drops them. Lock held.
func (s *Server) finishReplicaSync(reps []*replication.Replica, err error, start time.Time, diskless bool) {
	for _, rep := range reps {
		if s.repl.master.Get(rep.ClientID) != rep {
			continue // gone meanwhile
		}
		if err != nil || rep.Sink().(replicaSink).c.out.isClosed() {
			s.log.Warn("synchronization with replica failed", "replica", rep.ClientID, "err", err)
			rep.Sink().Close()
			continue
		}
		if diskless {
			s.repl.master.OnlineAfterAck(rep)
		} else {
			s.repl.master.Online(rep)
		}
		s.log.Info("synchronization with replica succeeded", "replica", rep.IP+":"+strconv.Itoa(rep.Port),
			"ms", time.Since(start).Milliseconds())
	}
}

// requestAcks asks every replica for an acknowledgement (REPLCONF GETACK
// in the stream), unless one was asked since the last write. Lock held.
func (s *Server) requestAcks() {
	r := &s.repl
	if r.backlog == nil || r.link != nil || r.master.Len() == 0 || r.getackAt == r.masterOffset() {
		return
	}
	r.feed(cmdlog.AppendCommand(nil, [][]byte{[]byte("REPLCONF"), []byte("GETACK"), []byte("*")}))
	r.getackAt = r.masterOffset()
}

// cmdWait is WAIT numreplicas timeout: it blocks (without the execution
// lock) until numreplicas replicas acknowledged the client's writes.
func cmdWait(c *Client, args [][]byte) {
	s := c.s
	n, ok := parseInt(args[1])
	if !ok {
		c.replyError(errNotInteger)
		return
	}
	ms, ok := parseInt(args[2])
	if !ok {
		c.replyError("ERR timeout is not an integer or out of range")
		return
	}
	if ms < 0 {
		c.replyError("ERR timeout is negative")
		return
	}
	unlock := false
	if !c.locked {
		s.mu.Lock()
		unlock = true
	}
	if s.repl.link != nil {
		if unlock {
			s.mu.Unlock()
		}
		c.replyError("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
		return
	}
	target := c.replOff
	got, _ := s.repl.master.Acked(target)
	if !unlock || got >= int(n) {
		// Inside MULTI (lock held) WAIT never blocks.
		if unlock {
			s.mu.Unlock()
		}
		c.W.Int(int64(got))
		return
	}
	s.requestAcks()
	s.mu.Unlock()
	// A killed client or a shutdown ends the wait.
	stop, finished := make(chan struct{}), make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-finished:
				return
			case <-s.done:
				close(stop)
				return
			case <-t.C:
				if c.killed.Load() {
					close(stop)
					return
				}
			}
		}
	}()
	got = s.repl.master.Wait(target, int(n), time.Duration(ms)*time.Millisecond, stop)
	close(finished)
	c.W.Int(int64(got))
}

// noReplicasRefuses implements min-replicas-to-write: a master refuses
// writes while fewer replicas than that have acknowledged within
// min-replicas-max-lag seconds. cmd nil asks for a writing SQL statement.
func (s *Server) noReplicasRefuses(c *Client, cmd *Command) bool {
	r := &s.repl
	need := s.cfg.minReplicasToWrite.Load()
	if need == 0 || (cmd != nil && cmd.Flags&FlagWrite == 0) || r.isReplica.Load() || c.flags.Load()&uint32(clientMaster) != 0 {
		return false
	}
	lag := s.cfg.minReplicasMaxLag.Load()
	if lag == 0 {
		return false
	}
	return int64(r.master.Good(lag, time.Now())) < need
}

const errNoReplicas = "NOREPLICAS Not enough good replicas to write."

// replCron is replication's periodic work, about once a second: PINGs to
// replicas, keepalives to replicas waiting for a snapshot, dropping timed
// out replicas, freeing an unused backlog, starting a delayed diskless
// synchronization, and the replica side's ACKs and link timeout.
func (s *Server) replCron(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.repl
	// Waiting replicas may be started on every tick (the sync delay).
	s.startReplicaSync()
	if now.Sub(r.lastCron) < time.Second {
		return
	}
	r.lastCron = now
	if r.link != nil {
		r.link.cron(now)
	}
	reps := r.master.Replicas()
	if r.link == nil && r.backlog != nil && len(reps) > 0 {
		period := time.Duration(mustInt(s.cfgValue("repl-ping-replica-period"))) * time.Second
		if now.Sub(r.lastPing) >= period {
			r.lastPing = now
			r.feed(cmdlog.AppendCommand(nil, [][]byte{[]byte("PING")}))
		}
	}
	for _, rep := range reps {
		if !rep.HeaderSent {
			rep.Sink().Push([]byte("\n")) // keepalive while the snapshot is prepared
		}
	}
	timeout := time.Duration(mustInt(s.cfgValue("repl-timeout"))) * time.Second
	for _, rep := range r.master.TimedOut(timeout, now) {
		s.log.Warn("disconnecting timed out replica", "replica", fmt.Sprintf("%s:%d", rep.IP, rep.Port))
		rep.Sink().Close()
	}
	if len(reps) == 0 && r.link == nil && r.backlog != nil {
		ttl := time.Duration(mustInt(s.cfgValue("repl-backlog-ttl"))) * time.Second
		if r.noReplicasSince.IsZero() {
			r.noReplicasSince = now
		}
		if ttl > 0 && now.Sub(r.noReplicasSince) > ttl {
			// Nobody can continue from a freed backlog: a new history.
			r.offset = r.backlog.Offset()
			r.backlog = nil
			r.ids = replication.NewIDs()
			s.feedOwnLog(false)
			s.log.Info("replication backlog freed after having no replicas", "seconds", int64(ttl/time.Second))
		}
	}
}

// replicaLimit is client-output-buffer-limit's replica class (0: none).
func (cfg *Config) replicaLimit() obufLimit {
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	return cfg.obuf[obufReplica]
}
