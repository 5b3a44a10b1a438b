// Command thredis is a Redis-protocol server with SQLite inside.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "thredis:", err)
		os.Exit(1)
	}
}
