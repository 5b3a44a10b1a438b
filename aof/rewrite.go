package aof

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// tempBasePattern names the temporary base file of a rewrite (Redis's
// temp-rewriteaof-bg-<pid>.aof).
const tempBasePattern = tempPrefix + "rewriteaof-bg-*.aof"

// BeginRewrite starts an AOF rewrite, Redis 7 style: appends are switched
// to a new incremental file, so the caller's snapshot of the data set taken
// now (under the same lock that serializes Append) plus that file is the
// whole data set. It returns a new temporary file in the AOF directory for
// the caller to write the new base into (an RDB, or RESP commands), then
// to pass to CommitRewrite or AbortRewrite.
//
// After Start, BeginRewrite writes what is queued to the current file,
// opens <name>.<seq+1>.incr.aof, and persists a manifest listing it, so a
// crash during the rewrite loses nothing.
//
// Before Start (the AOF is being enabled for a data set it doesn't hold:
// Redis's AOF_WAIT_REWRITE), BeginRewrite starts appending to a temporary
// file that is not in the manifest; the first CommitRewrite makes it the
// AOF's incremental file. Until then there is no usable AOF on disk: a
// failed rewrite must be retried with another BeginRewrite, which restarts
// the temporary file.
func (m *Manager) BeginRewrite() (*os.File, error) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if m.rw != nil {
		return nil, errors.New("aof: a rewrite is already in progress")
	}
	switch m.getState() {
	case stateClosed:
		return nil, ErrClosed
	case stateIdle:
		return m.beginFirstRewrite()
	case stateWaitRewrite:
		return m.restartFirstRewrite()
	}
	base, err := m.createTempBase()
	if err != nil {
		return nil, err
	}
	m.ioMu.Lock()
	defer m.ioMu.Unlock()
	if err := m.flushLocked(false); err != nil {
		// What could not be written stays queued and goes to the new
		// file, which follows the current one.
		m.log.Warn("Writing the AOF before switching files failed", "err", err)
	}
	if m.partial {
		m.removeTempBase(base)
		return nil, errors.New("aof: can't switch to a new AOF file while a partly written command is pending (the disk is failing)")
	}
	man := m.man.clone()
	man.incrSeq++
	name := m.incrName(man.incrSeq)
	path := filepath.Join(m.dir, name)
	nf, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		m.removeTempBase(base)
		return nil, fmt.Errorf("aof: can't open the append-only file %s: %w", name, err)
	}
	man.incr = append(man.incr, aofFile{name: name, seq: man.incrSeq, typ: typeIncr})
	if err := m.persist(man); err != nil {
		nf.Close()
		os.Remove(path)
		m.removeTempBase(base)
		return nil, err
	}
	m.setManifest(man)
	m.mu.Lock()
	m.retired = append(m.retired, m.file)
	m.closedIncr += m.fileSize
	m.file, m.fileName, m.fileSize = nf, name, 0
	m.mu.Unlock()
	m.pokeSyncer()
	m.setRewrite(&rewriteState{base: base, firstIncr: man.incrSeq})
	m.log.Info("Background append only file rewriting started", "incr", name)
	return base, nil
}

// beginFirstRewrite is BeginRewrite before Start. Caller holds opMu.
func (m *Manager) beginFirstRewrite() (*os.File, error) {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return nil, fmt.Errorf("aof: creating the AOF directory: %w", err)
	}
	base, err := m.createTempBase()
	if err != nil {
		return nil, err
	}
	name := m.tempIncrName()
	f, err := os.OpenFile(filepath.Join(m.dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		m.removeTempBase(base)
		return nil, fmt.Errorf("aof: can't open the temporary append-only file %s: %w", name, err)
	}
	m.mu.Lock()
	m.file, m.fileName, m.fileSize = f, name, 0
	m.baseSize, m.closedIncr, m.rwBaseSize = 0, 0, 0
	m.mu.Unlock()
	m.startGoroutines()
	m.setState(stateWaitRewrite)
	m.setRewrite(&rewriteState{base: base, wait: true})
	m.log.Info("Background append only file rewriting started (creating the AOF)", "incr", name)
	return base, nil
}

// restartFirstRewrite is BeginRewrite after a first rewrite failed: what
// the temporary incremental file holds is covered by the new snapshot, so
// it starts over empty. Caller holds opMu.
func (m *Manager) restartFirstRewrite() (*os.File, error) {
	base, err := m.createTempBase()
	if err != nil {
		return nil, err
	}
	m.ioMu.Lock()
	defer m.ioMu.Unlock()
	m.mu.Lock()
	f := m.file
	m.mu.Unlock()
	if err := f.Truncate(0); err != nil {
		m.removeTempBase(base)
		return nil, fmt.Errorf("aof: truncating the temporary append-only file: %w", err)
	}
	m.carry, m.partial = m.carry[:0], false
	m.mu.Lock()
	m.buf = m.buf[:0]
	m.written, m.synced = m.appended, m.appended
	m.fileSize = 0
	m.failErr = nil
	m.cond.Broadcast()
	m.mu.Unlock()
	m.setRewrite(&rewriteState{base: base, wait: true})
	return base, nil
}

// CommitRewrite finishes a rewrite with base, the file BeginRewrite
// returned, filled by the caller (rdb tells whether it holds an RDB or RESP
// commands; it may already be closed). base is fsynced, closed and renamed to
// <name>.<seq+1>.base.rdb|aof; the new manifest lists it and the
// incremental files opened since BeginRewrite, and is written atomically;
// the old base and incremental files become history and are deleted.
// On error the rewrite is over and the AOF is as before it.
func (m *Manager) CommitRewrite(base *os.File, rdb bool) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	rw := m.rw
	if rw == nil {
		return errors.New("aof: CommitRewrite without a rewrite in progress")
	}
	if base != rw.base {
		return errors.New("aof: CommitRewrite given a file BeginRewrite did not return")
	}
	m.setRewrite(nil)
	tmpPath := base.Name()
	base.Close() // the caller may have closed it already
	size, err := syncPath(tmpPath)
	if err != nil {
		os.Remove(tmpPath)
		return fmt.Errorf("aof: finishing the rewritten base file: %w", err)
	}

	man := &manifest{}
	if m.man != nil {
		man = m.man.clone()
	}
	man.baseSeq++
	baseName := m.baseName(man.baseSeq, rdb)
	basePath := filepath.Join(m.dir, baseName)
	if err := os.Rename(tmpPath, basePath); err != nil {
		os.Remove(tmpPath)
		return fmt.Errorf("aof: renaming the rewritten base file to %s: %w", baseName, err)
	}
	if man.base != nil {
		h := *man.base
		h.typ = typeHist
		man.hist = append(man.hist, h)
	}
	man.base = &aofFile{name: baseName, seq: man.baseSeq, typ: typeBase}
	var incrName, tempIncrPath string
	if rw.wait {
		for _, inc := range man.incr {
			inc.typ = typeHist
			man.hist = append(man.hist, inc)
		}
		man.incrSeq++
		incrName = m.incrName(man.incrSeq)
		tempIncrPath = filepath.Join(m.dir, m.tempIncrName())
		if err := os.Rename(tempIncrPath, filepath.Join(m.dir, incrName)); err != nil {
			os.Remove(basePath)
			return fmt.Errorf("aof: renaming the temporary incremental file to %s: %w", incrName, err)
		}
		man.incr = []aofFile{{name: incrName, seq: man.incrSeq, typ: typeIncr}}
	} else {
		var keep []aofFile
		for _, inc := range man.incr {
			if inc.seq < rw.firstIncr {
				inc.typ = typeHist
				man.hist = append(man.hist, inc)
			} else {
				keep = append(keep, inc)
			}
		}
		man.incr = keep
	}
	if err := m.persist(man); err != nil {
		os.Remove(basePath)
		if rw.wait {
			os.Rename(filepath.Join(m.dir, incrName), tempIncrPath)
		}
		return err
	}
	m.setManifest(man)
	var closedIncr int64
	for _, inc := range man.incr[:len(man.incr)-1] {
		closedIncr += fileSize(filepath.Join(m.dir, inc.name))
	}
	m.mu.Lock()
	m.baseSize, m.closedIncr = size, closedIncr
	if rw.wait {
		m.fileName = incrName
		m.st = stateOn
	}
	m.rwBaseSize = size + closedIncr + m.fileSize
	m.cond.Broadcast()
	m.mu.Unlock()
	m.log.Info("Background AOF rewrite finished successfully", "base", baseName, "size", size)

	// Like Redis: history files go, then the manifest forgets them (a
	// crash in between leaves a manifest naming deleted history files,
	// which is harmless).
	m.deleteFiles(man.hist)
	clean := man.clone()
	clean.hist = nil
	if err := m.persist(clean); err != nil {
		m.log.Warn("Could not rewrite the AOF manifest without its history files", "err", err)
	} else {
		m.setManifest(clean)
	}
	return nil
}

// syncPath fsyncs the file at path and returns its size.
func syncPath(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// AbortRewrite gives up a rewrite: base is closed and removed. The
// incremental files stay in the manifest, so the AOF remains complete and
// loadable.
func (m *Manager) AbortRewrite(base *os.File) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if m.rw == nil {
		return errors.New("aof: AbortRewrite without a rewrite in progress")
	}
	if base != m.rw.base {
		return errors.New("aof: AbortRewrite given a file BeginRewrite did not return")
	}
	m.setRewrite(nil)
	m.log.Info("Background AOF rewrite aborted")
	return m.removeTempBase(base)
}

// removeTempBase closes (if the caller has not) and removes a temporary
// base file.
func (m *Manager) removeTempBase(base *os.File) error {
	base.Close()
	if err := os.Remove(base.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("aof: removing the temporary rewrite file: %w", err)
	}
	return nil
}

// createTempBase creates the file a rewrite writes its new base into,
// readable like the other AOF files (CreateTemp makes it 0600).
func (m *Manager) createTempBase() (*os.File, error) {
	base, err := os.CreateTemp(m.dir, tempBasePattern)
	if err != nil {
		return nil, fmt.Errorf("aof: creating the temporary rewrite file: %w", err)
	}
	if err := base.Chmod(0o644); err != nil {
		base.Close()
		os.Remove(base.Name())
		return nil, fmt.Errorf("aof: chmod of the temporary rewrite file: %w", err)
	}
	return base, nil
}

// removeStaleTemps deletes what a crash in the middle of a rewrite or a
// manifest update left behind (temporary bases, the temporary incremental
// file of a first rewrite, manifest temporaries): nothing refers to them,
// and repeated crashes would otherwise pile them up.
func (m *Manager) removeStaleTemps() {
	for _, pattern := range []string{tempBasePattern, m.tempIncrName(), tempPrefix + m.manifestName + "-*"} {
		names, _ := filepath.Glob(filepath.Join(m.dir, pattern))
		for _, n := range names {
			if err := os.Remove(n); err == nil {
				m.log.Info("removed a temporary file left by an interrupted rewrite", "file", filepath.Base(n))
			}
		}
	}
}
