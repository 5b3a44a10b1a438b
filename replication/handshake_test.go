package replication

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thredis/thredis/rdb"
)

// fakeMaster accepts one connection, records the commands it receives and
// answers each with the next scripted reply.
func fakeMaster(t *testing.T, replies []string, after string) (addr string, got chan []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var cmds []string
		for _, rep := range replies {
			args, err := readCommand(br)
			if err != nil {
				break
			}
			cmds = append(cmds, strings.Join(args, " "))
			c.Write([]byte(rep))
		}
		c.Write([]byte(after))
		c.(*net.TCPConn).CloseWrite() // a payload cut short ends, not hangs
		got <- cmds
		io.Copy(io.Discard, br)
	}()
	return ln.Addr().String(), got
}

// readCommand reads one RESP multibulk request.
func readCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	args := make([]string, n)
	for i := range args {
		h, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, _ := strconv.Atoi(strings.TrimSpace(h[1:]))
		b := make([]byte, l+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:l])
	}
	return args, nil
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestHandshakeSequence(t *testing.T) {
	id := NewID()
	mark := strings.Repeat("m", EOFMarkLen)
	payload := "$EOF:" + mark + "\r\nRDBBYTES" + mark + "*1\r\n$4\r\nPING\r\n"
	addr, got := fakeMaster(t, []string{"-NOAUTH Authentication required.\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n",
		"-ERR unknown option\r\n", "\n\n+FULLRESYNC " + id + " 1234\r\n"}, "\n\n"+payload)
	conn, br := dial(t, addr)
	rep, err := Handshake(conn, br, HandshakeConfig{User: "u", Password: "p", ListeningPort: 6380, AnnounceIP: "10.0.0.9",
		ReplID: "abc", Offset: 99, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Full || rep.ReplID != id || rep.Offset != 1234 {
		t.Fatalf("reply %+v", rep)
	}
	want := []string{"PING", "AUTH u p", "REPLCONF listening-port 6380", "REPLCONF ip-address 10.0.0.9",
		"REPLCONF capa eof capa psync2", "PSYNC abc 100"}
	if cmds := <-got; strings.Join(cmds, "|") != strings.Join(want, "|") {
		t.Fatalf("sent %q, want %q", cmds, want)
	}
	p, err := ReadPayload(conn, br, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Diskless() || p.Size() != -1 {
		t.Fatalf("payload: diskless %v size %d", p.Diskless(), p.Size())
	}
	body := make([]byte, 8)
	io.ReadFull(p.Reader(), body)
	if string(body) != "RDBBYTES" {
		t.Fatalf("body %q", body)
	}
	if err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	rest, _ := br.Peek(14)
	if string(rest) != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("stream after the payload: %q", rest)
	}
}

func TestHandshakeReplies(t *testing.T) {
	id := NewID()
	for _, c := range []struct {
		line string
		want SyncReply
		err  string
	}{
		{"+CONTINUE", SyncReply{}, ""},
		{"+CONTINUE " + id, SyncReply{ReplID: id}, ""},
		{"+FULLRESYNC " + id + " 0", SyncReply{Full: true, ReplID: id}, ""},
		{"+FULLRESYNC short 0", SyncReply{}, "bad FULLRESYNC"},
		{"+FULLRESYNC " + id + " -4", SyncReply{}, "bad FULLRESYNC offset"},
		{"-NOMASTERLINK Can't SYNC while not connected with my master", SyncReply{}, "cannot sync now"},
		{"-LOADING Redis is loading the dataset in memory", SyncReply{}, "cannot sync now"},
		{"-ERR unknown command 'PSYNC'", SyncReply{}, "error reply to PSYNC"},
		{"+OK", SyncReply{}, "unexpected reply"},
	} {
		got, err := ParseSyncReply(c.line)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.line, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.line, got, err, c.want)
		}
	}
}

func TestPayloadErrors(t *testing.T) {
	mark := strings.Repeat("a", EOFMarkLen)
	for _, c := range []struct{ data, err string }{
		{"$5\r\nabc", "ended 2 bytes before"},
		{"$EOF:" + mark + "\r\n" + strings.Repeat("b", EOFMarkLen), "end mark does not follow"},
		{"$EOF:short\r\n", "bad EOF mark"},
		{"-ERR oops\r\n", "master aborted"},
		{"+OK\r\n", "expected the payload header"},
		{"$-3\r\n", "bad payload length"},
	} {
		addr, _ := fakeMaster(t, nil, c.data)
		conn, br := dial(t, addr)
		p, err := ReadPayload(conn, br, 2*time.Second)
		if err == nil {
			if p.Diskless() {
				io.ReadFull(br, make([]byte, 0))
			} else {
				io.ReadAll(p.Reader())
			}
			err = p.Finish()
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: err %v, want %q", c.data, err, c.err)
		}
	}
}

// TestHandshakeWithRedis acts as a replica of a stock redis-server: the
// handshake, both payload forms decoded by the rdb package, then the live
// stream.
func TestHandshakeWithRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is required in CI: %v", err)
		}
		t.Skipf("redis-server not installed: %v", err)
	}
	for _, diskless := range []string{"yes", "no"} {
		t.Run("diskless="+diskless, func(t *testing.T) {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
				"--dir", t.TempDir(), "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0", "--requirepass", "pw")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			var client net.Conn
			for i := 0; i < 100; i++ {
				if client, err = net.Dial("tcp", addr); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			cbr := bufio.NewReader(client)
			do := func(args ...string) string {
				var b bytes.Buffer
				fmt.Fprintf(&b, "*%d\r\n", len(args))
				for _, a := range args {
					fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
				}
				client.Write(b.Bytes())
				line, _ := cbr.ReadString('\n')
				return strings.TrimSpace(line)
			}
			do("AUTH", "pw")
			do("SET", "k1", "v1")
			do("HSET", "h", "f", "x")

			conn, br := dial(t, addr)
			rep, err := Handshake(conn, br, HandshakeConfig{Password: "pw", ListeningPort: 1, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Full || len(rep.ReplID) != 40 {
				t.Fatalf("reply %+v", rep)
			}
			p, err := ReadPayload(conn, br, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if p.Diskless() != (diskless == "yes") {
				t.Fatalf("diskless %v", p.Diskless())
			}
			rd, err := rdb.NewReader(p.Reader(), rdb.ReaderOptions{VerifyChecksum: true})
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string]bool{}
			for {
				e, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if e.Kind == rdb.EntryKey {
					keys[e.Key] = true
				}
			}
			if !keys["k1"] || !keys["h"] || len(keys) != 2 {
				t.Fatalf("keys %v", keys)
			}
			if err := p.Finish(); err != nil {
				t.Fatal(err)
			}
			// A diskless master starts the stream at the first ACK it gets
			// once it has seen the transfer end: ACK as a replica does.
			acking := make(chan struct{})
			defer close(acking)
			go func() {
				for {
					conn.Write([]byte("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n"))
					select {
					case <-acking:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
			do("SET", "k2", "v2")
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			var cmds []string
			for len(cmds) < 2 {
				args, err := readCommand(br)
				if err != nil {
					t.Fatal(err)
				}
				cmds = append(cmds, strings.Join(args, " "))
			}
			if cmds[0] != "SELECT 0" || cmds[1] != "SET k2 v2" {
				t.Fatalf("stream %q", cmds)
			}
		})
	}
}
