//go:build !linux

package dnsnet

import "net"

// setReadBuffer sets u's receive buffer to size, as far as the system lets
// it.
func setReadBuffer(u *net.UDPConn, size int) { _ = u.SetReadBuffer(size) }
