package server

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/rdb"
)

// errSaveAborted ends a snapshot stream whose job was cancelled (shutdown).
var errSaveAborted = errors.New("snapshot aborted")

// snapshotStream drives a keyspace snapshot into an RDB writer. lock and
// unlock bracket each step of the walk: a background job takes the
// execution lock for every step (a few microseconds), so clients keep
// running between steps; SAVE, which holds the lock throughout, passes
// no-ops. progress, when not nil, counts the keys written; keyDelay, when
// not nil, is rdb-key-save-delay.
type snapshotStream struct {
	snap     *keyspace.Snapshot
	lock     func()
	unlock   func()
	cancel   *atomic.Bool
	progress *atomic.Int64
	keyDelay *atomic.Int64
}

// rdbAux returns the AUX fields Redis 7.0 writes at the top of an RDB.
func (s *Server) rdbAux(aofBase bool) []rdb.Aux {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := "0"
	if aofBase {
		base = "1"
	}
	return []rdb.Aux{
		{Key: "redis-ver", Value: Version},
		{Key: "redis-bits", Value: strconv.Itoa(strconv.IntSize)},
		{Key: "ctime", Value: strconv.FormatInt(time.Now().Unix(), 10)},
		{Key: "used-mem", Value: strconv.FormatUint(ms.HeapAlloc, 10)},
		{Key: "aof-base", Value: base},
	}
}

// each hands every item of the snapshot to fn, step by step: the lock is
// taken for each step of the walk and released while fn encodes what the
// step returned (strings are immutable and hashes frozen until the snapshot
// is released). It stops early when the job is cancelled.
func (st snapshotStream) each(fn func(it *keyspace.Item) error) error {
	var items []keyspace.Item
	var n int64
	for done := false; !done; {
		if st.cancel != nil && st.cancel.Load() {
			return errSaveAborted
		}
		st.lock()
		items, done = st.snap.Next(items[:0])
		st.unlock()
		for i := range items {
			if err := fn(&items[i]); err != nil {
				return err
			}
			if st.keyDelay != nil {
				if d := st.keyDelay.Load(); d != 0 {
					keySaveDelay(d)
				}
			}
		}
		n += int64(len(items))
		if st.progress != nil {
			st.progress.Store(n)
		}
		clear(items) // let written values be collected
		// Between steps, let goroutines that are ready to run have
		// this P. The encoder runs on the P procboost added, but the
		// GC's mark worker may hold the other one for 10-20 ms at a
		// time, and clients readied meanwhile would wait for it (or
		// for the runtime to preempt the encoder). Only when some are
		// waiting: yielding unconditionally made the encoder bounce
		// between threads and slowed a lone client during a save.
		if runnable.wait() {
			runtime.Gosched()
		}
	}
	return nil
}

// keySaveDelay sleeps after a key as rdb-key-save-delay asks, as Redis's
// debugDelay: d microseconds, or when d is negative, one microsecond with
// probability 1/-d (a sleep is never shorter than a system call). Tests
// use it to keep a snapshot job running.
func keySaveDelay(d int64) {
	if d < 0 {
		if rand.Int64N(-d) != 0 {
			return
		}
		d = 1
	}
	time.Sleep(time.Duration(d) * time.Microsecond)
}

// runnable reads how many goroutines are ready to run but not running.
var runnable = runnableProbe{sample: []metrics.Sample{{Name: "/sched/goroutines/runnable:goroutines"}}}

type runnableProbe struct {
	mu     sync.Mutex
	sample []metrics.Sample
}

// wait reports whether some goroutine is waiting for a P.
func (r *runnableProbe) wait() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	metrics.Read(r.sample)
	v := r.sample[0].Value
	return v.Kind() == metrics.KindUint64 && v.Uint64() > 0
}

// writeRDB streams the snapshot to w in RDB format and returns the number
// of keys written.
func (s *Server) writeRDB(w io.Writer, st snapshotStream, aux []rdb.Aux) (int64, error) {
	rw := rdb.NewWriter(w, rdb.WriterOptions{Compress: s.cfg.boolValue("rdbcompression"), Checksum: s.cfg.boolValue("rdbchecksum")})
	if err := rw.Header(aux); err != nil {
		return 0, err
	}
	sizes := st.snap.Sizes()
	cur := -1
	var keys int64
	err := st.each(func(it *keyspace.Item) error {
		if it.DB != cur {
			if err := rw.SelectDB(it.DB, uint64(sizes[it.DB].Keys), uint64(sizes[it.DB].Expires)); err != nil {
				return err
			}
			cur = it.DB
		}
		keys++
		if it.Hash != nil {
			return rw.Hash(it.Key, it.Hash.Len(), it.Hash.Range, it.ExpireMs)
		}
		return rw.String(it.Key, it.Str, it.ExpireMs)
	})
	if err != nil {
		return keys, err
	}
	return keys, rw.Close()
}

// rdbLoadStats counts what a load did (INFO's rdb_last_load_keys_*) and
// keeps the AUX fields a replica needs (repl-stream-db).
type rdbLoadStats struct {
	loaded, expired int64
	aux             map[string]string
}

// loadRDB reads an RDB stream into the keyspace, replacing keys it names.
// The lock is held by the caller. Keys whose TTL already passed are skipped,
// as a Redis master does when loading.
func (s *Server) loadRDB(r io.Reader) (rdbLoadStats, error) {
	return loadRDBInto(s.ks, r, !s.ks.ReplicaMode)
}

// maxReserveHint bounds a RESIZEDB hint before it is converted to int.
const maxReserveHint = 1 << 30

// loadRDBInto reads an RDB stream into ks (the server's keyspace, or a
// replica's staging keyspace that nobody else sees yet), skipping keys
// already expired when skipExpired. Types thredis does not have (lists,
// sets, sorted sets, streams, modules) fail the load with an error naming
// the key: dropping them silently would lose data.
func loadRDBInto(ks *keyspace.Keyspace, r io.Reader, skipExpired bool) (rdbLoadStats, error) {
	var st rdbLoadStats
	rd, err := rdb.NewReader(r, rdb.ReaderOptions{VerifyChecksum: true})
	if err != nil {
		return st, err
	}
	now := time.Now().UnixMilli()
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		if e.Kind == rdb.EntryAux {
			if st.aux == nil {
				st.aux = make(map[string]string)
			}
			st.aux[e.AuxKey] = e.AuxValue
			continue
		}
		if e.Kind == rdb.EntryResizeDB && e.DB >= 0 && e.DB < ks.NumDBs() {
			ks.DB(e.DB).Reserve(int(min(e.Keys, maxReserveHint)), int(min(e.Expires, maxReserveHint)))
			continue
		}
		if e.Kind != rdb.EntryKey {
			continue
		}
		if e.DB < 0 || e.DB >= ks.NumDBs() {
			return st, fmt.Errorf("key %q is in database %d, but only %d databases are configured", e.Key, e.DB, ks.NumDBs())
		}
		db := ks.DB(e.DB)
		if e.ExpireMs >= 0 && e.ExpireMs <= now && skipExpired {
			st.expired++
			continue
		}
		switch e.Type {
		case rdb.TypeString:
			db.Restore(e.Key, e.Str, nil, e.ExpireMs)
		case rdb.TypeHash:
			h := keyspace.NewHash()
			for _, p := range e.Hash {
				h.SetString(p.Field, p.Value)
			}
			if h.Len() == 0 {
				continue // Redis never stores an empty hash
			}
			db.Restore(e.Key, "", h, e.ExpireMs)
		default:
			return st, fmt.Errorf("key %q holds a %s, a type thredis does not support yet", e.Key, e.Type)
		}
		st.loaded++
	}
}

// loadDumpFile loads dir/dbfilename if it exists (a missing file is no
// error: a fresh server) and reports whether it did. Lock held.
func (s *Server) loadDumpFile() (bool, error) {
	path := s.rdbPath()
	start := time.Now()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	st, err := s.loadRDB(f)
	s.persist.lastLoad = st
	if err != nil {
		return true, fmt.Errorf("loading %s: %w", path, err)
	}
	s.log.Info("DB loaded from disk", "path", path, "keys", st.loaded, "expired", st.expired,
		"ms", time.Since(start).Milliseconds())
	return true, nil
}
