package server

// expireCommands returns the expire command family's rows of the command table.
func expireCommands() []*Command {
	return []*Command{}
}
