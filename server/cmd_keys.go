package server

// keyCommands returns the key command family's rows of the command table.
func keyCommands() []*Command {
	return []*Command{}
}
