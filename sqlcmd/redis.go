package sqlcmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/sqlcmd/sqlite"
)

// Reading Redis data from SQL, as Thredis did:
//
//   - redis(cmd, arg, …) runs a read-only command on the client's selected
//     database and returns its reply: an integer as INTEGER, a string as
//     TEXT, nil as NULL, an array as JSON text (expand it with json_each),
//     an error as a SQL error. Commands that write are refused.
//   - CREATE VIRTUAL TABLE t USING redis(key) maps a live key to rows with
//     columns key, val and score: a hash gives one row per field (key =
//     field, val = value), a string one row (key = the key's name, val =
//     the value); a missing key gives no rows. The table cannot be written.
//
// Both read the keyspace under the execution lock, taking it for the
// duration of the read when the statement runs without it.

// registerRedis installs redis() and the redis module on a connection.
func (e *Engine) registerRedis(s *Session, cn *conn) error {
	if err := cn.c.CreateFunction("redis", -1, false, func(args []sqlite.Value) (sqlite.Value, error) {
		return s.callRedis(cn, args)
	}); err != nil {
		return fmt.Errorf("registering redis(): %w", err)
	}
	if err := cn.c.CreateModule("redis", &redisModule{s: s, cn: cn}); err != nil {
		return fmt.Errorf("registering the redis module: %w", err)
	}
	return nil
}

// withLock runs fn with the execution lock held.
func (s *Session) withLock(fn func()) {
	if s.locked {
		fn()
		return
	}
	s.lock()
	defer s.unlock()
	fn()
}

func (s *Session) callRedis(cn *conn, args []sqlite.Value) (sqlite.Value, error) {
	if len(args) == 0 {
		return sqlite.Value{}, errors.New("redis(): wrong number of arguments (the command name is missing)")
	}
	argv := make([][]byte, len(args))
	for i, a := range args {
		switch a.Type {
		case sqlite.TypeInteger:
			argv[i] = strconv.AppendInt(nil, a.Int, 10)
		case sqlite.TypeFloat:
			argv[i] = strconv.AppendFloat(nil, a.Float, 'g', 17, 64)
		case sqlite.TypeNull:
			return sqlite.Value{}, fmt.Errorf("redis(): argument %d is NULL", i+1)
		default:
			argv[i] = a.Bytes
		}
	}
	var reply []byte
	s.withLock(func() { reply = s.e.host.Call(cn.db, argv) })
	v, rest, err := parseReply(reply)
	if err != nil {
		return sqlite.Value{}, err
	}
	if len(rest) != 0 {
		return sqlite.Value{}, errors.New("redis(): malformed reply")
	}
	switch x := v.(type) {
	case nil:
		return sqlite.Value{Type: sqlite.TypeNull}, nil
	case int64:
		return sqlite.Value{Type: sqlite.TypeInteger, Int: x}, nil
	case []byte:
		return sqlite.Value{Type: sqlite.TypeText, Bytes: x}, nil
	default:
		j, err := json.Marshal(jsonable(v))
		if err != nil {
			return sqlite.Value{}, fmt.Errorf("redis(): encoding the reply: %w", err)
		}
		return sqlite.Value{Type: sqlite.TypeText, Bytes: j}, nil
	}
}

// jsonable turns a parsed reply into values encoding/json renders as a
// JSON array of strings, numbers and nulls.
func jsonable(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

// parseReply decodes one RESP2 reply: nil, int64, []byte, []any, or an
// error for an error reply.
func parseReply(b []byte) (any, []byte, error) {
	if len(b) < 3 {
		return nil, nil, errors.New("redis(): empty reply")
	}
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return nil, nil, errors.New("redis(): malformed reply")
	}
	line, rest := b[1:i], b[i+2:]
	switch b[0] {
	case '+':
		return append([]byte(nil), line...), rest, nil
	case '-':
		return nil, nil, fmt.Errorf("redis(): %s", bytes.TrimPrefix(line, []byte("ERR ")))
	case ':':
		n, err := strconv.ParseInt(string(line), 10, 64)
		return n, rest, err
	case '$':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return nil, nil, err
		}
		if n < 0 {
			return nil, rest, nil
		}
		if len(rest) < n+2 {
			return nil, nil, errors.New("redis(): truncated reply")
		}
		return append([]byte(nil), rest[:n]...), rest[n+2:], nil
	case '*':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return nil, nil, err
		}
		if n < 0 {
			return nil, rest, nil
		}
		out := make([]any, n)
		for k := range out {
			out[k], rest, err = parseReply(rest)
			if err != nil {
				return nil, nil, err
			}
		}
		return out, rest, nil
	}
	return nil, nil, fmt.Errorf("redis(): unexpected reply type %q", b[0])
}

// redisModule is the "redis" virtual-table module of one connection.
type redisModule struct {
	s  *Session
	cn *conn
}

// Connect implements sqlite.Module.
func (m *redisModule) Connect(c *sqlite.Conn, args []string) (string, sqlite.VTable, error) {
	if len(args) != 1 {
		return "", nil, errors.New("usage: CREATE VIRTUAL TABLE name USING redis(key)")
	}
	return "CREATE TABLE x(key, val, score REAL)", &redisTable{m: m, key: unquote(strings.TrimSpace(args[0]))}, nil
}

// unquote strips SQL quotes from a module argument.
func unquote(s string) string {
	if len(s) >= 2 {
		q := s[0]
		if (q == '\'' || q == '"' || q == '`') && s[len(s)-1] == q {
			return strings.ReplaceAll(s[1:len(s)-1], string([]byte{q, q}), string(q))
		}
		if q == '[' && s[len(s)-1] == ']' {
			return s[1 : len(s)-1]
		}
	}
	return s
}

type redisTable struct {
	m   *redisModule
	key string
}

// Disconnect implements sqlite.VTable.
func (t *redisTable) Disconnect() {}

// Rows implements sqlite.VTable: a snapshot of the key, read under the
// execution lock.
func (t *redisTable) Rows() ([][]sqlite.Value, error) {
	var rows [][]sqlite.Value
	var err error
	s := t.m.s
	s.withLock(func() {
		db := s.e.host.Keyspace().DB(t.m.cn.db)
		key := []byte(t.key)
		switch db.Lookup(key, keyspace.LookupRead) {
		case keyspace.KindNone:
		case keyspace.KindString:
			v, _, gerr := db.GetString(key)
			if gerr != nil {
				err = gerr
				return
			}
			rows = append(rows, []sqlite.Value{text(t.key), text(string(v)), {Type: sqlite.TypeNull}})
		case keyspace.KindHash:
			h, herr := db.Hash(key)
			if herr != nil || h == nil {
				err = herr
				return
			}
			rows = make([][]sqlite.Value, 0, h.Len())
			h.Range(func(f, v string) bool {
				rows = append(rows, []sqlite.Value{text(f), text(v), {Type: sqlite.TypeNull}})
				return true
			})
		default:
			err = fmt.Errorf("redis virtual table: key %q holds a %s, which this server cannot read yet", t.key, db.Type(key))
		}
	})
	return rows, err
}

// text returns s as a TEXT value holding its own copy of the bytes.
func text(s string) sqlite.Value { return sqlite.Value{Type: sqlite.TypeText, Bytes: []byte(s)} }
