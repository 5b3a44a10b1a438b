package server

import (
	"strings"

	"github.com/thredis/thredis/keyspace"
	"github.com/thredis/thredis/vfs"
)

// SQL.DUMP and SQL.RESTORE move a SQL database in and out of the keyspace
// as a standard SQLite file: the image is the concatenation of the pages in
// offset order (DESIGN rule 5), so `redis-cli --raw SQL.DUMP k > db.sqlite`
// gives a file sqlite3 opens, and `redis-cli -x SQL.RESTORE k < db.sqlite`
// loads one.

// restorePagesPerCmd bounds each propagated HSET of SQL.RESTORE (4 MiB of
// 4 KiB pages), so no single replayed command is huge.
const restorePagesPerCmd = 1024

// cmdSQLDump replies with the database image stored at key: the committed
// state (an open transaction of another client is not in the hash yet).
func cmdSQLDump(c *Client, args [][]byte) {
	h, err := c.DB.Hash(args[1])
	if err != nil {
		c.replyError(err.Error())
		return
	}
	if h == nil {
		c.W.Null()
		return
	}
	img, err := vfs.Image(h.Range)
	if err != nil {
		c.replyError("ERR key does not hold a SQL database")
		return
	}
	c.W.Bulk(img)
}

// cmdSQLRestore stores a database image at key: SQL.RESTORE key image
// [REPLACE]. Like RESTORE it refuses an existing key without REPLACE. The
// write is propagated as one atomic entry (DEL key, then HSET batches of
// pages), so replicas and the AOF never see half a database.
func cmdSQLRestore(c *Client, args [][]byte) {
	key, img := args[1], args[2]
	replace := false
	for _, a := range args[3:] {
		if !strings.EqualFold(string(a), "replace") {
			c.replyError(errSyntax)
			return
		}
		replace = true
	}
	if _, err := vfs.Pages(img, func(string, []byte) {}); err != nil {
		c.replyError("ERR " + err.Error())
		return
	}
	if c.DB.Exists(key) {
		if !replace {
			c.replyError("BUSYKEY Target key name already exists.")
			return
		}
		c.DB.Delete(key)
	}
	h := keyspace.NewHash()
	c.Propagate([]byte("DEL"), key)
	argv := [][]byte{[]byte("HSET"), key}
	vfs.Pages(img, func(field string, page []byte) {
		h.Set([]byte(field), page)
		argv = append(argv, []byte(field), page)
		if len(argv) >= 2+2*restorePagesPerCmd {
			c.Propagate(argv...)
			argv = [][]byte{[]byte("HSET"), key}
		}
	})
	if len(argv) > 2 {
		c.Propagate(argv...)
	}
	c.DB.Restore(string(key), "", h, -1)
	if !c.s.inExec {
		// Several commands, one atomic log entry (inside EXEC the whole
		// block already is one).
		c.s.flushPropagation(true)
	}
	c.W.OK()
}
