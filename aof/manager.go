// Package aof is thredis's append-only file, in Redis 7's multi-part
// layout: a directory (appenddirname, default "appendonlydir") holding a
// manifest (<appendfilename>.manifest) that lists one base file — an RDB
// (<name>.<seq>.base.rdb) or RESP commands (<name>.<seq>.base.aof) — and
// the incremental files (<name>.<seq>.incr.aof) appended since, in load
// order. A stock Redis 7 can load what this package writes and vice versa.
//
// The package deals in bytes and files only: the caller hands it commands
// already encoded in RESP (Append) and decodes what Load returns; RDB
// encoding and decoding are the caller's (through callbacks and the file
// BeginRewrite returns).
//
// Appends never touch the disk on the caller's goroutine: a writer
// goroutine writes everything queued with one write() and, for
// appendfsync always, one fsync(), then wakes every WaitSynced caller the
// batch covered (group commit). For everysec a background fsync runs about
// once per second; for no the operating system decides.
//
// Rewrites follow Redis 7 (no rewrite buffer): BeginRewrite switches
// appends to a new incremental file and returns a temporary file for the
// new base; CommitRewrite makes that base plus the incremental files opened
// since BeginRewrite the new AOF and deletes the old files.
package aof

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/atomicfile"
)

// Redis's defaults for appenddirname and appendfilename.
const (
	DefaultDirName  = "appendonlydir"
	DefaultFileName = "appendonly.aof"
)

// ErrClosed is returned by WaitSynced and other methods once Close has
// run.
var ErrClosed = errors.New("aof: closed")

// Config configures a Manager.
type Config struct {
	// Dir is the working directory (Redis's dir); "" means ".". The AOF
	// directory and a legacy single-file AOF live in it.
	Dir string
	// DirName is appenddirname; "" means DefaultDirName.
	DirName string
	// FileName is appendfilename, the prefix of every AOF file name; ""
	// means DefaultFileName.
	FileName string
	// Fsync is the initial appendfsync policy (SetFsync changes it).
	Fsync FsyncPolicy
	// LoadTruncated is aof-load-truncated: Load cuts an incomplete tail
	// off the last file instead of refusing it.
	LoadTruncated bool
	// UseRDBPreamble is aof-use-rdb-preamble: the empty base file Start
	// creates for a new AOF is an RDB (.base.rdb) instead of an empty
	// command file (.base.aof).
	UseRDBPreamble bool
	// Logger receives the package's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// state is where a Manager is in its life.
type state int

const (
	stateIdle        state = iota // opened: Load may run, nothing is written
	stateWaitRewrite              // appends go to a temporary file until the first rewrite commits
	stateOn                       // appends go to the manifest's last incremental file
	stateClosed
)

// rewriteState is a rewrite between BeginRewrite and Commit/AbortRewrite.
type rewriteState struct {
	base      *os.File
	firstIncr int64 // seq of the incremental file BeginRewrite opened (stateOn)
	wait      bool  // started in stateWaitRewrite: the first AOF of the data set
}

// Manager owns one AOF: its manifest, its files, and the goroutines that
// write and fsync appended data. Its methods are safe for concurrent use.
type Manager struct {
	cfg          Config
	log          *slog.Logger
	dir          string // the AOF directory: Dir/DirName
	manifestName string
	legacyPath   string // Dir/FileName, a pre-7.0 single-file AOF

	// opMu serializes Load, Start, the rewrite steps and Close, and guards
	// the fields below it.
	opMu   sync.Mutex
	man    *manifest // nil: no manifest on disk
	legacy bool      // a legacy single file is to be moved into dir
	rw     *rewriteState

	// ioMu is held by whoever writes to the current file: the writer
	// goroutine for a batch, and file switches. carry and partial are
	// only used with it held.
	ioMu    sync.Mutex
	carry   []byte // taken from buf, not yet (fully) written
	partial bool   // carry continues a command partly written to the file

	// mu guards the fields below; it is never held during I/O.
	mu           sync.Mutex
	cond         sync.Cond // broadcast when written/synced/failErr/state change
	st           state
	policy       FsyncPolicy
	buf          []byte // appended, not yet taken by the writer
	appended     uint64 // logical end offset of everything appended
	written      uint64 // ... of everything written to a file
	synced       uint64 // ... of everything known to be fsynced
	failErr      error  // the last write/fsync attempt failed ...
	failedUpTo   uint64 // ... for data up to this offset
	lastWriteErr error
	lastFsyncErr error
	file         *os.File   // the file appends go to
	fileName     string     // its name
	fileSize     int64      // its size
	retired      []*os.File // switched away from: fsync and close in the background
	fsyncing     bool
	baseSize     int64 // size of the manifest's base file
	closedIncr   int64 // sizes of the manifest's incremental files other than file
	rwBaseSize   int64 // CurrentSize after the last rewrite (or at Start)
	incrFiles    int   // len(man.incr), for Stats
	rewriting    bool  // rw != nil, for Stats

	fsyncs  atomic.Uint64
	writes  atomic.Uint64
	delayed atomic.Uint64

	wake       chan struct{} // pokes the writer
	syncWake   chan struct{} // pokes the syncer (retired files)
	stopWriter chan struct{}
	stopSyncer chan struct{}
	writerDone chan struct{}
	syncerDone chan struct{}

	// Test hooks replacing (*os.File).Write and Sync.
	writeHook func(f *os.File, p []byte) (int, error)
	syncHook  func(f *os.File) error
}

// Open prepares a Manager for the AOF described by cfg: it validates the
// names and reads and checks the manifest if there is one. It creates
// nothing on disk.
func Open(cfg Config) (*Manager, error) {
	if cfg.Dir == "" {
		cfg.Dir = "."
	}
	if cfg.DirName == "" {
		cfg.DirName = DefaultDirName
	}
	if cfg.FileName == "" {
		cfg.FileName = DefaultFileName
	}
	if !isBaseName(cfg.DirName) {
		return nil, fmt.Errorf("aof: appenddirname %q can't be a path, just a directory name", cfg.DirName)
	}
	if !isBaseName(cfg.FileName) {
		return nil, fmt.Errorf("aof: appendfilename %q can't be a path, just a filename", cfg.FileName)
	}
	switch cfg.Fsync {
	case Always, EverySec, No:
	default:
		return nil, fmt.Errorf("aof: invalid fsync policy %d", int(cfg.Fsync))
	}
	m := &Manager{
		cfg:          cfg,
		log:          cfg.Logger,
		dir:          filepath.Join(cfg.Dir, cfg.DirName),
		manifestName: cfg.FileName + manifestSuffix,
		legacyPath:   filepath.Join(cfg.Dir, cfg.FileName),
		policy:       cfg.Fsync,
		wake:         make(chan struct{}, 1),
		syncWake:     make(chan struct{}, 1),
		stopWriter:   make(chan struct{}),
		stopSyncer:   make(chan struct{}),
		writerDone:   make(chan struct{}),
		syncerDone:   make(chan struct{}),
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.cond.L = &m.mu
	dirExists := false
	if st, err := os.Stat(m.dir); err == nil {
		if !st.IsDir() {
			return nil, fmt.Errorf("aof: %s exists and is not a directory", m.dir)
		}
		dirExists = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("aof: checking the AOF directory: %w", err)
	}
	if dirExists {
		man, err := readManifest(m.manifestPath())
		if err != nil {
			return nil, err
		}
		m.setManifest(man)
	}
	// Redis 7 moves a pre-7.0 single-file AOF into the directory when
	// there is no directory, no manifest (or one naming no file), or a
	// manifest naming only that file as the base while it is still outside
	// (an upgrade interrupted after writing the manifest).
	if isRegular(m.legacyPath) {
		man := m.man
		if !dirExists || man == nil || man.empty() ||
			(man.base != nil && len(man.incr) == 0 && man.base.name == cfg.FileName &&
				!isRegular(filepath.Join(m.dir, cfg.FileName))) {
			m.legacy = true
		}
	}
	return m, nil
}

// manifestPath is the manifest's full path.
func (m *Manager) manifestPath() string { return filepath.Join(m.dir, m.manifestName) }

// isRegular reports whether path is an existing regular file.
func isRegular(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// Exists reports whether there is an AOF to load: a manifest naming at
// least one file, or a legacy single-file AOF (<Dir>/<FileName>).
func (m *Manager) Exists() bool {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	return m.legacy || (m.man != nil && !m.man.empty())
}

// setManifest replaces the manifest (caller holds opMu) and updates what
// Stats reports of it.
func (m *Manager) setManifest(man *manifest) {
	m.man = man
	n := 0
	if man != nil {
		n = len(man.incr)
	}
	m.mu.Lock()
	m.incrFiles = n
	m.mu.Unlock()
}

// setRewrite records the rewrite in progress, if any (caller holds opMu).
func (m *Manager) setRewrite(rw *rewriteState) {
	m.rw = rw
	m.mu.Lock()
	m.rewriting = rw != nil
	m.mu.Unlock()
}

func (m *Manager) getState() state {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

func (m *Manager) setState(s state) {
	m.mu.Lock()
	m.st = s
	m.cond.Broadcast()
	m.mu.Unlock()
}

// baseName returns the name of base file seq.
func (m *Manager) baseName(seq int64, rdb bool) string {
	ext := aofFormat
	if rdb {
		ext = rdbFormat
	}
	return m.cfg.FileName + "." + strconv.FormatInt(seq, 10) + baseSuffix + ext
}

// incrName returns the name of incremental file seq.
func (m *Manager) incrName(seq int64) string {
	return m.cfg.FileName + "." + strconv.FormatInt(seq, 10) + incrSuffix + aofFormat
}

// tempIncrName is the file appends go to while waiting for the first
// rewrite (Redis's getTempIncrAofName).
func (m *Manager) tempIncrName() string { return tempPrefix + m.cfg.FileName + incrSuffix }

// persist writes man as the manifest, atomically. Caller holds opMu.
func (m *Manager) persist(man *manifest) error {
	if err := atomicfile.WriteBytes(filepath.Join(m.dir, m.manifestName), man.format()); err != nil {
		return fmt.Errorf("aof: persisting the AOF manifest: %w", err)
	}
	return nil
}

// upgradeLegacy moves a legacy single-file AOF into the AOF directory as
// the base of a new manifest, as Redis 7's aofUpgradePrepare does: the
// manifest is written first, so an interrupted upgrade is finished by the
// next Open. Caller holds opMu.
func (m *Manager) upgradeLegacy() error {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return fmt.Errorf("aof: creating the AOF directory: %w", err)
	}
	man := &manifest{}
	if m.man != nil {
		man = m.man.clone()
	}
	man.base = &aofFile{name: m.cfg.FileName, seq: 1, typ: typeBase}
	man.baseSeq = 1
	if err := m.persist(man); err != nil {
		return err
	}
	if err := os.Rename(m.legacyPath, filepath.Join(m.dir, m.cfg.FileName)); err != nil {
		return fmt.Errorf("aof: moving the old AOF file %s into %s: %w", m.legacyPath, m.dir, err)
	}
	if err := atomicfile.SyncDir(m.dir); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(m.cfg.Dir); err != nil {
		return err
	}
	m.setManifest(man)
	m.legacy = false
	m.log.Info("Successfully migrated an old-style AOF into the AOF directory", "file", m.cfg.FileName, "dir", m.dir)
	return nil
}

// Start opens the AOF for appending: it moves a legacy file into the
// directory, creates the directory, an empty base (when the manifest names
// no file: an empty RDB with UseRDBPreamble, else an empty command file)
// and an incremental file if there is none, deletes history files, writes
// the manifest, and starts the writer and fsync goroutines. Appends go to
// the manifest's last incremental file, as in Redis.
//
// Start is for an AOF that already holds the data set (it was just loaded,
// or the data set is empty). To enable the AOF for a data set that is not
// in it (CONFIG SET appendonly yes), call BeginRewrite instead of Start.
func (m *Manager) Start() error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	switch m.getState() {
	case stateClosed:
		return ErrClosed
	case stateIdle:
	default:
		return errors.New("aof: already started")
	}
	if m.legacy {
		if err := m.upgradeLegacy(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return fmt.Errorf("aof: creating the AOF directory: %w", err)
	}
	man := &manifest{}
	if m.man != nil {
		man = m.man.clone()
	}
	if man.empty() {
		man.baseSeq++
		name := m.baseName(man.baseSeq, m.cfg.UseRDBPreamble)
		var content []byte
		if m.cfg.UseRDBPreamble {
			content = emptyRDB()
		}
		if err := writeFileSynced(filepath.Join(m.dir, name), content); err != nil {
			return err
		}
		man.base = &aofFile{name: name, seq: man.baseSeq, typ: typeBase}
		m.log.Info("Creating AOF base file on server start", "file", name)
	}
	if len(man.incr) == 0 {
		man.incrSeq++
		man.incr = append(man.incr, aofFile{name: m.incrName(man.incrSeq), seq: man.incrSeq, typ: typeIncr})
		m.log.Info("Creating AOF incr file on server start", "file", man.incr[0].name)
	}
	cur := man.incr[len(man.incr)-1]
	f, err := os.OpenFile(filepath.Join(m.dir, cur.name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("aof: can't open the append-only file %s: %w", cur.name, err)
	}
	hist := man.hist
	man.hist = nil
	m.deleteFiles(hist)
	m.removeStaleTemps()
	if err := m.persist(man); err != nil {
		f.Close()
		return err
	}
	m.setManifest(man)
	var baseSize, closedIncr int64
	if man.base != nil {
		baseSize = fileSize(filepath.Join(m.dir, man.base.name))
	}
	for _, inc := range man.incr[:len(man.incr)-1] {
		closedIncr += fileSize(filepath.Join(m.dir, inc.name))
	}
	curSize := fileSize(filepath.Join(m.dir, cur.name))
	m.mu.Lock()
	m.file, m.fileName, m.fileSize = f, cur.name, curSize
	m.baseSize, m.closedIncr = baseSize, closedIncr
	m.rwBaseSize = baseSize + closedIncr + curSize
	m.mu.Unlock()
	m.startGoroutines()
	m.setState(stateOn)
	return nil
}

// writeFileSynced creates (or replaces) path with data and fsyncs it.
func writeFileSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("aof: creating %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("aof: writing %s: %w", path, err)
	}
	return nil
}

// fileSize is the size of path, 0 if it can't be read.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// deleteFiles removes history files, logging failures (a leftover history
// file is harmless: it is not loaded).
func (m *Manager) deleteFiles(files []aofFile) {
	for _, h := range files {
		err := os.Remove(filepath.Join(m.dir, h.name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			m.log.Warn("Failed to remove a history AOF file", "file", h.name, "err", err)
		} else if err == nil {
			m.log.Info("Removed the history AOF file", "file", h.name)
		}
	}
}

func (m *Manager) startGoroutines() {
	go m.writer()
	go m.syncer()
}

// Append queues p, a complete RESP-encoded unit (a command, or a whole
// MULTI … EXEC block), and returns the end offset of p in the logical AOF
// stream: the total number of bytes appended through this Manager. Append
// copies p and never blocks on the disk; the writer goroutine writes it
// promptly. Callers must serialize Append calls with rewrite file switches
// (BeginRewrite), which the server's execution lock does.
//
// Before Start or BeginRewrite no AOF is open and p is dropped (the
// returned offset counts as synced); after Close it is dropped too.
func (m *Manager) Append(p []byte) uint64 {
	return m.AppendEncoded(func(dst []byte) []byte { return append(dst, p...) })
}

// AppendEncoded is Append for a caller that encodes straight into the
// queue: encode appends the bytes to dst and returns the result. It runs
// with the queue's mutex held, so it must only encode (the server renders
// its command-log entry there, saving a copy of every byte it logs).
func (m *Manager) AppendEncoded(encode func(dst []byte) []byte) uint64 {
	m.mu.Lock()
	n := len(m.buf)
	m.buf = encode(m.buf)
	m.appended += uint64(len(m.buf) - n)
	off := m.appended
	switch m.st {
	case stateOn, stateWaitRewrite:
		m.mu.Unlock()
		select {
		case m.wake <- struct{}{}:
		default:
		}
		return off
	case stateIdle:
		m.written, m.synced = off, off
	}
	m.buf = m.buf[:n] // not open for appends: the bytes are dropped
	m.mu.Unlock()
	return off
}

// WaitSynced blocks until the logical AOF stream is written up to offset
// (an Append result) and, under appendfsync always, fsynced. It returns
// the error of a write or fsync attempt that covered offset and failed (the
// data is retried later, but is not known to be on disk now), or ErrClosed.
func (m *Manager) WaitSynced(offset uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		done := m.written
		if m.policy == Always {
			done = m.synced
		}
		if done >= offset {
			return nil
		}
		if m.failErr != nil && offset <= m.failedUpTo {
			return m.failErr
		}
		if m.st == stateClosed {
			return ErrClosed
		}
		m.cond.Wait()
	}
}

// SetFsync changes the fsync policy (CONFIG SET appendfsync).
func (m *Manager) SetFsync(p FsyncPolicy) {
	m.mu.Lock()
	m.policy = p
	m.cond.Broadcast()
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Stats is a snapshot of the AOF's state, for INFO persistence, for
// auto-rewrite decisions and for refusing writes when the AOF is failing.
type Stats struct {
	Enabled           bool        // files are open for appending (Start or BeginRewrite ran, Close did not)
	WaitingRewrite    bool        // appends go to a temporary file until the first rewrite commits (Redis's AOF_WAIT_REWRITE)
	RewriteInProgress bool        // between BeginRewrite and Commit/AbortRewrite
	Fsync             FsyncPolicy // the current policy
	CurrentFile       string      // the file appends go to
	IncrFiles         int         // incremental files in the manifest
	CurrentSize       int64       // bytes in the base and incremental files (aof_current_size)
	BaseSize          int64       // CurrentSize after the last rewrite or at Start (aof_base_size)
	BufferLength      int         // bytes appended but not yet written (aof_buffer_length)
	Appended          uint64      // logical offset of everything appended
	Written           uint64      // ... written to the file
	Synced            uint64      // ... known to be fsynced
	PendingFsync      bool        // a background fsync is running (aof_pending_bio_fsync)
	DelayedFsyncs     uint64      // every-second fsyncs that started late because the previous one was slow (aof_delayed_fsync)
	Fsyncs            uint64      // fsyncs of AOF data files
	Writes            uint64      // write batches
	LastWriteErr      error       // the last write failed with this, nil once a write succeeds (aof_last_write_status)
	LastFsyncErr      error       // the last fsync failed with this, nil once one succeeds
}

// Stats returns a snapshot of the AOF's state. It is cheap and never
// waits for I/O, so it can be consulted before every write command.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	enabled := m.st == stateOn || m.st == stateWaitRewrite
	buffered := 0
	if enabled {
		buffered = int(m.appended - m.written)
	}
	return Stats{
		Enabled:           enabled,
		WaitingRewrite:    m.st == stateWaitRewrite,
		RewriteInProgress: m.rewriting,
		Fsync:             m.policy,
		CurrentFile:       m.fileName,
		IncrFiles:         m.incrFiles,
		CurrentSize:       m.baseSize + m.closedIncr + m.fileSize,
		BaseSize:          m.rwBaseSize,
		BufferLength:      buffered,
		Appended:          m.appended,
		Written:           m.written,
		Synced:            m.synced,
		PendingFsync:      m.fsyncing,
		DelayedFsyncs:     m.delayed.Load(),
		Fsyncs:            m.fsyncs.Load(),
		Writes:            m.writes.Load(),
		LastWriteErr:      m.lastWriteErr,
		LastFsyncErr:      m.lastFsyncErr,
	}
}

// writeRetry is how long the writer waits before retrying a failed write
// when nothing new is appended (Redis retries from its once-a-second cron).
const writeRetry = time.Second

// writer is the goroutine writing appended data.
func (m *Manager) writer() {
	defer close(m.writerDone)
	var retry <-chan time.Time
	for {
		select {
		case <-m.wake:
		case <-retry:
		case <-m.stopWriter:
			return
		}
		m.gather()
		m.ioMu.Lock()
		err := m.flushLocked(false)
		m.ioMu.Unlock()
		retry = nil
		if err != nil {
			retry = time.After(writeRetry)
		}
	}
}

// maxGather bounds how long the writer lets ready clients append before it
// writes (and fsyncs) what it has; gatherQuiet is how long the appended
// offset must stay still for the batch to count as complete.
const (
	maxGather   = 300 * time.Microsecond
	gatherQuiet = 30 * time.Microsecond
)

// gather lets the goroutines that are ready to run append before the
// writer writes: as long as the appended offset keeps moving, it yields.
// Without it, with few Ps, the writer runs as soon as the first client
// waits, and writes (under Always: fsyncs) for that client alone while the
// others have not even executed their commands; with it, one write and one
// fsync carry every client that was ready (group commit), as Redis's
// write-before-replies in beforeSleep does for a whole event-loop pass.
//
// With a single P (GOMAXPROCS=1, the default) one Gosched runs every
// goroutine that is ready, and nothing else can run meanwhile: once a
// yield or two appended nothing, no one is left to append (the network is
// not polled while the writer yields, so no new request can become ready
// either), and waiting out gatherQuiet would only burn the P.
func (m *Manager) gather() {
	single := runtime.GOMAXPROCS(0) == 1
	start := time.Now()
	quietSince := start
	prev := m.appendedOffset()
	still := 0
	for {
		runtime.Gosched()
		now := time.Now()
		if cur := m.appendedOffset(); cur != prev {
			prev, quietSince, still = cur, now, 0
		} else {
			still++
		}
		if (single && still >= 2) || now.Sub(quietSince) >= gatherQuiet || now.Sub(start) >= maxGather {
			return
		}
	}
}

// appendedOffset returns the logical offset of everything appended.
func (m *Manager) appendedOffset() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.appended
}

func (m *Manager) writeFile(f *os.File, p []byte) (int, error) {
	if m.writeHook != nil {
		return m.writeHook(f, p)
	}
	return f.Write(p)
}

func (m *Manager) syncFile(f *os.File) error {
	m.fsyncs.Add(1)
	if m.syncHook != nil {
		return m.syncHook(f)
	}
	return dataSync(f)
}

// syncBatch is syncFile for a batch the writer has just written: under
// appendfsync always, with a single P, the fdatasync keeps the P (see
// dataSyncKeepP).
func (m *Manager) syncBatch(f *os.File, always bool) error {
	if m.syncHook != nil || !always || runtime.GOMAXPROCS(0) != 1 {
		return m.syncFile(f)
	}
	m.fsyncs.Add(1)
	return dataSyncKeepP(f)
}

// maxKeptBuffer is the capacity above which an emptied buffer is released
// rather than reused.
const maxKeptBuffer = 4 << 20

// flushLocked writes everything appended so far to the current file with
// one write and, under Always or when forceSync is set, fsyncs it; then it
// wakes WaitSynced callers. A failed write is retried by the next call: if
// part of it reached the file, the file is truncated back (as Redis does)
// so that it never ends in half a command; if that fails too, the rest
// stays queued and completes the command later. Caller holds ioMu.
func (m *Manager) flushLocked(forceSync bool) error {
	m.mu.Lock()
	if len(m.carry) == 0 {
		m.carry, m.buf = m.buf, m.carry[:0]
	} else {
		m.carry = append(m.carry, m.buf...)
		m.buf = m.buf[:0]
	}
	end := m.appended
	f := m.file
	sizeBefore := m.fileSize
	always := m.policy == Always
	needSync := always || forceSync
	syncedBefore := m.synced
	m.mu.Unlock()
	if f == nil {
		return nil
	}

	var werr error
	n := 0
	if len(m.carry) > 0 {
		n, werr = m.writeFile(f, m.carry)
		m.writes.Add(1)
		if werr != nil && n > 0 && n < len(m.carry) {
			if terr := f.Truncate(sizeBefore); terr == nil {
				n = 0
			} else {
				m.log.Warn("Could not remove a short write from the AOF file; the rest will be appended later",
					"file", f.Name(), "written", n, "expected", len(m.carry), "err", terr)
			}
		}
		if werr != nil {
			werr = fmt.Errorf("aof: writing %s (%d of %d bytes written): %w", filepath.Base(f.Name()), n, len(m.carry), werr)
		}
	}
	rest := len(m.carry) - n
	switch {
	case rest == 0 && cap(m.carry) > maxKeptBuffer:
		m.carry, m.partial = nil, false
	case rest == 0:
		m.carry, m.partial = m.carry[:0], false
	default:
		m.partial = m.partial || n > 0
		m.carry = m.carry[:copy(m.carry, m.carry[n:])]
	}
	written := end - uint64(rest)

	var serr error
	synced := false
	if werr == nil && needSync && written > syncedBefore {
		if serr = m.syncBatch(f, always); serr != nil {
			serr = fmt.Errorf("aof: fsync of %s: %w", filepath.Base(f.Name()), serr)
		} else {
			synced = true
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.written = written
	m.fileSize += int64(n)
	if synced {
		m.synced = max(m.synced, written)
		m.lastFsyncErr = nil
	} else if serr != nil {
		m.lastFsyncErr = serr
	}
	if werr != nil {
		if m.lastWriteErr == nil {
			m.log.Warn("Error writing to the AOF file", "err", werr)
		}
		m.lastWriteErr = werr
	} else if len(m.carry) == 0 && m.lastWriteErr != nil {
		m.log.Info("AOF write error looks solved, Redis can write again.")
		m.lastWriteErr = nil
	}
	err := werr
	if err == nil {
		err = serr
	}
	if err != nil {
		m.failErr, m.failedUpTo = err, end
	} else {
		m.failErr = nil
	}
	m.cond.Broadcast()
	return err
}

// syncer is the goroutine doing background fsyncs: once per second under
// everysec, and fsync+close of files switched away from.
func (m *Manager) syncer() {
	defer close(m.syncerDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.backgroundSync(true)
		case <-m.syncWake:
			m.backgroundSync(false)
		case <-m.stopSyncer:
			m.backgroundSync(false)
			return
		}
	}
}

// backgroundSync fsyncs and closes retired files and, when tick is set and
// the policy is everysec, fsyncs the current file.
func (m *Manager) backgroundSync(tick bool) {
	m.mu.Lock()
	retired := m.retired
	m.retired = nil
	f := m.file
	target := m.written
	due := tick && m.policy == EverySec && f != nil && target > m.synced
	if len(retired) == 0 && !due {
		m.mu.Unlock()
		return
	}
	m.fsyncing = true
	m.mu.Unlock()

	var firstErr error
	for _, rf := range retired {
		if err := m.syncFile(rf); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("aof: fsync of %s: %w", filepath.Base(rf.Name()), err)
		}
		if err := rf.Close(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("aof: closing %s: %w", filepath.Base(rf.Name()), err)
		}
	}
	ok := false
	if due {
		start := time.Now()
		if err := m.syncFile(f); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("aof: fsync of %s: %w", filepath.Base(f.Name()), err)
			}
		} else {
			ok = firstErr == nil
		}
		if el := time.Since(start); el > time.Second {
			// The next once-a-second fsync(s) could not start on time.
			m.delayed.Add(uint64(el / time.Second))
			m.log.Warn("Asynchronous AOF fsync is taking too long (disk is busy?)", "duration", el)
		}
	}

	m.mu.Lock()
	m.fsyncing = false
	if firstErr != nil {
		if m.lastFsyncErr == nil {
			m.log.Warn("Error in the background fsync of the AOF", "err", firstErr)
		}
		m.lastFsyncErr = firstErr
	} else if ok {
		m.synced = max(m.synced, target)
		m.lastFsyncErr = nil
	}
	m.cond.Broadcast()
	m.mu.Unlock()
}

// pokeSyncer asks the syncer to handle retired files now.
func (m *Manager) pokeSyncer() {
	select {
	case m.syncWake <- struct{}{}:
	default:
	}
}

// Close flushes and fsyncs everything appended, stops the goroutines and
// closes the files. A rewrite in progress is aborted; an AOF still waiting
// for its first rewrite (see BeginRewrite) is discarded. It returns an
// error if appended data could not be written or fsynced. A closed Manager
// can't be started again.
func (m *Manager) Close() error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	st := m.getState()
	switch st {
	case stateClosed:
		return nil
	case stateIdle:
		m.setState(stateClosed)
		return nil
	}
	var errs []error
	if m.rw != nil {
		errs = append(errs, m.removeTempBase(m.rw.base))
		m.setRewrite(nil)
	}
	close(m.stopWriter)
	<-m.writerDone
	m.ioMu.Lock()
	if err := m.flushLocked(true); err != nil {
		errs = append(errs, err)
	}
	if n := len(m.carry); n > 0 {
		errs = append(errs, fmt.Errorf("aof: %d appended bytes could not be written", n))
	}
	m.ioMu.Unlock()
	close(m.stopSyncer)
	<-m.syncerDone
	m.mu.Lock()
	f, name := m.file, m.fileName
	m.file = nil
	m.st = stateClosed
	m.cond.Broadcast()
	m.mu.Unlock()
	if err := f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("aof: closing %s: %w", name, err))
	}
	if st == stateWaitRewrite {
		if err := os.Remove(filepath.Join(m.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("aof: removing %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
