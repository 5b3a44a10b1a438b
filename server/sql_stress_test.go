package server

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the reference SQLite of the differential test
	"github.com/redis/go-redis/v9"
)

// Stress and end-to-end correctness tests of the SQL layer through the
// server (issue 3, acceptance 2–4). Helpers carry a "stress" prefix.

// stressSeconds is how long the bank test runs: THREDIS_SQL_STRESS_SECONDS,
// default 30 (the acceptance); skipped under -short.
func stressSeconds(t *testing.T) time.Duration {
	t.Helper()
	if testing.Short() {
		t.Skip("stress test skipped with -short")
	}
	secs := 30.0
	if v := os.Getenv("THREDIS_SQL_STRESS_SECONDS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			t.Fatalf("THREDIS_SQL_STRESS_SECONDS=%q: want a positive number of seconds", v)
		}
		secs = f
	}
	return time.Duration(secs * float64(time.Second))
}

// stressClient is a client with exactly one connection, so it keeps one
// server-side SQL session, and no automatic retries (a retried transfer
// would be applied twice).
func stressClient(t *testing.T, ts *testServer) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr: ts.addr, PoolSize: 1, MaxRetries: -1,
		ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// stressSQL runs one SQL command.
func stressSQL(c *redis.Client, q string, params ...any) (any, error) {
	args := make([]any, 0, 2+len(params))
	args = append(args, "SQL", q)
	args = append(args, params...)
	return c.Do(context.Background(), args...).Result()
}

// stressRows checks the shape of a reply with result columns (header
// first, then rows) and returns the rows.
func stressRows(v any) ([][]any, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("not a result set: %#v", v)
	}
	if _, ok := arr[0].([]any); !ok {
		return nil, fmt.Errorf("result set without a header: %#v", v)
	}
	rows := make([][]any, 0, len(arr)-1)
	for _, r := range arr[1:] {
		row, ok := r.([]any)
		if !ok {
			return nil, fmt.Errorf("row is not an array: %#v", r)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// stressQuery runs a query and returns its rows.
func stressQuery(c *redis.Client, q string, params ...any) ([][]any, error) {
	v, err := stressSQL(c, q, params...)
	if err != nil {
		return nil, err
	}
	return stressRows(v)
}

// stressInts runs a query that must return exactly one row of integers.
func stressInts(c *redis.Client, q string, params ...any) ([]int64, error) {
	rows, err := stressQuery(c, q, params...)
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("%s: %d rows, want 1", q, len(rows))
	}
	out := make([]int64, len(rows[0]))
	for i, v := range rows[0] {
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("%s: column %d = %#v, want an integer", q, i, v)
		}
		out[i] = n
	}
	return out, nil
}

func stressMust(t *testing.T, c *redis.Client, q string, params ...any) any {
	t.Helper()
	v, err := stressSQL(c, q, params...)
	if err != nil {
		t.Fatalf("SQL %q: %v", q, err)
	}
	return v
}

const stressLocked = "ERR SQL error: database is locked"

func stressIsLocked(err error) bool { return err != nil && err.Error() == stressLocked }

// stressIntegrity requires PRAGMA integrity_check to answer "ok".
func stressIntegrity(c *redis.Client) error {
	rows, err := stressQuery(c, "PRAGMA integrity_check")
	if err != nil {
		return err
	}
	if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] != "ok" {
		return fmt.Errorf("integrity_check = %v", rows)
	}
	return nil
}

// stressInfo reads one integer field of INFO sql.
func stressInfo(t *testing.T, c *redis.Client, name string) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "sql").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO sql %s = %q", name, v)
			}
			return n
		}
	}
	t.Fatalf("INFO sql has no %s:\n%s", name, info)
	return 0
}

type stressTransfer struct {
	writer, seq, src, dst, amount int
}

// TestSQLConcurrencyBank: 8 writer and 8 reader clients on one database
// (acceptance 3). Writers move money between accounts, each transfer one
// transaction that also logs itself; readers check in every read that the
// total is constant, and some readers check, inside one read transaction
// spanning several SQL calls, that every balance matches the transfer log
// and that repeated reads agree. At the end the balances and the log must
// be exactly what the acknowledged transfers imply: nothing lost, nothing
// extra. The only error allowed is the documented busy timeout.
func TestSQLConcurrencyBank(t *testing.T) {
	dur := stressSeconds(t)
	// THREDIS_SQL_STRESS_BUSY_MS sets sql-busy-timeout (default: the
	// server's, 5000): a small value makes writers hit the busy error, to
	// exercise the roll-back path.
	ts := startServer(t, func(c *Config) {
		if v := os.Getenv("THREDIS_SQL_STRESS_BUSY_MS"); v != "" {
			if err := c.Set("sql-busy-timeout", v); err != nil {
				t.Fatal(err)
			}
		}
	})
	const (
		accounts = 100
		initial  = 1000
		total    = accounts * initial
		writers  = 8
		readers  = 8
	)
	admin := stressClient(t, ts)
	stressMust(t, admin, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
	stressMust(t, admin, "CREATE TABLE transfers(writer INTEGER, seq INTEGER, src INTEGER, dst INTEGER, amount INTEGER, PRIMARY KEY (writer, seq))")
	stressMust(t, admin, "CREATE INDEX transfers_src ON transfers(src)")
	stressMust(t, admin, "CREATE INDEX transfers_dst ON transfers(dst)")
	if n := stressMust(t, admin, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?) INSERT INTO accounts SELECT i, ? FROM c",
		accounts, initial); n != int64(accounts) {
		t.Fatalf("seeding accounts: %v rows", n)
	}

	const transferSQL = "BEGIN; UPDATE accounts SET balance = balance - ? WHERE id = ?; " +
		"UPDATE accounts SET balance = balance + ? WHERE id = ?; " +
		"INSERT INTO transfers(writer, seq, src, dst, amount) VALUES (?, ?, ?, ?, ?); COMMIT"

	var (
		stop                        atomic.Bool
		wg                          sync.WaitGroup
		acked                       = make([][]stressTransfer, writers)
		busy, rollbacks             atomic.Int64
		sumReads, txnReads, xChecks atomic.Int64
	)
	fail := func(format string, args ...any) {
		stop.Store(true)
		t.Errorf(format, args...)
	}
	start := time.Now()
	deadline := start.Add(dur)
	running := func() bool { return !stop.Load() && time.Now().Before(deadline) }

	for w := range writers {
		c := stressClient(t, ts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			id0, err := c.ClientID(ctx).Result()
			if err != nil {
				fail("writer %d: CLIENT ID: %v", w, err)
				return
			}
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for seq := 0; running(); seq++ {
				src := 1 + rng.IntN(accounts)
				dst := 1 + rng.IntN(accounts-1)
				if dst >= src {
					dst++
				}
				amt := 1 + rng.IntN(50)
				v, err := stressSQL(c, transferSQL, amt, src, amt, dst, w, seq, src, dst, amt)
				switch {
				case err == nil:
					if v != int64(0) { // COMMIT's reply
						fail("writer %d: transfer replied %#v", w, v)
						return
					}
					acked[w] = append(acked[w], stressTransfer{w, seq, src, dst, amt})
				case stressIsLocked(err):
					// The script stopped at the failing statement inside
					// the transaction BEGIN opened: roll it back so the
					// session is clean for the next transfer.
					busy.Add(1)
					if _, err := stressSQL(c, "ROLLBACK"); err != nil {
						fail("writer %d: ROLLBACK after busy: %v", w, err)
						return
					}
					rollbacks.Add(1)
				default:
					fail("writer %d: transfer %d: %v", w, seq, err)
					// Best effort, to leave the writer lock free.
					stressSQL(c, "ROLLBACK")
					return
				}
			}
			// Same connection (= same SQL session) all along.
			if id1, err := c.ClientID(ctx).Result(); err != nil || id1 != id0 {
				fail("writer %d: client id %d then %d (%v): the connection was replaced", w, id0, id1, err)
			}
		}()
	}

	for r := range readers {
		c := stressClient(t, ts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; running(); i++ {
				if r%2 == 0 {
					// Autocommit reads: the total never moves.
					got, err := stressInts(c, "SELECT sum(balance), count(*) FROM accounts")
					if err != nil {
						fail("reader %d: %v", r, err)
						return
					}
					sumReads.Add(1)
					if got[0] != total || got[1] != accounts {
						fail("reader %d: torn read: sum %d over %d accounts, want %d over %d", r, got[0], got[1], total, accounts)
						return
					}
					continue
				}
				// One read transaction across several SQL calls: its
				// snapshot stays fixed while writers commit.
				if err := stressReadTxn(c, i%8 == 0, total, accounts, initial); err != nil {
					fail("reader %d: %v", r, err)
					stressSQL(c, "ROLLBACK")
					return
				}
				txnReads.Add(1)
				if i%8 == 0 {
					xChecks.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if t.Failed() {
		return
	}

	var n int
	for _, a := range acked {
		n += len(a)
	}
	reads := sumReads.Load() + txnReads.Load()
	t.Logf("%v: %d transfers acknowledged (%.0f/s), %d busy (rolled back), %d reads (%.0f/s: %d autocommit sums, %d read transactions, %d with the full log check)",
		elapsed.Round(time.Millisecond), n, float64(n)/elapsed.Seconds(), busy.Load(),
		reads, float64(reads)/elapsed.Seconds(), sumReads.Load(), txnReads.Load(), xChecks.Load())
	if n < 50 || sumReads.Load() < 50 || txnReads.Load() < 10 {
		t.Fatalf("too little work done to mean anything: %d transfers, %d + %d reads", n, sumReads.Load(), txnReads.Load())
	}

	// No lost updates, nothing extra: the balances are exactly what the
	// acknowledged transfers imply, and the log holds exactly them.
	check := stressClient(t, ts)
	want := make([]int64, accounts+1)
	for i := 1; i <= accounts; i++ {
		want[i] = initial
	}
	for _, a := range acked {
		for _, tr := range a {
			want[tr.src] -= int64(tr.amount)
			want[tr.dst] += int64(tr.amount)
		}
	}
	rows, err := stressQuery(check, "SELECT id, balance FROM accounts ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != accounts {
		t.Fatalf("%d accounts", len(rows))
	}
	for _, r := range rows {
		id, bal := r[0].(int64), r[1].(int64)
		if bal != want[id] {
			t.Errorf("account %d: balance %d, want %d from the acknowledged transfers", id, bal, want[id])
		}
	}
	rows, err = stressQuery(check, "SELECT writer, seq, src, dst, amount FROM transfers ORDER BY writer, seq")
	if err != nil {
		t.Fatal(err)
	}
	var logged []stressTransfer
	for _, r := range rows {
		var tr [5]int
		for i := range tr {
			tr[i] = int(r[i].(int64))
		}
		logged = append(logged, stressTransfer{tr[0], tr[1], tr[2], tr[3], tr[4]})
	}
	var all []stressTransfer
	for _, a := range acked {
		all = append(all, a...)
	}
	if !slices.Equal(logged, all) {
		missing, extra := stressSetDiff(all, logged)
		t.Errorf("transfer log: %d rows, %d acknowledged; missing (lost) %v; extra (unacknowledged) %v",
			len(logged), len(all), stressFirst(missing), stressFirst(extra))
	}
	if got, err := stressInts(check, "SELECT sum(balance), count(*) FROM accounts"); err != nil || got[0] != total {
		t.Errorf("final sum %v, %v", got, err)
	}
	if err := stressIntegrity(check); err != nil {
		t.Error(err)
	}
	if b := stressInfo(t, check, "sql_busy_errors"); b < busy.Load() {
		t.Errorf("INFO sql_busy_errors = %d, but clients saw %d", b, busy.Load())
	}
	if c := stressInfo(t, check, "sql_commits"); c < int64(n) {
		t.Errorf("INFO sql_commits = %d < %d acknowledged transfers", c, n)
	}
}

// stressReadTxn runs one read transaction over several SQL calls: the
// sums read at its start and end must agree (a pinned snapshot), the
// total must hold, and with full it checks every balance against the
// transfer log in the same snapshot.
func stressReadTxn(c *redis.Client, full bool, total, accounts, initial int64) error {
	if _, err := stressSQL(c, "BEGIN"); err != nil {
		return fmt.Errorf("BEGIN: %w", err)
	}
	const logQ = "SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(src * amount), 0) FROM transfers"
	first, err := stressInts(c, logQ)
	if err != nil {
		return err
	}
	sum, err := stressInts(c, "SELECT sum(balance), count(*) FROM accounts")
	if err != nil {
		return err
	}
	if sum[0] != total || sum[1] != accounts {
		return fmt.Errorf("torn read in a transaction: sum %d over %d accounts", sum[0], sum[1])
	}
	if full {
		bad, err := stressInts(c, `SELECT count(*) FROM accounts a WHERE a.balance !=
			? - (SELECT coalesce(sum(amount), 0) FROM transfers WHERE src = a.id)
			  + (SELECT coalesce(sum(amount), 0) FROM transfers WHERE dst = a.id)`, initial)
		if err != nil {
			return err
		}
		if bad[0] != 0 {
			return fmt.Errorf("%d balances disagree with the transfer log in one snapshot", bad[0])
		}
	} else {
		time.Sleep(time.Millisecond) // let writers commit meanwhile
	}
	again, err := stressInts(c, logQ)
	if err != nil {
		return err
	}
	if !slices.Equal(first, again) {
		return fmt.Errorf("snapshot moved inside a read transaction: transfer log %v then %v", first, again)
	}
	if v, err := stressSQL(c, "COMMIT"); err != nil || v != int64(0) {
		return fmt.Errorf("COMMIT of a read transaction: %#v, %v", v, err)
	}
	return nil
}

func stressSetDiff(want, got []stressTransfer) (missing, extra []stressTransfer) {
	in := func(s []stressTransfer) map[stressTransfer]bool {
		m := make(map[stressTransfer]bool, len(s))
		for _, x := range s {
			m[x] = true
		}
		return m
	}
	w, g := in(want), in(got)
	for _, x := range want {
		if !g[x] {
			missing = append(missing, x)
		}
	}
	for _, x := range got {
		if !w[x] {
			extra = append(extra, x)
		}
	}
	return missing, extra
}

func stressFirst[T any](s []T) string {
	if len(s) > 10 {
		return fmt.Sprintf("%v … (%d in all)", s[:10], len(s))
	}
	return fmt.Sprint(s)
}

// stressPercentiles renders p50/p99/max of a sample of durations.
func stressPercentiles(d []time.Duration) (p50, p99, mx time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.5) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return at(0.50), at(0.99), s[len(s)-1]
}

// TestSQLLongReadDoesNotBlock: while one client runs a ~2-second SQL
// query, GET and PING on other clients stay fast and SQL writers keep
// committing (acceptance 4); the long query reads one consistent snapshot
// of a table those writers insert into.
func TestSQLLongReadDoesNotBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test skipped with -short")
	}
	const (
		target = 2 * time.Second
		bound  = 50 * time.Millisecond // generous: -race on a shared 2-core VM
	)
	ts := startServer(t, func(c *Config) {
		if err := c.Set("sql-time-limit", "60000"); err != nil {
			t.Fatal(err)
		}
	})
	admin := stressClient(t, ts)
	stressMust(t, admin, "CREATE TABLE ins(id INTEGER PRIMARY KEY, v TEXT)")
	stressMust(t, admin, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000) INSERT INTO ins(v) SELECT 'seed' || i FROM c")
	if err := admin.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// Every 100000th row of a long counting CTE counts the rows of ins (a
	// correlated subquery, evaluated again each time): in one snapshot
	// every such count is the same.
	const longQ = `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?)
		SELECT count(*), count(k), coalesce(min(k), -1), coalesce(max(k), -1) FROM
		(SELECT i, CASE WHEN i % 100000 = 0 THEN (SELECT count(*) FROM ins WHERE id > -i) END AS k FROM c)`
	long := stressClient(t, ts)
	runLong := func(n int64) ([]int64, time.Duration, error) {
		t0 := time.Now()
		got, err := stressInts(long, longQ, n)
		return got, time.Since(t0), err
	}

	// Load: two clients timing GET and PING, two SQL writers. A sample
	// counts for the phase that was current both when it started and when
	// it ended.
	const (
		phaseNone = iota
		phaseBaseline
		phaseLong
		phases
	)
	var (
		phase    atomic.Int32
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		getLat   [phases][]time.Duration
		pingLat  [phases][]time.Duration
		writeLat [phases][]time.Duration
		loadErr  atomic.Value
	)
	// However the test ends, the load stops before the clients close.
	defer func() { stop.Store(true); wg.Wait() }()
	for i := range 2 {
		c := stressClient(t, ts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ph := phase.Load()
				t0 := time.Now()
				v, err := c.Get(ctx, "k").Result()
				t1 := time.Now()
				if err != nil || v != "v" {
					loadErr.Store(fmt.Sprintf("client %d GET: %q, %v", i, v, err))
					return
				}
				err = c.Ping(ctx).Err()
				t2 := time.Now()
				if err != nil {
					loadErr.Store(fmt.Sprintf("client %d PING: %v", i, err))
					return
				}
				if phase.Load() == ph {
					mu.Lock()
					getLat[ph] = append(getLat[ph], t1.Sub(t0))
					pingLat[ph] = append(pingLat[ph], t2.Sub(t1))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range 2 {
		c := stressClient(t, ts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stop.Load(); j++ {
				ph := phase.Load()
				t0 := time.Now()
				_, err := stressSQL(c, "INSERT INTO ins(v) VALUES (?)", fmt.Sprintf("w%d-%d", i, j))
				t1 := time.Now()
				if err != nil {
					loadErr.Store(fmt.Sprintf("writer %d: %v", i, err))
					return
				}
				if phase.Load() == ph {
					mu.Lock()
					writeLat[ph] = append(writeLat[ph], t1.Sub(t0))
					mu.Unlock()
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // everyone running

	// Calibrate N for ~2 s under the same load, growing a short run.
	n := int64(200000)
	for {
		_, d, err := runLong(n)
		if err != nil {
			t.Fatal(err)
		}
		if d >= 500*time.Millisecond || n >= 1<<34 {
			n = int64(float64(n) * float64(target) / float64(d))
			break
		}
		n *= 4
	}
	n = max(n/100000, 1) * 100000

	// Baseline: the same load for a second without the long read.
	phase.Store(phaseBaseline)
	time.Sleep(time.Second)
	phase.Store(phaseNone)

	// The long read. The machine's load varies, so a run that turned out
	// much shorter than the target is repeated, longer (the latency
	// samples of every run count).
	var (
		got    []int64
		took   time.Duration
		before []int64
	)
	for attempt := 0; ; attempt++ {
		var err error
		before, err = stressInts(admin, "SELECT count(*) FROM ins")
		if err != nil {
			t.Fatal(err)
		}
		phase.Store(phaseLong)
		got, took, err = runLong(n)
		phase.Store(phaseNone)
		if err != nil {
			t.Fatalf("long query: %v", err)
		}
		t.Logf("long query: N=%d took %v; result %v; ins had %d rows just before it", n, took.Round(time.Millisecond), got, before[0])
		// The snapshot: every count the long query took agrees.
		if want := n / 100000; got[0] != n || got[1] != want {
			t.Errorf("long query counted %d rows / %d samples, want %d / %d", got[0], got[1], n, want)
		}
		if got[2] != got[3] || got[2] < before[0] {
			t.Errorf("the long query saw ins change under it: counts from %d to %d (%d rows before it)", got[2], got[3], before[0])
		}
		if took >= target*3/4 || attempt == 2 {
			break
		}
		n = max(int64(float64(n)*float64(target)/float64(took))/100000, 1) * 100000
	}
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if e := loadErr.Load(); e != nil {
		t.Fatal(e)
	}
	after, err := stressInts(admin, "SELECT count(*) FROM ins")
	if err != nil {
		t.Fatal(err)
	}

	var a99 time.Duration
	var nLat int
	for _, ph := range []int{phaseBaseline, phaseLong} {
		name := map[int]string{phaseBaseline: "baseline (no long read), 1s", phaseLong: "during the long read"}[ph]
		g50, g99, gmax := stressPercentiles(getLat[ph])
		p50, p99, pmax := stressPercentiles(pingLat[ph])
		all := append(slices.Clone(getLat[ph]), pingLat[ph]...)
		b50, b99, bmax := stressPercentiles(all)
		w50, w99, wmax := stressPercentiles(writeLat[ph])
		t.Logf("%s: GET n=%d p50=%v p99=%v max=%v; PING n=%d p50=%v p99=%v max=%v; both p50=%v p99=%v max=%v; SQL INSERT n=%d p50=%v p99=%v max=%v",
			name, len(getLat[ph]), g50, g99, gmax, len(pingLat[ph]), p50, p99, pmax, b50, b99, bmax, len(writeLat[ph]), w50, w99, wmax)
		if ph == phaseLong {
			a99, nLat = b99, len(all)
		}
	}
	if took < target/2 {
		t.Errorf("the long query took only %v; the test needs ~%v", took, target)
	}
	if nLat < 100 {
		t.Errorf("only %d GET/PING samples during the long query", nLat)
	}
	if a99 >= bound {
		t.Errorf("GET/PING p99 %v during a long SQL read, want < %v", a99, bound)
	}
	if len(writeLat[phaseLong]) == 0 {
		t.Error("no SQL write committed while the long read ran")
	}
	// The last long query's snapshot is older than the content after
	// the writers went on committing.
	if got[2] >= after[0] {
		t.Errorf("the long query's snapshot has %d rows; %d after the writers stopped", got[2], after[0])
	}
}

// TestSQLDifferentialThroughServer runs one seeded random workload (DDL,
// inserts, updates, deletes, transactions that commit or roll back,
// savepoints, indexes, failing statements and scripts, BLOBs spanning
// overflow pages, VACUUM) through the server's SQL command and against a
// plain SQLite file, and after every step compares the outcome, every
// table's content (seen by the working session and, outside a
// transaction, by another session) and PRAGMA integrity_check. At the end
// the hash's pages, concatenated, must be a valid SQLite file with the
// same content (acceptance 2, end to end).
func TestSQLDifferentialThroughServer(t *testing.T) {
	steps := 300
	if testing.Short() {
		steps = 100
	}
	if v := os.Getenv("THREDIS_SQL_DIFF_STEPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("THREDIS_SQL_DIFF_STEPS=%q", v)
		}
		steps = n
	}
	ts := startServer(t)
	refPath := filepath.Join(t.TempDir(), "ref.db")
	rdb, err := sql.Open("sqlite3", "file:"+refPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	rc, err := rdb.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	// THREDIS_SQL_DIFF_SEED picks another workload and
	// THREDIS_SQL_DIFF_STEPS its length (to explore, or to reproduce).
	seed := uint64(3)
	if v := os.Getenv("THREDIS_SQL_DIFF_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("THREDIS_SQL_DIFF_SEED=%q", v)
		}
		seed = n
	}
	x := &stressDiffer{t: t, rng: rand.New(rand.NewPCG(seed, 14)), sc: stressClient(t, ts), sr: stressClient(t, ts), rc: rc}
	// A tiny cache on the working session: transactions spill pages long
	// before they commit.
	stressMust(t, x.sc, "PRAGMA cache_size = 5")
	x.both(stressOther, "PRAGMA auto_vacuum = INCREMENTAL")
	t0 := time.Now()
	for x.step = 0; x.step < steps; x.step++ {
		x.randomStep()
		x.compare()
	}
	if x.inTxn {
		x.both(stressOther, "COMMIT")
		x.compare()
	}
	t.Logf("seed %d, %d steps in %v: %d statements failed on both sides, %d rollbacks, largest blob %d bytes, dumps of up to %d bytes",
		seed, steps, time.Since(t0).Round(time.Millisecond), x.failed, x.rollbacks, x.maxBlob, x.maxDump)
	if x.failed < 5 || x.rollbacks < 3 || x.maxBlob < 10000 || x.scripts == 0 {
		t.Fatalf("workload too tame: %d failures, %d rollbacks, largest blob %d, %d scripts", x.failed, x.rollbacks, x.maxBlob, x.scripts)
	}

	// The hash is the database image (DESIGN rule 5).
	pages, err := x.sc.HGetAll(ctx, "_sql:redis_db").Result()
	if err != nil {
		t.Fatal(err)
	}
	offs := make([]int64, 0, len(pages))
	for f := range pages {
		off, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("field %q", f)
		}
		offs = append(offs, off)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	var img []byte
	for _, off := range offs {
		if int64(len(img)) != off {
			t.Fatalf("page at %d follows %d bytes: the image has a hole", off, len(img))
		}
		img = append(img, pages[strconv.FormatInt(off, 10)]...)
	}
	path := filepath.Join(t.TempDir(), "export.db")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	edb, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer edb.Close()
	ec, err := edb.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	var ok string
	if err := ec.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("exported image: integrity_check %q, %v", ok, err)
	}
	if a, b := stressDumpRef(t, ec), stressDumpRef(t, x.rc); a != b {
		t.Fatal("the exported image differs from the reference")
	}
}

type stressKind int

const (
	stressOther stressKind = iota
	stressDML              // compare the changed-row count
)

type stressDiffer struct {
	t      *testing.T
	rng    *rand.Rand
	sc, sr *redis.Client // the server: working session, another session
	rc     *sql.Conn     // the reference

	inTxn, bySave              bool
	saves, nextID, step        int
	last                       string
	failed, rollbacks, scripts int
	maxBlob, maxDump           int
}

// stressNull is a NULL parameter: ":NULL" to the server, nil to SQLite.
type stressNull struct{}

// serverArg and refArg turn a workload parameter into what each side
// binds. The server binds a canonical integer as INTEGER, ":NULL" as NULL
// and anything else as TEXT; the reference gets the same types.
func serverArg(p any) any {
	switch p := p.(type) {
	case stressNull:
		return ":NULL"
	case int64:
		return strconv.FormatInt(p, 10)
	case int:
		return strconv.Itoa(p)
	}
	return p
}

func refArg(p any) any {
	switch p := p.(type) {
	case stressNull:
		return nil
	case int:
		return int64(p)
	case string:
		if n, err := strconv.ParseInt(p, 10, 64); err == nil && strconv.FormatInt(n, 10) == p && p != "-0" {
			return n
		}
	}
	return p
}

// both runs q with params on the server and the reference and requires the
// same outcome: both succeed (with the same changed-row count for DML) or
// both fail with the same SQLite message.
func (x *stressDiffer) both(kind stressKind, q string, params ...any) bool {
	x.t.Helper()
	x.last = q
	sargs := []any{"SQL", q}
	rargs := make([]any, 0, len(params))
	for _, p := range params {
		sargs = append(sargs, serverArg(p))
		rargs = append(rargs, refArg(p))
	}
	v, e1 := x.sc.Do(ctx, sargs...).Result()
	res, e2 := x.rc.ExecContext(context.Background(), q, rargs...)
	if (e1 == nil) != (e2 == nil) {
		x.t.Fatalf("step %d: %s\n  server: %v\n  reference: %v", x.step, stressShort(q), e1, e2)
	}
	if e1 != nil {
		var rerr redis.Error
		if !errors.As(e1, &rerr) {
			x.t.Fatalf("step %d: %s: not a server error reply: %v", x.step, stressShort(q), e1)
		}
		if got, want := e1.Error(), "ERR SQL error: "+e2.Error(); got != want {
			x.t.Fatalf("step %d: %s: error text\n  server:    %s\n  reference: %s", x.step, stressShort(q), got, want)
		}
		x.failed++
		return false
	}
	if kind == stressDML {
		n, _ := res.RowsAffected()
		if v != n {
			x.t.Fatalf("step %d: %s: server replied %#v, reference changed %d rows", x.step, stressShort(q), v, n)
		}
	}
	return true
}

func stressShort(q string) string {
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}

func (x *stressDiffer) compare() {
	x.t.Helper()
	want := stressDumpRef(x.t, x.rc)
	x.maxDump = max(x.maxDump, len(want))
	if got := x.dumpServer(x.sc); got != want {
		x.t.Fatalf("step %d (%s): content differs\nserver:\n%s\nreference:\n%s", x.step, stressShort(x.last), got, want)
	}
	if err := stressIntegrity(x.sc); err != nil {
		x.t.Fatalf("step %d (%s): %v", x.step, stressShort(x.last), err)
	}
	if !x.inTxn {
		if got := x.dumpServer(x.sr); got != want {
			x.t.Fatalf("step %d (%s): the committed state another session sees differs\nserver:\n%s\nreference:\n%s", x.step, stressShort(x.last), got, want)
		}
	}
}

// stressValue renders one value the same way for both sides: its SQLite
// type and its value (texts and blobs as length and hash).
func stressValue(typ string, v any) string {
	switch v := v.(type) {
	case nil:
		return typ + ":NULL"
	case int64:
		return typ + ":" + strconv.FormatInt(v, 10)
	case float64:
		return typ + ":" + strconv.FormatFloat(v, 'g', 15, 64)
	case string:
		return fmt.Sprintf("%s:%d:%x", typ, len(v), sha256.Sum256([]byte(v)))
	case []byte:
		return fmt.Sprintf("%s:%d:%x", typ, len(v), sha256.Sum256(v))
	}
	return fmt.Sprintf("%s:?%T", typ, v)
}

// stressDumpQueries returns the schema and, per table, a query selecting
// typeof(col), col for every column in rowid order, from the reference.
func stressDumpQueries(t testing.TB, rc *sql.Conn) []string {
	t.Helper()
	c := context.Background()
	rows, err := rc.QueryContext(c, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	qs := []string{"SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"}
	for _, tbl := range tables {
		rows, err := rc.QueryContext(c, "SELECT name FROM pragma_table_info(?) ORDER BY cid", tbl)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			cols = append(cols, fmt.Sprintf("typeof(%q), %q", n, n))
		}
		rows.Close()
		qs = append(qs, fmt.Sprintf("SELECT %s FROM %q ORDER BY rowid", strings.Join(cols, ", "), tbl))
	}
	return qs
}

func stressDumpRef(t testing.TB, rc *sql.Conn) string {
	t.Helper()
	var b strings.Builder
	for i, q := range stressDumpQueries(t, rc) {
		rows, err := rc.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			stressRenderRow(&b, i == 0, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

func (x *stressDiffer) dumpServer(c *redis.Client) string {
	x.t.Helper()
	var b strings.Builder
	for i, q := range stressDumpQueries(x.t, x.rc) {
		rows, err := stressQuery(c, q)
		if err != nil {
			x.t.Fatalf("step %d: %s: %v", x.step, q, err)
		}
		for _, r := range rows {
			stressRenderRow(&b, i == 0, r)
		}
	}
	return b.String()
}

func stressRenderRow(b *strings.Builder, schema bool, vals []any) {
	if schema {
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(b, "%s|", v)
			default:
				fmt.Fprintf(b, "%v|", v)
			}
		}
		b.WriteByte('\n')
		return
	}
	for i := 0; i+1 < len(vals); i += 2 {
		typ, _ := vals[i].(string)
		if tb, ok := vals[i].([]byte); ok {
			typ = string(tb)
		}
		b.WriteString(stressValue(typ, vals[i+1]))
		b.WriteByte(' ')
	}
	b.WriteByte('\n')
}

func (x *stressDiffer) tables() []string {
	return x.names("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
}

func (x *stressDiffer) indexes() []string {
	return x.names("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
}

func (x *stressDiffer) names(q string) []string {
	rows, err := x.rc.QueryContext(context.Background(), q)
	if err != nil {
		x.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out
}

// blob returns the hex text of a deterministic random blob (bound as
// unhex(?)); large ones span several overflow pages.
func (x *stressDiffer) blob() string {
	sizes := []int{0, 1, 16, 300, 1500, 4000, 9000, 12000, 20000}
	b := make([]byte, sizes[x.rng.IntN(len(sizes))])
	for i := range b {
		b[i] = byte(x.rng.Uint32())
	}
	x.maxBlob = max(x.maxBlob, len(b))
	return hex.EncodeToString(b)
}

func (x *stressDiffer) text() string {
	n := x.rng.IntN(200)
	if x.rng.IntN(10) == 0 {
		n = 5000 + x.rng.IntN(5000)
	}
	return strings.Repeat(string(rune('a'+x.rng.IntN(26))), n)
}

func (x *stressDiffer) pick(s []string) string { return s[x.rng.IntN(len(s))] }

func (x *stressDiffer) randomStep() {
	tables := x.tables()
	if len(tables) == 0 || (len(tables) < 4 && x.rng.IntN(40) == 0) {
		x.both(stressOther, fmt.Sprintf("CREATE TABLE t%d (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c BLOB, u INTEGER UNIQUE)", x.step))
		return
	}
	tbl := x.pick(tables)
	switch r := x.rng.IntN(100); {
	case r < 28: // single-row insert
		x.nextID++
		var u any = stressNull{}
		if x.rng.IntN(4) == 0 {
			u = x.rng.IntN(20)
		}
		x.both(stressDML, fmt.Sprintf("INSERT INTO %s (id, a, b, c, u) VALUES (?, ?, ?, unhex(?), ?)", tbl),
			x.nextID, x.rng.IntN(1000), x.text(), x.blob(), u)
	case r < 35: // multi-row insert, sometimes failing on a duplicate id half-way
		n := 2 + x.rng.IntN(10)
		var q strings.Builder
		var args []any
		fmt.Fprintf(&q, "INSERT INTO %s (id, a, b, c) VALUES ", tbl)
		for i := range n {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, unhex(?))")
			x.nextID++
			id := x.nextID
			if i == n-1 && x.rng.IntN(3) == 0 {
				id = x.nextID - n/2
			}
			args = append(args, id, x.rng.IntN(1000), x.text(), x.blob())
		}
		x.both(stressDML, q.String(), args...)
	case r < 38: // a script: stops at its failing statement, leaving the transaction open
		if x.inTxn {
			return
		}
		x.scripts++
		x.nextID += 2
		dup := x.nextID
		if x.rng.IntN(2) == 0 {
			dup = x.nextID - 1 // duplicate of the script's first insert
		}
		ok := x.both(stressOther, fmt.Sprintf("BEGIN; INSERT INTO %s (id, a, b) VALUES (?, ?, ?); INSERT INTO %s (id, a, b) VALUES (?, ?, ?); COMMIT", tbl, tbl),
			x.nextID-1, x.rng.IntN(1000), x.text(), dup, x.rng.IntN(1000), x.text())
		if !ok {
			x.inTxn, x.bySave, x.saves = true, false, 0
		}
	case r < 48: // update
		k := 2 + x.rng.IntN(5)
		switch x.rng.IntN(3) {
		case 0:
			x.both(stressDML, fmt.Sprintf("UPDATE %s SET c = unhex(?), a = a + 1 WHERE id %% %d = %d", tbl, k, x.rng.IntN(k)), x.blob())
		case 1:
			x.both(stressDML, fmt.Sprintf("UPDATE %s SET b = ? WHERE a %% %d = 0", tbl, k), x.text())
		case 2: // may violate UNIQUE(u) half-way
			x.both(stressDML, fmt.Sprintf("UPDATE %s SET u = a %% %d WHERE id %% 2 = 0", tbl, 3+x.rng.IntN(50)))
		}
	case r < 56: // delete
		k := 2 + x.rng.IntN(6)
		x.both(stressDML, fmt.Sprintf("DELETE FROM %s WHERE id %% %d = %d", tbl, k, x.rng.IntN(k)))
	case r < 65: // transaction control
		switch {
		case !x.inTxn:
			if x.both(stressOther, x.pick([]string{"BEGIN", "BEGIN IMMEDIATE", "BEGIN DEFERRED"})) {
				x.inTxn, x.bySave = true, false
			}
		case x.rng.IntN(2) == 0:
			if x.both(stressOther, "COMMIT") {
				x.inTxn, x.saves = false, 0
			}
		default:
			if x.both(stressOther, "ROLLBACK") {
				x.inTxn, x.saves = false, 0
				x.rollbacks++
			}
		}
	case r < 73: // savepoints
		switch {
		case x.saves == 0 || x.rng.IntN(3) == 0:
			if x.both(stressOther, fmt.Sprintf("SAVEPOINT s%d", x.saves)) {
				x.saves++
				if !x.inTxn {
					x.inTxn, x.bySave = true, true
				}
			}
		case x.rng.IntN(2) == 0:
			if x.both(stressOther, fmt.Sprintf("ROLLBACK TO s%d", x.saves-1)) {
				x.rollbacks++
			}
		default:
			if x.both(stressOther, fmt.Sprintf("RELEASE s%d", x.saves-1)) {
				x.saves--
				if x.saves == 0 && x.bySave {
					x.inTxn, x.bySave = false, false
				}
			}
		}
	case r < 79: // indexes
		if idx := x.indexes(); len(idx) > 0 && x.rng.IntN(3) == 0 {
			x.both(stressOther, "DROP INDEX "+x.pick(idx))
		} else {
			col := x.pick([]string{"a", "b", "c", "a, b"})
			x.both(stressOther, fmt.Sprintf("CREATE INDEX IF NOT EXISTS i%d ON %s (%s)", x.step, tbl, col))
		}
	case r < 82:
		x.both(stressOther, fmt.Sprintf("ALTER TABLE %s ADD COLUMN x%d TEXT DEFAULT 'dflt'", tbl, x.step))
	case r < 84:
		if len(tables) > 1 {
			x.both(stressOther, "DROP TABLE "+tbl)
		}
	case r < 88:
		x.both(stressOther, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", 1+x.rng.IntN(20)))
	case r < 90:
		if !x.inTxn {
			x.both(stressOther, "VACUUM")
		}
	default: // a read through the working session, compared row by row
		x.last = "read " + tbl
		q := fmt.Sprintf("SELECT count(*), sum(length(c)), total(a), max(id) FROM %s", tbl)
		got, err := stressQuery(x.sc, q)
		if err != nil {
			x.t.Fatalf("step %d: %s: %v", x.step, q, err)
		}
		var a, b, c, d any
		if err := x.rc.QueryRowContext(context.Background(), q).Scan(&a, &b, &c, &d); err != nil {
			x.t.Fatal(err)
		}
		if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint([]any{a, b, c, d}) {
			x.t.Fatalf("step %d: %s: server %v, reference %v", x.step, q, got, []any{a, b, c, d})
		}
	}
}
