package server

import (
	"sort"
	"strings"
	"sync/atomic"
)

// Flag is a command property from Redis's command table; the dispatcher,
// propagation, replica read-only checks and COMMAND all read these.
type Flag uint32

// Command flags. The names are the ones COMMAND INFO reports.
const (
	FlagWrite       Flag = 1 << iota // may modify the keyspace: propagated, refused on read-only replicas
	FlagReadonly                     // reads data only
	FlagAdmin                        // administrative
	FlagFast                         // O(1) or O(log N)
	FlagNoScript                     // not allowed from scripts
	FlagLoading                      // allowed while loading the dataset
	FlagStale                        // allowed on a replica with stale data
	FlagPubSub                       // pub/sub related
	FlagNoAuth                       // allowed before AUTH
	FlagNoMulti                      // not queued by MULTI (executed or refused at once)
	FlagDenyOOM                      // may grow memory: refused over maxmemory
	FlagUnlocked                     // the handler manages the execution lock itself (e.g. SQL)
	FlagAllowBusy                    // allowed during a long-running script/SQL (Redis's allow-busy)
	FlagSkipMonitor                  // not shown to MONITOR (AUTH, HELLO with AUTH)
	FlagSkipSlowlog                  // not recorded in SLOWLOG
	// FlagGuardSQL (thredis's own, not shown by COMMAND) marks commands
	// that would corrupt a SQL database if applied to the hash holding
	// it (HSET, HDEL, EXPIRE, ...): they are refused on such keys, except
	// from the master link, which replays committed page batches.
	FlagGuardSQL
)

var flagNames = []struct {
	f    Flag
	name string
}{
	{FlagWrite, "write"}, {FlagReadonly, "readonly"}, {FlagDenyOOM, "denyoom"}, {FlagAdmin, "admin"},
	{FlagPubSub, "pubsub"}, {FlagNoScript, "noscript"}, {FlagLoading, "loading"}, {FlagStale, "stale"},
	{FlagSkipMonitor, "skip_monitor"}, {FlagSkipSlowlog, "skip_slowlog"}, {FlagFast, "fast"},
	{FlagNoAuth, "no_auth"}, {FlagNoMulti, "no_multi"}, {FlagAllowBusy, "allow_busy"},
}

// Names returns the flag names as COMMAND INFO lists them.
func (f Flag) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	return out
}

// Handler executes one command. args[0] is the command name as the client
// sent it. Replies go to c.W.
type Handler func(c *Client, args [][]byte)

// Command is one row of the command table.
type Command struct {
	Name     string // lower case
	Arity    int    // Redis convention: N exact, -N at least N (name included)
	Flags    Flag
	FirstKey int // position of the first key argument, 0 if none
	LastKey  int // position of the last key; negative counts from the end
	Step     int
	Group    string // documentation group: string, hash, generic, connection, server, transactions
	Summary  string
	Since    string
	Handler  Handler
	// Sub holds subcommands (CONFIG GET, CLIENT LIST, ...); the container's
	// own Handler dispatches to them through dispatchSub.
	Sub map[string]*Command
	// Parent is set on subcommands.
	Parent *Command
	// KeysFunc extracts key positions for commands whose keys cannot be
	// described by first/last/step (COMMAND GETKEYS).
	KeysFunc func(args [][]byte) []int
	// ACL lists ACL categories Redis gives the command beyond those its
	// flags and group imply (e.g. "@dangerous" for KEYS, "@connection"
	// for COMMAND); see Categories.
	ACL []string
	// Tips are Redis's command tips as COMMAND INFO reports them
	// ("nondeterministic_output", "request_policy:all_shards", ...).
	Tips []string

	stats commandStats
}

// commandStats are the per-command counters INFO commandstats reports.
type commandStats struct {
	calls    atomic.Int64
	usec     atomic.Int64
	rejected atomic.Int64
	failed   atomic.Int64
}

// FullName is "config|get" for subcommands, as Redis names them.
func (cmd *Command) FullName() string {
	if cmd.Parent != nil {
		return cmd.Parent.Name + "|" + cmd.Name
	}
	return cmd.Name
}

// arityOK reports whether n arguments (name included) satisfy the arity.
func (cmd *Command) arityOK(n int) bool {
	if cmd.Arity >= 0 {
		return n == cmd.Arity
	}
	return n >= -cmd.Arity
}

// KeyPositions returns the indexes of the key arguments in args.
func (cmd *Command) KeyPositions(args [][]byte) []int {
	if cmd.KeysFunc != nil {
		return cmd.KeysFunc(args)
	}
	if cmd.FirstKey <= 0 {
		return nil
	}
	last := cmd.LastKey
	if last < 0 {
		last = len(args) + last
	}
	step := cmd.Step
	if step <= 0 {
		step = 1
	}
	var out []int
	for i := cmd.FirstKey; i <= last && i < len(args); i += step {
		out = append(out, i)
	}
	return out
}

// aclCategories are Redis's ACL categories in its bit order, which is the
// order COMMAND INFO lists them in.
var aclCategories = []string{
	"@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string", "@bitmap",
	"@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow", "@blocking",
	"@dangerous", "@connection", "@transaction", "@scripting",
}

// Categories returns the ACL categories COMMAND INFO reports, derived like
// Redis's setImplicitACLCategories from the flags, plus the group's data
// type category and the explicit ACL list, in Redis's order. A container
// command without flags of its own (CONFIG, CLIENT) is just @slow.
func (cmd *Command) Categories() []string {
	set := map[string]bool{}
	for _, c := range cmd.ACL {
		set[c] = true
	}
	if cmd.Sub == nil || cmd.Flags != 0 {
		if cmd.Flags&FlagWrite != 0 {
			set["@write"] = true
		}
		if cmd.Flags&FlagReadonly != 0 && cmd.Group != "scripting" {
			set["@read"] = true
		}
		if cmd.Flags&FlagAdmin != 0 {
			set["@admin"], set["@dangerous"] = true, true
		}
		if cmd.Flags&FlagPubSub != 0 {
			set["@pubsub"] = true
		}
		if cmd.Flags&FlagFast != 0 {
			set["@fast"] = true
		}
		switch cmd.Group {
		case "string", "hash", "list", "set", "bitmap", "pubsub", "hyperloglog", "geo", "stream", "scripting", "connection":
			set["@"+cmd.Group] = true
		case "sorted-set":
			set["@sortedset"] = true
		case "transactions":
			set["@transaction"] = true
		case "generic":
			set["@keyspace"] = true
		}
	}
	if !set["@fast"] {
		set["@slow"] = true
	}
	out := make([]string, 0, len(set))
	for _, c := range aclCategories {
		if set[c] {
			out = append(out, c)
		}
	}
	return out
}

// Table is the command table: every command the server knows, by lower-case
// name. It is built once at start-up and read-only afterwards.
type Table struct {
	cmds map[string]*Command
}

// NewTable builds a table from command definitions. Subcommand rows get
// their Parent set.
func NewTable(groups ...[]*Command) *Table {
	t := &Table{cmds: make(map[string]*Command)}
	for _, g := range groups {
		for _, cmd := range g {
			if _, dup := t.cmds[cmd.Name]; dup {
				panic("server: duplicate command " + cmd.Name)
			}
			for name, sub := range cmd.Sub {
				sub.Parent = cmd
				if sub.Name == "" {
					sub.Name = name
				}
			}
			t.cmds[cmd.Name] = cmd
		}
	}
	return t
}

// Lookup finds a command by name, case-insensitively, without allocating
// for names up to 32 bytes.
func (t *Table) Lookup(name []byte) *Command {
	var buf [32]byte
	if len(name) > len(buf) {
		return t.cmds[strings.ToLower(string(name))]
	}
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[i] = ch
	}
	return t.cmds[string(buf[:len(name)])]
}

// All returns every command sorted by name.
func (t *Table) All() []*Command {
	out := make([]*Command, 0, len(t.cmds))
	for _, c := range t.cmds {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Len returns the number of top-level commands.
func (t *Table) Len() int { return len(t.cmds) }

// resolveSub returns the subcommand of container cmd named by args[1], as
// Redis's lookupCommand does before any check, so statistics, SLOWLOG,
// CLIENT LIST and MULTI see "config|get" rather than "config". It returns
// cmd itself when cmd has no subcommands or none is given, and nil with
// Redis's error text for an unknown subcommand.
func resolveSub(cmd *Command, args [][]byte) (*Command, string) {
	if cmd.Sub == nil || len(args) < 2 {
		return cmd, ""
	}
	if sub := cmd.Sub[strings.ToLower(string(args[1]))]; sub != nil {
		return sub, ""
	}
	return nil, "ERR unknown subcommand '" + safeArg(args[1]) + "'. Try " + strings.ToUpper(cmd.Name) + " HELP."
}

// resolve finds the command (or subcommand) args name and checks its
// arity, as Redis's processCommand does before anything else. On failure
// it returns Redis's error text, with the command when it was found (its
// rejected-calls counter counts the failure) or nil.
func (t *Table) resolve(args [][]byte) (*Command, string) {
	cmd := t.Lookup(args[0])
	if cmd == nil {
		return nil, unknownCommandError(args)
	}
	if cmd.Sub != nil {
		sub, msg := resolveSub(cmd, args)
		if sub == nil {
			return nil, msg
		}
		cmd = sub
	}
	if !cmd.arityOK(len(args)) {
		return cmd, "ERR wrong number of arguments for '" + cmd.FullName() + "' command"
	}
	return cmd, ""
}

// dispatchSub runs the subcommand named by args[1] of a container command
// (CONFIG, CLIENT, ...), with Redis's errors for unknown subcommands and
// wrong arity.
func dispatchSub(c *Client, args [][]byte) {
	parent := c.cmd
	sub := parent.Sub[strings.ToLower(string(args[1]))]
	if sub == nil {
		c.W.Error("ERR unknown subcommand '" + safeArg(args[1]) + "'. Try " + strings.ToUpper(parent.Name) + " HELP.")
		return
	}
	if !sub.arityOK(len(args)) {
		c.W.Error("ERR wrong number of arguments for '" + sub.FullName() + "' command")
		return
	}
	sub.Handler(c, args)
}

// safeArg renders a client-supplied argument for inclusion in an error
// message, truncated like Redis does (128 bytes).
func safeArg(b []byte) string {
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}
