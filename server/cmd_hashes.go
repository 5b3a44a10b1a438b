package server

// hashCommands returns the hash command family's rows of the command table.
func hashCommands() []*Command {
	return []*Command{}
}
