//go:build unix

package server

import "syscall"

// v6Only is a net.ListenConfig control function that makes IPv6 sockets
// IPv6-only (Redis's anetV6Only), so binding "::" does not also claim the
// IPv4 wildcard address.
func v6Only(network, address string, c syscall.RawConn) error {
	if network != "tcp6" {
		return nil
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1)
	}); err != nil {
		return err
	}
	return serr
}
