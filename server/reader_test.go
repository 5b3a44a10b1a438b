package server

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/thredis/thredis/cmdlog"
)

// repeatReader returns data on every Read, like a client that keeps
// sending the same pipeline.
type repeatReader struct{ data []byte }

func (r *repeatReader) Read(p []byte) (int, error) { return copy(p, r.data), nil }

// Parsing ordinary traffic allocates nothing: RESP requests and inline
// commands alike come out as slices of the read buffer (or of the reused
// inline scratch space), with the argument slice reused.
func TestReaderZeroAllocs(t *testing.T) {
	var batch []byte
	for i := 0; i < 16; i++ {
		batch = cmdlog.AppendCommand(batch, [][]byte{[]byte("SET"), []byte(fmt.Sprintf("key:%06d", i)), []byte("xxx")})
	}
	batch = append(batch, "PING\r\nECHO \"a b\" c\r\n"...)
	var rd reqReader
	src := &repeatReader{data: batch}
	run := func() {
		if _, err := rd.fill(src); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 18; n++ {
			if args, msg := rd.next(true, 512<<20); args == nil || msg != "" {
				t.Fatalf("request %d: %q %q", n, args, msg)
			}
		}
		if args, msg := rd.next(true, 512<<20); args != nil || msg != "" {
			t.Fatalf("extra request %q %q", args, msg)
		}
	}
	run() // warm up: the buffers grow once
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("%v allocations per pipeline of 18 requests, want 0", n)
	}
}

// The arguments handed out cannot be grown into the bytes that follow
// them in the buffer.
func TestReaderArgsCapped(t *testing.T) {
	var rd reqReader
	if _, err := rd.fill(&chunkReader{chunks: [][]byte{[]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n")}}); err != nil {
		t.Fatal(err)
	}
	args, _ := rd.next(true, 512<<20)
	_ = append(args[0], "XXXXXXXX"...)
	_ = append(args[1], "XXXXXXXX"...)
	if args, _ := rd.next(true, 512<<20); len(args) != 1 || string(args[0]) != "PING" {
		t.Fatalf("next request corrupted: %q", args)
	}
}

// A request that trickles in is parsed incrementally: each read costs
// what it brings, not a re-parse of everything received so far (which,
// for a "*2147483647" header followed by a stream of tiny arguments, would
// be quadratic).
func TestReaderIncremental(t *testing.T) {
	var rd reqReader
	chunks := [][]byte{[]byte("*1\r\n$4\r\nPING\r\n*2147483647\r\n")}
	const pieces = 200000
	for i := 0; i < pieces; i++ {
		chunks = append(chunks, []byte("$1\r\na\r\n"))
	}
	src := &chunkReader{chunks: chunks}
	start := time.Now()
	var got int
	for {
		args, msg := rd.next(true, 512<<20)
		if msg != "" {
			t.Fatal(msg)
		}
		if args != nil {
			got++
			continue
		}
		if _, err := rd.fill(src); err != nil {
			break
		}
	}
	if got != 1 || len(rd.spans) != pieces {
		t.Fatalf("%d requests, %d arguments pending; want 1 and %d", got, len(rd.spans), pieces)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("parsing %d trickled arguments took %v", pieces, d)
	}

	// A bulk split anywhere, even inside its header and its CRLF.
	req := []byte("*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$10\r\n0123456789\r\n")
	for cut := 1; cut < len(req); cut++ {
		got, msg := feedReader([][]byte{req[:cut], req[cut:]}, true, 512<<20)
		if msg != "" || fmt.Sprintf("%q", got) != `[["SET" "key:1" "0123456789"]]` {
			t.Fatalf("cut at %d: %q %q", cut, got, msg)
		}
	}
}

// A large bulk is read into a buffer sized for it as soon as its header
// is known (not regrown as it arrives), and a big buffer is dropped once
// the requests no longer need it.
func TestReaderBufferSizing(t *testing.T) {
	const size = 1 << 20
	req := cmdlog.AppendCommand(nil, [][]byte{[]byte("SET"), []byte("k"), bytes.Repeat([]byte("v"), size)})
	var chunks [][]byte
	for rest := req; len(rest) > 0; {
		n := min(len(rest), 16<<10)
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	var rd reqReader
	src := &chunkReader{chunks: chunks}
	buffers := map[*byte]bool{}
	for {
		args, msg := rd.next(true, 512<<20)
		if msg != "" {
			t.Fatal(msg)
		}
		if args != nil {
			if len(args) != 3 || len(args[2]) != size {
				t.Fatalf("parsed %d args", len(args))
			}
			continue
		}
		if _, err := rd.fill(src); err != nil {
			break
		}
		buffers[&rd.buf[:1][0]] = true
	}
	if len(buffers) > 2 {
		t.Fatalf("a %d-byte bulk went through %d buffers, want at most 2 (initial, then sized)", size, len(buffers))
	}

	// Still in use: kept (the caller arms an idle timer and calls release).
	if !rd.shrinkIdle() || cap(rd.buf) < size {
		t.Fatalf("big buffer in use: shrinkIdle did not keep it (cap %d)", cap(rd.buf))
	}
	rd.release()
	if rd.buf != nil {
		t.Fatalf("release kept %d bytes", cap(rd.buf))
	}

	// Grown again, then small requests only: dropped at the next check.
	feed := func(b []byte) { // b in reads of whatever size the buffer offers
		t.Helper()
		src := &chunkReader{chunks: [][]byte{b}}
		for {
			for {
				args, msg := rd.next(true, 512<<20)
				if msg != "" {
					t.Fatal(msg)
				}
				if args == nil {
					break
				}
			}
			if len(src.chunks) == 0 {
				return
			}
			if _, err := rd.fill(src); err != nil {
				t.Fatal(err)
			}
		}
	}
	for rest := req; len(rest) > 0; {
		n := min(len(rest), 64<<10)
		feed(rest[:n])
		rest = rest[n:]
	}
	rd.shrinkIdle() // resets the peak
	feed([]byte("*1\r\n$4\r\nPING\r\n"))
	if rd.shrinkIdle() || rd.buf != nil {
		t.Fatalf("buffer of %d bytes kept after small requests", cap(rd.buf))
	}
	feed([]byte("*1\r\n$4\r\nPING\r\n"))
	if cap(rd.buf) > readBufKeep {
		t.Fatalf("small requests use a %d-byte buffer", cap(rd.buf))
	}
}

// A declared bulk is not allocated ahead of its bytes beyond maxPresize,
// so a bare header cannot make the server reserve hundreds of megabytes.
func TestReaderPresizeBounded(t *testing.T) {
	var rd reqReader
	chunks := [][]byte{[]byte("*1\r\n$536870912\r\n")}
	for i := 0; i < 1000; i++ {
		chunks = append(chunks, []byte("abc"))
	}
	src := &chunkReader{chunks: chunks}
	for range chunks {
		if _, err := rd.fill(src); err != nil {
			t.Fatal(err)
		}
		if args, msg := rd.next(true, 512<<20); args != nil || msg != "" {
			t.Fatalf("%q %q", args, msg)
		}
	}
	if c := cap(rd.buf); c > 2*maxPresize {
		t.Fatalf("buffer of %d bytes for 3000 bytes of payload", c)
	}
}

// The protocol error texts and the point where they are detected do not
// depend on how the stream is split (see also FuzzRequestReader).
func TestReaderErrorsAnySplit(t *testing.T) {
	cases := []struct{ in, err string }{
		{"*1\r\n$4\r\nPING\r\n*x\r\n", protoErrInvalidMB},
		{"*1\r\n\xff\r\n", protoErrExpectDollar + "\xff'"},
		{"*1\r\n$-1\r\n", protoErrInvalidBulk},
		{"PING\r\nSET a \"b\r\n", protoErrQuotes},
		{strings.Repeat("x", maxInlineSize+1), protoErrBigInline},
		{"*" + strings.Repeat("1", maxInlineSize), protoErrBigMBCount},
		{"*1\r\n$" + strings.Repeat("1", maxInlineSize), protoErrBigBulkCount},
		{"*1\x00" + strings.Repeat("x", maxInlineSize), protoErrBigMBCount},
	}
	for _, c := range cases {
		for _, step := range []int{1, 7, 4096, len(c.in)} {
			var chunks [][]byte
			for i := 0; i < len(c.in); i += step {
				chunks = append(chunks, []byte(c.in[i:min(i+step, len(c.in))]))
			}
			if _, msg := feedReader(chunks, true, 512<<20); msg != c.err {
				t.Errorf("%.40q in %d-byte reads: error %q, want %q", c.in, step, msg, c.err)
			}
		}
	}
}
