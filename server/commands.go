package server

import (
	"strconv"

	"github.com/thredis/thredis/canonint"
)

// allCommands gathers the command families into the table's rows. Each
// family lives in the file named for it (cmd_strings.go, cmd_hashes.go, ...).
func allCommands() [][]*Command {
	return [][]*Command{
		connectionCommands(),
		stringCommands(),
		bitCommands(),
		hashCommands(),
		keyCommands(),
		expireCommands(),
		txCommands(),
		serverCommands(),
		clientCommands(),
		configCommands(),
		sqlCommands(),
		replicationCommands(),
	}
}

// Common error replies, with Redis 7's exact texts.
const (
	errSyntax        = "ERR syntax error"
	errNotInteger    = "ERR value is not an integer or out of range"
	errNotFloat      = "ERR value is not a valid float"
	errOverflow      = "ERR increment or decrement would overflow"
	errNoSuchKey     = "ERR no such key"
	errDBIndex       = "ERR DB index is out of range"
	readOnlyError    = "READONLY You can't write against a read only replica."
	errInvalidExpire = "ERR invalid expire time in '%s' command"
)

const protectedModeMsg = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside."

// replicaReadOnlyRefuses reports whether cmd must be refused because this
// server is a read-only replica and c is not its master.
func (s *Server) replicaReadOnlyRefuses(c *Client, cmd *Command) bool {
	return cmd.Flags&FlagWrite != 0 && s.readOnly.Load() && c.flags.Load()&uint32(clientMaster) == 0
}

func itoa(n int) string { return strconv.Itoa(n) }

// parseInt parses a whole argument as a signed 64-bit integer, the way
// Redis's string2ll does (no spaces, no '+', no leading zeros).
func parseInt(b []byte) (int64, bool) { return canonint.Parse(b) }
