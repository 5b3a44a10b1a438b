package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/aof"
	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/memtune"
)

// The append-only file is one more reader of the command log (DESIGN rule
// 1): every entry — a command, a MULTI/EXEC block, a SQL transaction's page
// batch — is encoded as Redis does and handed to the aof package, which
// writes it, fsyncs it according to appendfsync, and rewrites the file set
// from a keyspace snapshot (BGREWRITEAOF, auto-aof-rewrite-*).

// aofState is the server's AOF bookkeeping. Fields are guarded by the
// execution lock unless they are atomics.
type aofState struct {
	m   *aof.Manager // nil while appendonly is off
	enc *cmdlog.Encoder
	// end is the AOF offset after the last appended entry; a client's
	// reply waits until the file has it (on disk under appendfsync always).
	end atomic.Uint64
	// live is m for readers without the lock (clients waiting for fsync).
	live atomic.Pointer[aof.Manager]

	rewriteScheduled bool
	// enablePending: appendonly was turned on while another snapshot job
	// ran; the rewrite that enables the AOF starts when that job ends
	// (Redis's AOF_WAIT_REWRITE with a scheduled rewrite).
	enablePending       bool
	lastRewriteOK       bool
	lastRewriteSecs     int64
	rewrites            int64
	consecutiveFailures int64
}

func (a *aofState) init() {
	a.lastRewriteOK = true
	a.lastRewriteSecs = -1
}

// Publish implements cmdlog.Subscriber: the entry is encoded (SELECT as
// needed, MULTI/EXEC around atomic entries) and queued for the file. Called
// with the execution lock held.
func (a *aofState) Publish(_ uint64, e *cmdlog.Entry) {
	if a.m == nil {
		return
	}
	a.end.Store(a.m.AppendEncoded(func(dst []byte) []byte { return a.enc.Append(dst, e) }))
}

// writeError returns the AOF's last write or fsync error, nil when healthy
// or off (Stats never waits for disk I/O). Lock held.
func (a *aofState) writeError() error {
	if a.m == nil {
		return nil
	}
	st := a.m.Stats()
	if st.LastWriteErr != nil {
		return st.LastWriteErr
	}
	return st.LastFsyncErr
}

// aofConfig builds the aof package's configuration from the directives.
func (s *Server) aofConfig() (aof.Config, error) {
	fsync, _ := s.cfg.Get("appendfsync")
	p, err := aof.ParseFsync(fsync)
	if err != nil {
		return aof.Config{}, err
	}
	dirName, _ := s.cfg.Get("appenddirname")
	fileName, _ := s.cfg.Get("appendfilename")
	return aof.Config{
		Dir: s.cfg.Dir, DirName: dirName, FileName: fileName, Fsync: p,
		LoadTruncated:  s.cfg.boolValue("aof-load-truncated"),
		UseRDBPreamble: s.cfg.boolValue("aof-use-rdb-preamble"),
		Logger:         s.log,
	}, nil
}

// openAOF opens the AOF file set the directives name (without loading or
// starting it).
func (s *Server) openAOF() (*aof.Manager, error) {
	cfg, err := s.aofConfig()
	if err != nil {
		return nil, err
	}
	return aof.Open(cfg)
}

// enableAOF starts appending to m (already started) from now on. Lock held.
func (s *Server) enableAOF(m *aof.Manager) {
	a := &s.aof
	a.m = m
	a.live.Store(m)
	a.enc = cmdlog.NewEncoder()
	s.cmdlog.Subscribe(a)
}

// disableAOF stops appending and closes the files. Lock held.
func (s *Server) disableAOF() error {
	a := &s.aof
	a.enablePending = false
	if a.m == nil {
		return nil
	}
	s.cmdlog.Unsubscribe(a)
	m := a.m
	a.m = nil
	a.live.Store(nil)
	a.rewriteScheduled = false
	return m.Close()
}

// applyAppendOnly is CONFIG SET appendonly: turning it on starts a rewrite
// that writes the current data as the new base, as Redis does (until it
// commits, appends go to a temporary file outside the manifest, so the old
// files stay the loadable state) — or, while another snapshot job runs,
// schedules it for when that job ends, as Redis does with a child running;
// off flushes and closes the file. Lock held (CONFIG SET runs as a command).
func (s *Server) applyAppendOnly(on bool) error {
	if !on {
		return s.disableAOF()
	}
	if s.aof.m != nil || s.aof.enablePending {
		return nil
	}
	if s.persist.job != nil {
		s.aof.enablePending = true
		s.log.Warn("AOF was enabled but there is already another background operation. " +
			"An AOF background was scheduled to start when possible.")
		return nil
	}
	m, err := s.openAOF()
	if err != nil {
		return err
	}
	s.enableAOF(m)
	if err := s.startAOFRewrite(); err != nil {
		s.disableAOF()
		return err
	}
	return nil
}

// applyAppendFsync is CONFIG SET appendfsync.
func (s *Server) applyAppendFsync(v string) error {
	p, err := aof.ParseFsync(v)
	if err != nil {
		return err
	}
	if s.aof.m != nil {
		s.aof.m.SetFsync(p)
	}
	return nil
}

// waitAOF is called before a client's replies are sent: they go out only
// once the log entries of its commands are written to the AOF (on disk,
// under appendfsync always). Many clients share one write and one fsync
// (the aof package's group commit).
func (c *Client) waitAOF() error {
	off := c.aofWait
	if off == 0 {
		return nil
	}
	c.aofWait = 0
	m := c.s.aof.live.Load()
	if m == nil {
		return nil
	}
	return m.WaitSynced(off)
}

// startAOFRewrite begins BGREWRITEAOF: the snapshot and the switch to a new
// incremental file happen now, under the lock, so the new base plus the new
// incremental file are exactly the data; a goroutine writes the base. With
// appendonly off, the rewrite still produces a loadable file set, as in
// Redis. Lock held.
func (s *Server) startAOFRewrite() error {
	if s.persist.job != nil {
		return errors.New("a snapshot job is already running")
	}
	a := &s.aof
	m := a.m
	temporary := false
	if m == nil {
		var err error
		if m, err = s.openAOF(); err != nil {
			return err
		}
		temporary = true // rewritten, never appended to: no Start
	}
	base, err := m.BeginRewrite()
	if err != nil {
		return fmt.Errorf("starting the AOF rewrite: %w", err)
	}
	if a.enc != nil {
		a.enc.SetDB(-1) // the new incremental file starts with a SELECT
	}
	useRDB := s.cfg.boolValue("aof-use-rdb-preamble")
	write := func(st snapshotStream) error {
		var err error
		if useRDB {
			_, err = s.writeRDB(base, st, s.rdbAux(true))
		} else {
			_, err = s.writeAOFBase(base, st)
		}
		return err
	}
	after := func(err error) error {
		if err == nil {
			err = m.CommitRewrite(base, useRDB)
		} else {
			m.AbortRewrite(base)
		}
		if temporary {
			if cerr := m.Close(); err == nil {
				err = cerr
			}
		}
		return err
	}
	done := func(j *snapJob, err error) {
		a.lastRewriteSecs = int64(time.Since(j.start) / time.Second)
		if err != nil {
			a.lastRewriteOK = false
			a.consecutiveFailures++
			s.log.Warn("background AOF rewrite failed", "err", err)
		} else {
			a.lastRewriteOK = true
			a.consecutiveFailures = 0
			a.rewrites++
			s.log.Info("background AOF rewrite finished successfully", "ms", time.Since(j.start).Milliseconds())
		}
	}
	if err := s.startSnapshotJob("aof", write, after, done); err != nil {
		m.AbortRewrite(base)
		if temporary {
			m.Close()
		}
		return err
	}
	s.log.Info("background append only file rewriting started")
	return nil
}

// aofAutoRewrite starts a rewrite when the file grew by
// auto-aof-rewrite-percentage since the last rewrite and is over
// auto-aof-rewrite-min-size. Lock held, no job running.
func (s *Server) aofAutoRewrite() {
	a := &s.aof
	if a.m == nil {
		return
	}
	pct := mustInt(s.cfgValue("auto-aof-rewrite-percentage"))
	minSize := mustInt(s.cfgValue("auto-aof-rewrite-min-size"))
	if pct <= 0 {
		return
	}
	st := a.m.Stats()
	if st.CurrentSize < minSize {
		return
	}
	base := st.BaseSize
	if base <= 0 {
		base = 1
	}
	if growth := (st.CurrentSize - base) * 100 / base; growth >= pct {
		s.log.Info("starting automatic rewriting of AOF", "growth_pct", growth)
		if err := s.startAOFRewrite(); err != nil {
			s.log.Warn("automatic AOF rewrite failed to start", "err", err)
		}
	}
}

func (s *Server) cfgValue(name string) string {
	v, _ := s.cfg.Get(name)
	return v
}

func cmdBgrewriteaof(c *Client, args [][]byte) {
	s := c.s
	if j := s.persist.job; j != nil {
		if j.kind == "aof" {
			c.replyError("ERR Background append only file rewriting already in progress")
			return
		}
		s.aof.rewriteScheduled = true
		c.W.Simple("Background append only file rewriting scheduled")
		return
	}
	if err := s.startAOFRewrite(); err != nil {
		c.replyError("ERR " + err.Error())
		return
	}
	c.W.Simple("Background append only file rewriting started")
}

// aofItemsPerCmd is how many fields one HSET of a RESP base carries, as
// Redis's AOF_REWRITE_ITEMS_PER_CMD.
const aofItemsPerCmd = 64

// writeAOFBase streams the snapshot to w as commands (aof-use-rdb-preamble
// no): SELECT, SET / HSET, PEXPIREAT.
func (s *Server) writeAOFBase(w io.Writer, st snapshotStream) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	cur := -1
	var keys int64
	var buf []byte
	argv := make([][]byte, 0, 2+2*aofItemsPerCmd)
	err := st.each(func(it *keyspace.Item) error {
		buf = buf[:0]
		if it.DB != cur {
			buf = cmdlog.AppendCommand(buf, [][]byte{[]byte("SELECT"), strconv.AppendInt(nil, int64(it.DB), 10)})
			cur = it.DB
		}
		key := []byte(it.Key)
		if it.Hash == nil {
			buf = cmdlog.AppendCommand(buf, [][]byte{[]byte("SET"), key, []byte(it.Str)})
		} else {
			var werr error
			argv = append(argv[:0], []byte("HSET"), key)
			it.Hash.Range(func(f, v string) bool {
				argv = append(argv, []byte(f), []byte(v))
				if len(argv) == cap(argv) {
					buf = cmdlog.AppendCommand(buf, argv)
					argv = append(argv[:0], []byte("HSET"), key)
					_, werr = bw.Write(buf)
					buf = buf[:0]
				}
				return werr == nil
			})
			if werr != nil {
				return werr
			}
			if len(argv) > 2 {
				buf = cmdlog.AppendCommand(buf, argv)
			}
		}
		if it.ExpireMs >= 0 {
			buf = cmdlog.AppendCommand(buf, [][]byte{[]byte("PEXPIREAT"), key, strconv.AppendInt(nil, it.ExpireMs, 10)})
		}
		keys++
		_, err := bw.Write(buf)
		return err
	})
	if err != nil {
		return keys, err
	}
	return keys, bw.Flush()
}

// replayClient returns the internal client that replays the AOF: flagged
// as the master link, so writes to SQL database keys (page batches) are
// allowed, and already holding the lock the loader holds.
func (s *Server) replayClient() *Client {
	fc := s.internalClient(0, "aof")
	fc.flags.Store(uint32(clientMaster))
	return fc
}

// replayUnit executes one unit of the AOF (a command, or a MULTI … EXEC
// block). Lock held.
func (s *Server) replayUnit(fc *Client, cmds [][][]byte) error {
	for _, argv := range cmds {
		cmd, msg := s.table.resolve(argv)
		if msg != "" {
			return errors.New(msg)
		}
		if cmd.Flags&FlagUnlocked != 0 {
			return fmt.Errorf("the %s command cannot be replayed from an append-only file", cmd.FullName())
		}
		fc.dispatch(argv)
		fc.W.Reset()
	}
	return nil
}

// loadAOF replays the AOF file set. Lock held.
func (s *Server) loadAOF(m *aof.Manager) error {
	fc := s.replayClient()
	var st rdbLoadStats
	_, err := m.Load(func(r io.Reader) error {
		var err error
		st, err = s.loadRDB(r)
		return err
	}, func(cmds [][][]byte) error { return s.replayUnit(fc, cmds) })
	s.persist.lastLoad = st
	return err
}

// info renders the AOF fields of INFO persistence. Lock held.
func (a *aofState) info(b *infoBuilder, j *snapJob) {
	b.kv("aof_enabled", boolDigit(a.m != nil || a.enablePending))
	b.kv("aof_rewrite_in_progress", boolDigit(j != nil && j.kind == "aof"))
	b.kv("aof_rewrite_scheduled", boolDigit(a.rewriteScheduled || a.enablePending))
	b.num("aof_last_rewrite_time_sec", a.lastRewriteSecs)
	cur := int64(-1)
	if j != nil && j.kind == "aof" {
		cur = int64(time.Since(j.start) / time.Second)
	}
	b.num("aof_current_rewrite_time_sec", cur)
	b.kv("aof_last_bgrewrite_status", okErr(a.lastRewriteOK))
	b.num("aof_rewrites", a.rewrites)
	b.num("aof_rewrites_consecutive_failures", a.consecutiveFailures)
	b.kv("aof_last_write_status", okErr(a.writeError() == nil))
	b.kv("aof_last_cow_size", "0")
	if a.m == nil {
		return
	}
	st := a.m.Stats()
	b.num("aof_current_size", st.CurrentSize)
	b.num("aof_base_size", st.BaseSize)
	b.kv("aof_pending_rewrite", boolDigit(a.rewriteScheduled))
	b.num("aof_buffer_length", int64(st.BufferLength))
	b.kv("aof_pending_bio_fsync", boolDigit(st.PendingFsync))
	b.unum("aof_delayed_fsync", st.DelayedFsyncs)
}

// openPersistence loads the data at start-up and starts the AOF when it is
// on: with appendonly yes the AOF is the source of truth (as in Redis); if
// it does not exist yet but an RDB file does, the RDB is loaded and written
// as the AOF's first base right away (Redis would start empty instead,
// silently dropping the RDB's data). Without the AOF, the RDB file is
// loaded if present.
func (s *Server) openPersistence() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	memtune.BeginLoad()
	defer memtune.EndLoad()
	start := time.Now()
	defer func() {
		s.persist.dirtyAtSave = s.ks.Dirty
		s.admin.lastSave.Store(time.Now().Unix())
	}()
	if !s.cfg.boolValue("appendonly") {
		_, err := s.loadDumpFile()
		return err
	}
	m, err := s.openAOF()
	if err != nil {
		return err
	}
	fromRDB := false
	if m.Exists() {
		if err := s.loadAOF(m); err != nil {
			return err
		}
		s.log.Info("DB loaded from append only file", "keys", s.ks.KeyCount(), "ms", time.Since(start).Milliseconds(),
			"expired_in_base", s.persist.lastLoad.expired)
	} else if fromRDB, err = s.loadDumpFile(); err != nil {
		return err
	}
	if err := m.Start(); err != nil {
		return err
	}
	s.enableAOF(m)
	if fromRDB {
		// Write the loaded data as the AOF base before serving, so the
		// AOF (which the next start loads instead of the RDB) holds it:
		// an ordinary rewrite, waited for (nobody is served yet).
		if err := s.startAOFRewrite(); err != nil {
			return fmt.Errorf("creating the AOF base from %s: %w", s.rdbPath(), err)
		}
		s.waitJobLocked(false)
		if !s.aof.lastRewriteOK {
			return fmt.Errorf("creating the AOF base from %s failed (the log has the error)", s.rdbPath())
		}
		s.log.Info("RDB data written as the first AOF base", "path", s.rdbPath())
	}
	return nil
}

// closePersistence flushes and closes the AOF (shutdown).
func (s *Server) closePersistence() {
	s.stopJob()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.disableAOF(); err != nil {
		s.log.Warn("closing the append only file", "err", err)
	}
}
