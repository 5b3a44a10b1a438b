package replication

import (
	"strconv"
	"sync"
	"time"
)

// State is where a replica is in its synchronization, as INFO names it.
type State int

// Replica states.
const (
	// StateWaitBgsave: waiting for a snapshot to start (another job runs).
	StateWaitBgsave State = iota
	// StateSendBulk: the snapshot is being sent; the stream after it is
	// buffered in the replica's sink.
	StateSendBulk
	// StateOnline: receiving the live stream.
	StateOnline
)

func (s State) String() string {
	switch s {
	case StateWaitBgsave:
		return "wait_bgsave"
	case StateSendBulk:
		return "send_bulk"
	}
	return "online"
}

// Sink is where a replica's stream goes: the server's non-blocking output
// queue of the replica's connection. Push must never block (a sink over its
// limit drops the replica) and must copy p.
type Sink interface {
	Push(p []byte)
	Close()
}

// Replica is one connected replica as the master sees it.
type Replica struct {
	// ClientID is the server's id of the replica's connection.
	ClientID int64
	// IP and Port are where the replica says it listens (REPLCONF
	// ip-address / listening-port; IP defaults to the peer address).
	IP   string
	Port int
	// CapaEOF and CapaPSYNC2 are the capabilities it announced.
	CapaEOF, CapaPSYNC2 bool
	// Legacy marks a replica that used SYNC: no +FULLRESYNC line.
	Legacy bool
	// HeaderSent is set once the payload header (or +CONTINUE) went out:
	// until then the master sends newlines as keepalives. The owner's
	// lock guards it.
	HeaderSent bool
	// Added is when the replica was registered.
	Added time.Time

	sink    Sink
	state   State
	ackOff  int64
	ackTime time.Time
	// pending is the stream produced while the snapshot is sent; it
	// follows the snapshot (Online).
	pending []byte
	// waitAck holds the stream back until the replica's first ACK after
	// a diskless snapshot (OnlineAfterAck); bulkAcked records an ACK that
	// came while the snapshot was still being sent (the replica has read
	// all of it: a replica ACKs only after loading).
	waitAck, bulkAcked bool
}

// Master is the master side's shared state: the backlog and ids, the
// replicas and their acknowledgements. Feed and the registry are called
// with the server's execution lock held; acknowledgements and WAIT use
// Master's own lock so a waiting client holds nothing else.
type Master struct {
	mu       sync.Mutex
	replicas []*Replica
	acked    chan struct{} // closed and replaced on every ACK (WAIT)
	// PendingLimit bounds the stream buffered for a replica while its
	// snapshot is sent (client-output-buffer-limit replica's hard limit;
	// 0: none): over it, the replica is dropped.
	PendingLimit int
}

// NewMaster returns a master state without replicas.
func NewMaster() *Master { return &Master{acked: make(chan struct{})} }

// Add registers a replica whose stream goes to sink, in state st.
func (m *Master) Add(r *Replica, sink Sink, st State) {
	m.mu.Lock()
	r.sink, r.state, r.ackTime, r.Added = sink, st, time.Now(), time.Now()
	m.replicas = append(m.replicas, r)
	m.mu.Unlock()
}

// Remove forgets the replica of client id (its connection closed).
func (m *Master) Remove(clientID int64) *Replica {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range m.replicas {
		if r.ClientID == clientID {
			m.replicas = append(m.replicas[:i], m.replicas[i+1:]...)
			return r
		}
	}
	return nil
}

// Get returns the replica of client id, or nil.
func (m *Master) Get(clientID int64) *Replica {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.replicas {
		if r.ClientID == clientID {
			return r
		}
	}
	return nil
}

// SetState moves a replica to st.
func (m *Master) SetState(r *Replica, st State) {
	m.mu.Lock()
	r.state = st
	m.mu.Unlock()
}

// Waiting returns the replicas waiting for a snapshot.
func (m *Master) Waiting() []*Replica {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Replica
	for _, r := range m.replicas {
		if r.state == StateWaitBgsave {
			out = append(out, r)
		}
	}
	return out
}

// Len returns the number of replicas (connected_slaves).
func (m *Master) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.replicas)
}

// Feed hands stream bytes to every replica that takes the stream: online
// ones get them now; those being sent a snapshot get them after it.
// Replicas still waiting for a snapshot get the stream from the snapshot's
// offset on, not now.
func (m *Master) Feed(p []byte) {
	m.mu.Lock()
	for _, r := range m.replicas {
		switch {
		case r.state == StateOnline && !r.waitAck:
			r.sink.Push(p)
		case r.state == StateSendBulk, r.waitAck:
			if m.PendingLimit > 0 && len(r.pending)+len(p) > m.PendingLimit {
				r.pending = nil
				r.state = StateWaitBgsave // takes no more stream
				r.sink.Close()
				continue
			}
			r.pending = append(r.pending, p...)
		}
	}
	m.mu.Unlock()
}

// Online moves a replica whose snapshot was sent to the live stream: what
// was produced meanwhile goes out first.
func (m *Master) Online(r *Replica) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(r.pending) > 0 {
		r.sink.Push(r.pending)
	}
	r.pending = nil
	r.state = StateOnline
	r.ackTime = time.Now()
}

// OnlineAfterAck is Online for a replica sent a diskless ($EOF) snapshot:
// the stream starts at its first ACK, as Redis does, because a replica
// finds the end mark only when nothing follows it in the same read.
func (m *Master) OnlineAfterAck(r *Replica) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.state = StateOnline
	r.ackTime = time.Now()
	if r.bulkAcked {
		if len(r.pending) > 0 {
			r.sink.Push(r.pending)
		}
		r.pending = nil
		return
	}
	r.waitAck = true
}

// Replicas returns the registered replicas.
func (m *Master) Replicas() []*Replica {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Replica(nil), m.replicas...)
}

// Sink returns the replica's sink.
func (r *Replica) Sink() Sink { return r.sink }

// CloseAll disconnects every replica (a full sync from our own master,
// which changes the history they follow, or shutdown).
func (m *Master) CloseAll() {
	m.mu.Lock()
	rs := m.replicas
	m.replicas = nil
	m.mu.Unlock()
	for _, r := range rs {
		r.sink.Close()
	}
}

// Ack records REPLCONF ACK offset from a replica and wakes WAITers.
func (m *Master) Ack(clientID int64, offset int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.replicas {
		if r.ClientID == clientID {
			if offset > r.ackOff {
				r.ackOff = offset
			}
			r.ackTime = time.Now()
			if r.state == StateSendBulk {
				r.bulkAcked = true
			}
			if r.waitAck {
				r.waitAck = false
				if len(r.pending) > 0 {
					r.sink.Push(r.pending)
				}
				r.pending = nil
			}
		}
	}
	close(m.acked)
	m.acked = make(chan struct{})
}

// Acked returns how many online replicas acknowledged offset, and a channel
// closed at the next acknowledgement.
func (m *Master) Acked(offset int64) (int, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.replicas {
		if r.state == StateOnline && r.ackOff >= offset {
			n++
		}
	}
	return n, m.acked
}

// Wait blocks until n replicas acknowledged offset or timeout passes (0:
// forever) or stop is closed, and returns how many did (WAIT).
func (m *Master) Wait(offset int64, n int, timeout time.Duration, stop <-chan struct{}) int {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		got, next := m.Acked(offset)
		if got >= n {
			return got
		}
		select {
		case <-next:
		case <-deadline:
			got, _ = m.Acked(offset)
			return got
		case <-stop:
			got, _ = m.Acked(offset)
			return got
		}
	}
}

// Good counts online replicas whose last acknowledgement is at most
// maxLag seconds old (min-replicas-to-write).
func (m *Master) Good(maxLag int64, now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.replicas {
		if r.state == StateOnline && int64(now.Sub(r.ackTime)/time.Second) <= maxLag {
			n++
		}
	}
	return n
}

// TimedOut returns the online replicas whose last acknowledgement is older
// than timeout (repl-timeout).
func (m *Master) TimedOut(timeout time.Duration, now time.Time) []*Replica {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Replica
	for _, r := range m.replicas {
		if r.state == StateOnline && now.Sub(r.ackTime) > timeout {
			out = append(out, r)
		}
	}
	return out
}

// Info is one replica's line of INFO replication.
type Info struct {
	IP     string
	Port   int
	State  State
	Offset int64
	Lag    int64
}

// List returns every replica's INFO fields, in connection order.
func (m *Master) List(now time.Time) []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Info, len(m.replicas))
	for i, r := range m.replicas {
		out[i] = Info{IP: r.IP, Port: r.Port, State: r.state, Offset: r.ackOff, Lag: int64(now.Sub(r.ackTime) / time.Second)}
	}
	return out
}

// String renders the INFO value "ip=…,port=…,state=…,offset=…,lag=…".
func (i Info) String() string {
	return "ip=" + i.IP + ",port=" + strconv.Itoa(i.Port) + ",state=" + i.State.String() +
		",offset=" + strconv.FormatInt(i.Offset, 10) + ",lag=" + strconv.FormatInt(i.Lag, 10)
}
