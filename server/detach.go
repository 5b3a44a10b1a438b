package server

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// asyncOut carries replies and pushes to a detached client's socket from
// any goroutine without ever blocking the caller: bytes are queued and a
// writer goroutine drains them. A queue over its limit closes the client,
// which is how a stuck MONITOR or replica is dropped instead of eating
// memory.
type asyncOut struct {
	mu     sync.Mutex
	buf    []byte
	limit  int
	conn   net.Conn
	sent   *atomic.Int64 // the server's net output bytes counter
	wake   chan struct{}
	done   chan struct{} // closed when the writer goroutine ends
	closed bool
	// drained is signalled whenever the writer takes the queue, for
	// pushWait.
	drained *sync.Cond
	// soft and softFor are the soft limit of client-output-buffer-limit:
	// a queue that stays over soft bytes for softFor closes the client
	// too; overSince is when it last went over.
	soft      int
	softFor   time.Duration
	overSince time.Time
}

func newAsyncOut(conn net.Conn, limit int, sent *atomic.Int64) *asyncOut {
	o := &asyncOut{conn: conn, limit: limit, sent: sent, wake: make(chan struct{}, 1), done: make(chan struct{})}
	o.drained = sync.NewCond(&o.mu)
	go o.run()
	return o
}

// push queues b (copied) for the client.
func (o *asyncOut) push(b []byte) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	if (o.limit > 0 && len(o.buf)+len(b) > o.limit) || o.overSoft(len(o.buf)+len(b)) {
		o.closed = true
		o.drained.Broadcast()
		o.mu.Unlock()
		o.conn.Close()
		return
	}
	o.buf = append(o.buf, b...)
	o.mu.Unlock()
	o.signal()
}

// overSoft reports whether a queue of n bytes has been over the soft limit
// for longer than allowed. o.mu held.
func (o *asyncOut) overSoft(n int) bool {
	if o.soft <= 0 || n <= o.soft {
		o.overSince = time.Time{}
		return false
	}
	now := time.Now()
	if o.overSince.IsZero() {
		o.overSince = now
		return false
	}
	return now.Sub(o.overSince) > o.softFor
}

// pushWait queues b like push, but first waits while more than highWater
// bytes are queued: a producer much faster than the socket (a replica's
// snapshot) is paced by it instead of filling memory. It reports false if
// the output is closed.
func (o *asyncOut) pushWait(b []byte, highWater int) bool {
	o.mu.Lock()
	for len(o.buf) > highWater && !o.closed {
		o.drained.Wait()
	}
	if o.closed {
		o.mu.Unlock()
		return false
	}
	o.buf = append(o.buf, b...)
	o.mu.Unlock()
	o.signal()
	return true
}

// isClosed reports whether the output was closed (or dropped over its
// limit, or its connection failed).
func (o *asyncOut) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// close stops the writer once what is queued has been written.
func (o *asyncOut) close() {
	o.mu.Lock()
	o.closed = true
	o.drained.Broadcast()
	o.mu.Unlock()
	o.signal()
}

func (o *asyncOut) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// wait waits up to d for the writer to finish.
func (o *asyncOut) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-o.done:
	case <-t.C:
	}
}

func (o *asyncOut) run() {
	defer close(o.done)
	var spare []byte
	for range o.wake {
		o.gather()
		o.mu.Lock()
		data := o.buf
		o.buf = spare[:0]
		closed := o.closed
		o.drained.Broadcast()
		o.mu.Unlock()
		if len(data) > 0 {
			n, err := o.conn.Write(data)
			o.sent.Add(int64(n))
			if err != nil {
				o.mu.Lock()
				o.closed = true
				o.drained.Broadcast()
				o.mu.Unlock()
				o.conn.Close()
				return
			}
		}
		spare = data
		if closed {
			return
		}
	}
}

// gather lets producers that are ready append before the queue is written
// (a few scheduler yields while it keeps growing, up to 64 KiB): a stream
// fed by many clients' commands (a replica's) then goes out in a few large
// writes instead of one small write per command, which costs both ends a
// system call each.
func (o *asyncOut) gather() {
	o.mu.Lock()
	n := len(o.buf)
	o.mu.Unlock()
	for i := 0; i < 8 && n < 64<<10; i++ {
		runtime.Gosched()
		o.mu.Lock()
		m := len(o.buf)
		o.mu.Unlock()
		if m == n {
			return
		}
		n = m
	}
}

// detach routes the client's replies through an asyncOut, so other
// goroutines can push to it too without ever waiting for it (MONITOR,
// replication streams). The connection's own goroutine keeps reading and
// executing its requests; from now on it queues their replies instead of
// writing them. Called with the execution lock held.
func (c *Client) detach() {
	if c.out != nil {
		return
	}
	c.out = newAsyncOut(c.conn, 0, &c.s.stats.netOutputBytes)
}

// push sends out-of-band data to a detached client.
func (c *Client) push(b []byte) {
	if c.out != nil {
		c.out.push(b)
	}
}

// Kill closes the client's connection from any goroutine; the client's
// own goroutine then sees the read or write fail and cleans up. Callers
// hold the execution lock (c.out is set under it).
func (c *Client) Kill() {
	c.killed.Store(true)
	if sess := c.sql.Load(); sess != nil {
		sess.Interrupt() // a long statement would keep the client alive
	}
	if c.out != nil {
		c.out.close()
	}
	c.conn.Close()
}
