package main

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The SQL command driven through the real binary: the seed demo as the
// README shows it, and the promise that SQL never puts a file on disk.

// startThredisIn starts the binary with working directory dir and
// environment env, and waits until it accepts connections on port.
func startThredisIn(t *testing.T, port int, dir string, env []string, args ...string) *proc {
	t.Helper()
	return waitListening(t, runThredisIn(t, dir, env, args...), port)
}

// TestSQLSeedDemoRedisCLI is the seed's demo (issue 3, acceptance 1) run
// with the real redis-cli exactly as the README shows it (--no-raw gives
// the formatting redis-cli uses on a terminal).
func TestSQLSeedDemoRedisCLI(t *testing.T) {
	port := freePort(t)
	startThredis(t, port, "--port", strconv.Itoa(port))
	cli := func(args ...string) string {
		t.Helper()
		return redisCLI(t, port, append([]string{"--no-raw"}, args...)...)
	}
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"SQL", "CREATE TABLE test (a int, b text)"}, "(integer) 0"},
		{[]string{"SQL", "INSERT INTO test VALUES (?, ?)", "1", "hello"}, "(integer) 1"},
		{[]string{"SQL", "SELECT * FROM test"}, `1) 1) 1) "a"
      2) "INT"
   2) 1) "b"
      2) "TEXT"
2) 1) (integer) 1
   2) "hello"`},
		{[]string{"TYPE", "_sql:redis_db"}, "hash"},
		{[]string{"HLEN", "_sql:redis_db"}, "(integer) 2"},
	} {
		if got := cli(step.args...); got != step.want {
			t.Errorf("redis-cli %q:\n got: %s\nwant: %s", step.args, got, step.want)
		}
	}
	// Piped (raw) output, as a script would see it.
	if got, want := redisCLI(t, port, "SQL", "SELECT * FROM test"), "a\nINT\nb\nTEXT\n1\nhello"; got != want {
		t.Errorf("raw SELECT:\n got %q\nwant %q", got, want)
	}
	if got := redisCLI(t, port, "HGET", "_sql:redis_db", "0"); !strings.HasPrefix(got, "SQLite format 3\x00") || len(got) < 100 {
		t.Errorf("HGET _sql:redis_db 0 = %.40q…, want the SQLite header", got)
	}
	// HLEN is the page count.
	if got, want := redisCLI(t, port, "SQL", "PRAGMA page_count"), "page_count\n\n2"; got != want {
		t.Errorf("PRAGMA page_count (raw) = %q, want %q", got, want)
	}
	// An empty result still carries its header; a second row adds pages
	// only when needed.
	if got, want := cli("SQL", "SELECT a, b FROM test WHERE a = ?", "2"), `1) 1) 1) "a"
      2) "INT"
   2) 1) "b"
      2) "TEXT"`; got != want {
		t.Errorf("empty result:\n got: %s\nwant: %s", got, want)
	}
}

// dirEntries lists every path under dir (recursively), relative to it.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func modTime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// fdWatcher samples the files a process has open (Linux /proc) and
// remembers every path that is not a socket, pipe, kernel file or one of the
// files open at the start: SQLite unlinks its temp files right after
// opening them, so listing directories afterwards would miss them.
type fdWatcher struct {
	dir     string
	initial map[string]bool
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	seen    map[string]bool
	samples int
}

func watchFDs(t *testing.T, pid int) *fdWatcher {
	t.Helper()
	w := &fdWatcher{dir: fmt.Sprintf("/proc/%d/fd", pid), initial: map[string]bool{}, seen: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	links, err := w.links()
	if err != nil {
		t.Logf("not watching open files: %v", err)
		close(w.done)
		return w
	}
	for _, l := range links {
		w.initial[l] = true
	}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			links, err := w.links()
			if err != nil {
				continue // the process may be exiting
			}
			w.mu.Lock()
			w.samples++
			for _, l := range links {
				if !w.initial[l] && strings.HasPrefix(l, "/") && !w.virtual(l) {
					w.seen[l] = true
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// virtual reports whether path is in a kernel file system, not on disk
// (the Go runtime reads cgroup limits under /sys now and then).
func (w *fdWatcher) virtual(path string) bool {
	for _, p := range []string{"/dev/", "/proc/", "/sys/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func (w *fdWatcher) links() ([]string, error) {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(w.dir, e.Name())); err == nil {
			out = append(out, l)
		}
	}
	return out, nil
}

// finish stops sampling and returns the unexpected files seen.
func (w *fdWatcher) finish() (files []string, samples int) {
	select {
	case <-w.done:
	default:
		close(w.stop)
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for f := range w.seen {
		files = append(files, f)
	}
	sort.Strings(files)
	return files, w.samples
}

// TestSQLNoFilesOnDisk (issue 3, acceptance 5): a workload that makes
// SQLite want scratch files — a 20k-row transaction with a tiny cache,
// sorts far larger than the cache, temp tables with temp_store=FILE,
// CREATE INDEX, VACUUM — and the sandbox's file paths (ATTACH, VACUUM
// INTO, load_extension, journal modes) leave no file anywhere: the
// server's working directory and its TMPDIR/SQLITE_TMPDIR stay empty and
// unmodified, and the process never has a regular file open.
func TestSQLNoFilesOnDisk(t *testing.T) {
	cwd, tmp := t.TempDir(), t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "TMPDIR" && k != "SQLITE_TMPDIR" && k != "TMP" && k != "TEMP" {
			env = append(env, kv)
		}
	}
	env = append(env, "TMPDIR="+tmp, "SQLITE_TMPDIR="+tmp, "TMP="+tmp, "TEMP="+tmp)
	time.Sleep(20 * time.Millisecond) // a later change to the directories gets a later mtime
	cwdTime, tmpTime := modTime(t, cwd), modTime(t, tmp)

	port := freePort(t)
	p := startThredisIn(t, port, cwd, env, "--port", strconv.Itoa(port))
	w := watchFDs(t, p.cmd.Process.Pid)
	defer w.finish()
	ctx := context.Background()

	cli := func(want string, args ...string) {
		t.Helper()
		if got := redisCLI(t, port, args...); got != want {
			t.Errorf("redis-cli %q = %q, want %q", args, got, want)
		}
	}
	cli("0", "SQL", "CREATE TABLE big (id INTEGER PRIMARY KEY, k INTEGER, pad TEXT)")

	// One session (one connection): a tiny cache, so the 20k-row
	// transaction spills pages and every sort spills to scratch files;
	// temp_store=FILE, so temp tables and ephemeral indexes want files.
	c := goRedis(t, port, redis.Options{PoolSize: 1, MaxRetries: -1, ReadTimeout: time.Minute})
	sqlDo := func(q string, args ...any) any {
		t.Helper()
		v, err := c.Do(ctx, append([]any{"SQL", q}, args...)...).Result()
		if err != nil {
			t.Fatalf("SQL %q: %v", q, err)
		}
		return v
	}
	sqlDo("PRAGMA cache_size = 10")
	sqlDo("PRAGMA temp_store = FILE")
	const rows = 20000
	rng := rand.New(rand.NewPCG(5, 5))
	cmds, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Do(ctx, "SQL", "BEGIN")
		for range rows {
			pad := make([]byte, 200)
			for j := range pad {
				pad[j] = byte('a' + rng.IntN(26))
			}
			pl.Do(ctx, "SQL", "INSERT INTO big (k, pad) VALUES (?, ?)", rng.IntN(1000000), string(pad))
		}
		pl.Do(ctx, "SQL", "COMMIT")
		return nil
	})
	if err != nil {
		t.Fatalf("20k-insert transaction: %v", err)
	}
	for i, cmd := range cmds {
		if cmd.Err() != nil {
			t.Fatalf("pipelined command %d: %v", i, cmd.Err())
		}
	}
	cli("count(*)\n\n20000", "SQL", "SELECT count(*) FROM big") // raw output: header name, nil type, value

	// A sort of ~4 MB on an unindexed column with a 40 KB cache.
	res, ok := sqlDo("SELECT id, pad FROM big ORDER BY pad").([]any)
	if !ok || len(res) != rows+1 {
		t.Fatalf("ORDER BY pad: %d elements, want %d", len(res), rows+1)
	}
	prev := ""
	for i, r := range res[1:] {
		pad := r.([]any)[1].(string)
		if pad < prev {
			t.Fatalf("ORDER BY pad: row %d out of order", i)
		}
		prev = pad
	}
	if v := sqlDo("SELECT count(DISTINCT pad), count(*) FROM (SELECT pad FROM big GROUP BY k % 997, pad)"); fmt.Sprint(v) != "[[[count(DISTINCT pad) <nil>] [count(*) <nil>]] [20000 20000]]" {
		t.Errorf("GROUP BY / DISTINCT: %v", v)
	}
	sqlDo("CREATE TEMP TABLE tt (id INTEGER, pad TEXT)")
	sqlDo("INSERT INTO tt SELECT id, pad FROM big")
	sqlDo("INSERT INTO tt SELECT id + ?, upper(pad) FROM big WHERE id % 2 = 0", rows)
	if v := sqlDo("SELECT count(*) FROM tt"); fmt.Sprint(v) != "[[[count(*) <nil>]] [30000]]" {
		t.Errorf("temp table count: %v", v)
	}
	sqlDo("CREATE INDEX big_pad ON big (pad)")
	sqlDo("CREATE INDEX tt_pad ON tt (pad)")
	sqlDo("VACUUM")
	cli("integrity_check\n\nok", "SQL", "PRAGMA integrity_check")
	cli("0", "SQL", "VACUUM")

	// The ways SQL could name a file are refused, with these exact texts.
	for _, tc := range []struct{ q, want string }{
		{"ATTACH 'x.db' AS x", "ERR SQL error: ATTACH is not allowed"},
		{"ATTACH DATABASE 'file:x.db?vfs=unix' AS x", "ERR SQL error: ATTACH is not allowed"},
		{"VACUUM INTO 'y.db'", "ERR SQL error: VACUUM INTO is not allowed"},
		{"VACUUM main INTO 'file:y.db'", "ERR SQL error: VACUUM INTO is not allowed"},
		{"SELECT load_extension('./z')", "ERR SQL error: load_extension() is not allowed"},
		{"PRAGMA journal_mode = DELETE", "ERR SQL error: PRAGMA journal_mode cannot be changed (the database keeps its journal in memory)"},
		{"PRAGMA journal_mode = WAL", "ERR SQL error: PRAGMA journal_mode cannot be changed (the database keeps its journal in memory)"},
		{"PRAGMA temp_store_directory = '.'", "ERR SQL error: PRAGMA temp_store_directory is not allowed"},
	} {
		cli(tc.want, "SQL", tc.q)
		if _, err := c.Do(ctx, "SQL", tc.q).Result(); err == nil || err.Error() != tc.want {
			t.Errorf("go-redis SQL %q: %v, want %q", tc.q, err, tc.want)
		}
	}
	// The session is still usable, and its temp table still there.
	if v := sqlDo("SELECT count(*) FROM tt WHERE pad > 'm'"); fmt.Sprint(v) == "" {
		t.Error("no reply")
	}

	files, samples := w.finish()
	if len(files) > 0 {
		t.Errorf("thredis had files open during the SQL workload: %q", files)
	}
	// Shut down cleanly: nothing is written on the way out either.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, p.stderr.String())
	}
	for _, d := range []struct{ name, path string }{{"working directory", cwd}, {"TMPDIR", tmp}} {
		if ents := dirEntries(t, d.path); len(ents) > 0 {
			t.Errorf("files in thredis's %s: %q", d.name, ents)
		}
		// Files created and unlinked at once still change the directory.
		was := map[string]time.Time{cwd: cwdTime, tmp: tmpTime}[d.path]
		if now := modTime(t, d.path); !now.Equal(was) {
			t.Errorf("thredis's %s was modified (mtime %v, was %v): a file was created there", d.name, now, was)
		}
	}
	for _, name := range []string{"x.db", "y.db", "file:x.db", "file:y.db"} {
		if _, err := os.Stat(name); err == nil {
			t.Errorf("%s appeared in the test's directory", name)
		}
	}
	t.Logf("open files sampled %d times while SQL ran", samples)
}
