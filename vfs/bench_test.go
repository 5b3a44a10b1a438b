//go:build unix

package vfs

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/thredis/thredis/keyspace"
)

// The benchmarks run the workloads of issue 3's acceptance item 6(a)
// through the same driver (mattn's database/sql) and the same single
// connection against SQLite's own in-memory VFS, memdb, and against the
// thredis VFS over three stores, so each ratio to memdb is the cost of the
// VFS and its store:
//
//   - thredis: the VFS over a MemStore (a map of pages; lets the VFS
//     recycle superseded pages).
//   - thredis-keystore: the VFS over the store the server uses, a
//     KeyStore holding the pages in a hash key of a real keyspace.DB
//     (every commit sets the hash fields and builds the HSET command for
//     the command log). KeyStore must be called under the server's
//     execution lock; a single-goroutine benchmark trivially is.
//   - thredis-alloc (write workloads only): a MemStore that does not let
//     the VFS recycle superseded pages (as a store sharing its page memory
//     with other readers cannot), so every committed page is a fresh
//     allocation.
//
// Besides ns/op (wall time), each benchmark reports cpu-ns/op: the CPU
// time (user + system, all threads, so GC work too) the process used in
// the timed sections, per op. On a shared machine it is the steadier
// figure: time spent waiting for a CPU is in ns/op but not in cpu-ns/op.
//
// Workloads (ns/op is per row or per query):
//
//   - InsertTxn: 100k INSERTs in one transaction, into a fresh database.
//   - InsertAutocommit: 10k autocommit INSERTs (one transaction each),
//     into a fresh database.
//   - SelectPK: primary-key SELECTs, random keys, over 100k rows.
//   - Join3: a three-table join with aggregation (1k customers, 10k
//     orders, 50k items), one random customer per query.
//
//	go test -run '^$' -bench . -benchtime 2s -count 5 ./vfs/
//	bench/vfs-benchmark.sh   # the same, interleaved rounds, medians and ratios

var benchBackends = []string{"thredis", "thredis-keystore", "memdb"}

var writeBenchBackends = []string{"thredis", "thredis-keystore", "thredis-alloc", "memdb"}

// allocStore hides MemStore's PageRecycler implementation.
type allocStore struct{ PageStore }

// benchPropagated counts the commands KeyStore hands to Propagate, so the
// benchmark pays for building them as the server does.
var benchPropagated int

// cpuClock accumulates the process's CPU time over the timed sections of a
// benchmark, alongside b's own timer.
type cpuClock struct {
	start, total time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) Start() { c.start = processCPU() }

func (c *cpuClock) Stop() { c.total += processCPU() - c.start }

// Report adds the cpu-ns/op metric.
func (c *cpuClock) Report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// newBenchKeyStore returns a KeyStore over the default SQL key of database
// 0 of a fresh 16-database keyspace (no hooks: nothing expires here).
func newBenchKeyStore() *KeyStore {
	ks := keyspace.New(16, nil)
	s := &KeyStore{DB: ks.DB(0), Key: "_sql:redis_db", Propagate: func(argv [][]byte) { benchPropagated += len(argv) }}
	// The SQL layer sets Writable while it holds the execution lock; the
	// benchmark's goroutine is the only one, so it always may commit.
	s.Writable.Store(true)
	return s
}

// openBenchDB opens a fresh, empty database on backend; close releases it.
func openBenchDB(b *testing.B, backend string) (db *sql.DB, close func()) {
	b.Helper()
	var dsn, name string
	var store PageStore
	switch backend {
	case "thredis":
		store = NewMemStore()
	case "thredis-keystore":
		store = newBenchKeyStore()
	case "thredis-alloc":
		store = allocStore{NewMemStore()}
	case "memdb":
		dsn = fmt.Sprintf("file:/bench-%d?vfs=memdb&_journal_mode=MEMORY&_sync=OFF", dbCounter.Add(1))
	default:
		b.Fatalf("unknown backend %q", backend)
	}
	if store != nil {
		name = fmt.Sprintf("%s-%d", b.Name(), dbCounter.Add(1))
		d, err := testVFS.Attach(name, store, Options{})
		if err != nil {
			b.Fatal(err)
		}
		dsn = d.DSN()
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db, func() {
		db.Close()
		if name != "" {
			if err := testVFS.Detach(name); err != nil {
				b.Error(err)
			}
		}
	}
}

func openBench(b *testing.B, backend string) *sql.DB {
	b.Helper()
	db, closeDB := openBenchDB(b, backend)
	b.Cleanup(closeDB)
	// Start each workload from a collected heap so garbage left by the
	// previous one (hundreds of MB of pages) does not bill this one.
	runtime.GC()
	return db
}

// benchInsertGroups runs b.N single-row INSERTs in groups of group rows,
// each group into a fresh database (opened with the timer stopped); inTxn
// wraps each group in one transaction, otherwise every INSERT autocommits.
func benchInsertGroups(b *testing.B, backend string, group int, inTxn bool) {
	var cpu cpuClock
	runtime.GC()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		db, closeDB := openBenchDB(b, backend)
		mustExec(b, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
		var tx *sql.Tx
		var err error
		if inTxn {
			if tx, err = db.Begin(); err != nil {
				b.Fatal(err)
			}
		}
		const q = "INSERT INTO t (a, b) VALUES (?, ?)"
		var st *sql.Stmt
		if tx != nil {
			st, err = tx.Prepare(q)
		} else {
			st, err = db.Prepare(q)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu.Start()
		for i := 0; i < group && done < b.N; i++ {
			if _, err := st.Exec(done, "some text payload for the row"); err != nil {
				b.Fatal(err)
			}
			done++
		}
		if tx != nil {
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.Stop()
		b.StopTimer()
		st.Close()
		closeDB()
		b.StartTimer()
	}
	cpu.Report(b)
}

// BenchmarkInsertTxn: 100k INSERTs in one transaction into a fresh
// database (b.N rows in as many such transactions as needed); ns/op per
// row, the commit included.
func BenchmarkInsertTxn(b *testing.B) {
	for _, be := range writeBenchBackends {
		b.Run(be, func(b *testing.B) { benchInsertGroups(b, be, 100000, true) })
	}
}

// BenchmarkInsertAutocommit: 10k autocommit INSERTs (one transaction each)
// into a fresh database, repeated for b.N rows; ns/op per INSERT.
func BenchmarkInsertAutocommit(b *testing.B) {
	for _, be := range writeBenchBackends {
		b.Run(be, func(b *testing.B) { benchInsertGroups(b, be, 10000, false) })
	}
}

const benchRows = 100000

func fillRows(b *testing.B, db *sql.DB) {
	b.Helper()
	mustExec(b, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
	mustExec(b, db, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?)
		INSERT INTO t SELECT x, x*7, printf('row %d payload', x) FROM c`, benchRows)
}

// BenchmarkSelectPK: point SELECTs by primary key over 100k rows, each its
// own (autocommit) read transaction.
func BenchmarkSelectPK(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be, func(b *testing.B) {
			db := openBench(b, be)
			fillRows(b, db)
			st, err := db.Prepare("SELECT a, b FROM t WHERE id = ?")
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			var a int64
			var s string
			var cpu cpuClock
			runtime.GC()
			b.ResetTimer()
			cpu.Start()
			for i := 0; i < b.N; i++ {
				if err := st.QueryRow(rng.IntN(benchRows)+1).Scan(&a, &s); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Stop()
			cpu.Report(b)
		})
	}
}

// BenchmarkJoin3: a three-table join with aggregation, per customer.
func BenchmarkJoin3(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be, func(b *testing.B) {
			db := openBench(b, be)
			mustExec(b, db, `CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
				CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, day INTEGER);
				CREATE INDEX orders_customer ON orders(customer_id);
				CREATE TABLE items (id INTEGER PRIMARY KEY, order_id INTEGER, price REAL);
				CREATE INDEX items_order ON items(order_id);
				WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 1000)
				INSERT INTO customers SELECT x, 'customer ' || x FROM c;
				WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 10000)
				INSERT INTO orders SELECT x, x % 1000 + 1, x % 365 FROM c;
				WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 50000)
				INSERT INTO items SELECT x, x % 10000 + 1, (x % 97) * 1.25 FROM c;`)
			st, err := db.Prepare(`SELECT c.name, count(*), sum(i.price) FROM customers c
				JOIN orders o ON o.customer_id = c.id JOIN items i ON i.order_id = o.id
				WHERE c.id = ? GROUP BY c.id`)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			rng := rand.New(rand.NewPCG(3, 4))
			var name string
			var n int64
			var sum float64
			var cpu cpuClock
			runtime.GC()
			b.ResetTimer()
			cpu.Start()
			for i := 0; i < b.N; i++ {
				if err := st.QueryRow(rng.IntN(1000)+1).Scan(&name, &n, &sum); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Stop()
			cpu.Report(b)
		})
	}
}
