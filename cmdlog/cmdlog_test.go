package cmdlog

import (
	"fmt"
	"sync"
	"testing"
)

func argv(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

// seqRecorder remembers the sequence numbers it was handed.
type seqRecorder struct{ seqs []uint64 }

func (r *seqRecorder) Publish(seq uint64, e *Entry) { r.seqs = append(r.seqs, seq) }

func TestLogNumbersAndFansOut(t *testing.T) {
	l := New()
	if l.Seq() != 0 {
		t.Fatalf("empty log Seq = %d", l.Seq())
	}
	// Entries before any subscriber are numbered but seen by nobody.
	if seq := l.Append(&Entry{Ops: []Op{{Argv: argv("SET", "a", "1")}}}); seq != 1 {
		t.Fatalf("first seq = %d", seq)
	}
	a, b := &seqRecorder{}, &seqRecorder{}
	l.Subscribe(a)
	l.Subscribe(b)
	l.Append(&Entry{Ops: []Op{{Argv: argv("SET", "b", "2")}}})
	l.Unsubscribe(a)
	l.Append(&Entry{Ops: []Op{{Argv: argv("SET", "c", "3")}}})
	l.Unsubscribe(a) // unknown subscriber: no-op
	l.Unsubscribe(b)
	l.Append(&Entry{Ops: []Op{{Argv: argv("SET", "d", "4")}}})
	if fmt.Sprint(a.seqs) != "[2]" || fmt.Sprint(b.seqs) != "[2 3]" {
		t.Fatalf("a saw %v, b saw %v", a.seqs, b.seqs)
	}
	if l.Seq() != 4 {
		t.Fatalf("Seq = %d, want 4", l.Seq())
	}
}

func TestRecorderDeepCopies(t *testing.T) {
	l := New()
	var r Recorder
	l.Subscribe(&r)
	// The producer reuses its buffers after Append, as the server does.
	buf := []byte("value")
	ops := []Op{{DB: 3, Argv: [][]byte{[]byte("SET"), []byte("k"), buf}}}
	l.Append(&Entry{Ops: ops, Atomic: true})
	copy(buf, "XXXXX")
	ops[0].DB = 9
	ops[0].Argv[0] = []byte("DEL")
	got := r.Entries()
	if len(got) != 1 || !got[0].Atomic || got[0].Ops[0].DB != 3 {
		t.Fatalf("entries = %+v", got)
	}
	if s := fmt.Sprintf("%q", got[0].Ops[0].Argv); s != `["SET" "k" "value"]` {
		t.Fatalf("argv = %s", s)
	}
}

// Subscribing and unsubscribing while entries are appended is race-free and
// a subscriber sees a contiguous run of entries.
func TestSubscribeConcurrentWithAppend(t *testing.T) {
	l := New()
	var mu sync.Mutex // plays the server's execution lock
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			l.Append(&Entry{Ops: []Op{{Argv: argv("INCR", "n")}}})
			mu.Unlock()
		}
	}()
	for i := 0; i < 50; i++ {
		r := &seqRecorder{}
		l.Subscribe(r)
		for l.Seq() < uint64(i*10) {
			// let some entries through
		}
		l.Unsubscribe(r)
		mu.Lock() // the writer cannot be inside Publish now
		seqs := r.seqs
		mu.Unlock()
		for j := 1; j < len(seqs); j++ {
			if seqs[j] != seqs[j-1]+1 {
				t.Fatalf("subscriber saw a gap: %v", seqs)
			}
		}
	}
	close(stop)
	wg.Wait()
}

func TestEncoder(t *testing.T) {
	enc := NewEncoder()
	var out []byte
	out = enc.Append(out, &Entry{Ops: []Op{{DB: 0, Argv: argv("SET", "a", "1")}}})
	// Same DB: no SELECT.
	out = enc.Append(out, &Entry{Ops: []Op{{DB: 0, Argv: argv("DEL", "a")}}})
	// Atomic entry spanning two DBs: SELECT before MULTI, SELECT inside.
	out = enc.Append(out, &Entry{Atomic: true, Ops: []Op{
		{DB: 2, Argv: argv("INCR", "x")},
		{DB: 5, Argv: argv("HSET", "h", "f", "")},
	}})
	// An atomic entry of one op is not wrapped (as Redis 7.0).
	out = enc.Append(out, &Entry{Atomic: true, Ops: []Op{{DB: 5, Argv: argv("INCR", "y")}}})
	// Empty entries encode to nothing.
	out = enc.Append(out, &Entry{})
	want := "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" +
		"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n" +
		"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n" +
		"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n" +
		"*1\r\n$5\r\nMULTI\r\n" +
		"*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n" +
		"*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n" +
		"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$0\r\n\r\n" +
		"*1\r\n$4\r\nEXEC\r\n" +
		"*2\r\n$4\r\nINCR\r\n$1\r\ny\r\n"
	if string(out) != want {
		t.Fatalf("encoding:\n got %q\nwant %q", out, want)
	}

	// SetDB: the reader is known to be in DB 7 already.
	enc = NewEncoder()
	enc.SetDB(7)
	out = enc.Append(nil, &Entry{Ops: []Op{{DB: 7, Argv: argv("PING")}}})
	if string(out) != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("after SetDB: %q", out)
	}
}

func BenchmarkAppendNoSubscribers(b *testing.B) {
	l := New()
	e := &Entry{Ops: []Op{{Argv: argv("SET", "k", "v")}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Append(e)
	}
}
