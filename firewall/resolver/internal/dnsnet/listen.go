// Package dnsnet holds what the resolver and its test server share about
// sockets: binding UDP and TCP on one port.
package dnsnet

import (
	"fmt"
	"net"
)

// udpReadBuffer is the receive buffer asked for UDP sockets.
const udpReadBuffer = 4 << 20

// ListenBoth binds UDP and TCP on the same address. With port 0 it picks a
// port that is free for both, trying a few times because the UDP port the
// kernel picks may be taken for TCP.
func ListenBoth(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("address %q: %w", addr, err)
	}
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("bind UDP %s: %w", addr, err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			// A burst of queries (a build starting, a test's 1,000 names)
			// must not overflow the default ~200 KB buffer: a dropped query
			// costs the client a retry, 1 to 5 s. The kernel caps this at
			// net.core.rmem_max; less is no error.
			if u, ok := pc.(*net.UDPConn); ok {
				setReadBuffer(u, udpReadBuffer)
			}
			return pc, l, nil
		}
		pc.Close()
		lastErr = fmt.Errorf("bind TCP %s: %w", pc.LocalAddr(), err)
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}
