package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/atomicfile"
	"github.com/thredis/thredis/procboost"
	"github.com/thredis/thredis/rdb"
)

// Persistence: RDB snapshots (SAVE, BGSAVE, save points, SHUTDOWN) and the
// state INFO persistence reports. The append-only file is in aof.go; both
// take their point-in-time view from a keyspace.Snapshot, one at a time.

// Redis's MISCONF reply texts.
const (
	errMisconfRDB = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. " +
		"Commands that may modify the data set are disabled, because this instance is configured to report errors " +
		"during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs " +
		"for details about the RDB error."
	errMisconfAOF = "MISCONF Errors writing to the AOF file: "
)

// bgsaveRetryDelay is how long a failed background save waits before a
// save point may trigger the next attempt (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const bgsaveRetryDelay = 5 * time.Second

// snapJob is a background job streaming a keyspace snapshot: a BGSAVE or an
// AOF rewrite. Only one runs at a time (a keyspace has one snapshot).
type snapJob struct {
	kind      string // "rdb" or "aof"
	start     time.Time
	cancel    atomic.Bool
	processed atomic.Int64 // keys written so far
	total     int64        // keys when the snapshot began
	done      chan struct{}
}

// persistState is the server's persistence bookkeeping. Fields are guarded
// by the execution lock unless they are atomics.
type persistState struct {
	job            *snapJob // the running snapshot job, nil when none
	dirtyAtSave    uint64   // Keyspace.Dirty as of the last successful save
	bgsaveSched    bool     // BGSAVE SCHEDULE waiting for the running job
	lastBgsaveOK   bool
	lastBgsaveTry  time.Time
	lastBgsaveSecs int64 // duration of the last BGSAVE, -1 if none yet
	saves          int64 // successful saves since start
	lastLoad       rdbLoadStats
	// saveParams caches the parsed "save" directive.
	saveParamsText string
	saveParams     []saveParam

	// denyWrites holds the MISCONF text while writes are refused (a failed
	// background save with stop-writes-on-bgsave-error, or an AOF write
	// error), nil otherwise: read on every command without the lock.
	denyWrites atomic.Pointer[string]
}

type saveParam struct {
	seconds int64
	changes uint64
}

func (p *persistState) init() {
	p.lastBgsaveOK = true
	p.lastBgsaveSecs = -1
}

// rdbPath is where SAVE and BGSAVE write: dir/dbfilename.
func (s *Server) rdbPath() string {
	name, _ := s.cfg.Get("dbfilename")
	return filepath.Join(s.cfg.Dir, name)
}

// currentSaveParams parses the save directive (cached by its text). Lock
// held.
func (s *Server) currentSaveParams() []saveParam {
	text, _ := s.cfg.Get("save")
	p := &s.persist
	if text == p.saveParamsText && (text == "" || p.saveParams != nil) {
		return p.saveParams
	}
	p.saveParamsText, p.saveParams = text, nil
	f := strings.Fields(text)
	for i := 0; i+1 < len(f); i += 2 {
		sec, _ := strconv.ParseInt(f[i], 10, 64)
		ch, _ := strconv.ParseUint(f[i+1], 10, 64)
		p.saveParams = append(p.saveParams, saveParam{sec, ch})
	}
	return p.saveParams
}

// refreshDenyWrites recomputes whether writes are refused with -MISCONF,
// following Redis's writeCommandsDeniedByDiskError. Lock held.
func (s *Server) refreshDenyWrites() {
	var msg string
	switch {
	case s.cfg.boolValue("stop-writes-on-bgsave-error") && len(s.currentSaveParams()) > 0 && !s.persist.lastBgsaveOK:
		msg = errMisconfRDB
	default:
		if err := s.aof.writeError(); err != nil {
			msg = errMisconfAOF + errorText(err).Error()
		}
	}
	if msg == "" {
		s.persist.denyWrites.Store(nil)
	} else {
		s.persist.denyWrites.Store(&msg)
	}
}

// diskErrorRefuses reports the MISCONF text for a command refused because
// persistence is failing: write commands and PING, as in Redis, except from
// the master link.
func (s *Server) diskErrorRefuses(c *Client, cmd *Command) string {
	msg := s.persist.denyWrites.Load()
	if msg == nil || c.flags.Load()&uint32(clientMaster) != 0 {
		return ""
	}
	if cmd.Flags&FlagWrite != 0 || cmd.Name == "ping" {
		return *msg
	}
	return ""
}

// writeDenial is the error a writing SQL statement gets, "" if writes are
// allowed: -READONLY on a read-only replica, -MISCONF while persistence
// fails.
func (s *Server) writeDenial(c *Client) string {
	if c.flags.Load()&uint32(clientMaster) != 0 {
		return ""
	}
	if s.readOnly.Load() {
		return readOnlyError
	}
	if msg := s.persist.denyWrites.Load(); msg != nil {
		return *msg
	}
	if s.noReplicasRefuses(c, nil) {
		return errNoReplicas
	}
	return ""
}

// saveSync writes an RDB file while holding the execution lock (SAVE,
// SHUTDOWN), as Redis's SAVE blocks the server. Lock held.
func (s *Server) saveSync() error {
	if j := s.persist.job; j != nil {
		return fmt.Errorf("a background %s is in progress", jobName(j.kind))
	}
	snap, err := s.ks.BeginSnapshot()
	if err != nil {
		return err
	}
	defer snap.Release()
	dirty := s.ks.Dirty
	start := time.Now()
	var keys int64
	noop := func() {}
	err = atomicfile.Write(s.rdbPath(), func(f *os.File) error {
		keys, err = s.writeRDB(f, snapshotStream{snap: snap, lock: noop, unlock: noop, keyDelay: &s.cfg.rdbKeySaveDelay}, s.rdbAux(false))
		return err
	})
	if err != nil {
		s.log.Warn("save failed", "path", s.rdbPath(), "err", err)
		return err
	}
	s.savedAt(dirty, time.Now())
	s.log.Info("DB saved on disk", "path", s.rdbPath(), "keys", keys, "ms", time.Since(start).Milliseconds())
	return nil
}

// savedAt records a successful save of the state at dirty. Lock held.
func (s *Server) savedAt(dirty uint64, when time.Time) {
	s.persist.dirtyAtSave = dirty
	s.persist.saves++
	s.admin.lastSave.Store(when.Unix())
}

// autoSyncBytes is how much a background save writes between fsyncs under
// rdb-save-incremental-fsync, as Redis's REDIS_AUTOSYNC_BYTES.
const autoSyncBytes = 4 << 20

// syncingWriter fsyncs its file every autoSyncBytes, so the kernel writes
// a big snapshot back as it goes instead of in one burst of dirty pages
// at the end, which stalls every thread of a 2-CPU machine for tens of
// milliseconds.
type syncingWriter struct {
	f       *os.File
	pending int
}

func (w *syncingWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if w.pending += n; err == nil && w.pending >= autoSyncBytes {
		w.pending = 0
		err = w.f.Sync()
	}
	return n, err
}

// incrementalSync wraps f in a syncingWriter when the named
// *-incremental-fsync directive is on.
func (s *Server) incrementalSync(f *os.File, directive string) io.Writer {
	if !s.cfg.boolValue(directive) {
		return f
	}
	return &syncingWriter{f: f}
}

func jobName(kind string) string {
	if kind == "aof" {
		return "append only file rewrite"
	}
	return "save"
}

// startSnapshotJob takes a keyspace snapshot now (lock held) and streams it
// from a goroutine: write encodes it (the stream takes the lock for each
// step of the walk); after, called without the lock once the snapshot is
// released, finishes the output (an AOF rewrite commits its files there);
// done records the outcome with the lock held. Only one job runs at a time;
// a scheduled one starts when it ends.
func (s *Server) startSnapshotJob(kind string, write func(st snapshotStream) error,
	after func(err error) error, done func(j *snapJob, err error)) error {
	if s.persist.job != nil {
		return errors.New("a snapshot job is already running")
	}
	snap, err := s.ks.BeginSnapshot()
	if err != nil {
		return err
	}
	j := &snapJob{kind: kind, start: time.Now(), total: int64(s.ks.KeyCount()), done: make(chan struct{})}
	s.persist.job = j
	go func() {
		defer close(j.done)
		// The encoder is CPU-bound for seconds: with one P it would
		// starve the clients between the runtime's preemptions.
		procboost.Begin()
		err := write(snapshotStream{snap: snap, lock: s.mu.Lock, unlock: s.mu.Unlock, cancel: &j.cancel, progress: &j.processed,
			keyDelay: &s.cfg.rdbKeySaveDelay})
		procboost.End()
		s.mu.Lock()
		snap.Release()
		s.mu.Unlock()
		if after != nil {
			err = after(err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.persist.job = nil
		done(j, err)
		s.startScheduledJob()
	}()
	return nil
}

// startBgsave begins a background save of the data as it is now. Lock
// held.
func (s *Server) startBgsave() error { return s.startBgsaveWith(s.rdbAux(false), nil) }

// startBgsaveWith is BGSAVE writing the given AUX fields; then, when not
// nil, is called (lock held) once the file is complete or failed (a
// disk-based replica synchronization sends it).
func (s *Server) startBgsaveWith(aux []rdb.Aux, then func(err error)) error {
	path := s.rdbPath()
	dirty := s.ks.Dirty
	var keys int64
	write := func(st snapshotStream) error {
		return atomicfile.Write(path, func(f *os.File) error {
			var err error
			keys, err = s.writeRDB(s.incrementalSync(f, "rdb-save-incremental-fsync"), st, aux)
			return err
		})
	}
	done := func(j *snapJob, err error) {
		s.persist.lastBgsaveSecs = int64(time.Since(j.start).Round(time.Second) / time.Second)
		if err != nil {
			s.persist.lastBgsaveOK = false
			s.log.Warn("background saving failed", "path", path, "err", err)
		} else {
			s.persist.lastBgsaveOK = true
			s.savedAt(dirty, j.start)
			s.log.Info("background saving terminated with success", "path", path, "keys", keys,
				"ms", time.Since(j.start).Milliseconds())
		}
		s.refreshDenyWrites()
		if then != nil {
			then(err)
		}
	}
	if err := s.startSnapshotJob("rdb", write, nil, done); err != nil {
		return err
	}
	s.persist.lastBgsaveTry = time.Now()
	s.log.Info("background saving started")
	return nil
}

// startScheduledJob starts a BGSAVE or AOF rewrite that was scheduled while
// another job ran. Lock held.
func (s *Server) startScheduledJob() {
	if s.persist.job != nil {
		return
	}
	switch {
	case s.aof.enablePending:
		// The enabling rewrite also serves a BGREWRITEAOF scheduled
		// meanwhile.
		s.aof.enablePending = false
		s.aof.rewriteScheduled = false
		if err := s.applyAppendOnly(true); err != nil {
			s.aof.enablePending = true // retried at the next cron tick, as Redis does
			s.log.Warn("scheduled AOF enabling rewrite failed to start", "err", err)
		}
	case s.aof.rewriteScheduled:
		s.aof.rewriteScheduled = false
		if err := s.startAOFRewrite(); err != nil {
			s.log.Warn("scheduled AOF rewrite failed to start", "err", err)
		}
	case s.persist.bgsaveSched:
		s.persist.bgsaveSched = false
		if err := s.startBgsave(); err != nil {
			s.log.Warn("scheduled background save failed to start", "err", err)
		}
	default:
		s.startReplicaSync()
	}
}

// persistCron runs the save points, scheduled jobs and automatic AOF
// rewrites, about once per cron tick.
func (s *Server) persistCron(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshDenyWrites()
	if s.persist.job != nil {
		return
	}
	s.startScheduledJob()
	if s.persist.job != nil {
		return
	}
	p := &s.persist
	changes := s.ks.Dirty - p.dirtyAtSave
	last := time.Unix(s.admin.lastSave.Load(), 0)
	for _, sp := range s.currentSaveParams() {
		if changes >= sp.changes && now.Sub(last) > time.Duration(sp.seconds)*time.Second &&
			(p.lastBgsaveOK || now.Sub(p.lastBgsaveTry) > bgsaveRetryDelay) {
			s.log.Info("save point reached, saving", "changes", changes, "seconds", sp.seconds)
			if err := s.startBgsave(); err != nil {
				s.log.Warn("background save failed to start", "err", err)
			}
			return
		}
	}
	s.aofAutoRewrite()
}

// stopJob cancels the running snapshot job and waits for it (shutdown).
// Called without the lock.
func (s *Server) stopJob() {
	s.mu.Lock()
	s.waitJobLocked(true)
	s.mu.Unlock()
}

// waitJobLocked waits until no snapshot job runs, cancelling it first if
// cancel is set. The caller holds the lock; it is released while waiting
// and held again on return.
func (s *Server) waitJobLocked(cancel bool) {
	for j := s.persist.job; j != nil; j = s.persist.job {
		if cancel {
			j.cancel.Store(true)
		}
		s.mu.Unlock()
		<-j.done
		s.mu.Lock()
	}
}

func cmdSave(c *Client, args [][]byte) {
	if j := c.s.persist.job; j != nil && j.kind == "rdb" {
		c.replyError("ERR Background save already in progress")
		return
	}
	if c.s.persist.job != nil {
		c.replyError("ERR Background append only file rewriting in progress")
		return
	}
	if err := c.s.saveSync(); err != nil {
		c.replyError("ERR " + err.Error())
		return
	}
	c.W.OK()
}

func cmdBgsave(c *Client, args [][]byte) {
	s := c.s
	schedule := false
	if len(args) > 1 {
		if len(args) > 2 || !strings.EqualFold(string(args[1]), "schedule") {
			c.replyError(errSyntax)
			return
		}
		schedule = true
	}
	if j := s.persist.job; j != nil {
		if j.kind == "rdb" {
			c.replyError("ERR Background save already in progress")
			return
		}
		if !schedule {
			c.replyError("ERR Another child process is active (AOF?): can't BGSAVE right now. " +
				"Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
			return
		}
		s.persist.bgsaveSched = true
		c.W.Simple("Background saving scheduled")
		return
	}
	if err := s.startBgsave(); err != nil {
		c.replyError("ERR " + err.Error())
		return
	}
	c.W.Simple("Background saving started")
}

// infoPersistence renders INFO's persistence section with Redis's fields.
func (s *Server) infoPersistence(b *infoBuilder) {
	p := &s.persist
	j := p.job
	b.kv("loading", "0")
	b.kv("async_loading", "0")
	b.kv("current_cow_peak", "0")
	b.kv("current_cow_size", "0")
	b.kv("current_cow_size_age", "0")
	b.kv("current_fork_perc", "0.00")
	processed, total := int64(0), int64(0)
	if j != nil {
		processed, total = j.processed.Load(), j.total
	}
	b.num("current_save_keys_processed", processed)
	b.num("current_save_keys_total", total)
	b.unum("rdb_changes_since_last_save", s.ks.Dirty-p.dirtyAtSave)
	b.kv("rdb_bgsave_in_progress", boolDigit(j != nil && j.kind == "rdb"))
	b.num("rdb_last_save_time", s.admin.lastSave.Load())
	b.kv("rdb_last_bgsave_status", okErr(p.lastBgsaveOK))
	b.num("rdb_last_bgsave_time_sec", p.lastBgsaveSecs)
	cur := int64(-1)
	if j != nil && j.kind == "rdb" {
		cur = int64(time.Since(j.start) / time.Second)
	}
	b.num("rdb_current_bgsave_time_sec", cur)
	b.num("rdb_saves", p.saves)
	b.kv("rdb_last_cow_size", "0")
	b.num("rdb_last_load_keys_expired", p.lastLoad.expired)
	b.num("rdb_last_load_keys_loaded", p.lastLoad.loaded)
	s.aof.info(b, j)
	b.kv("module_fork_in_progress", "0")
	b.kv("module_fork_last_cow_size", "0")
}

func okErr(ok bool) string {
	if ok {
		return "ok"
	}
	return "err"
}

// boolDigit renders a flag as INFO does: "1" or "0".
func boolDigit(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// ShutdownSave shuts the server down the way SHUTDOWN and SIGTERM do: the
// running background job is stopped, the dataset is saved if save points
// are configured or save is set (never with nosave), the AOF is flushed
// and fsynced, then the server stops. If the save fails the server keeps
// running and the error is returned, unless force. Called without the lock.
func (s *Server) ShutdownSave(save, nosave, force bool) error {
	s.mu.Lock()
	s.waitJobLocked(true)
	if (save || len(s.currentSaveParams()) > 0) && !nosave {
		s.log.Info("saving the final RDB snapshot before exiting")
		if err := s.saveSync(); err != nil {
			if !force {
				s.mu.Unlock()
				s.log.Warn("error trying to save the DB, can't exit", "err", err)
				return err
			}
			s.log.Warn("error trying to save the DB, exiting anyway (FORCE)", "err", err)
		}
	}
	s.mu.Unlock()
	s.Shutdown()
	return nil
}
