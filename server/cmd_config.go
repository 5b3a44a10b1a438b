package server

import (
	"errors"
	"io/fs"
	"strings"
)

// configCommands returns the CONFIG command family's rows of the command
// table.
func configCommands() []*Command {
	admin := FlagAdmin | FlagNoScript | FlagLoading | FlagStale
	return []*Command{
		{Name: "config", Arity: -2, Group: "server", Summary: "A container for server configuration commands",
			Since: "2.0.0", Handler: dispatchSub, Sub: map[string]*Command{
				"get": {Arity: -3, Flags: admin, Group: "server", Since: "2.0.0",
					Summary: "Get the values of configuration parameters", Handler: cmdConfigGet},
				"set": {Arity: -4, Flags: admin, Group: "server", Since: "2.0.0",
					Summary: "Set configuration parameters to the given values", Handler: cmdConfigSet,
					Tips: []string{"request_policy:all_nodes", "response_policy:all_succeeded"}},
				"resetstat": {Arity: 2, Flags: admin, Group: "server", Since: "2.0.0",
					Summary: "Reset the stats returned by INFO", Handler: cmdConfigResetStat},
				"rewrite": {Arity: 2, Flags: admin, Group: "server", Since: "2.8.0",
					Summary: "Rewrite the configuration file with the in memory configuration", Handler: cmdConfigRewrite},
				"help": {Arity: 2, Flags: FlagLoading | FlagStale, Group: "server", Since: "5.0.0",
					Summary: "Show helpful text about the different subcommands", Handler: cmdConfigHelp},
			}},
	}
}

func cmdConfigGet(c *Client, args [][]byte) {
	patterns := make([]string, len(args)-2)
	for i, a := range args[2:] {
		patterns[i] = string(a)
	}
	pairs := c.s.cfg.Match(patterns...)
	c.W.Map(len(pairs))
	for _, p := range pairs {
		c.W.BulkString(p[0])
		c.W.BulkString(p[1])
	}
}

func cmdConfigSet(c *Client, args [][]byte) {
	pairs := make([]string, len(args)-2)
	for i, a := range args[2:] {
		pairs[i] = string(a)
	}
	// Sensitive values (requirepass, ...) never reach SLOWLOG, even when
	// the command fails.
	for i := 2; i+1 < len(args); i += 2 {
		if c.s.cfg.SensitiveDirective(string(args[i])) && i+1 < 64 {
			c.redact |= 1 << uint(i+1)
		}
	}
	if err := c.s.cfg.SetRuntime(isLoopback(c.netConn().RemoteAddr()), pairs...); err != nil {
		c.replyError("ERR " + err.Error())
		return
	}
	c.W.OK()
}

func cmdConfigResetStat(c *Client, args [][]byte) {
	c.s.resetStats()
	c.W.OK()
}

func cmdConfigRewrite(c *Client, args [][]byte) {
	err := c.s.cfg.Rewrite()
	if err == nil {
		c.s.log.Warn("CONFIG REWRITE executed with success.")
		c.W.OK()
		return
	}
	if c.s.cfg.File == "" {
		c.replyError("ERR " + err.Error())
		return
	}
	c.s.log.Warn("CONFIG REWRITE failed", "error", err)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = errorText(pe.Err)
	}
	c.replyError("ERR Rewriting config file: " + err.Error())
}

func cmdConfigHelp(c *Client, args [][]byte) {
	c.replyHelp("CONFIG",
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.",
	)
}

// replyHelp writes a HELP reply like Redis's addReplyHelp: a header line,
// the given lines and the HELP entry, as status strings.
func (c *Client) replyHelp(name string, lines ...string) {
	c.W.Array(len(lines) + 3)
	c.W.Simple(strings.ToUpper(name) + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.W.Simple(l)
	}
	c.W.Simple("HELP")
	c.W.Simple("    Prints this help.")
}
