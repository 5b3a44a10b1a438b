package server

import (
	"math"
	"strconv"
	"strings"

	"github.com/thredis/thredis/glob"
	"github.com/thredis/thredis/keyspace"
)

// Error texts of the generic key commands (Redis 7.0's wording).
const (
	errSameObject   = "ERR source and destination objects are the same"
	errFirstDBIndex = "ERR invalid first DB index"
	errSecondDBIdx  = "ERR invalid second DB index"
	errLFUNotSet    = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
	errLFUSelected  = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)

// sharedRefcount is what OBJECT REFCOUNT reports for Redis's shared
// integer objects (OBJ_SHARED_REFCOUNT, INT_MAX).
const sharedRefcount = math.MaxInt32

// keyCommands returns the generic key commands' rows of the command table
// (plus DBSIZE, SWAPDB, FLUSHDB and FLUSHALL, which Redis files under
// "server" but which act on the keyspace as a whole). Arity, flags, key
// positions and summaries are Redis 7.0's.
func keyCommands() []*Command {
	row := func(name string, arity int, flags Flag, first, last int, group, summary, since string, h Handler) *Command {
		step := 0
		if first > 0 {
			step = 1
		}
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step,
			Group: group, Summary: summary, Since: since, Handler: h}
	}
	const ro, w = FlagReadonly, FlagWrite
	objSub := func(name string, summary, since string, h Handler) *Command {
		return &Command{Name: name, Arity: 3, Flags: ro, FirstKey: 2, LastKey: 2, Step: 1, Group: "generic",
			Summary: summary, Since: since, Handler: h}
	}
	object := &Command{Name: "object", Arity: -2, Group: "generic", Since: "2.2.3",
		Summary: "A container for object introspection commands", Handler: dispatchSub,
		Sub: map[string]*Command{
			"encoding": objSub("encoding", "Inspect the internal encoding of a Redis object", "2.2.3", cmdObjectEncoding),
			"freq":     objSub("freq", "Get the logarithmic access frequency counter of a Redis object", "4.0.0", cmdObjectFreq),
			"idletime": objSub("idletime", "Get the time since a Redis object was last accessed", "2.2.3", cmdObjectIdletime),
			"refcount": objSub("refcount", "Get the number of references to the value of the key", "2.2.3", cmdObjectRefcount),
			"help": {Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Group: "generic",
				Summary: "Show helpful text about the different subcommands", Since: "6.2.0", Handler: cmdObjectHelp},
		}}
	return []*Command{
		row("del", -2, w, 1, -1, "generic", "Delete a key", "1.0.0", cmdDel),
		row("unlink", -2, w|FlagFast, 1, -1, "generic", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "4.0.0", cmdDel),
		row("exists", -2, ro|FlagFast, 1, -1, "generic", "Determine if a key exists", "1.0.0", cmdExists),
		row("type", 2, ro|FlagFast, 1, 1, "generic", "Determine the type stored at key", "1.0.0", cmdType),
		row("keys", 2, ro, 0, 0, "generic", "Find all keys matching the given pattern", "1.0.0", cmdKeys),
		row("scan", -2, ro, 0, 0, "generic", "Incrementally iterate the keys space", "2.8.0", cmdScan),
		row("rename", 3, w, 1, 2, "generic", "Rename a key", "1.0.0", cmdRename),
		row("renamenx", 3, w|FlagFast, 1, 2, "generic", "Rename a key, only if the new key does not exist", "1.0.0", cmdRenamenx),
		row("randomkey", 1, ro, 0, 0, "generic", "Return a random key from the keyspace", "1.0.0", cmdRandomkey),
		row("copy", -3, w|FlagDenyOOM, 1, 2, "generic", "Copy a key", "6.2.0", cmdCopy),
		row("touch", -2, ro|FlagFast, 1, -1, "generic", "Alters the last access time of a key(s). Returns the number of existing keys specified.", "3.2.1", cmdTouch),
		row("move", 3, w|FlagFast, 1, 1, "generic", "Move a key to another database", "1.0.0", cmdMove),
		object,
		row("dbsize", 1, ro|FlagFast, 0, 0, "server", "Return the number of keys in the selected database", "1.0.0", cmdDbsize),
		row("swapdb", 3, w|FlagFast, 0, 0, "server", "Swaps two Redis databases", "4.0.0", cmdSwapdb),
		row("flushdb", -1, w, 0, 0, "server", "Remove all keys from the current database", "1.0.0", cmdFlushdb),
		row("flushall", -1, w, 0, 0, "server", "Remove all keys from all databases", "1.0.0", cmdFlushall),
	}
}

// cmdDel serves DEL and UNLINK. Both free the value by dropping the last
// reference to it, which costs O(1) here (the garbage collector reclaims
// memory in the background), so UNLINK's asynchronous freeing comes for
// free. Each is propagated as sent, when it deleted something.
func cmdDel(c *Client, args [][]byte) {
	n := 0
	for _, k := range args[1:] {
		if c.DB.Delete(k) {
			n++
		}
	}
	c.W.Int(int64(n))
}

func cmdExists(c *Client, args [][]byte) {
	n := 0
	for _, k := range args[1:] {
		if c.DB.Lookup(k, keyspace.LookupRead|keyspace.LookupNoTouch) != keyspace.KindNone {
			n++
		}
	}
	c.W.Int(int64(n))
}

func cmdType(c *Client, args [][]byte) {
	c.W.Simple(c.DB.Lookup(args[1], keyspace.LookupRead|keyspace.LookupNoTouch).String())
}

func cmdTouch(c *Client, args [][]byte) {
	n := 0
	for _, k := range args[1:] {
		if c.DB.Lookup(k, keyspace.LookupRead) != keyspace.KindNone {
			n++
		}
	}
	c.W.Int(int64(n))
}

func cmdKeys(c *Client, args [][]byte) {
	pattern := args[1]
	all := len(pattern) == 1 && pattern[0] == '*'
	var keys [][]byte
	c.DB.Keys(func(k []byte) bool {
		if all || glob.Match(pattern, k, false) {
			keys = append(keys, k)
		}
		return true
	})
	c.W.Array(len(keys))
	for _, k := range keys {
		c.W.Bulk(k)
	}
}

// cmdScan is Redis 7.0's SCAN: one or more dict cursor steps until COUNT
// keys were gathered (or 10*COUNT steps were taken), then the MATCH and
// TYPE filters. As in Redis, COUNT is compared with the keys gathered
// before filtering, so a reply may hold fewer keys than COUNT, or none,
// while the cursor is not yet 0.
func cmdScan(c *Client, args [][]byte) {
	cursor, ok := parseScanCursor(args[1])
	if !ok {
		c.replyError(errInvalidCursor)
		return
	}
	count, pattern, typ, ok := c.scanOptions(args, 2, true)
	if !ok {
		return
	}
	type found struct {
		key  []byte
		kind keyspace.Kind
	}
	var keys []found
	maxSteps := count * 10
	if maxSteps < count { // overflow: unbounded, like Redis's long arithmetic
		maxSteps = math.MaxInt64
	}
	for {
		cursor = c.DB.Scan(cursor, func(k []byte, kind keyspace.Kind) {
			keys = append(keys, found{k, kind})
		})
		maxSteps--
		if cursor == 0 || maxSteps <= 0 || int64(len(keys)) >= count {
			break
		}
	}
	kept := keys[:0]
	for _, f := range keys {
		if pattern != nil && !glob.Match(pattern, f.key, false) {
			continue
		}
		if typ != nil && !strings.EqualFold(string(typ), f.kind.String()) {
			continue
		}
		kept = append(kept, f)
	}
	c.W.Array(2)
	c.W.Bulk(strconv.AppendUint(nil, cursor, 10))
	c.W.Array(len(kept))
	for _, f := range kept {
		c.W.Bulk(f.key)
	}
}

func cmdRename(c *Client, args [][]byte)   { renameGeneric(c, args, false) }
func cmdRenamenx(c *Client, args [][]byte) { renameGeneric(c, args, true) }

// renameGeneric is Redis's renameGenericCommand: the TTL travels with the
// value and a rename onto the same name only checks that the key exists.
func renameGeneric(c *Client, args [][]byte, nx bool) {
	src, dst := args[1], args[2]
	var exists, moved bool
	if string(src) == string(dst) {
		exists = c.DB.Exists(src)
	} else {
		exists, moved = c.DB.Rename(src, dst, nx)
	}
	switch {
	case !exists:
		c.replyError(errNoSuchKey)
	case nx && moved:
		c.W.Int(1)
	case nx:
		c.W.Int(0)
	default:
		c.W.OK()
	}
}

func cmdRandomkey(c *Client, args [][]byte) {
	k, ok := c.DB.RandomKey()
	if !ok {
		c.W.Null()
		return
	}
	c.W.BulkString(k)
}

// dbIndexArg parses a database number argument (Redis's getIntFromObject
// followed by the range check). It replies and returns false on error.
func (c *Client) dbIndexArg(arg []byte, notIntErr string) (int, bool) {
	n, ok := parseInt(arg)
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		c.replyError(notIntErr)
		return 0, false
	}
	if n < 0 || n >= int64(c.s.ks.NumDBs()) {
		c.replyError(errDBIndex)
		return 0, false
	}
	return int(n), true
}

// cmdCopy is COPY source destination [DB destination-db] [REPLACE]. The
// copy is deep: source and copy change independently afterwards.
func cmdCopy(c *Client, args [][]byte) {
	dst := c.DB
	replace := false
	for j := 3; j < len(args); j++ {
		switch {
		case eqFold(args[j], "replace"):
			replace = true
		case eqFold(args[j], "db") && j+1 < len(args):
			id, ok := c.dbIndexArg(args[j+1], errNotInteger)
			if !ok {
				return
			}
			dst = c.s.ks.DB(id)
			j++
		default:
			c.replyError(errSyntax)
			return
		}
	}
	if dst == c.DB && string(args[1]) == string(args[2]) {
		c.replyError(errSameObject)
		return
	}
	if c.DB.CopyTo(args[1], dst, args[2], replace) {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}

func cmdMove(c *Client, args [][]byte) {
	id, ok := c.dbIndexArg(args[2], errNotInteger)
	if !ok {
		return
	}
	dst := c.s.ks.DB(id)
	if dst == c.DB {
		c.replyError(errSameObject)
		return
	}
	if c.DB.MoveTo(args[1], dst) {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}

// objectLookup finds the key of an OBJECT subcommand, replying null when it
// does not exist.
func (c *Client) objectLookup(key []byte) (keyspace.ObjectInfo, bool) {
	info, ok := c.DB.ObjectLookup(key, keyspace.LookupNoTouch|keyspace.LookupRead)
	if !ok {
		c.W.Null()
	}
	return info, ok
}

func cmdObjectEncoding(c *Client, args [][]byte) {
	if info, ok := c.objectLookup(args[2]); ok {
		c.W.BulkString(info.Encoding)
	}
}

// lfuPolicy reports whether maxmemory-policy is one of the LFU policies.
func (c *Client) lfuPolicy() bool { return c.s.ks.LFU() }

// syncAccessTracking makes the keyspace track accesses the way the config
// asks: LFU counters (with lfu-log-factor and lfu-decay-time) under an LFU
// maxmemory-policy, the LRU clock otherwise. name and value override the
// stored setting of one directive: config apply hooks run before the new
// value is stored. Callers hold the execution lock (or own the server
// exclusively, as New does).
func (s *Server) syncAccessTracking(name, value string) {
	get := func(d string) string {
		if d == name {
			return value
		}
		v, _ := s.cfg.Get(d)
		return v
	}
	lfu := strings.HasSuffix(get("maxmemory-policy"), "-lfu")
	factor, err := strconv.Atoi(get("lfu-log-factor"))
	if err != nil {
		factor = 10
	}
	decay, err := strconv.Atoi(get("lfu-decay-time"))
	if err != nil {
		decay = 1
	}
	s.ks.SetLFU(lfu, factor, decay)
}

// accessTrackingHook is the config apply hook of maxmemory-policy,
// lfu-log-factor and lfu-decay-time: a change takes effect for the very
// next command, as in Redis.
func accessTrackingHook(name string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if c.server != nil {
			c.server.syncAccessTracking(name, v)
		}
		return nil
	}
}

func cmdObjectFreq(c *Client, args [][]byte) {
	info, ok := c.objectLookup(args[2])
	if !ok {
		return
	}
	if !c.lfuPolicy() {
		c.replyError(errLFUNotSet)
		return
	}
	c.W.Int(int64(info.Freq))
}

func cmdObjectIdletime(c *Client, args [][]byte) {
	info, ok := c.objectLookup(args[2])
	if !ok {
		return
	}
	if c.lfuPolicy() {
		c.replyError(errLFUSelected)
		return
	}
	c.W.Int(info.IdleSecs)
}

// cmdObjectRefcount reports 1, except for the small integers Redis keeps
// as shared objects, unless a maxmemory LRU/LFU policy forbids sharing
// (Redis's MAXMEMORY_FLAG_NO_SHARED_INTEGERS).
func cmdObjectRefcount(c *Client, args [][]byte) {
	info, ok := c.objectLookup(args[2])
	if !ok {
		return
	}
	if info.SharedInt && c.s.sharedIntegersAllowed() {
		c.W.Int(sharedRefcount)
		return
	}
	c.W.Int(1)
}

func (s *Server) sharedIntegersAllowed() bool {
	if s.cfg.maxmemory.Load() == 0 {
		return true
	}
	policy, _ := s.cfg.Get("maxmemory-policy")
	return !strings.HasSuffix(policy, "-lru") && !strings.HasSuffix(policy, "-lfu")
}

// objectHelp is OBJECT HELP's text, verbatim from Redis 7.0.
var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

func cmdObjectHelp(c *Client, args [][]byte) {
	c.W.Array(len(objectHelp))
	for _, line := range objectHelp {
		c.W.Simple(line)
	}
}

func cmdDbsize(c *Client, args [][]byte) { c.W.Int(int64(c.DB.Len())) }

// cmdSwapdb exchanges two databases; clients that selected one see the
// other's data from their next command. Like Redis it is propagated even
// when both indexes are the same.
func cmdSwapdb(c *Client, args [][]byte) {
	a, ok := parseInt(args[1])
	if !ok || a < math.MinInt32 || a > math.MaxInt32 {
		c.replyError(errFirstDBIndex)
		return
	}
	b, ok := parseInt(args[2])
	if !ok || b < math.MinInt32 || b > math.MaxInt32 {
		c.replyError(errSecondDBIdx)
		return
	}
	n := int64(c.s.ks.NumDBs())
	if a < 0 || a >= n || b < 0 || b >= n {
		c.replyError(errDBIndex)
		return
	}
	c.s.ks.SwapDB(int(a), int(b))
	c.Propagate(args...)
	c.W.OK()
}

// flushArgs checks FLUSHDB/FLUSHALL's optional ASYNC|SYNC argument. Both
// modes behave the same here: dropping the tables is O(1) and the garbage
// collector frees the memory in the background.
func flushArgs(c *Client, args [][]byte) bool {
	switch {
	case len(args) == 1:
		return true
	case len(args) == 2 && (eqFold(args[1], "sync") || eqFold(args[1], "async")):
		return true
	}
	c.replyError(errSyntax)
	return false
}

// cmdFlushdb empties the selected database. It is always propagated, as
// sent, even when the database was already empty (Redis forces it so a
// replica cannot keep keys its master no longer has).
func cmdFlushdb(c *Client, args [][]byte) {
	if !flushArgs(c, args) {
		return
	}
	c.DB.Flush()
	c.Propagate(args...)
	c.W.OK()
}

func cmdFlushall(c *Client, args [][]byte) {
	if !flushArgs(c, args) {
		return
	}
	c.s.ks.FlushAll()
	c.Propagate(args...)
	c.W.OK()
}
