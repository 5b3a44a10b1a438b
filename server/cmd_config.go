package server

// configCommands returns the config command family's rows of the command table.
func configCommands() []*Command {
	return []*Command{}
}
