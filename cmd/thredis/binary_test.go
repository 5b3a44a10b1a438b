package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// These tests build the real thredis binary once and drive it the way a
// user would: flags, config files, signals, redis-cli and go-redis.

const testVersion = "test-1.2.3"

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// thredisBinary builds the binary on first use (so unit tests run with
// -run don't pay for it) into a directory removed by TestMain.
func thredisBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "thredis-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "thredis")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer safe for the process's writer goroutine
// and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running thredis process.
type proc struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error // Wait's result, valid after done is closed
}

// runThredis starts the binary with args in a temporary working directory
// (dir "." is where persistence files go); the process is killed at the end
// of the test if still running.
func runThredis(t *testing.T, args ...string) *proc {
	t.Helper()
	return runThredisIn(t, t.TempDir(), nil, args...)
}

// runThredisIn is runThredis with working directory dir and environment
// env ("" and nil: the test's own).
func runThredisIn(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(thredisBinary(t), args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("thredis did not exit; stderr:\n%s", p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait: %v", p.err)
	}
	return 0
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startThredis starts the binary and waits until it accepts connections
// on port.
func startThredis(t *testing.T, port int, args ...string) *proc {
	t.Helper()
	return waitListening(t, runThredis(t, args...), port)
}

// waitListening waits until p accepts connections on port.
func waitListening(t *testing.T, p *proc, port int) *proc {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("thredis exited during start-up (%v); stderr:\n%s", p.err, p.stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("thredis not listening on %s: %v; stderr:\n%s", addr, err, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisCLI runs the real redis-cli against port and returns its trimmed
// output.
func redisCLI(t *testing.T, port int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	full := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)
	out, err := exec.CommandContext(ctx, "redis-cli", full...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("redis-cli %q: %v (is redis-tools installed? `make deps`)", args, err)
		}
	}
	return strings.TrimSpace(string(out))
}

func goRedis(t *testing.T, port int, opt redis.Options) *redis.Client {
	t.Helper()
	opt.Addr = "127.0.0.1:" + strconv.Itoa(port)
	rdb := redis.NewClient(&opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestBinaryVersion(t *testing.T) {
	p := runThredis(t, "version")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, p.stderr.String())
	}
	want := "thredis " + testVersion + " (redis 7.0.15 compatible)\n"
	if got := p.stdout.String(); got != want {
		t.Fatalf("stdout = %q, want %q", got, want)
	}
}

func TestBinaryServes(t *testing.T) {
	port := freePort(t)
	p := startThredis(t, port, "--port", strconv.Itoa(port))

	if got := redisCLI(t, port, "SET", "greeting", "hello world"); got != "OK" {
		t.Fatalf("redis-cli SET = %q", got)
	}
	if got := redisCLI(t, port, "GET", "greeting"); got != "hello world" {
		t.Fatalf("redis-cli GET = %q", got)
	}
	if got := redisCLI(t, port, "GET", "missing"); got != "" {
		t.Fatalf("redis-cli GET missing = %q", got)
	}

	ctx := context.Background()
	rdb := goRedis(t, port, redis.Options{}) // default options: RESP3 HELLO handshake
	if got, err := rdb.Get(ctx, "greeting").Result(); err != nil || got != "hello world" {
		t.Fatalf("go-redis GET = %q, %v", got, err)
	}
	if err := rdb.Set(ctx, "n", 41, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.Incr(ctx, "n").Result(); err != nil || got != 42 {
		t.Fatalf("INCR = %d, %v", got, err)
	}
	if err := rdb.HSet(ctx, "h", "f1", "v1", "f2", "v2").Err(); err != nil {
		t.Fatal(err)
	}
	if got := redisCLI(t, port, "HGET", "h", "f2"); got != "v2" {
		t.Fatalf("redis-cli HGET = %q", got)
	}

	log := p.stderr.String()
	for _, want := range []string{"persistence is off", "ready to accept connections"} {
		if !strings.Contains(log, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, log)
		}
	}
}

func TestBinaryConfigFileAndFlags(t *testing.T) {
	filePort, flagPort := freePort(t), freePort(t)
	dir := t.TempDir()
	conf := writeFile(t, dir, "thredis.conf", fmt.Sprintf(`# thredis test configuration
port %d
databases 4
requirepass "s3cret pass"

  # the next directive has no flag of its own
maxclients 123
loglevel warning
`, filePort))
	wd := t.TempDir() // the working directory: "dir ." resolves to it
	waitListening(t, runThredisIn(t, wd, nil, "--config", conf, "--port", strconv.Itoa(flagPort), "--hz", "25"), flagPort)

	// The flag overrides the file's port.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(filePort), time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens on the config file's port %d; the --port flag should win", filePort)
	}
	// requirepass from the file (a quoted value with a space).
	if got := redisCLI(t, flagPort, "PING"); got != "NOAUTH Authentication required." {
		t.Fatalf("PING without AUTH = %q", got)
	}
	auth := []string{"--no-auth-warning", "-a", "s3cret pass"}
	if got := redisCLI(t, flagPort, append(auth, "PING")...); got != "PONG" {
		t.Fatalf("PING with AUTH = %q", got)
	}
	// databases 4 from the file.
	if got := redisCLI(t, flagPort, append(auth, "-n", "3", "SET", "k", "v")...); got != "OK" {
		t.Fatalf("SET in db 3 = %q", got)
	}
	if got := redisCLI(t, flagPort, append(auth, "SELECT", "4")...); got != "ERR DB index is out of range" {
		t.Fatalf("SELECT 4 = %q", got)
	}

	ctx := context.Background()
	rdb := goRedis(t, flagPort, redis.Options{Password: "s3cret pass"})
	for name, want := range map[string]string{
		"port":       strconv.Itoa(flagPort), // flag beats file
		"databases":  "4",                    // file
		"maxclients": "123",                  // file, directive without a flag
		"hz":         "25",                   // Redis-style --directive on the command line
		"loglevel":   "warning",
		"dir":        wd,
	} {
		got, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", name, err)
		}
		if got[name] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", name, got[name], want)
		}
	}
}

func TestBinaryLogLevel(t *testing.T) {
	port := freePort(t)
	p := startThredis(t, port, "--port", strconv.Itoa(port), "--loglevel", "warning")
	if got := redisCLI(t, port, "PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
	log := p.stderr.String()
	if !strings.Contains(log, "persistence is off") {
		t.Errorf("warning missing at loglevel warning:\n%s", log)
	}
	if strings.Contains(log, "level=INFO") {
		t.Errorf("info lines logged at loglevel warning:\n%s", log)
	}
	// CONFIG SET loglevel takes effect at once: the shutdown's info line
	// appears.
	if got := redisCLI(t, port, "CONFIG", "SET", "loglevel", "notice"); got != "OK" {
		t.Fatalf("CONFIG SET loglevel = %q", got)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if log := p.stderr.String(); !strings.Contains(log, "level=INFO msg=\"received signal") {
		t.Errorf("no info line after CONFIG SET loglevel notice:\n%s", log)
	}
}

func TestBinaryStartupErrors(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "bad.conf", "port 7000\n# comment\n\nno-such-directive yes\n")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)

	for _, tc := range []struct {
		name string
		args []string
		want *regexp.Regexp
	}{
		{"unknown-directive", []string{"--config", conf},
			regexp.MustCompile(`^thredis: ` + regexp.QuoteMeta(conf) + `:4: unknown directive 'no-such-directive'\n$`)},
		{"missing-file", []string{"--config", filepath.Join(dir, "nope.conf")},
			regexp.MustCompile(`thredis: open config file: .*nope.conf: no such file or directory`)},
		{"unknown-cli-directive", []string{"--no-such-directive", "1"},
			regexp.MustCompile(`^thredis: --no-such-directive: unknown directive 'no-such-directive'\n$`)},
		{"port-in-use", []string{"--port", busyPort},
			regexp.MustCompile(`thredis: listen on 127\.0\.0\.1:` + busyPort + `: .*address already in use`)},
		{"extra-arg", []string{"serve-please"},
			regexp.MustCompile(`thredis: unknown command "serve-please"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := runThredis(t, tc.args...)
			if code := p.wait(t); code != 1 {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", code, p.stderr.String())
			}
			if got := p.stderr.String(); !tc.want.MatchString(got) {
				t.Fatalf("stderr = %q, want match for %s", got, tc.want)
			}
		})
	}
}

func TestBinarySignalsExitZero(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			port := freePort(t)
			p := startThredis(t, port, "--port", strconv.Itoa(port))
			// A connected client must not keep the server from exiting.
			rdb := goRedis(t, port, redis.Options{})
			if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit code %d after %v; stderr:\n%s", code, sig, p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), "received signal") {
				t.Errorf("no shutdown log line:\n%s", p.stderr.String())
			}
		})
	}
}

func TestBinaryShutdownCommandExitsZero(t *testing.T) {
	port := freePort(t)
	p := startThredis(t, port, "--port", strconv.Itoa(port))
	if got := redisCLI(t, port, "SET", "k", "v"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	// Like redis-server, a successful SHUTDOWN sends no reply: the
	// connection just closes.
	out := redisCLI(t, port, "SHUTDOWN")
	if strings.Contains(out, "ERR") {
		t.Fatalf("SHUTDOWN replied %q", out)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d after SHUTDOWN; stderr:\n%s", code, p.stderr.String())
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		c.Close()
		t.Fatal("port still accepting after SHUTDOWN")
	}
}
