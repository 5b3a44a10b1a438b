package server

import (
	"strconv"
	"strings"

	"github.com/thredis/thredis/cmdlog"
	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/sqlcmd"
)

// sqlCommands returns the SQL command family's rows. The handlers manage
// the execution lock themselves (FlagUnlocked): statements that only read
// run without it (DESIGN rule 3). They are not flagged write: whether a
// call writes depends on its statements, which sqlcmd checks one by one
// (-READONLY on a read-only replica, SQL.QUERY refusing writes).
func sqlCommands() []*Command {
	return []*Command{
		{Name: "sql", Arity: -2, Flags: FlagUnlocked | FlagDenyOOM, Group: "sql",
			Summary: "Runs SQL statements on the default database key (sql-default-key)", Since: "1.0.0", Handler: cmdSQL},
		{Name: "sql.exec", Arity: -3, Flags: FlagUnlocked | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Group: "sql",
			Summary: "Runs SQL statements on the database stored at key", Since: "1.0.0", Handler: cmdSQLExec},
		{Name: "sql.query", Arity: -3, Flags: FlagUnlocked | FlagReadonly | FlagStale, FirstKey: 1, LastKey: 1, Step: 1, Group: "sql",
			Summary: "Runs read-only SQL statements on the database stored at key", Since: "1.0.0", Handler: cmdSQLQuery},
		{Name: "sql.dump", Arity: 2, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, Step: 1, Group: "sql",
			Summary: "Returns the SQLite database file stored at key", Since: "1.0.0", Handler: cmdSQLDump},
		{Name: "sql.restore", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Group: "sql",
			Summary: "Stores a SQLite database file at key", Since: "1.0.0", Handler: cmdSQLRestore},
	}
}

func cmdSQL(c *Client, args [][]byte) {
	c.runSQL([]byte(c.s.cfg.SQLDefaultKey()), args[1], args[2:], false)
}

func cmdSQLExec(c *Client, args [][]byte) { c.runSQL(args[1], args[2], args[3:], false) }

func cmdSQLQuery(c *Client, args [][]byte) { c.runSQL(args[1], args[2], args[3:], true) }

// runSQL runs one SQL command through the client's session.
func (c *Client) runSQL(key, stmt []byte, params [][]byte, queryOnly bool) {
	s := c.s
	sess := c.sql.Load()
	if sess == nil {
		sess = s.sql.NewSession()
		c.sql.Store(sess)
	}
	req := sqlcmd.Request{
		DB: c.DBIndex, Key: key, SQL: stmt, Params: params, QueryOnly: queryOnly,
		Locked:      c.locked, // only inside EXEC (see call)
		WriteDenied: s.writeDenial(c),
	}
	start := c.W.Len()
	sess.Exec(&req, &c.W)
	if out := c.W.Bytes()[start:]; len(out) > 0 && out[0] == '-' {
		msg := string(out[1:])
		if i := strings.IndexByte(msg, '\r'); i >= 0 {
			msg = msg[:i]
		}
		s.countError(msg)
	}
}

// closeSQL ends the client's SQL session: an open transaction is rolled
// back and the writer lock it held is released.
func (c *Client) closeSQL() {
	if sess := c.sql.Swap(nil); sess != nil {
		sess.Close()
	}
}

// guardSQL refuses a FlagGuardSQL command aimed at a key that holds a SQL
// database and reports whether it did. Lock held.
func (c *Client) guardSQL(cmd *Command, args [][]byte) bool {
	if cmd.Flags&FlagGuardSQL == 0 || c.flags.Load()&uint32(clientMaster) != 0 {
		return false
	}
	// Every guarded command has exactly one key, at FirstKey (checked
	// without KeyPositions, which allocates: this runs for every HSET).
	if i := cmd.FirstKey; i > 0 && i < len(args) && sqlcmd.IsDatabase(c.DB, args[i]) {
		c.replyError("ERR key '" + safeArg(args[i]) + "' holds a SQL database: change it with SQL, or remove it with DEL")
		return true
	}
	return false
}

// sqlHost gives the SQL layer what it needs of the server (sqlcmd.Host).
type sqlHost struct{ s *Server }

func (h sqlHost) Lock() { h.s.mu.Lock() }

func (h sqlHost) Unlock() {
	// A SQL commit is one atomic entry: MULTI / HSET key page… / EXEC.
	h.s.flushPropagation(true)
	h.s.mu.Unlock()
}

func (h sqlHost) Keyspace() *keyspace.Keyspace { return h.s.ks }

func (h sqlHost) ExternalPageWrite() bool { return h.s.externalPages }

func (h sqlHost) Flush() { h.s.flushPropagation(true) }

func (h sqlHost) Propagate(db int, argv [][]byte) {
	h.s.prop = append(h.s.prop, cmdlog.Op{DB: db, Argv: argv})
}

// Call runs a read-only command for the redis() SQL function, with the
// lock held, as an internal client on database db, and returns its RESP2
// reply.
func (h sqlHost) Call(db int, args [][]byte) []byte {
	s := h.s
	fc := s.internalClient(db, "sql")
	cmd, msg := s.table.resolve(args)
	if msg != "" {
		return []byte("-" + msg + "\r\n")
	}
	if cmd.Flags&FlagReadonly == 0 || cmd.Flags&(FlagWrite|FlagUnlocked|FlagAdmin|FlagPubSub|FlagNoScript) != 0 {
		return []byte("-ERR only read-only commands can run in redis(), and '" + cmd.FullName() + "' is not one\r\n")
	}
	fc.call(cmd, args)
	return fc.W.Bytes()
}

// infoSQL renders INFO's SQL section.
func (s *Server) infoSQL(b *infoBuilder) {
	in := s.sql.Info()
	b.num("sql_databases", int64(in.Databases))
	b.num("sql_pages", in.Pages)
	b.num("sql_bytes", in.Bytes)
	b.kv("sql_bytes_human", humanBytes(uint64(in.Bytes)))
	b.num("sql_connections", int64(in.Conns))
	b.unum("sql_commits", in.Commits)
	b.unum("sql_rollbacks", in.Rollbacks)
	b.num("sql_busy_errors", in.Busy)
	b.num("sql_statements", in.Statements)
	b.num("sql_errors", in.Errors)
	b.num("sql_timeouts", in.Timeouts)
	for i, d := range in.PerDB {
		b.kv("sqldb"+strconv.Itoa(i), "db="+strconv.Itoa(d.DB)+",key="+strconv.Quote(d.Key)+
			",pages="+strconv.FormatInt(d.Pages, 10)+",bytes="+strconv.FormatInt(d.Bytes, 10)+
			",connections="+strconv.Itoa(d.Conns))
	}
}
