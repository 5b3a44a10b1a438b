package aof

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// checkAOF runs redis-check-aof on the manifest in dir.
func checkAOF(t *testing.T, dir string) string {
	t.Helper()
	tool := needTool(t, "redis-check-aof")
	out, err := exec.Command(tool, filepath.Join(dir, DefaultDirName, DefaultFileName+".manifest")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "All AOF files and manifest are valid") {
		t.Fatalf("redis-check-aof: %v\n%s", err, out)
	}
	return string(out)
}

// writeSample produces an AOF with this package: a base (empty RDB, or
// RESP commands written by a rewrite) and an incremental file holding a
// command, a MULTI block, binary data and a SELECT.
func writeSample(t *testing.T, dir string, rdbBase bool) {
	t.Helper()
	cfg := testConfig(dir)
	cfg.UseRDBPreamble = rdbBase
	m := mustOpen(t, cfg)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SELECT", "0"))
	if !rdbBase {
		base, err := m.BeginRewrite()
		if err != nil {
			t.Fatal(err)
		}
		base.Write(encUnit([]string{"SELECT", "0"}, []string{"SET", "fromBase", "yes"}))
		if err := m.CommitRewrite(base, false); err != nil {
			t.Fatal(err)
		}
		m.Append(enc("SELECT", "0"))
	}
	m.Append(enc("SET", "foo", "bar"))
	m.Append(encUnit([]string{"MULTI"}, []string{"HSET", "h", "f1", "v1", "f2", "\x00\xff\r\n"}, []string{"INCR", "n"}, []string{"EXEC"}))
	m.Append(enc("SELECT", "3"))
	m.Append(enc("SET", "in3", "x"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRedisCheckAOFAcceptsOurs(t *testing.T) {
	for _, rdb := range []bool{false, true} {
		dir := t.TempDir()
		writeSample(t, dir, rdb)
		out := checkAOF(t, dir)
		if rdb && !strings.Contains(out, "RDB looks OK") {
			t.Fatalf("RDB base not checked:\n%s", out)
		}
	}
	// And redis-check-aof refuses what we refuse: a cut file.
	dir := t.TempDir()
	writeSample(t, dir, false)
	incr := filepath.Join(dir, DefaultDirName, "appendonly.aof.2.incr.aof")
	b := readFile(t, incr)
	os.WriteFile(incr, b[:len(b)-4], 0o644)
	out, err := exec.Command("redis-check-aof", filepath.Join(dir, DefaultDirName, DefaultFileName+".manifest")).CombinedOutput()
	if err == nil {
		t.Fatalf("redis-check-aof accepted a cut file:\n%s", out)
	}
}

// freePort returns a currently free TCP port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// stockRedis is a redis-server started on dir.
type stockRedis struct {
	t    *testing.T
	port string
	cmd  *exec.Cmd
	done chan error
}

func startRedis(t *testing.T, dir string) *stockRedis {
	t.Helper()
	server := needTool(t, "redis-server")
	needTool(t, "redis-cli")
	for attempt := 0; attempt < 3; attempt++ {
		port := strconv.Itoa(freePort(t))
		cmd := exec.Command(server, "--port", port, "--bind", "127.0.0.1", "--dir", dir,
			"--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := &stockRedis{t: t, port: port, cmd: cmd, done: make(chan error, 1)}
		go func() { r.done <- cmd.Wait() }()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-r.done:
				deadline = time.Time{} // exited: port taken? retry
				continue
			default:
			}
			if out, _ := exec.Command("redis-cli", "-p", port, "ping").Output(); strings.TrimSpace(string(out)) == "PONG" {
				t.Cleanup(func() { cmd.Process.Kill() })
				return r
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Kill()
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	t.Fatalf("redis-server did not start:\n%s", log)
	return nil
}

// cli runs redis-cli with the commands on stdin (one connection).
func (r *stockRedis) cli(script string) string {
	r.t.Helper()
	cmd := exec.Command("redis-cli", "-p", r.port)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("redis-cli: %v\n%s", err, out)
	}
	return string(out)
}

func (r *stockRedis) shutdown() {
	r.t.Helper()
	exec.Command("redis-cli", "-p", r.port, "shutdown").Run()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Fatal("redis-server did not shut down")
	}
}

// An AOF written by a stock redis-server (RDB base + commands) loads here.
func TestLoadStockRedisAOF(t *testing.T) {
	dir := t.TempDir()
	r := startRedis(t, dir)
	r.cli("SET foo bar\nHSET h a 1 b 2\nMULTI\nSET x 1\nINCR x\nEXEC\nSELECT 2\nSET \"sp ace\" \"v\\x00\"\n")
	r.shutdown()
	ad := filepath.Join(dir, DefaultDirName)
	if !isRegular(filepath.Join(ad, "appendonly.aof.1.base.rdb")) {
		t.Fatalf("unexpected layout: %v", listDir(t, ad))
	}
	m := mustOpen(t, testConfig(dir))
	var rdbSeen bool
	var got []string
	info, err := m.Load(func(rd io.Reader) error {
		b, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(b, []byte("REDIS")) {
			return fmt.Errorf("base does not start with REDIS: %q", b[:min(len(b), 9)])
		}
		rdbSeen = true
		return nil
	}, func(cmds [][][]byte) error {
		var parts []string
		for _, argv := range cmds {
			parts = append(parts, strings.ToUpper(string(argv[0]))+" "+string(bytes.Join(argv[1:], []byte(" "))))
		}
		got = append(got, strings.Join(parts, ";"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT 0|SET foo bar|HSET h a 1 b 2|MULTI ;SET x 1;INCR x;EXEC |SELECT 2|SET sp ace v\x00"
	if !rdbSeen || strings.Join(got, "|") != want || !info.Files[0].RDB || len(info.Files) != 2 {
		t.Fatalf("got %q (rdb %v, info %+v)\nwant %q", strings.Join(got, "|"), rdbSeen, info, want)
	}
	// And we can continue appending to it; redis-check-aof still agrees.
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "more", "1"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	checkAOF(t, dir)
}

// A stock redis-server loads an AOF written here.
func TestStockRedisLoadsOurs(t *testing.T) {
	for _, rdb := range []bool{false, true} {
		dir := t.TempDir()
		writeSample(t, dir, rdb)
		r := startRedis(t, dir)
		out := r.cli("GET foo\nHGET h f1\nGET n\nGET fromBase\nSELECT 3\nGET in3\n")
		r.shutdown()
		want := "bar\nv1\n1\nyes\nOK\nx\n"
		if rdb {
			want = "bar\nv1\n1\n\nOK\nx\n"
		}
		if out != want {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("rdb=%v: redis-server answered %q, want %q\n%s", rdb, out, want, log)
		}
	}
}
