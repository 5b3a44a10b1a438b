package server

import (
	"errors"
	"net"
	"os"
	"time"
)

// Timing of connection housekeeping.
const (
	// queryBufIdle is how long a client may sit idle holding a query
	// buffer over readBufKeep before it is given back (Redis shrinks an
	// idle client's query buffer after 2 seconds).
	queryBufIdle = 2 * time.Second
	// errorWriteTimeout bounds the final write to a client being
	// disconnected, so one that does not read cannot pin its goroutine.
	errorWriteTimeout = time.Second
	// drainTime and drainMax bound how long and how much of a rejected
	// client's in-flight input is read and discarded (see lingerClose).
	drainTime = 100 * time.Millisecond
	drainMax  = 4 << 20
	// detachedDrain bounds how long a detached client's queued output may
	// take to go out when the client ends (QUIT from a MONITOR).
	detachedDrain = time.Second
)

// serveConn runs one accepted connection, whose client id is id, to its
// end: admission (maxclients, protected mode), then the client's
// read-execute-write loop, then cleanup.
func (s *Server) serveConn(nc net.Conn, id int64) {
	s.stats.connectionsReceived.Add(1)
	s.tuneConn(nc)
	c := s.newClient(nc, id)
	if msg := s.register(c); msg != "" {
		if msg != errShuttingDown {
			s.stats.rejectedConns.Add(1)
			s.refuse(nc, msg)
		}
		nc.Close()
		return
	}
	defer c.close()
	c.serve()
}

// errShuttingDown is register's verdict for a connection accepted while
// the server shuts down: it is closed without a reply.
const errShuttingDown = "shutting down"

// register admits c into the client table, or returns the error that
// refuses it. The count check and the insertion happen under one lock so
// concurrent accepts cannot overshoot maxclients. Like Redis, maxclients
// is checked first, then protected mode.
func (s *Server) register(c *Client) string {
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	switch {
	case s.shuttingDown:
		return errShuttingDown
	case int64(len(s.clients)) >= int64(s.cfg.MaxClients()):
		return "ERR max number of clients reached"
	case s.cfg.ProtectedMode() && s.cfg.RequirePass() == "" && !isLoopback(c.conn.RemoteAddr()):
		return protectedModeMsg
	}
	s.clients[c.ID] = c
	return ""
}

// refuse sends a connection the error that refuses it.
func (s *Server) refuse(nc net.Conn, msg string) {
	nc.SetWriteDeadline(time.Now().Add(errorWriteTimeout))
	n, err := nc.Write([]byte("-" + msg + "\r\n"))
	s.stats.netOutputBytes.Add(int64(n))
	if err == nil {
		lingerClose(nc)
	}
}

// tuneConn applies Redis's socket options: TCP_NODELAY, and keepalive
// probes after tcp-keepalive idle seconds (anetKeepAlive: probes every
// third of that, three of them), or none when it is 0.
func (s *Server) tuneConn(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	tc.SetNoDelay(true)
	ka := time.Duration(s.cfg.tcpKeepAlive.Load()) * time.Second
	if ka <= 0 {
		tc.SetKeepAlive(false)
		return
	}
	tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: ka, Interval: max(ka/3, time.Second), Count: 3})
}

// serve is the client's loop: execute every complete request buffered,
// write their replies, read more. It returns when the client is to be
// closed: on EOF, a read or write error (including the connection being
// closed by CLIENT KILL, timeout or Shutdown from another goroutine), a
// protocol error, or QUIT.
func (c *Client) serve() {
	for c.runBuffered() && c.read() {
	}
}

// runBuffered executes the complete requests in the read buffer and
// flushes their replies, and reports whether the connection stays open.
//
// Requests of one read run under a single acquisition of the execution
// lock (bounded by maxBatchUnderLock so other clients get their turn) and
// their replies go out in one write; the lock is always released before
// writing, since a write can block on a client that does not read.
func (c *Client) runBuffered() bool {
	s := c.s
	for !c.closing {
		args, msg := c.rd.next(c.authed, s.cfg.protoMaxBulkLen.Load())
		if msg != "" {
			c.protocolError(msg)
			return false
		}
		if args == nil {
			break
		}
		c.process(args)
		c.batch++
		if c.out != nil {
			// Detached (MONITOR): queue the reply now, under the lock, so
			// it precedes any monitor line of a command executed after it.
			// Queueing never blocks.
			c.flush()
			continue
		}
		if c.batch >= maxBatchUnderLock || c.W.Len() >= flushThreshold {
			c.release()
			if !c.flush() {
				return false
			}
		}
	}
	c.release()
	return c.flush() && !c.closing
}

// read waits for more request bytes and reports whether the connection
// stays open.
func (c *Client) read() bool {
	s := c.s
	rd := &c.rd
	idle := rd.shrinkIdle()
	if idle {
		c.conn.SetReadDeadline(time.Now().Add(queryBufIdle))
	}
	n, err := rd.fill(c.conn)
	if idle {
		c.conn.SetReadDeadline(time.Time{})
	}
	if n > 0 {
		s.stats.netInputBytes.Add(int64(n))
		c.lastInteraction.Store(s.nowNano())
		if limit := s.cfg.queryBufLimit.Load(); int64(rd.held()) > limit {
			s.log.Warn("closing client that reached max query buffer length", "id", c.ID, "addr", c.addr, "bytes", rd.held())
			return false
		}
		// A read error after data (rare: Go reports EOF on the next
		// Read) is seen again by the next read.
		return true
	}
	if idle && errors.Is(err, os.ErrDeadlineExceeded) {
		rd.release() // idle with a big buffer: give it back
		return true
	}
	return err == nil
}

// flush sends the buffered replies: one write for the whole batch, or onto
// the queue of a detached client. It reports false if the connection is
// to be closed: a write error, or a reply over the output buffer hard
// limit (client-output-buffer-limit normal), which disconnects the client
// instead of buffering it.
func (c *Client) flush() bool {
	c.batch = 0
	n := c.W.Len()
	if n == 0 {
		return true
	}
	if limit := c.s.cfg.outputHardLimit.Load(); limit > 0 && int64(n) > limit {
		c.s.log.Warn("closing client that exceeded the output buffer limit", "id", c.ID, "bytes", n, "limit", limit)
		c.W.Reset()
		c.closing = true
		return false
	}
	if c.out != nil {
		c.out.push(c.W.Bytes())
		c.W.Reset()
		return true
	}
	if err := c.waitAOF(); err != nil {
		// A write the AOF could not take is never acknowledged; the
		// client sees the connection drop instead.
		c.s.log.Warn("AOF fsync failed, closing the client without replying", "id", c.ID, "err", err)
		c.W.Reset()
		c.closing = true
		return false
	}
	w, err := c.conn.Write(c.W.Bytes())
	c.s.stats.netOutputBytes.Add(int64(w))
	c.W.Reset()
	return err == nil
}

// protocolError ends a connection whose request stream broke the framing
// rules, as Redis does: the requests before the bad bytes have been
// executed; their replies go out followed by "-ERR Protocol error: ...",
// and the connection is closed. Like any reply, the error is not sent
// under CLIENT REPLY OFF or SKIP, but it is counted.
func (c *Client) protocolError(msg string) {
	s := c.s
	c.release()
	s.log.Debug("closing client after protocol error", "id", c.ID, "addr", c.addr, "error", msg)
	s.countError("ERR " + msg)
	if c.replyMode == replyOn {
		c.W.Error("ERR " + msg)
	}
	if c.out != nil {
		c.flush() // close waits for the queue to drain
		return
	}
	c.conn.SetWriteDeadline(time.Now().Add(errorWriteTimeout))
	if c.flush() {
		lingerClose(c.conn)
	}
}

// lingerClose prepares closing a connection that was just sent a final
// error. Closing a socket with unread input makes the kernel send a
// reset, which can destroy the reply before the client reads it. Redis
// has usually read what the client sent by then, so its clients see the
// reply and a clean EOF; give ours the same by sending FIN now and
// briefly discarding what is still in flight.
func lingerClose(nc net.Conn) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	nc.SetReadDeadline(time.Now().Add(drainTime))
	buf := make([]byte, 16<<10)
	for total := 0; total < drainMax; {
		n, err := nc.Read(buf)
		total += n
		if err != nil {
			return
		}
	}
}

// close ends the connection and releases everything the client holds.
func (c *Client) close() {
	if c.out != nil {
		// Let queued output (the +OK of a monitor's QUIT) reach the
		// client, within bounds: the writer gives up once the
		// connection is closed.
		c.out.close()
		c.out.wait(detachedDrain)
	}
	c.conn.Close()
	c.teardown()
}
