package aof

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestParseFsync(t *testing.T) {
	for _, p := range []FsyncPolicy{Always, EverySec, No} {
		got, err := ParseFsync(p.String())
		if err != nil || got != p {
			t.Fatalf("%v: %v %v", p, got, err)
		}
	}
	if p, err := ParseFsync("ALWAYS"); err != nil || p != Always {
		t.Fatal("case-insensitive")
	}
	if _, err := ParseFsync("sometimes"); err == nil {
		t.Fatal("accepted sometimes")
	}
}

func TestOpenValidates(t *testing.T) {
	for _, cfg := range []Config{
		{Dir: t.TempDir(), FileName: "a/b"},
		{Dir: t.TempDir(), DirName: ".."},
		{Dir: t.TempDir(), Fsync: FsyncPolicy(9)},
	} {
		if _, err := Open(cfg); err == nil {
			t.Fatalf("%+v accepted", cfg)
		}
	}
	dir := t.TempDir()
	writeAOF(t, dir, "file x seq 1 type z\n", nil)
	_, err := Open(testConfig(dir))
	var me *ManifestError
	if !errors.As(err, &me) || me.Reason != "Unknown AOF file type" || me.Line != 1 {
		t.Fatalf("%v", err)
	}
}

func TestStartCreatesLayout(t *testing.T) {
	for _, rdb := range []bool{false, true} {
		dir := t.TempDir()
		cfg := testConfig(dir)
		cfg.UseRDBPreamble = rdb
		m := mustOpen(t, cfg)
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(); err == nil {
			t.Fatal("second Start accepted")
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		ad := filepath.Join(dir, DefaultDirName)
		base, content := "appendonly.aof.1.base.aof", []byte(nil)
		if rdb {
			base, content = "appendonly.aof.1.base.rdb", emptyRDB()
		}
		want := "file " + base + " seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
		if got := string(readFile(t, filepath.Join(ad, "appendonly.aof.manifest"))); got != want {
			t.Fatalf("manifest %q", got)
		}
		if got := readFile(t, filepath.Join(ad, base)); !bytes.Equal(got, content) {
			t.Fatalf("base %q", got)
		}
		if got := fmt.Sprint(listDir(t, ad)); got != "["+base+" appendonly.aof.1.incr.aof appendonly.aof.manifest]" {
			t.Fatalf("dir %s", got)
		}
	}
}

// Start deletes history files left by an interrupted rewrite clean-up.
func TestStartDeletesHistory(t *testing.T) {
	dir := t.TempDir()
	ad := writeAOF(t, dir, simpleManifest+"file appendonly.aof.0.incr.aof seq 1 type h\n",
		map[string][]byte{baseAOF: nil, incr1: nil, "appendonly.aof.0.incr.aof": enc("SET", "x", "y")})
	m := mustOpen(t, testConfig(dir))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if got := string(readFile(t, filepath.Join(ad, "appendonly.aof.manifest"))); got != simpleManifest {
		t.Fatalf("manifest %q", got)
	}
	if _, err := os.Stat(filepath.Join(ad, "appendonly.aof.0.incr.aof")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("history file kept")
	}
}

// startAlways starts a Manager with appendfsync always whose fsyncs take a
// little time, as on a real disk, and are counted.
func startAlways(t testing.TB, dir string, delay time.Duration) (*Manager, *atomic.Int64) {
	cfg := testConfig(dir)
	cfg.Fsync = Always
	m := mustOpen(t, cfg)
	var n atomic.Int64
	m.syncHook = func(f *os.File) error {
		n.Add(1)
		time.Sleep(delay)
		return f.Sync()
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	return m, &n
}

func TestGroupCommitAlways(t *testing.T) {
	dir := t.TempDir()
	m, fsyncs := startAlways(t, dir, 2*time.Millisecond)
	incr := filepath.Join(dir, DefaultDirName, incr1)
	const clients, perClient = 32, 40
	var serial sync.Mutex // the server's execution lock
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				serial.Lock()
				off := m.Append(enc("SET", fmt.Sprintf("k%d", c), fmt.Sprint(i)))
				serial.Unlock()
				if err := m.WaitSynced(off); err != nil {
					errc <- err
					return
				}
				// The data is in the file (and was fsynced) before the reply.
				if st, err := os.Stat(incr); err != nil || st.Size() < int64(off) {
					errc <- fmt.Errorf("after WaitSynced(%d) the file has %d bytes (%v)", off, st.Size(), err)
					return
				}
				if s := m.Stats(); s.Synced < off {
					errc <- fmt.Errorf("Synced %d < %d", s.Synced, off)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	total := clients * perClient
	n := fsyncs.Load()
	t.Logf("%d appends, %d fsyncs (%.1f appends per fsync)", total, n, float64(total)/float64(n))
	if n >= int64(total)/4 {
		t.Fatalf("%d fsyncs for %d appends: no group commit", n, total)
	}
	if s := m.Stats(); s.Fsyncs != uint64(n) || s.LastWriteErr != nil || s.LastFsyncErr != nil {
		t.Fatalf("stats %+v", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	units, _, err := loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || len(units) != total {
		t.Fatalf("%d units, %v", len(units), err)
	}
}

// TestAlwaysSingleP runs the appendfsync always path a single-P server
// takes (the fdatasync keeps the P, see dataSyncKeepP) with concurrent
// clients: every WaitSynced returns with its data in the file, and every
// batch is counted as one fsync.
func TestAlwaysSingleP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Fsync = Always
	m := mustOpen(t, cfg)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	incr := filepath.Join(dir, DefaultDirName, incr1)
	const clients, perClient = 8, 25
	var serial sync.Mutex
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				serial.Lock()
				off := m.Append(enc("SET", fmt.Sprintf("k%d", c), fmt.Sprint(i)))
				serial.Unlock()
				if err := m.WaitSynced(off); err != nil {
					errc <- err
					return
				}
				if st, err := os.Stat(incr); err != nil || st.Size() < int64(off) {
					errc <- fmt.Errorf("after WaitSynced(%d) the file has %d bytes (%v)", off, st.Size(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	s := m.Stats()
	if s.Synced != s.Appended || s.Fsyncs == 0 || s.Fsyncs > s.Writes || s.LastFsyncErr != nil {
		t.Fatalf("stats %+v", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	units, _, err := loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || len(units) != clients*perClient {
		t.Fatalf("%d units, %v", len(units), err)
	}
}

// TestDataSyncKeepPError: a failed raw fdatasync is reported like dataSync's.
func TestDataSyncKeepPError(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	err = dataSyncKeepP(w)
	var pe *os.PathError
	if err == nil || !errors.As(err, &pe) {
		t.Fatalf("fdatasync of a pipe: %v", err)
	}
}

func TestEverySecSyncsInBackground(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen(t, testConfig(dir))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	off := m.Append(enc("SET", "a", "1"))
	start := time.Now()
	if err := m.WaitSynced(off); err != nil { // written, not necessarily fsynced
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, DefaultDirName, incr1)); !bytes.Equal(got, enc("SET", "a", "1")) {
		t.Fatalf("file %q", got)
	}
	for m.Stats().Synced < off {
		if time.Since(start) > 5*time.Second {
			t.Fatal("no background fsync within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := m.Stats(); s.Fsyncs == 0 || s.CurrentSize != int64(off) || s.BufferLength != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNoPolicyAndSetFsync(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Fsync = No
	m := mustOpen(t, cfg)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	off := m.Append(enc("SET", "a", "1"))
	if err := m.WaitSynced(off); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.Fsyncs != 0 || s.Written != off || s.Synced != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Switching to always makes WaitSynced wait for an fsync of what was
	// only written.
	m.SetFsync(Always)
	if err := m.WaitSynced(off); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.Fsyncs != 1 || s.Synced != off || s.Fsync != Always {
		t.Fatalf("stats %+v", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitSynced(off + 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitSynced after Close: %v", err)
	}
}

func TestCloseFlushesEverything(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen(t, testConfig(dir))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 2000 {
		u := enc("SET", fmt.Sprint(i), "value")
		want = append(want, u...)
		m.Append(u)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, DefaultDirName, incr1)); !bytes.Equal(got, want) {
		t.Fatalf("file has %d bytes, want %d", len(got), len(want))
	}
}

// Appends before Start have no AOF to go to: dropped, nothing waits.
func TestAppendBeforeStart(t *testing.T) {
	m := mustOpen(t, testConfig(t.TempDir()))
	off := m.Append(enc("SET", "a", "b"))
	if err := m.WaitSynced(off); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// A failing write: the error is reported to waiters and in Stats, a
// partial write is cut off the file, and the data is retried.
func TestWriteErrorRetry(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Fsync = Always
	m := mustOpen(t, cfg)
	var fail atomic.Int32
	fail.Store(2)
	m.writeHook = func(f *os.File, p []byte) (int, error) {
		if fail.Load() > 0 {
			fail.Add(-1)
			n, _ := f.Write(p[:len(p)/2]) // a short write, then the error
			return n, syscall.ENOSPC
		}
		return f.Write(p)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	first := m.Append(enc("SET", "a", "1"))
	if err := m.WaitSynced(first); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WaitSynced: %v", err)
	}
	s := m.Stats()
	if !errors.Is(s.LastWriteErr, syscall.ENOSPC) || s.Written != 0 || s.CurrentSize != 0 {
		t.Fatalf("stats %+v", s)
	}
	if got := readFile(t, filepath.Join(dir, DefaultDirName, incr1)); len(got) != 0 {
		t.Fatalf("partial write left %q", got)
	}
	// The next append retries (one more failure, then success).
	second := m.Append(enc("SET", "b", "2"))
	for {
		if err := m.WaitSynced(second); err == nil {
			break
		} else if !errors.Is(err, syscall.ENOSPC) {
			t.Fatal(err)
		}
		m.Append(nil) // poke the writer, as new traffic would
		time.Sleep(5 * time.Millisecond)
	}
	if s := m.Stats(); s.LastWriteErr != nil || s.Synced != second {
		t.Fatalf("stats %+v", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	want := encUnit([]string{"SET", "a", "1"}, []string{"SET", "b", "2"})
	if got := readFile(t, filepath.Join(dir, DefaultDirName, incr1)); !bytes.Equal(got, want) {
		t.Fatalf("file %q", got)
	}
}

// A failing fsync under always is reported, then retried.
func TestFsyncErrorAlways(t *testing.T) {
	dir := t.TempDir()
	m, _ := startAlways(t, dir, 0)
	var fail atomic.Bool
	fail.Store(true)
	m.ioMu.Lock()
	m.syncHook = func(f *os.File) error {
		if fail.Swap(false) {
			return syscall.EIO
		}
		return f.Sync()
	}
	m.ioMu.Unlock()
	off := m.Append(enc("SET", "a", "1"))
	if err := m.WaitSynced(off); !errors.Is(err, syscall.EIO) {
		t.Fatalf("%v", err)
	}
	if s := m.Stats(); !errors.Is(s.LastFsyncErr, syscall.EIO) || s.LastWriteErr != nil {
		t.Fatalf("stats %+v", s)
	}
	off = m.Append(enc("SET", "b", "2"))
	if err := m.WaitSynced(off); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.LastFsyncErr != nil {
		t.Fatalf("stats %+v", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// Append never waits for the disk, even while a slow fsync runs; a slow
// every-second fsync is reported as pending, then as delayed.
func TestSlowFsync(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen(t, testConfig(dir)) // everysec
	release := make(chan struct{})
	var calls atomic.Int32
	m.syncHook = func(f *os.File) error {
		if calls.Add(1) == 1 {
			<-release
			time.Sleep(1100 * time.Millisecond)
		}
		return f.Sync()
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	off := m.Append(enc("SET", "a", "1"))
	m.WaitSynced(off)
	deadline := time.Now().Add(5 * time.Second)
	for !m.Stats().PendingFsync {
		if time.Now().After(deadline) {
			t.Fatal("no background fsync started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	for i := range 1000 {
		off = m.Append(enc("SET", "b", strconv.Itoa(i)))
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("1000 appends took %v during an fsync", el)
	}
	if err := m.WaitSynced(off); err != nil { // written while the fsync still runs
		t.Fatal(err)
	}
	close(release)
	for m.Stats().PendingFsync {
		time.Sleep(10 * time.Millisecond)
	}
	if s := m.Stats(); s.DelayedFsyncs < 1 {
		t.Fatalf("stats %+v", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
