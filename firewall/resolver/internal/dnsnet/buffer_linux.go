package dnsnet

import (
	"net"

	"golang.org/x/sys/unix"
)

// setReadBuffer sets u's receive buffer to size: past net.core.rmem_max
// when the process holds CAP_NET_ADMIN (the gateway does), else as far as
// rmem_max lets it.
func setReadBuffer(u *net.UDPConn, size int) {
	raw, err := u.SyscallConn()
	if err == nil {
		var serr error
		err = raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
		})
		if err == nil && serr == nil {
			return
		}
	}
	_ = u.SetReadBuffer(size)
}
