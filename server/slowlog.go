package server

import (
	"time"
)

// slowlog is Redis's SLOWLOG: the most recent commands that took longer
// than slowlog-log-slower-than microseconds, newest first.
type slowlog struct {
	entries []slowlogEntry // ring, newest at the end
	nextID  int64
}

type slowlogEntry struct {
	id       int64
	at       int64 // unix seconds
	duration int64 // microseconds
	args     []string
	addr     string
	name     string
}

func (l *slowlog) init() {}

// Redis truncates recorded arguments: at most 32, each at most 128 bytes.
const (
	slowlogMaxArgc   = 32
	slowlogMaxArgLen = 128
)

// slowlogRecord is called after every command with the execution lock held.
func (s *Server) slowlogRecord(c *Client, args [][]byte, dur time.Duration) {
	threshold := s.cfg.slowlogSlowerThan.Load()
	if threshold < 0 || dur.Microseconds() < threshold {
		return
	}
	maxLen := int(s.cfg.slowlogMaxLen.Load())
	if maxLen <= 0 {
		return
	}
	if !c.locked {
		// Unlocked commands (SQL) record under the lock.
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	e := slowlogEntry{id: s.slowlog.nextID, at: time.Now().Unix(), duration: dur.Microseconds(), addr: c.conn.RemoteAddr(), name: c.Name()}
	s.slowlog.nextID++
	argc := len(args)
	if argc > slowlogMaxArgc {
		argc = slowlogMaxArgc
	}
	for i := 0; i < argc; i++ {
		if i == slowlogMaxArgc-1 && len(args) > slowlogMaxArgc {
			e.args = append(e.args, "... ("+itoa(len(args)-slowlogMaxArgc+1)+" more arguments)")
			break
		}
		a := args[i]
		if len(a) > slowlogMaxArgLen {
			e.args = append(e.args, string(a[:slowlogMaxArgLen])+"... ("+itoa(len(a)-slowlogMaxArgLen)+" more bytes)")
		} else {
			e.args = append(e.args, string(a))
		}
	}
	s.slowlog.entries = append(s.slowlog.entries, e)
	if over := len(s.slowlog.entries) - maxLen; over > 0 {
		s.slowlog.entries = append(s.slowlog.entries[:0], s.slowlog.entries[over:]...)
	}
}
