package sqlcmd

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/thredis/thredis/canonint"
	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/procboost"
	"github.com/thredis/thredis/resp"
	"github.com/thredis/thredis/sqlcmd/sqlite"
	"github.com/thredis/thredis/vfs"
)

// Request is one SQL command.
type Request struct {
	// DB is the client's selected database: where Key lives, and what the
	// redis() function and virtual table read.
	DB int
	// Key is the hash key holding the database.
	Key []byte
	// SQL is one statement or several separated by semicolons.
	SQL []byte
	// Params are bound, in order, to the statements' parameters.
	Params [][]byte
	// QueryOnly refuses statements that could write (SQL.QUERY).
	QueryOnly bool
	// Locked: the caller holds the execution lock and must keep it (the
	// command runs inside EXEC). Statements never wait for another
	// client's write transaction then.
	Locked bool
	// WriteDenied, when set, is the error reply for writing statements
	// (-READONLY on a read-only replica, -MISCONF while persistence fails).
	WriteDenied string
}

// Error replies.
const (
	errPrefix    = "ERR SQL error: "
	errQueryOnly = "ERR SQL.QUERY only runs read-only statements; use SQL.EXEC to write"
	errEmpty     = "ERR SQL error: no statement to run"
)

var errNotDatabase = errors.New("ERR key does not hold a SQL database")

// maxCachedStmts bounds each connection's prepared-statement cache.
const maxCachedStmts = 128

// Session is one client's SQL state: its own SQLite connection to each
// database it has used, so transactions, temp tables and
// last_insert_rowid() are per client. A session is used by its client's
// goroutine only, except Interrupt.
type Session struct {
	e     *Engine
	conns map[*database]*conn
	// locked: this session holds the execution lock right now (taken by
	// it, or by the caller for a Locked request).
	locked bool
	// held: the caller holds the lock for the whole request (EXEC).
	held bool

	mu      sync.Mutex // guards running, for Interrupt
	running *sqlite.Conn

	rows []byte // encoded rows of the reply
	// last is the connection of the most recent request, checked first
	// (clients usually stick to one database).
	last *conn
}

type conn struct {
	d     *database
	c     *sqlite.Conn
	epoch uint64
	cache map[string]*cachedStmt
	// db is the requesting client's selected database, read by redis().
	db int
	// busyMs is the sql-busy-timeout the connection and its database
	// were last set to.
	busyMs int64
}

// cachedStmt is a prepared statement with what the SQL layer needs to
// know about it, computed once rather than asked of SQLite per request.
type cachedStmt struct {
	st      *sqlite.Stmt
	tailLen int // bytes of the text after this statement
	kind    stmtKind
	ro      bool // sqlite3_stmt_readonly
	nparams int
	// ncol and the encoded headers (RESP2, RESP3) hold for SQLite's
	// recompile counter reprep; a schema change that recompiles the
	// statement may change its columns.
	ncol   int
	hdr    [2][]byte
	reprep int
}

// header returns the reply header for the statement's columns: an array
// of [name, declared type] pairs, the type nil for expressions.
func (cs *cachedStmt) header(resp3 bool) []byte {
	i := 0
	if resp3 {
		i = 1
	}
	if cs.hdr[i] == nil {
		var h resp.Writer
		h.Proto = 2 + i
		h.Array(cs.ncol)
		for c := 0; c < cs.ncol; c++ {
			h.Array(2)
			h.BulkString(cs.st.ColumnName(c))
			if t := cs.st.ColumnDeclType(c); t != "" {
				h.BulkString(t)
			} else {
				h.Null()
			}
		}
		cs.hdr[i] = h.Bytes()
	}
	return cs.hdr[i]
}

// NewSession returns an empty session for one client.
func (e *Engine) NewSession() *Session {
	return &Session{e: e, conns: make(map[*database]*conn)}
}

// Close rolls back whatever the client left open and closes its
// connections. The client's goroutine calls it when the client goes away.
func (s *Session) Close() {
	s.last = nil
	for d, cn := range s.conns {
		cn.close()
		delete(s.conns, d)
	}
}

// Interrupt stops the statement the session is running, if any (CLIENT
// KILL, shutdown). Safe from any goroutine.
func (s *Session) Interrupt() {
	s.mu.Lock()
	if s.running != nil {
		s.running.Interrupt()
	}
	s.mu.Unlock()
}

func (s *Session) setRunning(c *sqlite.Conn) {
	s.mu.Lock()
	s.running = c
	s.mu.Unlock()
}

func (cn *conn) close() {
	for k, cs := range cn.cache {
		cs.st.Finalize()
		delete(cn.cache, k)
	}
	cn.c.Close()
}

// lock takes the execution lock unless the session has it.
func (s *Session) lock() {
	if !s.locked {
		s.e.host.Lock()
		s.locked = true
		s.e.noWait = false
	}
}

// unlock releases the execution lock, publishing the commit's page batch,
// unless the caller holds it for the whole request.
func (s *Session) unlock() {
	if s.locked && !s.held {
		s.locked = false
		s.e.host.Unlock()
	}
}

// Exec runs req and writes its reply to w.
func (s *Session) Exec(req *Request, w *resp.Writer) {
	e := s.e
	if req.Locked {
		s.locked, s.held = true, true
		e.noWait = true
		defer func() {
			s.locked, s.held = false, false
			e.noWait = false
		}()
	}
	cn := s.last
	if cn == nil || cn.d.id.db != req.DB || cn.d.id.key != string(req.Key) || cn.d.stale() {
		d, err := s.database(dbKey{req.DB, string(req.Key)})
		if err != nil {
			w.Error(err.Error())
			return
		}
		if cn, err = s.conn(d); err != nil {
			w.Error(errPrefix + err.Error())
			return
		}
		s.last = cn
	}
	if req.Locked {
		// Everything runs under the caller's lock, and several commits
		// may precede the block's log entry.
		d := cn.d
		d.store.CopyPages = true
		d.store.Writable.Store(true)
		defer func() {
			d.store.CopyPages = false
			d.store.Writable.Store(false)
		}()
	}
	cn.db = req.DB
	s.run(cn, req, w)
}

// database returns the attached database for id, attaching it or
// reloading it after an external change as needed.
func (s *Session) database(id dbKey) (*database, error) {
	e := s.e
	d := e.lookup(id)
	if d != nil && !d.stale() {
		return d, nil
	}
	s.lock()
	defer s.unlock()
	d, err := e.attachLocked(id)
	if err != nil {
		return nil, err
	}
	if err := d.reloadLocked(); err != nil {
		if errors.Is(err, keyspace.ErrWrongType) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errNotDatabase, err)
	}
	return d, nil
}

// conn returns the session's connection to d, opening it on first use.
func (s *Session) conn(d *database) (*conn, error) {
	if cn := s.conns[d]; cn != nil {
		return cn, nil
	}
	epoch := d.vdb.Epoch()
	c, err := sqlite.Open(d.uri)
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	cn := &conn{d: d, c: c, epoch: epoch, cache: make(map[string]*cachedStmt)}
	if err := s.e.setup(s, cn); err != nil {
		c.Close()
		return nil, err
	}
	s.conns[d] = cn
	return cn, nil
}

// setup configures a new connection: the pragmas the VFS needs, SQLite's
// limits, the sandbox, and the redis() function and virtual table.
func (e *Engine) setup(s *Session, cn *conn) error {
	c := cn.c
	c.SetTrusted(true)
	defer c.SetTrusted(false)
	busy := max(e.Cfg.BusyTimeout.Load(), 1)
	cn.busyMs = e.Cfg.BusyTimeout.Load()
	if err := c.Exec("PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA busy_timeout=" +
		strconv.FormatInt(busy, 10)); err != nil {
		return fmt.Errorf("configuring the connection: %w", err)
	}
	c.SetLimit(sqlite.LimitLength, int(min(e.Cfg.MaxLength.Load(), 1<<30)))
	c.SetLimit(sqlite.LimitSQLLength, 100<<20)
	c.SetLimit(sqlite.LimitAttached, 0)
	c.SetLimit(sqlite.LimitExprDepth, 1000)
	c.SetLimit(sqlite.LimitCompoundSelect, 500)
	c.SetLimit(sqlite.LimitTriggerDepth, 100)
	c.SetLimit(sqlite.LimitWorkerThreads, 0)
	if err := c.SetDBConfig(sqlite.DBConfigDefensive, 1); err != nil {
		return fmt.Errorf("configuring the connection: %w", err)
	}
	if err := c.SetDBConfig(sqlite.DBConfigEnableLoadExtension, 0); err != nil {
		return fmt.Errorf("configuring the connection: %w", err)
	}
	c.EnableSandbox()
	return e.registerRedis(s, cn)
}

// resetIfStale runs vfs.ResetSQL on a connection whose database content
// was replaced since it last ran a statement. Only possible outside a
// transaction; inside one, the VFS fails the transaction instead.
func (cn *conn) resetIfStale() error {
	ep := cn.d.vdb.Epoch()
	if ep == cn.epoch || !cn.c.AutoCommit() {
		return nil
	}
	cn.c.SetTrusted(true)
	err := cn.c.Exec(vfs.ResetSQL)
	cn.c.SetTrusted(false)
	if err != nil {
		return fmt.Errorf("resetting the connection: %w", err)
	}
	cn.epoch = ep
	return nil
}

// syncBusyTimeout applies a changed sql-busy-timeout (CONFIG SET) to the
// connection's busy handler and its database's writer-lock wait. Lock held.
func (cn *conn) syncBusyTimeout(ms int64) {
	if ms == cn.busyMs {
		return
	}
	cn.busyMs = ms
	cn.d.vdb.SetBusyTimeout(busyWait(ms))
	cn.c.SetTrusted(true)
	cn.c.Exec("PRAGMA busy_timeout=" + strconv.FormatInt(max(ms, 1), 10))
	cn.c.SetTrusted(false)
}

// prepare returns the prepared first statement of text (nil for text that
// holds only comments) and the length of the rest, from the cache when
// the same text was seen before.
func (cn *conn) prepare(text []byte) (*cachedStmt, int, error) {
	if cs := cn.cache[string(text)]; cs != nil {
		return cs, cs.tailLen, nil
	}
	st, tail, err := cn.c.Prepare(text)
	if err != nil {
		return nil, 0, err
	}
	if st == nil {
		return nil, len(tail), nil
	}
	cs := &cachedStmt{st: st, tailLen: len(tail), kind: classify(text[:len(text)-len(tail)]),
		ro: st.Readonly(), nparams: st.ParamCount(), ncol: st.ColumnCount(), reprep: -1}
	if len(cn.cache) >= maxCachedStmts {
		for k, old := range cn.cache { // evict one, arbitrary
			old.st.Finalize()
			delete(cn.cache, k)
			break
		}
	}
	cn.cache[string(text)] = cs
	return cs, cs.tailLen, nil
}

// stmtResult is what the last statement replies.
type stmtResult struct {
	rows    int    // rows encoded in Session.rows
	header  []byte // the encoded header, nil for statements without result columns
	changes int64  // for statements without result columns
}

// run executes the statements of req one after the other and replies
// with the last one's result; the first failure stops the script.
func (s *Session) run(cn *conn, req *Request, w *resp.Writer) {
	text := req.SQL
	params := req.Params
	var res stmtResult
	ran := false
	for len(text) > 0 {
		cs, tailLen, err := s.prepareFresh(cn, text)
		if err != nil {
			s.fail(cn, w, err)
			return
		}
		rest := text[len(text)-tailLen:]
		if cs == nil {
			text = rest
			continue
		}
		n := cs.nparams
		if n > len(params) {
			s.e.Stats.Errors.Add(1)
			w.Error(fmt.Sprintf("%sthe statement has %d parameters but %d values are left", errPrefix, n, len(params)))
			return
		}
		if msg := s.refuse(cs, req); msg != "" {
			s.e.Stats.Errors.Add(1)
			w.Error(msg)
			return
		}
		if err := bindParams(cs.st, params[:n]); err != nil {
			s.fail(cn, w, err)
			return
		}
		params = params[n:]
		res, err = s.step(cn, cs, w.RESP3())
		if err != nil {
			s.fail(cn, w, err)
			return
		}
		ran = true
		text = rest
	}
	switch {
	case !ran:
		w.Error(errEmpty)
	case len(params) > 0:
		w.Error(fmt.Sprintf("%s%d parameter values were not used by any statement", errPrefix, len(params)))
	case res.header != nil:
		w.Array(res.rows + 1)
		w.Raw(res.header)
		w.Raw(s.rows)
	default:
		w.Int(res.changes)
	}
	if cap(s.rows) > 1<<20 {
		s.rows = nil // do not keep a huge buffer per idle client
	}
}

// prepareFresh prepares text, first bringing the connection up to date
// after an external change (its page cache and schema are then reset).
func (s *Session) prepareFresh(cn *conn, text []byte) (*cachedStmt, int, error) {
	if cn.d.stale() {
		s.lock()
		err := cn.d.reloadLocked()
		s.unlock()
		if errors.Is(err, keyspace.ErrWrongType) {
			return nil, 0, err
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %v", errNotDatabase, err)
		}
	}
	if err := cn.resetIfStale(); err != nil {
		return nil, 0, err
	}
	return cn.prepare(text)
}

// refuse returns the error reply for a statement the request may not run.
func (s *Session) refuse(cs *cachedStmt, req *Request) string {
	write := !cs.ro || cs.kind == kindBeginWrite || cs.kind == kindMayWrite
	switch {
	case cs.kind == kindVacuumInto:
		return errPrefix + "VACUUM INTO is not allowed"
	case req.QueryOnly && write:
		return errQueryOnly
	case req.WriteDenied != "" && write:
		return req.WriteDenied
	}
	return ""
}

// bindParams binds Thredis-style parameters: a canonical integer binds as
// INTEGER, ":NULL" as NULL, anything else as TEXT.
func bindParams(st *sqlite.Stmt, params [][]byte) error {
	for i, p := range params {
		var err error
		if v, ok := canonint.Parse(p); ok {
			err = st.BindInt64(i+1, v)
		} else if string(p) == ":NULL" {
			err = st.BindNull(i + 1)
		} else {
			err = st.BindText(i+1, p)
		}
		if err != nil {
			return fmt.Errorf("binding parameter %d: %w", i+1, err)
		}
	}
	return nil
}

// errReplyTooBig stops a statement whose result outgrew sql-max-reply-bytes.
type errReplyTooBig struct{ limit int64 }

func (e errReplyTooBig) Error() string {
	return fmt.Sprintf("the result is larger than sql-max-reply-bytes (%d bytes)", e.limit)
}

// step runs one bound statement to completion.
func (s *Session) step(cn *conn, cs *cachedStmt, resp3 bool) (stmtResult, error) {
	e := s.e
	needLock := !cs.ro || cs.kind == kindTxnEnd || cs.kind == kindBeginWrite || cs.kind == kindMayWrite
	e.Stats.Statements.Add(1)
	if cs.kind == kindVacuum {
		// VACUUM attaches its scratch copy as a database; the limit of 0
		// attached databases (setup) would refuse it. The sandbox still
		// refuses any ATTACH of a file.
		cn.c.SetLimit(sqlite.LimitAttached, 1)
		defer cn.c.SetLimit(sqlite.LimitAttached, 0)
	}
	for attempt := 0; ; attempt++ {
		if needLock {
			s.lock()
			cn.d.store.Writable.Store(true)
			cn.syncBusyTimeout(e.Cfg.BusyTimeout.Load())
		}
		res, err := s.stepOnce(cn, cs, resp3)
		if needLock && !s.held {
			cn.d.store.Writable.Store(false)
			s.unlock()
		}
		// The content was replaced since the connection last reset its
		// caches (a reload while it waited): reset and run again, once.
		if err != nil && sqlite.IsCode(err, sqlite.ErrProtocol) && cn.c.AutoCommit() && attempt == 0 {
			if cn.epoch = 0; cn.resetIfStale() == nil {
				continue
			}
		}
		return res, err
	}
}

func (s *Session) stepOnce(cn *conn, cs *cachedStmt, resp3 bool) (stmtResult, error) {
	e := s.e
	var res stmtResult
	var timeout time.Duration
	if ms := e.Cfg.TimeLimit.Load(); ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	limit := e.Cfg.MaxReplyBytes.Load()
	s.setRunning(cn.c)
	rows, r, err := cs.st.Run(s.rows[:0], resp3, limit, timeout)
	s.setRunning(nil)
	if r.Long {
		procboost.End()
	}
	s.rows = rows
	if errors.Is(err, sqlite.ErrRowsTooBig) {
		return res, errReplyTooBig{limit}
	}
	if err != nil {
		return res, err
	}
	if r.Reprepares != cs.reprep {
		cs.ncol = cs.st.ColumnCount()
		cs.hdr = [2][]byte{}
		cs.reprep = r.Reprepares
	}
	if cs.ncol > 0 {
		res.rows = r.Rows
		res.header = cs.header(resp3)
		return res, nil
	}
	res.changes = r.Changes
	return res, nil
}

// fail writes the error reply for err.
func (s *Session) fail(cn *conn, w *resp.Writer, err error) {
	e := s.e
	e.Stats.Errors.Add(1)
	var tooBig errReplyTooBig
	switch {
	case errors.Is(err, errNotDatabase), errors.Is(err, keyspace.ErrWrongType):
		w.Error(err.Error())
	case errors.As(err, &tooBig):
		w.Error(errPrefix + tooBig.Error())
	case sqlite.IsCode(err, sqlite.ErrInterrupt) && cn.c.DeadlineExceeded():
		e.Stats.Timeouts.Add(1)
		w.Error(fmt.Sprintf("%sinterrupted: the statement ran longer than sql-time-limit (%d ms)", errPrefix, e.Cfg.TimeLimit.Load()))
	case sqlite.IsCode(err, sqlite.ErrAuth) && cn.c.LastDenial() != "":
		w.Error(errPrefix + cn.c.LastDenial())
	case sqlite.IsCode(err, sqlite.ErrBusy):
		e.Stats.Busy.Add(1)
		w.Error(errPrefix + "database is locked")
	default:
		w.Error(errPrefix + oneLine(err.Error()))
	}
}

// oneLine keeps an error message fit for a RESP error (no CR/LF).
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}
