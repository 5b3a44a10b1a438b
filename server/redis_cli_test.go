//go:build linux

package server

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair, so redis-cli believes it is
// interactive (it only fetches COMMAND DOCS for its hints on a tty).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		t.Skipf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		t.Skipf("pty number: %v", e)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pty slave: %v", err)
	}
	return m, s
}

// TestRedisCLIInteractive runs the real redis-cli against thredis on a
// terminal: at start-up it loads COMMAND DOCS for its help and hints, and
// the session must then work normally.
func TestRedisCLIInteractive(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed")
	}
	ts := startServer(t)
	_, port, _ := net.SplitHostPort(ts.addr)
	master, slave := openPTY(t)
	defer master.Close()
	cmd := exec.Command(cli, "-h", "127.0.0.1", "-p", port)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(os.Environ(), "TERM=dumb")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	waitOutput := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := out.String()
			mu.Unlock()
			if strings.Contains(got, want) {
				return
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("redis-cli output lacks %q:\n%s", want, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	prompt := "127.0.0.1:" + port + "> "
	waitOutput(prompt)
	io.WriteString(master, "help client setinfo\r")
	// This summary exists only in thredis's COMMAND DOCS, not in the
	// help table compiled into redis-cli 7.0.
	waitOutput("Set client or connection specific info")
	io.WriteString(master, "set clikey hello\r")
	waitOutput("OK")
	io.WriteString(master, "get clikey\r")
	waitOutput(`"hello"`)
	io.WriteString(master, "quit\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("redis-cli exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("redis-cli did not exit")
	}
	rdb := ts.client(t)
	if !strings.Contains(rdb.Info(ctx, "commandstats").Val(), "cmdstat_command|docs:calls=1,") {
		t.Fatal("redis-cli did not call COMMAND DOCS")
	}
}
