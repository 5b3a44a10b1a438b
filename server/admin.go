package server

import (
	"crypto/rand"
	"encoding/hex"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// adminState is the bookkeeping behind INFO, CONFIG RESETSTAT, LASTSAVE
// and DEBUG: identifiers, sampled rates and peaks, and switches.
type adminState struct {
	// runID identifies this process (INFO run_id); replID is the
	// replication id a master advertises (INFO master_replid).
	runID  string
	replID string
	// lastSave is the Unix time of the last successful save; until
	// persistence exists it is the start time, as on a fresh Redis.
	lastSave atomic.Int64
	// noActiveExpire is set by DEBUG SET-ACTIVE-EXPIRE 0.
	noActiveExpire atomic.Bool
	// peakMemory is the highest used_memory seen (INFO used_memory_peak).
	peakMemory atomic.Uint64
	// startupMemory is used_memory right after start (used_memory_startup).
	startupMemory uint64

	mu     sync.Mutex // guards the samplers
	ops    rateSampler
	netIn  rateSampler
	netOut rateSampler
}

// rateSampler is Redis's instantaneous metric: the average rate over the
// last samples of a counter taken every ~100ms.
type rateSampler struct {
	lastAt    time.Time
	lastValue int64
	samples   [16]float64
	idx, n    int
}

func (r *rateSampler) sample(now time.Time, value int64) {
	if !r.lastAt.IsZero() {
		if dt := now.Sub(r.lastAt).Seconds(); dt > 0 {
			r.samples[r.idx] = float64(value-r.lastValue) / dt
			r.idx = (r.idx + 1) % len(r.samples)
			if r.n < len(r.samples) {
				r.n++
			}
		}
	}
	r.lastAt, r.lastValue = now, value
}

func (r *rateSampler) rate() float64 {
	if r.n == 0 {
		return 0
	}
	sum := 0.0
	for i := 0; i < r.n; i++ {
		sum += r.samples[i]
	}
	return sum / float64(r.n)
}

func (r *rateSampler) reset() { *r = rateSampler{} }

func randomHex40() string {
	var b [20]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (a *adminState) init() {
	a.runID = randomHex40()
	a.replID = randomHex40()
	a.lastSave.Store(time.Now().Unix())
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	a.startupMemory = m.HeapAlloc
	a.peakMemory.Store(m.HeapAlloc)
}

// adminCron runs from the server cron: it samples the instantaneous
// metrics (every 100ms like Redis), tracks the memory peak and closes idle
// clients (timeout).
func (s *Server) adminCron() {
	now := time.Now()
	a := &s.admin
	a.mu.Lock()
	if now.Sub(a.ops.lastAt) >= 100*time.Millisecond {
		a.ops.sample(now, s.stats.commandsProcessed.Load())
		a.netIn.sample(now, s.stats.netInputBytes.Load())
		a.netOut.sample(now, s.stats.netOutputBytes.Load())
	}
	a.mu.Unlock()
	s.closeIdleClients(now)
}

// usedMemory returns the Go heap in use (INFO used_memory) and records
// the peak.
func (s *Server) usedMemory(m *runtime.MemStats) uint64 {
	used := m.HeapAlloc
	for {
		peak := s.admin.peakMemory.Load()
		if used <= peak || s.admin.peakMemory.CompareAndSwap(peak, used) {
			break
		}
	}
	return used
}

// closeIdleClients closes normal clients idle for longer than timeout
// seconds, as Redis's clientsCronHandleTimeout: replicas, masters and
// monitors are exempt.
func (s *Server) closeIdleClients(now time.Time) {
	limit := s.cfg.timeout.Load()
	if limit <= 0 {
		return
	}
	cutoff := now.UnixNano() - limit*int64(time.Second)
	exempt := uint32(clientMonitor | clientReplica | clientMaster)
	var idle []*Client
	s.clientMu.Lock()
	for _, c := range s.clients {
		if c.flags.Load()&exempt == 0 && c.lastInteraction.Load() < cutoff {
			idle = append(idle, c)
		}
	}
	s.clientMu.Unlock()
	if len(idle) == 0 {
		return
	}
	// Under the execution lock: a client may be detaching (MONITOR) right
	// now, and Kill reads what detach writes.
	s.mu.Lock()
	for _, c := range idle {
		if c.flags.Load()&exempt != 0 {
			continue
		}
		s.log.Debug("closing idle client", "id", c.ID, "addr", c.addr)
		s.killClient(c)
	}
	s.mu.Unlock()
}

// resetStats zeroes the counters CONFIG RESETSTAT resets: server stats,
// keyspace stats, commandstats and errorstats. Callers hold the execution
// lock.
func (s *Server) resetStats() {
	st := &s.stats
	st.connectionsReceived.Store(0)
	st.rejectedConns.Store(0)
	st.commandsProcessed.Store(0)
	st.netInputBytes.Store(0)
	st.netOutputBytes.Store(0)
	st.totalErrorReplies.Store(0)
	s.ks.Stats.ExpiredKeys = 0
	s.ks.Stats.ExpiredStale = 0
	s.ks.Stats.KeyspaceHits = 0
	s.ks.Stats.KeyspaceMisses = 0
	s.ks.Stats.ExpireCycleTime = 0
	for _, cmd := range s.table.All() {
		cmd.stats.reset()
		for _, sub := range cmd.Sub {
			sub.stats.reset()
		}
	}
	s.errStatsMu.Lock()
	clear(s.errStats)
	s.errStatsMu.Unlock()
	s.admin.mu.Lock()
	s.admin.ops.reset()
	s.admin.netIn.reset()
	s.admin.netOut.reset()
	s.admin.mu.Unlock()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.admin.peakMemory.Store(m.HeapAlloc)
}

func (st *commandStats) reset() {
	st.calls.Store(0)
	st.usec.Store(0)
	st.rejected.Store(0)
	st.failed.Store(0)
}
