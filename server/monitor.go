package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/sdsquote"
)

// monitorSet holds the clients in MONITOR mode. feed is called with the
// execution lock held, so lines reach monitors in execution order; the
// writes themselves are queued (asyncOut) and never block the caller.
type monitorSet struct {
	mu      sync.Mutex
	clients []*Client
	count   atomic.Int32
}

func (m *monitorSet) add(c *Client) {
	m.mu.Lock()
	m.clients = append(m.clients, c)
	m.count.Store(int32(len(m.clients)))
	m.mu.Unlock()
}

func (m *monitorSet) remove(c *Client) {
	m.mu.Lock()
	for i, x := range m.clients {
		if x == c {
			m.clients = append(m.clients[:i:i], m.clients[i+1:]...)
			break
		}
	}
	m.count.Store(int32(len(m.clients)))
	m.mu.Unlock()
}

// feed sends one command line to every monitor, formatted like Redis:
// +1700000000.123456 [0 127.0.0.1:50000] "set" "k" "v"
func (m *monitorSet) feed(c *Client, args [][]byte) {
	now := time.Now()
	line := make([]byte, 0, 64)
	line = append(line, '+')
	line = strconv.AppendInt(line, now.Unix(), 10)
	line = append(line, '.')
	us := strconv.FormatInt(int64(now.Nanosecond()/1000), 10)
	for i := len(us); i < 6; i++ {
		line = append(line, '0')
	}
	line = append(line, us...)
	line = append(line, " ["...)
	line = strconv.AppendInt(line, int64(c.DBIndex), 10)
	line = append(line, ' ')
	line = append(line, c.addr...)
	line = append(line, ']')
	for _, a := range args {
		line = append(line, ' ')
		line = sdsquote.AppendRepr(line, a)
	}
	line = append(line, '\r', '\n')
	m.mu.Lock()
	for _, mc := range m.clients {
		if mc == c {
			// A monitor's own command: its line follows the command's
			// reply, as in Redis (which feeds monitors after the call).
			c.W.Raw(line)
			continue
		}
		mc.push(line)
	}
	m.mu.Unlock()
}
