package server

// clientCommands returns the client command family's rows of the command table.
func clientCommands() []*Command {
	return []*Command{}
}
