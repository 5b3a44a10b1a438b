// Package server is thredis's network front: it accepts RESP connections
// (its own request reader and connection loop: reader.go, conn.go), owns
// clients, the command table, dispatch, MULTI/EXEC/WATCH and the
// server-level commands, and publishes every executed write to the
// command log.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/sqlcmd"
)

// Version is the Redis version thredis reports (redis_version in INFO,
// HELLO): the Redis 7.0 command set and semantics it implements.
const Version = "7.0.15"

// Server is one thredis instance. All keyspace access happens with mu held;
// it is the serialization that makes each command atomic.
type Server struct {
	cfg   *Config
	log   *slog.Logger
	table *Table

	mu   sync.Mutex // the execution lock
	ks   *keyspace.Keyspace
	prop []cmdlog.Op // effects of the command being executed (guarded by mu)
	// entry is the command-log entry flushPropagation appends (guarded
	// by mu).
	entry cmdlog.Entry
	// inExec is set while EXEC runs queued commands so their effects become
	// one atomic log entry.
	inExec bool
	// externalPages is set while the master link applies HSET or HDEL: on
	// a SQL database's key those are page batches of commits the master
	// made, which the SQL layer catches up with incrementally.
	externalPages bool
	// readOnly is set on a read-only replica: write commands from
	// ordinary clients are refused with -READONLY.
	readOnly atomic.Bool

	cmdlog *cmdlog.Log
	// sql is the SQL layer (SQL, SQL.EXEC, SQL.QUERY).
	sql *sqlcmd.Engine

	ln       *multiListener
	addr     net.Addr
	clientMu sync.Mutex
	clients  map[int64]*Client // guarded by clientMu
	// shuttingDown is set by Shutdown (under clientMu), so a connection
	// accepted concurrently is not admitted after the clients were closed.
	shuttingDown bool
	nextID       atomic.Int64

	stats      serverStats
	errStatsMu sync.Mutex
	errStats   map[string]int64
	slowlog    slowlog // guarded by mu
	monitors   monitorSet
	admin      adminState // INFO/CONFIG/DEBUG bookkeeping (admin.go)
	persist    persistState
	aof        aofState
	repl       replState
	loadOnce   sync.Once
	loadErr    error
	startTime  time.Time
	// startUnixNano is startTime in Unix nanoseconds (see nowNano).
	startUnixNano int64

	closeOnce sync.Once
	done      chan struct{}
	stopCron  chan struct{}
}

type serverStats struct {
	connectionsReceived atomic.Int64
	rejectedConns       atomic.Int64
	commandsProcessed   atomic.Int64
	netInputBytes       atomic.Int64
	netOutputBytes      atomic.Int64
	totalErrorReplies   atomic.Int64
}

// New creates a server from cfg (nil means defaults). It does not listen yet.
// It panics if the SQLite VFS cannot be registered, which only happens when
// the process's SQLite is unusable.
func New(cfg *Config, logger *slog.Logger) *Server {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		cfg:       cfg,
		log:       logger,
		cmdlog:    cmdlog.New(),
		clients:   make(map[int64]*Client),
		errStats:  make(map[string]int64),
		startTime: time.Now(),
		done:      make(chan struct{}),
		stopCron:  make(chan struct{}),
	}
	s.startUnixNano = s.startTime.UnixNano()
	s.ks = keyspace.New(cfg.Databases, s)
	s.table = NewTable(allCommands()...)
	eng, err := sqlcmd.New(sqlHost{s}, logger, cfg.SQL)
	if err != nil {
		panic(fmt.Sprintf("thredis: starting the SQL layer: %v", err))
	}
	s.sql = eng
	s.slowlog.init()
	s.admin.init()
	s.persist.init()
	s.aof.init()
	s.repl.init()
	cfg.server = s
	s.syncAccessTracking("", "") // maxmemory-policy from the config file
	return s
}

// nowNano returns the wall clock in Unix nanoseconds, derived from the
// monotonic clock (one cheap clock read instead of time.Now's two).
func (s *Server) nowNano() int64 {
	return s.startUnixNano + int64(time.Since(s.startTime))
}

// Config returns the server's live configuration.
func (s *Server) Config() *Config { return s.cfg }

// Keyspace returns the keyspace. Callers must hold the execution lock (see
// Exec) while using it.
func (s *Server) Keyspace() *keyspace.Keyspace { return s.ks }

// Log returns the command log, for subscribers (AOF, replication, tests).
func (s *Server) Log() *cmdlog.Log { return s.cmdlog }

// Table returns the command table.
func (s *Server) Table() *Table { return s.table }

// Exec runs fn with the execution lock held, so fn is atomic with respect
// to every command.
func (s *Server) Exec(fn func(ks *keyspace.Keyspace)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.ks)
	s.flushPropagation(false)
}

// KeyExpired implements keyspace.Hooks: an expired key's deletion is
// propagated as DEL so replicas and the AOF never diverge (Redis does the
// same).
func (s *Server) KeyExpired(db int, key string) {
	s.prop = append(s.prop, cmdlog.Op{DB: db, Argv: [][]byte{[]byte("DEL"), []byte(key)}})
}

// flushPropagation appends the pending effects as one log entry.
func (s *Server) flushPropagation(atomicEntry bool) {
	if len(s.prop) == 0 {
		return
	}
	// One reused entry: subscribers use it only during Append, and a
	// fresh one per write would escape to the heap.
	s.entry = cmdlog.Entry{Ops: s.prop, Atomic: atomicEntry}
	s.cmdlog.Append(&s.entry)
	s.entry = cmdlog.Entry{}
	clear(s.prop)
	s.prop = s.prop[:0]
}

// Listen binds the configured address(es). Port 0 picks a free port (see
// Addr).
func (s *Server) Listen() error {
	if err := s.LoadData(); err != nil {
		return err
	}
	ln, err := listenMulti(s.cfg.Bind, s.cfg.Port)
	if err != nil {
		return err
	}
	s.ln = ln
	s.addr = ln.Addr()
	return nil
}

// LoadData loads the persisted dataset (the AOF, or the RDB file) and
// starts the AOF when appendonly is on. Listen calls it; it runs once.
func (s *Server) LoadData() error {
	s.loadOnce.Do(func() { s.loadErr = s.openPersistence() })
	return s.loadErr
}

// Addr returns the listening address (after Listen).
func (s *Server) Addr() net.Addr { return s.addr }

// Serve accepts connections until Shutdown, serving each on its own
// goroutine. It calls Listen if needed.
func (s *Server) Serve() error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	go s.cron()
	s.log.Info("ready to accept connections", "addr", s.addr.String(), "version", Version)
	s.startConfiguredReplication()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		// The id is taken here so ids follow the order of accepts.
		go s.serveConn(nc, s.nextID.Add(1))
	}
}

// Start listens and serves in the background; for tests and embedding.
func (s *Server) Start() error {
	if err := s.Listen(); err != nil {
		return err
	}
	go s.Serve()
	return nil
}

// Shutdown stops accepting, closes every client and stops background work.
// It is safe to call more than once.
func (s *Server) Shutdown() {
	s.closeOnce.Do(func() {
		s.log.Info("shutting down")
		close(s.stopCron)
		s.mu.Lock()
		s.stopLink()
		s.mu.Unlock()
		if s.ln != nil {
			s.ln.Close()
		}
		s.clientMu.Lock()
		s.shuttingDown = true
		for _, c := range s.clients {
			c.conn.Close()
		}
		s.clientMu.Unlock()
		s.closePersistence()
		close(s.done)
	})
}

// Done is closed when the server has shut down.
func (s *Server) Done() <-chan struct{} { return s.done }

// cron runs periodic work: the LRU clock, active expiry and dict rehashing,
// at hz times a second like Redis's serverCron.
func (s *Server) cron() {
	hz := s.cfg.HZ()
	t := time.NewTicker(time.Second / time.Duration(hz))
	defer t.Stop()
	for {
		select {
		case <-s.stopCron:
			return
		case <-t.C:
			s.ks.TickClock()
			if !s.admin.noActiveExpire.Load() {
				s.activeExpireCycle(time.Second / time.Duration(hz) / 4)
			}
			s.adminCron()
			s.persistCron(time.Now())
			s.replCron(time.Now())
			if h := s.cfg.HZ(); h != hz { // CONFIG SET hz
				hz = h
				t.Reset(time.Second / time.Duration(hz))
			}
		}
	}
}

// activeExpireCycle reclaims expired keys nobody reads, spending at most
// budget (25% of a cron period, as Redis's slow cycle) and releasing the
// lock every millisecond so clients are never stalled for long.
func (s *Server) activeExpireCycle(budget time.Duration) {
	start := time.Now()
	for {
		more := false
		s.mu.Lock()
		slice := time.Now().Add(time.Millisecond)
		for i := 0; i < s.ks.NumDBs(); i++ {
			db := s.ks.DB(i)
			if db.ExpiresLen() == 0 {
				db.ActiveExpire(0, func() bool { return true })
				continue
			}
			n := db.ActiveExpire(20, func() bool { return time.Now().After(slice) })
			if n > 5 {
				more = true
			}
		}
		s.flushPropagation(false)
		done := !more || time.Since(start) > budget
		if done {
			s.ks.Stats.ExpireCycleTime += time.Since(start)
		}
		s.mu.Unlock()
		if done {
			return
		}
	}
}
