package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// multiListener accepts on every bound address as one net.Listener, and
// can be re-bound while serving (CONFIG SET port / bind), as Redis can:
// the new sockets are opened first, and only when all of them succeed are
// the old ones closed, so a failed change leaves the server listening.
type multiListener struct {
	mu    sync.Mutex
	lns   []net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// listenMulti binds every address of a Redis bind list on port. "*" means
// every IPv4 address and "::*" every IPv6 address; an address prefixed
// with "-" is optional (skipped if the host does not have it). An empty
// list binds every interface.
func listenMulti(addrs []string, port int) (*multiListener, error) {
	lns, err := bindAll(addrs, port)
	if err != nil {
		return nil, err
	}
	m := &multiListener{lns: lns, conns: make(chan net.Conn), done: make(chan struct{})}
	for _, ln := range lns {
		go m.acceptLoop(ln)
	}
	return m, nil
}

func bindAll(addrs []string, port int) ([]net.Listener, error) {
	if len(addrs) == 0 {
		addrs = []string{""}
	}
	var lns []net.Listener
	for _, a := range addrs {
		optional := strings.HasPrefix(a, "-")
		a = strings.TrimPrefix(a, "-")
		switch a {
		case "*":
			a = "0.0.0.0"
		case "::*":
			a = "::"
		}
		addr := net.JoinHostPort(a, strconv.Itoa(port))
		// IPv6 sockets are IPv6-only, as Redis makes them, so "* ::*"
		// binds both families on one port; keepalive is set per
		// connection from tcp-keepalive (see tuneConn).
		lc := net.ListenConfig{Control: v6Only, KeepAlive: -1}
		ln, err := lc.Listen(context.Background(), ipNetwork(a), addr)
		if err != nil {
			if optional && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT)) {
				continue
			}
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		lns = append(lns, ln)
		if port == 0 {
			// A random port is chosen once; the other addresses use it too.
			port = ln.Addr().(*net.TCPAddr).Port
		}
	}
	if len(lns) == 0 {
		return nil, fmt.Errorf("listen: none of the bind addresses %q is available", strings.Join(addrs, " "))
	}
	return lns, nil
}

// ipNetwork is the network to listen on for a bind address: an IP
// literal's own family, so "::" on a host without IPv6 fails (and an
// optional "-::*" is skipped) instead of Go falling back to IPv4's
// wildcard, which would collide with "*".
func ipNetwork(host string) string {
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return "tcp"
	case ip.To4() != nil:
		return "tcp4"
	}
	return "tcp6"
}

func (m *multiListener) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient failure (e.g. out of file descriptors): back off
			// briefly instead of spinning.
			select {
			case <-m.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		select {
		case m.conns <- c:
		case <-m.done:
			c.Close()
			return
		}
	}
}

// Accept returns the next connection from any bound address.
func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.done:
		return nil, net.ErrClosed
	}
}

// Close stops every listener.
func (m *multiListener) Close() error {
	m.once.Do(func() {
		close(m.done)
		m.mu.Lock()
		for _, ln := range m.lns {
			ln.Close()
		}
		m.mu.Unlock()
	})
	return nil
}

// Addr returns the first bound address.
func (m *multiListener) Addr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lns[0].Addr()
}

// rebind replaces the bound sockets with ones for addrs and port.
func (m *multiListener) rebind(addrs []string, port int) error {
	lns, err := bindAll(addrs, port)
	if err != nil {
		return err
	}
	m.mu.Lock()
	old := m.lns
	m.lns = lns
	m.mu.Unlock()
	for _, ln := range old {
		ln.Close()
	}
	for _, ln := range lns {
		go m.acceptLoop(ln)
	}
	return nil
}

// multi returns the server's listener, or nil before Listen.
func (s *Server) multi() *multiListener { return s.ln }

// listening reports whether the server has bound its sockets.
func (s *Server) listening() bool { return s.multi() != nil }

// rebind moves the listening sockets (CONFIG SET port / bind).
func (s *Server) rebind(addrs []string, port int) error {
	m := s.multi()
	if m == nil {
		return errors.New("not listening")
	}
	return m.rebind(addrs, port)
}

// listenPort returns the TCP port actually listened on (differs from the
// port directive when it is 0, which picks a free port).
func (s *Server) listenPort() int {
	if m := s.multi(); m != nil {
		if ta, ok := m.Addr().(*net.TCPAddr); ok {
			return ta.Port
		}
	}
	return s.cfg.Port
}
