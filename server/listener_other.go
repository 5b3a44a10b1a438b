//go:build !unix

package server

import "syscall"

// v6Only leaves sockets as the platform makes them.
func v6Only(network, address string, c syscall.RawConn) error { return nil }
