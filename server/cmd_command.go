package server

import (
	"strings"

	"github.com/thredis/thredis/glob"
)

// commandCommand returns the COMMAND row: introspection of the command
// table (COMMAND, COUNT, LIST, INFO, DOCS, GETKEYS, HELP).
func commandCommand() *Command {
	flags := FlagLoading | FlagStale
	conn := []string{"@connection"}
	order := []string{"nondeterministic_output_order"}
	return &Command{Name: "command", Arity: -1, Flags: flags, Group: "server", Since: "2.8.13",
		Summary: "Get array of Redis command details", Handler: cmdCommand, ACL: conn, Tips: order,
		Sub: map[string]*Command{
			"count": {Arity: 2, Flags: flags, Group: "server", Since: "2.8.13", ACL: conn,
				Summary: "Get total number of Redis commands", Handler: cmdCommandCount},
			"list": {Arity: -2, Flags: flags, Group: "server", Since: "7.0.0", ACL: conn, Tips: order,
				Summary: "Get an array of Redis command names", Handler: cmdCommandList},
			"info": {Arity: -2, Flags: flags, Group: "server", Since: "2.8.13", ACL: conn, Tips: order,
				Summary: "Get array of specific Redis command details, or all when no argument is given.", Handler: cmdCommandInfo},
			"docs": {Arity: -2, Flags: flags, Group: "server", Since: "7.0.0", ACL: conn, Tips: order,
				Summary: "Get array of specific Redis command documentation", Handler: cmdCommandDocs},
			"getkeys": {Arity: -4, Flags: flags, Group: "server", Since: "2.8.13", ACL: conn,
				Summary: "Extract keys given a full Redis command", Handler: cmdCommandGetKeys},
			"help": {Arity: 2, Flags: flags, Group: "server", Since: "5.0.0", ACL: conn,
				Summary: "Show helpful text about the different subcommands", Handler: cmdCommandHelp},
		}}
}

// cmdCommand is COMMAND without a subcommand: every command's details.
func cmdCommand(c *Client, args [][]byte) {
	cmds := c.s.table.All()
	c.W.Array(len(cmds))
	for _, cmd := range cmds {
		c.writeCommandInfo(cmd)
	}
}

func cmdCommandCount(c *Client, args [][]byte) { c.W.Int(int64(c.s.table.Len())) }

// writeCommandInfo writes one COMMAND INFO entry in Redis 7.0's format:
// name, arity, flags, first key, last key, step, ACL categories, tips, key
// specifications and subcommands.
func (c *Client) writeCommandInfo(cmd *Command) {
	c.W.Array(10)
	c.W.BulkString(cmd.FullName())
	c.W.Int(int64(cmd.Arity))
	flags := cmd.Flags.Names()
	if cmd.KeysFunc != nil {
		// Redis lists movablekeys just before allow_busy.
		if n := len(flags); n > 0 && flags[n-1] == "allow_busy" {
			flags = append(flags[:n-1], "movablekeys", "allow_busy")
		} else {
			flags = append(flags, "movablekeys")
		}
	}
	c.W.Set(len(flags))
	for _, f := range flags {
		c.W.Simple(f)
	}
	c.W.Int(int64(cmd.FirstKey))
	c.W.Int(int64(cmd.LastKey))
	c.W.Int(int64(cmd.Step))
	cats := cmd.Categories()
	c.W.Set(len(cats))
	for _, cat := range cats {
		c.W.Simple(cat)
	}
	c.W.Set(len(cmd.Tips))
	for _, t := range cmd.Tips {
		c.W.BulkString(t)
	}
	c.writeKeySpecs(cmd)
	subs := sortedSubs(cmd)
	c.W.Set(len(subs))
	for _, sub := range subs {
		c.writeCommandInfo(sub)
	}
}

// writeKeySpecs describes the keys given by first/last/step as one
// index/range key specification. Commands whose keys need a KeysFunc
// (movablekeys) have no static specification here.
func (c *Client) writeKeySpecs(cmd *Command) {
	if cmd.FirstKey <= 0 || cmd.KeysFunc != nil {
		c.W.Set(0)
		return
	}
	last := cmd.LastKey
	if last >= 0 {
		last -= cmd.FirstKey
	}
	step := cmd.Step
	if step <= 0 {
		step = 1
	}
	var flags []string
	switch {
	case cmd.Flags&FlagWrite != 0:
		flags = []string{"RW", "update"}
	case cmd.Flags&FlagReadonly != 0:
		flags = []string{"RO", "access"}
	default:
		flags = []string{"RO"}
	}
	c.W.Set(1)
	c.W.Map(3)
	c.W.BulkString("flags")
	c.W.Set(len(flags))
	for _, f := range flags {
		c.W.Simple(f)
	}
	c.W.BulkString("begin_search")
	c.W.Map(2)
	c.W.BulkString("type")
	c.W.BulkString("index")
	c.W.BulkString("spec")
	c.W.Map(1)
	c.W.BulkString("index")
	c.W.Int(int64(cmd.FirstKey))
	c.W.BulkString("find_keys")
	c.W.Map(2)
	c.W.BulkString("type")
	c.W.BulkString("range")
	c.W.BulkString("spec")
	c.W.Map(3)
	c.W.BulkString("lastkey")
	c.W.Int(int64(last))
	c.W.BulkString("keystep")
	c.W.Int(int64(step))
	c.W.BulkString("limit")
	c.W.Int(0)
}

// lookupCommandName finds "name" or "container|sub" in the table.
func (s *Server) lookupCommandName(name string) *Command {
	base, sub, hasSub := strings.Cut(strings.ToLower(name), "|")
	cmd := s.table.Lookup([]byte(base))
	if cmd == nil || !hasSub {
		return cmd
	}
	return cmd.Sub[sub]
}

func cmdCommandInfo(c *Client, args [][]byte) {
	if len(args) == 2 {
		cmdCommand(c, args)
		return
	}
	c.W.Array(len(args) - 2)
	for _, a := range args[2:] {
		if cmd := c.s.lookupCommandName(string(a)); cmd != nil {
			c.writeCommandInfo(cmd)
		} else {
			c.W.Null()
		}
	}
}

// writeCommandDocs writes a command's documentation map: summary, since,
// group and its subcommands' documentation.
func (c *Client) writeCommandDocs(cmd *Command) {
	n := 3
	if len(cmd.Sub) > 0 {
		n++
	}
	c.W.Map(n)
	c.W.BulkString("summary")
	c.W.BulkString(cmd.Summary)
	c.W.BulkString("since")
	c.W.BulkString(cmd.Since)
	c.W.BulkString("group")
	c.W.BulkString(cmd.Group)
	if len(cmd.Sub) > 0 {
		c.W.BulkString("subcommands")
		subs := sortedSubs(cmd)
		c.W.Map(len(subs))
		for _, sub := range subs {
			c.W.BulkString(sub.FullName())
			c.writeCommandDocs(sub)
		}
	}
}

func cmdCommandDocs(c *Client, args [][]byte) {
	var cmds []*Command
	if len(args) == 2 {
		cmds = c.s.table.All()
	} else {
		for _, a := range args[2:] {
			if cmd := c.s.lookupCommandName(string(a)); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	c.W.Map(len(cmds))
	for _, cmd := range cmds {
		c.W.BulkString(cmd.FullName())
		c.writeCommandDocs(cmd)
	}
}

func cmdCommandList(c *Client, args [][]byte) {
	var match func(cmd *Command) bool
	switch {
	case len(args) == 2:
	case len(args) == 5 && strings.EqualFold(string(args[2]), "filterby"):
		val := string(args[4])
		switch strings.ToLower(string(args[3])) {
		case "module":
			match = func(*Command) bool { return false } // thredis has no modules
		case "aclcat":
			cat := "@" + strings.ToLower(val)
			match = func(cmd *Command) bool {
				for _, x := range cmd.Categories() {
					if x == cat {
						return true
					}
				}
				return false
			}
		case "pattern":
			match = func(cmd *Command) bool { return glob.Match([]byte(val), []byte(cmd.FullName()), true) }
		default:
			c.replyError(errSyntax)
			return
		}
	default:
		c.replyError(errSyntax)
		return
	}
	var names []string
	for _, cmd := range c.s.allCommandRows() {
		if match == nil || match(cmd) {
			names = append(names, cmd.FullName())
		}
	}
	c.W.Array(len(names))
	for _, n := range names {
		c.W.BulkString(n)
	}
}

func cmdCommandGetKeys(c *Client, args [][]byte) {
	cmdArgs := args[2:]
	cmd := c.s.table.Lookup(cmdArgs[0])
	if cmd != nil && cmd.Sub != nil && len(cmdArgs) >= 2 {
		cmd = cmd.Sub[strings.ToLower(string(cmdArgs[1]))]
	}
	switch {
	case cmd == nil:
		c.replyError("ERR Invalid command specified")
		return
	case !cmd.arityOK(len(cmdArgs)):
		c.replyError("ERR Invalid number of arguments specified for command")
		return
	}
	pos := cmd.KeyPositions(cmdArgs)
	if len(pos) == 0 {
		c.replyError("ERR The command has no key arguments")
		return
	}
	c.W.Array(len(pos))
	for _, p := range pos {
		c.W.Bulk(cmdArgs[p])
	}
}

func cmdCommandHelp(c *Client, args [][]byte) {
	c.replyHelp("COMMAND",
		"(no subcommand)",
		"    Return details about all Redis commands.",
		"COUNT",
		"    Return the total number of commands in this Redis server.",
		"LIST",
		"    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"GETKEYS <full-command>",
		"    Return the keys from a full Redis command.",
	)
}
