package server

// serverCommands returns the server command family's rows of the command table.
func serverCommands() []*Command {
	return []*Command{}
}
