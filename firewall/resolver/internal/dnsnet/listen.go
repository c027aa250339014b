// Package dnsnet holds what the resolver and its test server share about
// sockets: binding UDP and TCP on one port.
package dnsnet

import (
	"fmt"
	"net"
)

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
