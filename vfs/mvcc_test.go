package vfs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	accounts     = 50
	totalBalance = accounts * 100
)

func setupAccounts(t testing.TB, db *sql.DB) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL, pad BLOB)")
	mustExec(t, db, `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < ?)
		INSERT INTO acct SELECT x, 100, randomblob(600) FROM s`, accounts)
}

// transfer moves amount between two accounts in one transaction; the pad
// rewrite makes each transfer touch several pages.
func transfer(ctx context.Context, c *sql.Conn, from, to, amount int) error {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"UPDATE acct SET bal = bal - ?, pad = randomblob(600) WHERE id = ?", []any{amount, from}},
		{"UPDATE acct SET bal = bal + ?, pad = randomblob(600) WHERE id = ?", []any{amount, to}},
	} {
		if _, err := c.ExecContext(ctx, q.sql, q.args...); err != nil {
			c.ExecContext(ctx, "ROLLBACK")
			return err
		}
	}
	_, err := c.ExecContext(ctx, "COMMIT")
	return err
}

func TestSnapshotIsolation(t *testing.T) {
	d, _, db := newTestDB(t, Options{BusyTimeout: 30 * time.Second})
	setupAccounts(t, db)
	ctx := context.Background()

	reader := oneConn(t, db, 0)
	writer := oneConn(t, db, 3)

	tx, err := reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	snapshot := func() string {
		rows, err := tx.QueryContext(ctx, "SELECT id, bal FROM acct ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		sum := 0
		for rows.Next() {
			var id, bal int
			if err := rows.Scan(&id, &bal); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d:%d ", id, bal)
			sum += bal
		}
		if sum != totalBalance {
			t.Fatalf("torn read: sum %d", sum)
		}
		return b.String()
	}
	first := snapshot() // takes SHARED and pins the version
	before := d.Stats().Commits

	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 200; i++ {
		start := time.Now()
		if err := transfer(ctx, writer, rng.IntN(accounts)+1, rng.IntN(accounts)+1, rng.IntN(50)); err != nil {
			t.Fatal(err)
		}
		// The reader's open transaction must not make the writer wait: a
		// writer blocked by it would wait for the whole busy timeout.
		if el := time.Since(start); el > 10*time.Second {
			t.Fatalf("writer took %v while a reader held a snapshot", el)
		}
		if i%20 == 0 {
			if got := snapshot(); got != first {
				t.Fatalf("snapshot changed under an open read transaction after %d commits", i+1)
			}
		}
	}
	if d.Stats().Commits-before != 200 {
		t.Fatalf("commits %d", d.Stats().Commits-before)
	}
	if d.Stats().PinnedVersions == 0 {
		t.Fatal("reader's version not pinned")
	}
	if got := snapshot(); got != first {
		t.Fatal("snapshot changed")
	}
	tx.Rollback()
	// A new read transaction sees the writer's work; sums still hold.
	var sum int64
	if err := reader.QueryRowContext(ctx, "SELECT sum(bal) FROM acct").Scan(&sum); err != nil || sum != totalBalance {
		t.Fatalf("sum %d %v", sum, err)
	}
	var changed int64
	reader.QueryRowContext(ctx, "SELECT count(*) FROM acct WHERE bal != 100").Scan(&changed)
	if changed == 0 {
		t.Fatal("reader does not see the committed transfers")
	}
	integrityOK(t, reader)
	// Idle connections may pin the newest version, never an older one.
	if s := d.Stats(); s.PinnedVersions > 1 {
		t.Fatalf("old versions still pinned: %+v", s)
	}
	if n := d.chainLen(); n > 1 {
		t.Fatalf("superseded page versions kept: chain of %d", n)
	}
}

// chainLen returns the longest page version chain, to check pruning.
func (d *Database) chainLen() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	longest := 0
	for i := range d.cur.tab.slots {
		n := 0
		for p := d.cur.tab.slots[i].Load(); p != nil; p = p.next.Load() {
			n++
		}
		longest = max(longest, n)
	}
	return longest
}

func TestOldVersionsArePruned(t *testing.T) {
	d, _, db := newTestDB(t, Options{})
	setupAccounts(t, db)
	ctx := context.Background()
	writer := oneConn(t, db, 0)
	reader := oneConn(t, db, 0)
	for i := 0; i < 20; i++ {
		if err := transfer(ctx, writer, 1, 2, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.chainLen(); n > 1 {
		t.Fatalf("without readers, chains should hold one version, longest %d", n)
	}
	tx, err := reader.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var bal int64
	tx.QueryRowContext(ctx, "SELECT bal FROM acct WHERE id = 1").Scan(&bal)
	for i := 0; i < 20; i++ {
		if err := transfer(ctx, writer, 1, 2, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.chainLen(); n < 2 {
		t.Fatal("a pinned reader's versions were dropped")
	}
	var again int64
	tx.QueryRowContext(ctx, "SELECT bal FROM acct WHERE id = 1").Scan(&again)
	if again != bal {
		t.Fatalf("pinned reader saw %d then %d", bal, again)
	}
	tx.Rollback()
	if n := d.chainLen(); n > 1 {
		t.Fatalf("after the reader left, longest chain %d", n)
	}
}

func isLocked(err error) bool {
	return err != nil && strings.Contains(err.Error(), "database is locked")
}

func TestWriterLockBusyTimeout(t *testing.T) {
	const timeout = 150 * time.Millisecond
	d, _, db := newTestDB(t, Options{BusyTimeout: timeout})
	setupAccounts(t, db)
	ctx := context.Background()
	a := oneConn(t, db, 0)
	b := oneConn(t, db, 0)

	mustExecConn(t, a, "BEGIN IMMEDIATE")
	mustExecConn(t, a, "UPDATE acct SET bal = bal + 1 WHERE id = 1")
	start := time.Now()
	_, err := b.ExecContext(ctx, "UPDATE acct SET bal = bal - 1 WHERE id = 2")
	el := time.Since(start)
	if !isLocked(err) {
		t.Fatalf("want database is locked, got %v", err)
	}
	// At least the busy timeout; the upper bound only catches a wait that
	// ignores it (the default would be 5 s), with room for a loaded host.
	if el < timeout*8/10 || el > timeout+3*time.Second {
		t.Fatalf("gave up after %v, busy timeout %v", el, timeout)
	}
	// Readers are not blocked by the writer.
	if got := queryInt(t, b, "SELECT sum(bal) FROM acct"); got != totalBalance {
		t.Fatalf("sum %d", got)
	}
	mustExecConn(t, a, "COMMIT")
	mustExecConn(t, b, "UPDATE acct SET bal = bal - 1 WHERE id = 2")
	if got := queryInt(t, b, "SELECT sum(bal) FROM acct"); got != totalBalance {
		t.Fatalf("sum %d", got)
	}
	if d.Stats().Busy == 0 {
		t.Fatal("busy refusals not counted")
	}
}

func TestWriterWaitsForLock(t *testing.T) {
	_, _, db := newTestDB(t, Options{BusyTimeout: 5 * time.Second})
	setupAccounts(t, db)
	ctx := context.Background()
	a := oneConn(t, db, 0)
	b := oneConn(t, db, 0)

	mustExecConn(t, a, "BEGIN IMMEDIATE")
	mustExecConn(t, a, "UPDATE acct SET bal = bal + 5 WHERE id = 1")
	done := make(chan error, 1)
	go func() {
		// Autocommit: its snapshot goes stale when a commits, and SQLite's
		// busy handler retries it on a fresh one.
		_, err := b.ExecContext(ctx, "UPDATE acct SET bal = bal - 5 WHERE id = 2")
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("b finished while a held the writer lock: %v", err)
	default:
	}
	mustExecConn(t, a, "COMMIT")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("b still waiting after a committed")
	}
	if got := queryInt(t, b, "SELECT sum(bal) FROM acct"); got != totalBalance {
		t.Fatalf("sum %d", got)
	}
	if got := queryInt(t, b, "SELECT bal FROM acct WHERE id = 1"); got != 105 {
		t.Fatalf("a's update lost: %d", got)
	}
}

func TestStaleSnapshotCannotWrite(t *testing.T) {
	_, _, db := newTestDB(t, Options{})
	setupAccounts(t, db)
	ctx := context.Background()
	a := oneConn(t, db, 0)
	b := oneConn(t, db, 0)

	mustExecConn(t, b, "BEGIN")
	if got := queryInt(t, b, "SELECT bal FROM acct WHERE id = 1"); got != 100 {
		t.Fatal(got)
	}
	mustExecConn(t, a, "UPDATE acct SET bal = 0 WHERE id = 1")
	// b read bal = 100 before a's commit; letting it write would lose a's
	// update. Like WAL's SQLITE_BUSY_SNAPSHOT, the write is refused.
	start := time.Now()
	_, err := b.ExecContext(ctx, "UPDATE acct SET bal = bal + 1 WHERE id = 1")
	if !isLocked(err) {
		t.Fatalf("want database is locked, got %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("stale snapshot refusal took %v", el)
	}
	mustExecConn(t, b, "ROLLBACK")
	mustExecConn(t, b, "UPDATE acct SET bal = bal + 1 WHERE id = 1")
	if got := queryInt(t, b, "SELECT bal FROM acct WHERE id = 1"); got != 1 {
		t.Fatalf("bal %d, want 1", got)
	}
}

// TestConcurrentReadersAndWriters runs writers moving money and readers
// checking the total, on separate connections, for a short while.
func TestConcurrentReadersAndWriters(t *testing.T) {
	dur := 1500 * time.Millisecond
	if testing.Short() {
		dur = 300 * time.Millisecond
	}
	d, _, db := newTestDB(t, Options{BusyTimeout: 5 * time.Second})
	setupAccounts(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()

	var wg sync.WaitGroup
	var transfers, reads, readTxns atomic.Int64
	errs := make(chan error, 16)
	for w := 0; w < 4; w++ {
		c := oneConn(t, db, 4)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for ctx.Err() == nil {
				err := transfer(context.Background(), c, rng.IntN(accounts)+1, rng.IntN(accounts)+1, rng.IntN(20))
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				transfers.Add(1)
			}
		}(w)
	}
	for r := 0; r < 4; r++ {
		c := oneConn(t, db, 0)
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for ctx.Err() == nil {
				if r%2 == 0 {
					var sum int64
					if err := c.QueryRowContext(context.Background(), "SELECT sum(bal) FROM acct").Scan(&sum); err != nil {
						errs <- err
						return
					}
					if sum != totalBalance {
						errs <- fmt.Errorf("torn read: sum %d", sum)
						return
					}
					reads.Add(1)
					continue
				}
				// A longer read transaction: two reads must agree.
				tx, err := c.BeginTx(context.Background(), nil)
				if err != nil {
					errs <- err
					return
				}
				var s1, s2 int64
				var b1, b2 int64
				tx.QueryRow("SELECT sum(bal) FROM acct").Scan(&s1)
				tx.QueryRow("SELECT bal FROM acct WHERE id = 7").Scan(&b1)
				time.Sleep(time.Millisecond)
				tx.QueryRow("SELECT bal FROM acct WHERE id = 7").Scan(&b2)
				err = tx.QueryRow("SELECT sum(bal) FROM acct").Scan(&s2)
				tx.Rollback()
				if err != nil {
					errs <- err
					return
				}
				if s1 != totalBalance || s2 != totalBalance || b1 != b2 {
					errs <- fmt.Errorf("inconsistent read transaction: sums %d %d, balance %d then %d", s1, s2, b1, b2)
					return
				}
				readTxns.Add(1)
			}
		}(r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := queryInt(t, db, "SELECT sum(bal) FROM acct"); got != totalBalance {
		t.Fatalf("final sum %d", got)
	}
	integrityOK(t, db)
	s := d.Stats()
	t.Logf("%d transfers, %d reads, %d read transactions; %+v", transfers.Load(), reads.Load(), readTxns.Load(), s)
	if transfers.Load() == 0 || reads.Load() == 0 {
		t.Fatal("no progress")
	}
	if s.Commits < uint64(transfers.Load()) {
		t.Fatalf("commits %d < transfers %d", s.Commits, transfers.Load())
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("unexpected cancel")
	}
}

// TestIdleConnectionsDoNotRetainVersions: a connection keeps the newest
// version pinned between transactions (so its next transaction can start
// without calling Go), but a commit revokes that pin; an idle connection
// must not hold superseded page versions, and must see new commits.
func TestIdleConnectionsDoNotRetainVersions(t *testing.T) {
	d, _, db := newTestDB(t, Options{})
	setupAccounts(t, db)
	ctx := context.Background()
	writer := oneConn(t, db, 0)
	idle := make([]*sql.Conn, 3)
	for i := range idle {
		idle[i] = oneConn(t, db, 0)
		if got := queryInt(t, idle[i], "SELECT sum(bal) FROM acct"); got != totalBalance {
			t.Fatal(got)
		}
	}
	if s := d.Stats(); s.PinnedVersions != 1 {
		t.Fatalf("idle connections should pin the newest version: %+v", s)
	}
	for i := 0; i < 30; i++ {
		if err := transfer(ctx, writer, 1, 2, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.chainLen(); n > 1 {
		t.Fatalf("idle connections kept superseded versions: chain of %d", n)
	}
	for _, c := range idle {
		if got := queryInt(t, c, "SELECT bal FROM acct WHERE id = 2"); got != 130 {
			t.Fatalf("idle connection sees %d, want 130", got)
		}
	}
}
