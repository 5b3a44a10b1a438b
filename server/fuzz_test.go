package server

// Fuzz targets for the request path. Each runs its seed corpus (in-code
// seeds plus testdata/fuzz/<Name>) as an ordinary test under `go test`;
// fuzz briefly with e.g.
//
//	go test ./server -run='^$' -fuzz='^FuzzRequestReader$' -fuzztime=10s
//	go test ./server -run='^$' -fuzz='^FuzzRequestStream$' -fuzztime=10s
//	go test ./server -run='^$' -fuzz='^FuzzCommands$' -fuzztime=10s

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/keyspace"
)

// refParse is a reference model of Redis 7.0's request parsing
// (processInputBuffer with processInlineBuffer and processMultibulkBuffer)
// over a whole buffer, written after the C code rather than after reader.go
// so the two can be compared. It returns the complete commands and the
// protocol error that ends the stream ("" if the rest is just incomplete).
//
// Like the C code it finds terminators with strchr semantics (a NUL byte
// hides every later terminator). Its size limits behave as if the bytes
// arrived one at a time — Redis checks them after each read, so the exact
// cut-over depends on how reads split the stream; reqReader fixes it there.
func refParse(buf []byte, authed bool, maxBulk int64) (cmds [][][]byte, errMsg string) {
	strchr := func(from int, c byte) int {
		for i := from; i < len(buf); i++ {
			switch buf[i] {
			case c:
				return i
			case 0:
				return -1
			}
		}
		return -1
	}
	pos := 0
	for pos < len(buf) {
		if buf[pos] != '*' {
			nl := strchr(pos, '\n')
			if nl < 0 || nl-pos > maxInlineSize {
				if len(buf)-pos > maxInlineSize {
					return cmds, protoErrBigInline
				}
				return cmds, ""
			}
			line := buf[pos:nl]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			args, ok := splitInline(line)
			if !ok {
				return cmds, protoErrQuotes
			}
			pos = nl + 1
			if len(args) > 0 {
				cmds = append(cmds, args)
			}
			continue
		}
		nl := strchr(pos, '\r')
		if nl < 0 || nl-pos > maxInlineSize {
			if len(buf)-pos > maxInlineSize {
				return cmds, protoErrBigMBCount
			}
			return cmds, ""
		}
		if nl+1 >= len(buf) {
			return cmds, "" // the byte after '\r' has not arrived
		}
		ll, ok := parseInt(buf[pos+1 : nl])
		if !ok || ll > 1<<31-1 {
			return cmds, protoErrInvalidMB
		}
		if ll > 10 && !authed {
			return cmds, protoErrUnauthMB
		}
		pos = nl + 2
		if ll <= 0 {
			continue
		}
		var args [][]byte
		for ; ll > 0; ll-- {
			nl := strchr(pos, '\r')
			if nl < 0 || nl-pos > maxInlineSize {
				if len(buf)-pos > maxInlineSize {
					return cmds, protoErrBigBulkCount
				}
				return cmds, ""
			}
			if nl+1 >= len(buf) {
				return cmds, ""
			}
			if buf[pos] != '$' {
				c := buf[pos]
				if c == '\r' || c == '\n' {
					c = ' '
				}
				return cmds, protoErrExpectDollar + string([]byte{c}) + "'"
			}
			bl, ok := parseInt(buf[pos+1 : nl])
			if !ok || bl < 0 || bl > maxBulk {
				return cmds, protoErrInvalidBulk
			}
			if bl > 16384 && !authed {
				return cmds, protoErrUnauthBulk
			}
			pos = nl + 2
			if int64(len(buf)-pos) < bl+2 {
				return cmds, ""
			}
			args = append(args, buf[pos:pos+int(bl)])
			pos += int(bl) + 2
		}
		cmds = append(cmds, args)
	}
	return cmds, ""
}

// chunkReader hands out its chunks one per Read, the way a socket
// delivers a stream in pieces.
type chunkReader struct{ chunks [][]byte }

func (cr *chunkReader) Read(p []byte) (int, error) {
	if len(cr.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, cr.chunks[0])
	if cr.chunks[0] = cr.chunks[0][n:]; len(cr.chunks[0]) == 0 {
		cr.chunks = cr.chunks[1:]
	}
	return n, nil
}

// feedReader parses a stream arriving as chunks with a fresh reqReader,
// the way a connection does (all complete requests, then read more), and
// returns the requests (copied) and the protocol error, if any.
func feedReader(chunks [][]byte, authed bool, maxBulk int64) ([][][]byte, string) {
	var rd reqReader
	src := &chunkReader{chunks: chunks}
	var cmds [][][]byte
	for {
		for {
			args, msg := rd.next(authed, maxBulk)
			if msg != "" {
				return cmds, msg
			}
			if args == nil {
				break
			}
			cmds = append(cmds, cloneArgs(args))
		}
		if _, err := rd.fill(src); err != nil {
			return cmds, ""
		}
	}
}

// splitChunks cuts data into pieces whose sizes come from split's bits, so
// the fuzzer explores every way a stream can arrive.
func splitChunks(data []byte, split uint64) [][]byte {
	var chunks [][]byte
	for len(data) > 0 {
		n := int(split%7) + 1
		switch split % 5 {
		case 0:
			n = len(data) // the rest at once
		case 1:
			n *= 97
		}
		split = split/7 + split<<59 // rotate so long inputs keep varying
		if n > len(data) {
			n = len(data)
		}
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	return chunks
}

func scanTestServer() *Server {
	return New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// readerSeeds are request streams worth starting from: valid RESP in
// several shapes, inline forms, every protocol error Redis has.
var readerSeeds = []string{
	"*1\r\n$4\r\nPING\r\n",
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
	"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
	"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n",
	"*1\rX$4\r\nPINGxyPING\r\n",
	"PING\r\nECHO \"a\\x41\\n\" 'b\\'c'\n\r\n   \r\n",
	"set a x\"b c\"\r\n",
	"ECHO \"unbalanced\r\n",
	"*2\r\n$3\r\nGET\r\n$-1\r\n",
	"*01\r\n",
	"*2\r\n*3\r\n",
	"*9999999999\r\n",
	"*1\r\n$4294967296\r\n",
	"*11\r\n",
	"*1\r\n$16385\r\n",
	"*1\x00\r\n$4\r\nPING\r\n",
	"GET a\x00b\r\n",
	"*1\r\n\r\n",
	"\xff\xfe\x00garbage\r\n*\r\n",
}

func FuzzRequestReader(f *testing.F) {
	for i, s := range readerSeeds {
		f.Add([]byte(s), uint64(i*7919), i%2 == 0)
	}
	maxBulk := scanTestServer().cfg.protoMaxBulkLen.Load()
	f.Fuzz(func(t *testing.T, data []byte, split uint64, authed bool) {
		// 1. Arbitrary bytes: the reader must agree with Redis's parser
		// on the commands and the error, however the stream is split.
		got, msg := feedReader(splitChunks(data, split), authed, maxBulk)
		want, wantMsg := refParse(data, authed, maxBulk)
		if msg != wantMsg {
			t.Fatalf("input %q: reader error %q, Redis would say %q", data, msg, wantMsg)
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Fatalf("input %q:\n reader %q\n redis  %q", data, got, want)
		}

		// 2. Any valid encoding of requests comes out as its arguments,
		// split anyhow or in one piece.
		args := bytes.Split(data, []byte{0})
		if len(args) > 64 {
			args = args[:64]
		}
		enc := cmdlog.AppendCommand(nil, args)
		enc = cmdlog.AppendCommand(enc, args[:1])
		wantArgs := fmt.Sprintf("%q", [][][]byte{args, args[:1]})
		for _, chunks := range [][][]byte{splitChunks(enc, split), {enc}} {
			got, msg := feedReader(chunks, true, maxBulk)
			if msg != "" || fmt.Sprintf("%q", got) != wantArgs {
				t.Fatalf("valid request %q: error %q, parsed as %q", enc, msg, got)
			}
		}
	})
}

// fuzzDenied are commands a fuzzer must not run against the shared test
// server: they stop it, reconfigure it, block, or change the connection's
// reply model (one reply per request).
var fuzzDenied = map[string]bool{
	"shutdown": true, "debug": true, "config": true, "client": true, "monitor": true,
	"quit": true, "replicaof": true, "slaveof": true, "sync": true, "psync": true,
	"failover": true, "acl": true, "save": true, "bgsave": true, "bgrewriteaof": true,
	"wait": true, "waitaof": true, "subscribe": true, "psubscribe": true, "ssubscribe": true,
	"unsubscribe": true, "punsubscribe": true, "sunsubscribe": true,
	"blpop": true, "brpop": true, "blmove": true, "brpoplpush": true, "blmpop": true,
	"bzpopmin": true, "bzpopmax": true, "bzmpop": true, "xread": true, "xreadgroup": true,
	"sync_slave": true, "pause": true, "module": true,
}

// startFuzzServer starts a server without the denied commands and with a
// small proto-max-bulk-len, so random arguments cannot make a command
// allocate hundreds of megabytes.
func startFuzzServer(t testing.TB) *testServer {
	return startServerTable(t, func(cfg *Config) {
		if err := cfg.Set("proto-max-bulk-len", "1mb"); err != nil {
			t.Fatal(err)
		}
	}, func(tb *Table) {
		for name, cmd := range tb.cmds {
			if fuzzDenied[name] || cmd.Flags&FlagAdmin != 0 {
				delete(tb.cmds, name)
			}
		}
	})
}

func FuzzRequestStream(f *testing.F) {
	for i, s := range readerSeeds {
		f.Add([]byte(s), uint64(i))
	}
	f.Add([]byte("MULTI\r\nSET a 1\r\nINCR a\r\nEXEC\r\nWATCH a\r\nMULTI\r\nGET a\r\nEXEC\r\n"), uint64(3))
	f.Add([]byte(strings.Repeat("*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n", 100)), uint64(12345))
	ts := startFuzzServer(f)
	probe := ts.raw(f)
	f.Fuzz(func(t *testing.T, data []byte, split uint64) {
		probe.t = t
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// Read concurrently: a stream of requests can produce more reply
		// than the socket buffers hold.
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, c)
			done <- err
		}()
		for _, chunk := range splitChunks(data, split) {
			if _, err := c.Write(chunk); err != nil {
				break // the server may close after a protocol error
			}
		}
		c.(*net.TCPConn).CloseWrite()
		// The server must finish the stream and close: a hang here is a bug.
		if err := <-done; err != nil && !isConnReset(err) {
			t.Fatalf("input %q: reading replies: %v", data, err)
		}
		// ... and still serve everybody else.
		probe.c.SetDeadline(time.Now().Add(5 * time.Second))
		if got := probe.do("PING"); got != "+PONG\r\n" {
			t.Fatalf("after input %q: PING on another connection = %q", data, got)
		}
	})
}

func isConnReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// fuzzWords are arguments that exercise option parsing and number edges.
var fuzzWords = []string{
	"k", "k2", "h", "", "0", "1", "-1", "2", "10", "-10", "100", "3.5", "-2.5e3", "1e3",
	"inf", "-inf", "+inf", "nan", "01", "+1", " 1", "9223372036854775807", "-9223372036854775808",
	"18446744073709551616", "0x10", "EX", "PX", "EXAT", "PXAT", "NX", "XX", "GT", "LT", "GET",
	"KEEPTTL", "PERSIST", "MATCH", "COUNT", "TYPE", "*", "?", "[a-", "\\", "WITHVALUES", "LEN",
	"IDX", "MINMATCHLEN", "WITHMATCHLEN", "AND", "OR", "XOR", "NOT", "BIT", "BYTE", "REPLACE",
	"DB", "ASYNC", "SYNC", "string", "hash", "ENCODING", "FREQ", "IDLETIME", "REFCOUNT", "HELP",
	"value", "\x00\xff", strings.Repeat("x", 100),
}

// fuzzCommandNames is the sorted list of commands the fuzzer may call, each
// with its subcommands.
func fuzzCommandNames(tb *Table) (names []string, subs map[string][]string) {
	subs = make(map[string][]string)
	for name, cmd := range tb.cmds {
		names = append(names, name)
		for sub := range cmd.Sub {
			subs[name] = append(subs[name], sub)
		}
		sort.Strings(subs[name])
	}
	sort.Strings(names)
	return names, subs
}

// decodeCommands turns fuzz bytes into up to 16 commands: a byte picks the
// command, one picks a subcommand, one the argument count, and each
// argument is a word from fuzzWords or a slice of the input itself.
func decodeCommands(data []byte, names []string, subs map[string][]string) [][]string {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	var cmds [][]string
	for len(data) > 0 && len(cmds) < 16 {
		name := names[int(next())%len(names)]
		argv := []string{name}
		if s := subs[name]; len(s) > 0 {
			argv = append(argv, s[int(next())%len(s)])
		}
		n := int(next() % 8)
		for i := 0; i < n; i++ {
			b := next()
			if b < 200 {
				argv = append(argv, fuzzWords[int(b)%len(fuzzWords)])
				continue
			}
			l := int(b - 200)
			if l > len(data) {
				l = len(data)
			}
			argv = append(argv, string(data[:l]))
			data = data[l:]
		}
		cmds = append(cmds, argv)
	}
	return cmds
}

func FuzzCommands(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("SET/GET/INCR and friends with random words"))
	f.Add(bytes.Repeat([]byte{17, 3, 4, 9, 200, 210, 99}, 20))
	for i := 0; i < 64; i++ {
		f.Add([]byte{byte(i), byte(i * 3), 5, byte(i), byte(i + 1), byte(i + 2), 3, 4, 5, 6})
	}
	ts := startFuzzServer(f)
	names, subs := fuzzCommandNames(ts.table)
	r := ts.raw(f)
	var mu sync.Mutex // the fuzz function may run in parallel in one process
	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		defer mu.Unlock()
		r.t = t
		r.c.SetDeadline(time.Now().Add(10 * time.Second))
		cmds := decodeCommands(data, names, subs)
		for _, argv := range cmds {
			reply := r.do(argv...)
			if strings.Contains(reply, "internal error while executing") {
				t.Fatalf("%q panicked: %s", argv, reply)
			}
		}
		// Back to a clean connection and keyspace for the next input.
		if got := r.do("RESET"); got != "+RESET\r\n" {
			t.Fatalf("after %q: RESET = %q", cmds, got)
		}
		ts.Exec(func(ks *keyspace.Keyspace) { ks.FlushAll() })
		if got := r.do("PING"); got != "+PONG\r\n" {
			t.Fatalf("after %q: PING = %q", cmds, got)
		}
	})
}

// TestRefParseMatchesRedis pins the reference model (and so the reader) to
// replies recorded from redis-server 7.0.15.
func TestRefParseMatchesRedis(t *testing.T) {
	max := int64(512 << 20)
	cases := []struct {
		in   string
		cmds string
		err  string
	}{
		{"*0\r\n*-1\r\n*-5\r\nPING\r\n", `[["PING"]]`, ""},
		{"*1\rX$4\r\nPINGxyPING\r\n", `[["PING"] ["PING"]]`, ""},
		{"set a \"b\\x41c\" \r\n", `[["set" "a" "bAc"]]`, ""},
		{"set a x\"b c\"\r\n", `[["set" "a" "xb c"]]`, ""},
		{"set a \"b\"c\r\n", `[]`, protoErrQuotes},
		{"ECHO 'a\\'b' \"\\x4g\"\n", `[["ECHO" "a'b" "x4g"]]`, ""},
		{"ECHO a\vb\r\nECHO a\rb\r\n\vECHO x\r\n", `[["ECHO" "a\vb"] ["ECHO" "a" "b"] ["ECHO" "x"]]`, ""},
		{"*1\r\n$4\r\nPING\r\n*1\n$4\r\n", `[["PING"]]`, protoErrInvalidMB},
		{"*1\x00\r\n$4\r\nPING\r\n", `[]`, ""},
		{"*1\r\n\r\n", `[]`, protoErrExpectDollar + " '"},
		{"*-9223372036854775808\r\nPING\r\n", `[["PING"]]`, ""},
		{"*-9223372036854775809\r\n", `[]`, protoErrInvalidMB},
		{"*2147483648\r\n", `[]`, protoErrInvalidMB},
		{"*1\r\n$536870913\r\n", `[]`, protoErrInvalidBulk},
		{"*1\r\n$-0\r\n", `[]`, protoErrInvalidBulk},
		{strings.Repeat("x", 65536), `[]`, ""},
		{strings.Repeat("x", 65537), `[]`, protoErrBigInline},
		{"*" + strings.Repeat("1", 70000), `[]`, protoErrBigMBCount},
		{"*1\r\n$" + strings.Repeat("1", 70000), `[]`, protoErrBigBulkCount},
	}
	for _, c := range cases {
		cmds, err := refParse([]byte(c.in), true, max)
		if got := fmt.Sprintf("%q", cmds); got != c.cmds && !(c.cmds == "[]" && len(cmds) == 0) || err != c.err {
			t.Errorf("%q: got %s %q, want %s %q", c.in, got, err, c.cmds, c.err)
		}
	}
}

// BenchmarkReaderPipeline measures the parser on what redis-benchmark
// -P 16 sends: canonical RESP.
func BenchmarkReaderPipeline(b *testing.B) {
	var chunk []byte
	for i := 0; i < 16; i++ {
		chunk = cmdlog.AppendCommand(chunk, [][]byte{[]byte("SET"), []byte(fmt.Sprintf("key:%012d", i)), []byte("xxx")})
	}
	var rd reqReader
	src := &repeatReader{data: chunk}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := rd.fill(src); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < 16; n++ {
			if args, msg := rd.next(true, 512<<20); len(args) != 3 || msg != "" {
				b.Fatalf("request %d: %q %q", n, args, msg)
			}
		}
	}
}
