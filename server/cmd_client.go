package server

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// clientCommands returns the CLIENT command family's rows of the command
// table.
func clientCommands() []*Command {
	conn := FlagNoScript | FlagLoading | FlagStale
	admin := FlagAdmin | conn
	row := func(arity int, flags Flag, since, summary string, h Handler, tips ...string) *Command {
		return &Command{Arity: arity, Flags: flags, Group: "connection", Since: since, Summary: summary, Handler: h, Tips: tips}
	}
	return []*Command{
		{Name: "client", Arity: -2, Group: "connection", Summary: "A container for client connection commands",
			Since: "2.4.0", Handler: dispatchSub, Sub: map[string]*Command{
				"id":      row(2, conn, "5.0.0", "Returns the client ID for the current connection", cmdClientID),
				"setname": row(3, conn, "2.6.9", "Set the current connection name", cmdClientSetName),
				"getname": row(2, conn, "2.6.9", "Get the current connection name", cmdClientGetName),
				"list": row(-2, admin, "2.4.0", "Get the list of client connections", cmdClientList,
					"nondeterministic_output"),
				"info": row(2, conn, "6.2.0", "Returns information about the current client connection.", cmdClientInfo,
					"nondeterministic_output"),
				"kill":     row(-3, admin, "2.4.0", "Kill the connection of a client", cmdClientKill),
				"setinfo":  row(4, conn, "7.2.0", "Set client or connection specific info", cmdClientSetInfo),
				"no-evict": row(3, admin, "7.0.0", "Set client eviction mode for the current connection", cmdClientNoEvict),
				"no-touch": row(3, conn, "7.2.0", "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.", cmdClientNoTouch),
				"reply":    row(3, conn, "3.2.0", "Instruct the server whether to reply to commands", cmdClientReply),
				"help":     row(2, FlagLoading|FlagStale, "5.0.0", "Show helpful text about the different subcommands", cmdClientHelp),
			}},
	}
}

func cmdClientID(c *Client, args [][]byte) { c.W.Int(c.ID) }

func cmdClientSetName(c *Client, args [][]byte) {
	name := string(args[2])
	if !validClientName(name) {
		c.replyError("ERR Client names cannot contain spaces, newlines or special characters.")
		return
	}
	if name == "" {
		c.name.Store(nil)
	} else {
		c.name.Store(&name)
	}
	c.W.OK()
}

func cmdClientGetName(c *Client, args [][]byte) {
	if p := c.name.Load(); p != nil {
		c.W.BulkString(*p)
		return
	}
	c.W.Null()
}

// Client types, as CLIENT LIST TYPE and CLIENT KILL TYPE name them.
const (
	clientTypeNormal = iota
	clientTypeReplica
	clientTypePubSub
	clientTypeMaster
)

func clientTypeByName(name string) int {
	switch strings.ToLower(name) {
	case "normal":
		return clientTypeNormal
	case "slave", "replica":
		return clientTypeReplica
	case "pubsub":
		return clientTypePubSub
	case "master":
		return clientTypeMaster
	}
	return -1
}

// clientType classifies a client like Redis's getClientType: monitors
// count as normal clients.
func (c *Client) clientType() int {
	f := c.flags.Load()
	switch {
	case f&uint32(clientMaster) != 0:
		return clientTypeMaster
	case f&uint32(clientReplica) != 0 && f&uint32(clientMonitor) == 0:
		return clientTypeReplica
	}
	return clientTypeNormal
}

// clientsByID returns every connected client, oldest first.
func (s *Server) clientsByID() []*Client {
	s.clientMu.Lock()
	out := make([]*Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c)
	}
	s.clientMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) clientByID(id int64) *Client {
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	return s.clients[id]
}

func cmdClientList(c *Client, args [][]byte) {
	var b strings.Builder
	switch {
	case len(args) == 4 && strings.EqualFold(string(args[2]), "type"):
		typ := clientTypeByName(string(args[3]))
		if typ < 0 {
			c.replyError("ERR Unknown client type '" + string(args[3]) + "'")
			return
		}
		for _, o := range c.s.clientsByID() {
			if o.clientType() == typ {
				b.WriteString(c.clientInfo(o))
				b.WriteByte('\n')
			}
		}
	case len(args) > 3 && strings.EqualFold(string(args[2]), "id"):
		for _, a := range args[3:] {
			id, ok := parseInt(a)
			if !ok {
				c.replyError("ERR Invalid client ID")
				return
			}
			if o := c.s.clientByID(id); o != nil {
				b.WriteString(c.clientInfo(o))
				b.WriteByte('\n')
			}
		}
	case len(args) != 2:
		c.replyError(errSyntax)
		return
	default:
		for _, o := range c.s.clientsByID() {
			b.WriteString(c.clientInfo(o))
			b.WriteByte('\n')
		}
	}
	c.W.Verbatim(b.String())
}

func cmdClientInfo(c *Client, args [][]byte) {
	c.W.Verbatim(c.clientInfo(c) + "\n")
}

// clientInfo renders o as one CLIENT LIST line, in Redis 7.0's field order
// (plus 7.2's lib-name/lib-ver). It runs with the execution lock held, so
// o's lock-guarded fields are stable; fields its own goroutine writes
// outside the lock (the reply buffer, the query buffer) are reported only
// for the calling client.
func (c *Client) clientInfo(o *Client) string {
	now := time.Now()
	self := o == c
	var argvMem, obl int
	cmdName := "NULL"
	if self {
		for _, a := range c.args {
			argvMem += len(a)
		}
		obl = c.W.Len()
		if c.cmd != nil {
			cmdName = c.cmd.FullName()
		}
	} else if last := o.lastCmd.Load(); last != nil {
		cmdName = last.FullName()
	}
	omem := 0
	if o.out != nil {
		o.out.mu.Lock()
		omem = len(o.out.buf)
		o.out.mu.Unlock()
	}
	multi := -1
	f := o.flags.Load()
	if f&uint32(clientMulti) != 0 {
		multi = int(o.queued.Load())
	}
	events := "r"
	if omem > 0 {
		events = "rw"
	}
	idle := (now.UnixNano() - o.lastInteraction.Load()) / int64(time.Second)
	if idle < 0 {
		idle = 0
	}
	laddr := ""
	if la := o.netConn().LocalAddr(); la != nil {
		laddr = la.String()
	}
	totMem := int(unsafe.Sizeof(Client{})) + argvMem + obl + omem
	var b strings.Builder
	b.Grow(320)
	field := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	num := func(k string, n int64) { field(k, strconv.FormatInt(n, 10)) }
	num("id", o.ID)
	field("addr", o.addr)
	field("laddr", laddr)
	num("fd", int64(connFD(o.netConn())))
	field("name", o.Name())
	num("age", int64(now.Sub(o.created)/time.Second))
	num("idle", idle)
	field("flags", o.flagString(f))
	num("db", int64(o.DBIndex))
	num("sub", 0)
	num("psub", 0)
	num("ssub", 0)
	num("multi", int64(multi))
	num("qbuf", 0)
	num("qbuf-free", 0)
	num("argv-mem", int64(argvMem))
	num("multi-mem", 0)
	num("rbs", 0)
	num("rbp", 0)
	num("obl", int64(obl))
	num("oll", 0)
	num("omem", int64(omem))
	num("tot-mem", int64(totMem))
	field("events", events)
	field("cmd", cmdName)
	field("user", "default")
	num("redir", -1)
	num("resp", int64(o.W.Proto))
	field("lib-name", loadString(&o.libName))
	field("lib-ver", loadString(&o.libVer))
	return b.String()
}

// flagString renders the client flags like Redis's CLIENT LIST flags=.
func (o *Client) flagString(f uint32) string {
	var b []byte
	if f&uint32(clientMonitor) != 0 {
		b = append(b, 'O')
	} else if f&uint32(clientReplica) != 0 {
		b = append(b, 'S')
	}
	if f&uint32(clientMaster) != 0 {
		b = append(b, 'M')
	}
	if f&uint32(clientMulti) != 0 {
		b = append(b, 'x')
	}
	if f&uint32(clientDirtyCAS) != 0 {
		b = append(b, 'd')
	}
	if o.noEvict {
		b = append(b, 'e')
	}
	if o.noTouch {
		b = append(b, 'T')
	}
	if len(b) == 0 {
		return "N"
	}
	return string(b)
}

// connFD returns the socket's file descriptor, or -1.
func connFD(nc net.Conn) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if raw.Control(func(p uintptr) { fd = int(p) }) != nil {
		return -1
	}
	return fd
}

func cmdClientKill(c *Client, args [][]byte) {
	var addr, laddr *string
	var id int64
	var maxAge int64
	typ := -1
	skipMe := true
	if len(args) == 3 {
		a := string(args[2])
		addr = &a
		skipMe = false // with the old form a client can kill itself
	} else {
		if len(args)%2 != 0 {
			c.replyError(errSyntax)
			return
		}
		for i := 2; i+1 < len(args); i += 2 {
			opt, val := strings.ToLower(string(args[i])), string(args[i+1])
			switch opt {
			case "id":
				n, ok := parseInt(args[i+1])
				if !ok || n < 1 {
					c.replyError("ERR client-id should be greater than 0")
					return
				}
				id = n
			case "type":
				if typ = clientTypeByName(val); typ < 0 {
					c.replyError("ERR Unknown client type '" + val + "'")
					return
				}
			case "addr":
				addr = &val
			case "laddr":
				laddr = &val
			case "user":
				if val != "default" {
					c.replyError("ERR No such user '" + val + "'")
					return
				}
			case "skipme":
				switch strings.ToLower(val) {
				case "yes":
					skipMe = true
				case "no":
					skipMe = false
				default:
					c.replyError(errSyntax)
					return
				}
			case "maxage":
				n, ok := parseInt(args[i+1])
				if !ok {
					c.replyError(errNotInteger)
					return
				}
				maxAge = n
			default:
				c.replyError(errSyntax)
				return
			}
		}
	}
	now := time.Now()
	killed := 0
	for _, o := range c.s.clientsByID() {
		if addr != nil && o.addr != *addr {
			continue
		}
		if laddr != nil {
			la := o.netConn().LocalAddr()
			if la == nil || la.String() != *laddr {
				continue
			}
		}
		if typ >= 0 && o.clientType() != typ {
			continue
		}
		if id != 0 && o.ID != id {
			continue
		}
		if maxAge > 0 && int64(now.Sub(o.created)/time.Second) <= maxAge {
			continue
		}
		if o == c && skipMe {
			continue
		}
		if o == c {
			c.closing = true // after this reply
		} else {
			c.s.killClient(o)
		}
		killed++
	}
	if len(args) == 3 {
		if killed == 0 {
			c.replyError("ERR No such client")
		} else {
			c.W.OK()
		}
		return
	}
	c.W.Int(int64(killed))
}

// killClient disconnects o. It leaves the client table at once, as Redis's
// synchronous freeClient does, so CLIENT LIST and INFO stop counting it
// immediately; its connection's goroutine releases the rest.
func (s *Server) killClient(o *Client) {
	s.clientMu.Lock()
	delete(s.clients, o.ID)
	s.clientMu.Unlock()
	o.Kill()
}

func cmdClientSetInfo(c *Client, args [][]byte) {
	attr, val := string(args[2]), string(args[3])
	var dst = &c.libName
	switch strings.ToLower(attr) {
	case "lib-name":
	case "lib-ver":
		dst = &c.libVer
	default:
		c.replyError("ERR Unrecognized option '" + attr + "'")
		return
	}
	if !validClientName(val) {
		c.replyError("ERR " + attr + " cannot contain spaces, newlines or special characters.")
		return
	}
	if val == "" {
		dst.Store(nil)
	} else {
		dst.Store(&val)
	}
	c.W.OK()
}

// onOff parses ON/OFF; it replies with a syntax error otherwise.
func (c *Client) onOff(arg []byte) (on, ok bool) {
	switch strings.ToLower(string(arg)) {
	case "on":
		return true, true
	case "off":
		return false, true
	}
	c.replyError(errSyntax)
	return false, false
}

func cmdClientNoEvict(c *Client, args [][]byte) {
	if on, ok := c.onOff(args[2]); ok {
		c.noEvict = on
		c.W.OK()
	}
}

func cmdClientNoTouch(c *Client, args [][]byte) {
	if on, ok := c.onOff(args[2]); ok {
		c.noTouch = on
		c.W.OK()
	}
}

func cmdClientReply(c *Client, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "on":
		c.replyMode = replyOn
		c.W.OK()
	case "off":
		c.replyMode = replyOff
	case "skip":
		if c.replyMode != replyOff {
			c.replyMode = replySkipNext
		}
	default:
		c.replyError(errSyntax)
	}
}

func cmdClientHelp(c *Client, args [][]byte) {
	c.replyHelp("CLIENT",
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"    * ID <client-id>",
		"      Kill connections by client id.",
		"    * MAXAGE <maxage>",
		"      Kill connections older than the specified age.",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"    * ID <client-id> [<client-id> ...]",
		"      Return clients of specified IDs only.",
		"REPLY (ON|OFF|SKIP)",
		"    Control the replies sent to the current connection.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"SETINFO <option> <value>",
		"    Set client meta attr. Options are:",
		"    * LIB-NAME: the client lib name.",
		"    * LIB-VER: the client lib version.",
		"NO-EVICT (ON|OFF)",
		"    Protect current client connection from eviction.",
		"NO-TOUCH (ON|OFF)",
		"    Will not touch LRU/LFU stats when this mode is on.",
	)
}

// loadString reads an optional string attribute ("" when unset).
func loadString(p *atomic.Pointer[string]) string {
	if v := p.Load(); v != nil {
		return *v
	}
	return ""
}
