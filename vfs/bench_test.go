package vfs

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// The benchmarks run each workload against the thredis VFS (over a
// MemStore) and against SQLite's own in-memory VFS, memdb, through the same
// driver and the same single connection, so the ratio is the VFS's cost.
// The write benchmarks also run "thredis-alloc": a store that does not let
// the VFS recycle superseded pages (as a store sharing its page memory with
// other readers cannot), so every committed page is a fresh allocation.
//
//	go test -run '^$' -bench . -benchtime 2s ./vfs/

var benchBackends = []string{"thredis", "memdb"}

var writeBenchBackends = []string{"thredis", "thredis-alloc", "memdb"}

// allocStore hides MemStore's PageRecycler implementation.
type allocStore struct{ PageStore }

func openBench(b *testing.B, backend string) *sql.DB {
	b.Helper()
	var dsn string
	switch backend {
	case "thredis":
		d, _, _ := newTestDB(b, Options{})
		dsn = d.DSN()
	case "thredis-alloc":
		d, err := testVFS.Attach(fmt.Sprintf("%s-%d", b.Name(), dbCounter.Add(1)), allocStore{NewMemStore()}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { testVFS.Detach(d.Name()) })
		dsn = d.DSN()
	case "memdb":
		dsn = fmt.Sprintf("file:/bench-%d?vfs=memdb&_journal_mode=MEMORY&_sync=OFF", dbCounter.Add(1))
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	// Start each workload from a collected heap so garbage left by the
	// previous one (hundreds of MB of pages) does not bill this one.
	runtime.GC()
	return db
}

// BenchmarkInsertTxn: inserts in transactions of 100k rows; ns/op per row.
func BenchmarkInsertTxn(b *testing.B) {
	for _, be := range writeBenchBackends {
		b.Run(be, func(b *testing.B) {
			db := openBench(b, be)
			mustExec(b, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
			b.ResetTimer()
			for done := 0; done < b.N; {
				tx, err := db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				st, err := tx.Prepare("INSERT INTO t (a, b) VALUES (?, ?)")
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < 100000 && done < b.N; i++ {
					if _, err := st.Exec(done, "some text payload for the row"); err != nil {
						b.Fatal(err)
					}
					done++
				}
				st.Close()
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInsertAutocommit: one transaction per INSERT.
func BenchmarkInsertAutocommit(b *testing.B) {
	for _, be := range writeBenchBackends {
		b.Run(be, func(b *testing.B) {
			db := openBench(b, be)
			mustExec(b, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
			st, err := db.Prepare("INSERT INTO t (a, b) VALUES (?, ?)")
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := st.Exec(i, "some text payload for the row"); err != nil {
					b.Fatal(err)
				}
			}
		})
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
			runtime.GC()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := st.QueryRow(rng.IntN(benchRows)+1).Scan(&a, &s); err != nil {
					b.Fatal(err)
				}
			}
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
			runtime.GC()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := st.QueryRow(rng.IntN(1000)+1).Scan(&name, &n, &sum); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
