package aof

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func manifestText(t *testing.T, dir string) string {
	t.Helper()
	return string(readFile(t, filepath.Join(dir, DefaultDirName, DefaultFileName+".manifest")))
}

func TestRewriteCommit(t *testing.T) {
	for _, policy := range []FsyncPolicy{Always, EverySec, No} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.Fsync = policy
			m := mustOpen(t, cfg)
			if err := m.Start(); err != nil {
				t.Fatal(err)
			}
			m.Append(enc("SET", "a", "1"))
			m.Append(enc("SET", "a", "2"))
			base, err := m.BeginRewrite()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.BeginRewrite(); err == nil {
				t.Fatal("second BeginRewrite accepted")
			}
			// A crash now loses nothing: the manifest already lists incr 2.
			if got := manifestText(t, dir); got != simpleManifest+"file appendonly.aof.2.incr.aof seq 2 type i\n" {
				t.Fatalf("manifest during rewrite %q", got)
			}
			off := m.Append(enc("SET", "b", "3")) // goes to incr 2
			if err := m.WaitSynced(off); err != nil {
				t.Fatal(err)
			}
			if s := m.Stats(); !s.RewriteInProgress || s.CurrentFile != incr2 || s.IncrFiles != 2 {
				t.Fatalf("stats %+v", s)
			}
			if !strings.HasPrefix(filepath.Base(base.Name()), "temp-rewriteaof-bg-") ||
				filepath.Dir(base.Name()) != filepath.Join(dir, DefaultDirName) {
				t.Fatalf("temp base %s", base.Name())
			}
			if _, err := base.Write(enc("SET", "a", "2")); err != nil { // the snapshot
				t.Fatal(err)
			}
			if err := m.CommitRewrite(base, false); err != nil {
				t.Fatal(err)
			}
			m.Append(enc("SET", "c", "4"))
			want := "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
			if got := manifestText(t, dir); got != want {
				t.Fatalf("manifest %q", got)
			}
			s := m.Stats()
			if s.RewriteInProgress || s.IncrFiles != 1 {
				t.Fatalf("stats %+v", s)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(listDir(t, filepath.Join(dir, DefaultDirName)), " "); got !=
				"appendonly.aof.2.base.aof appendonly.aof.2.incr.aof appendonly.aof.manifest" {
				t.Fatalf("old files not deleted: %s", got)
			}
			units, _, err := loadAll(mustOpen(t, testConfig(dir)))
			if err != nil || unitsString(units) != "SET a 2|SET b 3|SET c 4" {
				t.Fatalf("%q %v", unitsString(units), err)
			}
		})
	}
}

func TestRewriteSizesAndRDBBase(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen(t, testConfig(dir))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	off := m.Append(enc("SET", "a", "1"))
	m.WaitSynced(off)
	if s := m.Stats(); s.CurrentSize != int64(off) || s.BaseSize != 0 {
		t.Fatalf("stats %+v", s)
	}
	base, err := m.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	base.Write(fakeRDB)
	off2 := m.Append(enc("SET", "b", "2"))
	m.WaitSynced(off2)
	if s := m.Stats(); s.CurrentSize != int64(off2) {
		t.Fatalf("during rewrite: %+v", s)
	}
	if err := m.CommitRewrite(base, true); err != nil {
		t.Fatal(err)
	}
	want := int64(len(fakeRDB)) + int64(off2-off)
	if s := m.Stats(); s.CurrentSize != want || s.BaseSize != want {
		t.Fatalf("after rewrite: %+v, want sizes %d", s, want)
	}
	if got := manifestText(t, dir); !strings.HasPrefix(got, "file appendonly.aof.2.base.rdb seq 2 type b\n") {
		t.Fatalf("manifest %q", got)
	}
	// A second rewrite: base 3, incr 3.
	base, err = m.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	base.Write(enc("SET", "x", "y"))
	if err := m.CommitRewrite(base, false); err != nil {
		t.Fatal(err)
	}
	if got := manifestText(t, dir); got != "file appendonly.aof.3.base.aof seq 3 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\n" {
		t.Fatalf("manifest %q", got)
	}
}

func TestRewriteAbort(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen(t, testConfig(dir))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "a", "1"))
	base, err := m.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	base.Write([]byte("half a snapshot"))
	m.Append(enc("SET", "b", "2"))
	if err := m.CommitRewrite(nil, false); err == nil {
		t.Fatal("CommitRewrite of a foreign file accepted")
	}
	if err := m.AbortRewrite(base); err != nil {
		t.Fatal(err)
	}
	if err := m.AbortRewrite(base); err == nil {
		t.Fatal("second AbortRewrite accepted")
	}
	if _, err := os.Stat(base.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("temp base kept")
	}
	m.Append(enc("SET", "c", "3"))
	// The next rewrite works and retires both incremental files.
	base, err = m.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "d", "4"))
	if got := manifestText(t, dir); got != simpleManifest+
		"file appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n" {
		t.Fatalf("manifest %q", got)
	}
	// Crash-equivalent: load what is on disk now, with the rewrite pending.
	m2 := mustOpen(t, testConfig(dir))
	m.ioMu.Lock()
	m.flushLocked(true)
	m.ioMu.Unlock()
	units, _, err := loadAll(m2)
	if err != nil || unitsString(units) != "SET a 1|SET b 2|SET c 3|SET d 4" {
		t.Fatalf("%q %v", unitsString(units), err)
	}
	base.Write(encUnit([]string{"SET", "a", "1"}, []string{"SET", "b", "2"}, []string{"SET", "c", "3"}))
	if err := m.CommitRewrite(base, false); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := manifestText(t, dir); got != "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\n" {
		t.Fatalf("manifest %q", got)
	}
	units, _, err = loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || unitsString(units) != "SET a 1|SET b 2|SET c 3|SET d 4" {
		t.Fatalf("%q %v", unitsString(units), err)
	}
}

// Enabling the AOF for a live data set: BeginRewrite before Start.
func TestFirstRewrite(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen(t, testConfig(dir))
	base, err := m.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); !s.Enabled || !s.WaitingRewrite {
		t.Fatalf("stats %+v", s)
	}
	m.Append(enc("SET", "lost", "1")) // covered by the next snapshot after the abort
	if err := m.AbortRewrite(base); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultDirName, "appendonly.aof.manifest")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a manifest was written before the first rewrite committed")
	}
	base, err = m.BeginRewrite() // retry
	if err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "during", "2"))
	base.Write(encUnit([]string{"SET", "lost", "1"}, []string{"SET", "snap", "1"}))
	if err := m.CommitRewrite(base, false); err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "after", "3"))
	if s := m.Stats(); !s.Enabled || s.WaitingRewrite || s.CurrentFile != incr1 {
		t.Fatalf("stats %+v", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := manifestText(t, dir); got != simpleManifest {
		t.Fatalf("manifest %q", got)
	}
	if got := strings.Join(listDir(t, filepath.Join(dir, DefaultDirName)), " "); got !=
		"appendonly.aof.1.base.aof appendonly.aof.1.incr.aof appendonly.aof.manifest" {
		t.Fatalf("dir: %s", got)
	}
	units, _, err := loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || unitsString(units) != "SET lost 1|SET snap 1|SET during 2|SET after 3" {
		t.Fatalf("%q %v", unitsString(units), err)
	}
}

// Enabling the AOF again over an old one: the old files become history.
func TestFirstRewriteReplacesOldAOF(t *testing.T) {
	dir := t.TempDir()
	writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: enc("SET", "old", "1"), incr1: enc("SET", "old", "2")})
	m := mustOpen(t, testConfig(dir))
	base, err := m.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "new", "2"))
	base.Write(fakeRDB)
	if err := m.CommitRewrite(base, true); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if got := manifestText(t, dir); got != "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n" {
		t.Fatalf("manifest %q", got)
	}
	units, _, err := loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || unitsString(units) != "RDB "+itoa(len(fakeRDB))+"|SET new 2" {
		t.Fatalf("%q %v", unitsString(units), err)
	}
}

// Close during the first rewrite leaves no AOF behind.
func TestCloseDuringFirstRewrite(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen(t, testConfig(dir))
	if _, err := m.BeginRewrite(); err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "a", "1"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(dir, DefaultDirName)); len(got) != 0 {
		t.Fatalf("left %v", got)
	}
	if _, err := m.BeginRewrite(); !errors.Is(err, ErrClosed) {
		t.Fatalf("%v", err)
	}
}

// Clients append and wait while rewrites come and go (some aborted); the
// AOF always loads to exactly the data set.
func TestRewriteUnderLoad(t *testing.T) {
	for _, policy := range []FsyncPolicy{Always, EverySec} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.Fsync = policy
			m := mustOpen(t, cfg)
			if err := m.Start(); err != nil {
				t.Fatal(err)
			}
			var lock sync.Mutex // the server's execution lock
			data := map[string]string{}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for c := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						k, v := fmt.Sprintf("k%d", c), strconv.Itoa(i)
						lock.Lock()
						data[k] = v
						off := m.Append(enc("SET", k, v))
						lock.Unlock()
						if err := m.WaitSynced(off); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			for r := range 6 {
				time.Sleep(20 * time.Millisecond)
				lock.Lock()
				base, err := m.BeginRewrite()
				snap := maps.Clone(data)
				lock.Unlock()
				if err != nil {
					t.Fatal(err)
				}
				w := bufio.NewWriter(base)
				for _, k := range slices.Sorted(maps.Keys(snap)) {
					w.Write(enc("SET", k, snap[k]))
				}
				w.Flush()
				if r%3 == 2 {
					err = m.AbortRewrite(base)
				} else {
					err = m.CommitRewrite(base, false)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			close(stop)
			wg.Wait()
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			_, err := mustOpen(t, testConfig(dir)).Load(nil, func(cmds [][][]byte) error {
				got[string(cmds[0][1])] = string(cmds[0][2])
				return nil
			})
			if err != nil || !maps.Equal(got, data) {
				t.Fatalf("loaded %v (%v), want %v", got, err, data)
			}
			if n := len(listDir(t, filepath.Join(dir, DefaultDirName))); n > 4 {
				t.Fatalf("files left: %v", listDir(t, filepath.Join(dir, DefaultDirName)))
			}
		})
	}
}

// TestStartRemovesStaleTemps: temporaries of a rewrite interrupted by a
// crash are deleted at the next start, and a rewrite's base is 0644.
func TestStartRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	base, err := m.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := base.Stat(); st.Mode().Perm() != 0o644 {
		t.Fatalf("rewrite base mode %v", st.Mode())
	}
	base.WriteString("half a rewrite")
	// A crash now: the temporary base stays behind.
	stale := base.Name()
	base.Close()
	m2, err := Open(testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Load(func(io.Reader) error { return nil }, func([][][]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := m2.Start(); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale rewrite temporary %s still there (%v)", stale, err)
	}
}
