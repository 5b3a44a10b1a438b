package replication

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/thredis/thredis/cmdlog"
)

// EOFMarkLen is the length of the random mark that ends a diskless
// payload ("$EOF:<mark>\r\n" … "<mark>").
const EOFMarkLen = 40

// HandshakeConfig is what a replica tells its master.
type HandshakeConfig struct {
	// User and Password authenticate (masteruser / masterauth); no AUTH
	// when Password is empty.
	User, Password string
	// ListeningPort and AnnounceIP are sent as REPLCONF listening-port and
	// ip-address (AnnounceIP "" is not sent).
	ListeningPort int
	AnnounceIP    string
	// ReplID and Offset ask to continue a history: PSYNC ReplID Offset+1.
	// ReplID "" asks for a full sync (PSYNC ? -1).
	ReplID string
	Offset int64
	// Timeout bounds each reply (repl-timeout).
	Timeout time.Duration
}

// SyncReply is the master's answer to PSYNC.
type SyncReply struct {
	// Full is true for +FULLRESYNC: a payload follows, then the stream
	// from Offset.
	Full bool
	// ReplID is the master's replication id (for +CONTINUE, its new id
	// when it changed, or "" from a master that does not say).
	ReplID string
	Offset int64
}

// ErrRetryLater is returned when the master cannot serve a sync right now
// (-LOADING, -NOMASTERLINK, -MASTERDOWN): try again after a pause.
var ErrRetryLater = errors.New("master cannot sync now")

// Handshake runs a replica's side of the handshake on conn (PING, AUTH,
// REPLCONF listening-port / ip-address / capa eof psync2, PSYNC) and
// returns the master's PSYNC reply. br must read conn; it keeps whatever
// follows the reply (the payload or the stream).
func Handshake(conn net.Conn, br *bufio.Reader, cfg HandshakeConfig) (SyncReply, error) {
	send := func(args ...string) (string, error) {
		if cfg.Timeout > 0 {
			conn.SetDeadline(time.Now().Add(cfg.Timeout))
		}
		argv := make([][]byte, len(args))
		for i, a := range args {
			argv[i] = []byte(a)
		}
		if _, err := conn.Write(cmdlog.AppendCommand(nil, argv)); err != nil {
			return "", fmt.Errorf("sending %s: %w", args[0], err)
		}
		line, err := readLine(br)
		if err != nil {
			return "", fmt.Errorf("reading the reply to %s: %w", args[0], err)
		}
		return line, nil
	}
	defer conn.SetDeadline(time.Time{})

	line, err := send("PING")
	if err != nil {
		return SyncReply{}, err
	}
	// A master that requires AUTH answers -NOAUTH: AUTH follows anyway.
	if strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "-NOAUTH") && !strings.HasPrefix(line, "-NOPERM") &&
		!strings.HasPrefix(line, "-ERR operation not permitted") {
		return SyncReply{}, fmt.Errorf("error reply to PING from master: %s", line[1:])
	}
	if cfg.Password != "" {
		args := []string{"AUTH", cfg.Password}
		if cfg.User != "" {
			args = []string{"AUTH", cfg.User, cfg.Password}
		}
		if line, err = send(args...); err != nil {
			return SyncReply{}, err
		}
		if strings.HasPrefix(line, "-") {
			return SyncReply{}, fmt.Errorf("unable to AUTH to MASTER: %s", line[1:])
		}
	}
	// Errors to REPLCONF are not fatal (an old master), as in Redis.
	if _, err = send("REPLCONF", "listening-port", strconv.Itoa(cfg.ListeningPort)); err != nil {
		return SyncReply{}, err
	}
	if cfg.AnnounceIP != "" {
		if _, err = send("REPLCONF", "ip-address", cfg.AnnounceIP); err != nil {
			return SyncReply{}, err
		}
	}
	if _, err = send("REPLCONF", "capa", "eof", "capa", "psync2"); err != nil {
		return SyncReply{}, err
	}
	id, off := "?", "-1"
	if cfg.ReplID != "" {
		id, off = cfg.ReplID, strconv.FormatInt(cfg.Offset+1, 10)
	}
	if line, err = send("PSYNC", id, off); err != nil {
		return SyncReply{}, err
	}
	return ParseSyncReply(line)
}

// ParseSyncReply parses the reply line to PSYNC.
func ParseSyncReply(line string) (SyncReply, error) {
	switch {
	case strings.HasPrefix(line, "+FULLRESYNC"):
		f := strings.Fields(line)
		if len(f) != 3 || len(f[1]) != 40 {
			return SyncReply{}, fmt.Errorf("bad FULLRESYNC reply from master: %q", line)
		}
		off, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || off < 0 {
			return SyncReply{}, fmt.Errorf("bad FULLRESYNC offset from master: %q", line)
		}
		return SyncReply{Full: true, ReplID: f[1], Offset: off}, nil
	case strings.HasPrefix(line, "+CONTINUE"):
		f := strings.Fields(line)
		r := SyncReply{}
		if len(f) >= 2 && len(f[1]) == 40 {
			r.ReplID = f[1]
		}
		return r, nil
	case strings.HasPrefix(line, "-NOMASTERLINK"), strings.HasPrefix(line, "-LOADING"), strings.HasPrefix(line, "-MASTERDOWN"):
		return SyncReply{}, fmt.Errorf("%w: %s", ErrRetryLater, line[1:])
	case strings.HasPrefix(line, "-"):
		return SyncReply{}, fmt.Errorf("error reply to PSYNC from master: %s", line[1:])
	}
	return SyncReply{}, fmt.Errorf("unexpected reply to PSYNC from master: %q", line)
}

// readLine reads one reply line without its "\r\n", skipping the bare
// newlines a master sends as keepalives while it prepares a payload.
func readLine(br *bufio.Reader) (string, error) {
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return "", errors.New("reply line too long")
		}
		if err != nil {
			return "", err
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s != "" {
			return s, nil
		}
	}
}

// Payload is the RDB transfer that follows +FULLRESYNC.
type Payload struct {
	br   *bufio.Reader
	mark []byte // diskless: the end mark; nil for the $<len> form
	size int64  // $<len> form: the payload length
	lim  *io.LimitedReader
}

// ReadPayload reads the payload header ("$<len>" or "$EOF:<mark>"), skipping
// keepalive newlines; idle bounds the wait for it (0: none).
func ReadPayload(conn net.Conn, br *bufio.Reader, idle time.Duration) (*Payload, error) {
	if idle > 0 {
		conn.SetReadDeadline(time.Now().Add(idle))
		defer conn.SetReadDeadline(time.Time{})
	}
	var line string
	for {
		var err error
		// Keepalives keep coming while the master prepares the payload.
		if line, err = readLine(br); err != nil {
			return nil, fmt.Errorf("reading the sync payload header: %w", err)
		}
		if idle > 0 {
			conn.SetReadDeadline(time.Now().Add(idle))
		}
		if line != "" {
			break
		}
	}
	if line[0] == '-' {
		return nil, fmt.Errorf("master aborted the sync: %s", line[1:])
	}
	if line[0] != '$' {
		return nil, fmt.Errorf("bad protocol from master, expected the payload header: %q", line)
	}
	if rest, ok := strings.CutPrefix(line[1:], "EOF:"); ok {
		if len(rest) != EOFMarkLen {
			return nil, fmt.Errorf("bad EOF mark from master: %q", line)
		}
		return &Payload{br: br, mark: []byte(rest), size: -1}, nil
	}
	n, err := strconv.ParseInt(line[1:], 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("bad payload length from master: %q", line)
	}
	return &Payload{br: br, size: n, lim: &io.LimitedReader{R: br, N: n}}, nil
}

// Diskless reports whether the payload uses the $EOF form.
func (p *Payload) Diskless() bool { return p.mark != nil }

// Size returns the announced length, -1 for the $EOF form.
func (p *Payload) Size() int64 { return p.size }

// Reader returns the payload's RDB bytes. For the $EOF form it is the
// connection's reader itself: the RDB decoder reads exactly up to the RDB's
// end (it reads byte-wise from a bufio.Reader), and Finish checks the mark
// that follows.
func (p *Payload) Reader() io.Reader {
	if p.lim != nil {
		return p.lim
	}
	return p.br
}

// Finish checks that the whole payload was consumed: the announced length
// exactly, or the end mark right after the RDB.
func (p *Payload) Finish() error {
	if p.lim != nil {
		if p.lim.N != 0 {
			return fmt.Errorf("the RDB ended %d bytes before the payload's announced end", p.lim.N)
		}
		return nil
	}
	got := make([]byte, EOFMarkLen)
	if _, err := io.ReadFull(p.br, got); err != nil {
		return fmt.Errorf("reading the payload's end mark: %w", err)
	}
	if !bytes.Equal(got, p.mark) {
		return errors.New("the payload's end mark does not follow the RDB")
	}
	return nil
}
