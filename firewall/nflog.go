//go:build linux

package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NFLOG over nfnetlink (linux/netfilter/nfnetlink_log.h): the gateway
// reads the packets its rules copy to NFLOG groups. Binding a group takes
// CAP_NET_ADMIN, which dev does not hold: the agent can neither read nor
// take the groups.
const (
	nfnlSubsysULOG   = 4
	nfulnlMsgPacket  = 0
	nfulnlMsgConfig  = 1
	nfulaCfgCmd      = 1
	nfulaCfgMode     = 2
	nfulaCfgNLBufSiz = 3
	nfulaCfgTimeout  = 4
	nfulaCfgQThresh  = 5
	nfulnlCmdBind    = 1
	nfulnlCopyPacket = 2
	nfulaPayload     = 9
	nfulaPrefix      = 10

	// nflogCopy is how much of each packet is copied: its IP and
	// transport headers.
	nflogCopy = 128
)

// nflogPacket is one packet copied to an NFLOG group.
type nflogPacket struct {
	group   uint16
	prefix  string
	src     netip.Addr
	dst     netip.Addr
	proto   string
	sport   uint16
	dport   uint16
	invalid bool // the payload could not be parsed
}

// nflogConn is a netlink socket bound to NFLOG groups.
type nflogConn struct {
	fd  int
	seq uint32
}

// openNFLog binds groups, copying nflogCopy bytes of each packet and
// batching up to 64 packets or 50 ms into one message. Reads time out
// after readTimeout, so the reader can do its periodic work.
func openNFLog(groups []uint16, readTimeout time.Duration) (*nflogConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open NFLOG: %w", err)
	}
	c := &nflogConn{fd: fd}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		c.Close()
		return nil, fmt.Errorf("open NFLOG: %w", err)
	}
	// Room for bursts; past it the kernel drops and reads say ENOBUFS.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	tv := unix.NsecToTimeval(readTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		c.Close()
		return nil, fmt.Errorf("open NFLOG: %w", err)
	}
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	for _, g := range groups {
		for _, attr := range []nlattr{
			{nfulaCfgCmd, []byte{nfulnlCmdBind}},
			{nfulaCfgMode, append(be32(nflogCopy), nfulnlCopyPacket, 0)},
			{nfulaCfgNLBufSiz, be32(64 << 10)},
			{nfulaCfgQThresh, be32(64)},
			{nfulaCfgTimeout, be32(5)}, // in 1/100 s
		} {
			if err := c.config(g, attr); err != nil {
				c.Close()
				return nil, fmt.Errorf("open NFLOG group %d: %w", g, err)
			}
		}
	}
	return c, nil
}

type nlattr struct {
	typ  uint16
	data []byte
}

// config sends one config attribute for group and waits for the ack.
func (c *nflogConn) config(group uint16, a nlattr) error {
	c.seq++
	msg := make([]byte, 0, 64)
	msg = binary.NativeEndian.AppendUint32(msg, 0) // length, below
	msg = binary.NativeEndian.AppendUint16(msg, nfnlSubsysULOG<<8|nfulnlMsgConfig)
	msg = binary.NativeEndian.AppendUint16(msg, unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	msg = binary.NativeEndian.AppendUint32(msg, c.seq)
	msg = binary.NativeEndian.AppendUint32(msg, 0)
	msg = append(msg, unix.AF_UNSPEC, unix.NFNETLINK_V0)
	msg = binary.BigEndian.AppendUint16(msg, group)
	msg = binary.NativeEndian.AppendUint16(msg, uint16(4+len(a.data)))
	msg = binary.NativeEndian.AppendUint16(msg, a.typ)
	msg = append(msg, a.data...)
	for len(msg)%4 != 0 {
		msg = append(msg, 0)
	}
	binary.NativeEndian.PutUint32(msg, uint32(len(msg)))
	if err := unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq || m.Header.Type != unix.NLMSG_ERROR {
				continue // a packet already, or an older answer
			}
			if len(m.Data) < 4 {
				return errors.New("short netlink ack")
			}
			if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return syscall.Errno(-errno)
			}
			return nil
		}
	}
}

// errOverrun says the kernel dropped log messages: the socket's buffer
// was full.
var errOverrun = errors.New("the kernel dropped NFLOG messages: the reader fell behind")

// read waits for the next batch of packets into buf and appends them to
// out. It returns errOverrun when messages were lost (the socket goes on),
// and a timeout as (out, nil).
func (c *nflogConn) read(buf []byte, out []nflogPacket) ([]nflogPacket, error) {
	n, _, err := unix.Recvfrom(c.fd, buf, 0)
	switch {
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		return out, nil
	case errors.Is(err, unix.ENOBUFS):
		return out, errOverrun
	case err != nil:
		return out, fmt.Errorf("read NFLOG: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return out, fmt.Errorf("read NFLOG: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != nfnlSubsysULOG<<8|nfulnlMsgPacket || len(m.Data) < 4 {
			continue
		}
		out = append(out, parseNFLogPacket(m.Data))
	}
	return out, nil
}

// Close closes the socket.
func (c *nflogConn) Close() error { return unix.Close(c.fd) }

// parseNFLogPacket parses an NFULNL_MSG_PACKET body: the nfgenmsg (whose
// res_id is the group), then attributes.
func parseNFLogPacket(data []byte) nflogPacket {
	p := nflogPacket{group: binary.BigEndian.Uint16(data[2:4])}
	var payload []byte
	for b := data[4:]; len(b) >= 4; {
		l := int(binary.NativeEndian.Uint16(b))
		if l < 4 || l > len(b) {
			break
		}
		switch binary.NativeEndian.Uint16(b[2:]) & 0x3fff {
		case nfulaPrefix:
			s := b[4:l]
			for i, c := range s {
				if c == 0 {
					s = s[:i]
					break
				}
			}
			p.prefix = string(s)
		case nfulaPayload:
			payload = b[4:l]
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	p.parseIP(payload)
	return p
}

// parseIP reads the addresses, protocol and ports of an IP packet's
// headers.
func (p *nflogPacket) parseIP(b []byte) {
	if len(b) < 1 {
		p.invalid = true
		return
	}
	var proto uint8
	var rest []byte
	switch b[0] >> 4 {
	case 4:
		ihl := int(b[0]&0xf) * 4
		if len(b) < 20 || ihl < 20 || len(b) < ihl {
			p.invalid = true
			return
		}
		p.src, _ = netip.AddrFromSlice(b[12:16])
		p.dst, _ = netip.AddrFromSlice(b[16:20])
		proto, rest = b[9], b[ihl:]
		if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
			rest = nil // a later fragment: no transport header
		}
	case 6:
		if len(b) < 40 {
			p.invalid = true
			return
		}
		p.src, _ = netip.AddrFromSlice(b[8:24])
		p.dst, _ = netip.AddrFromSlice(b[24:40])
		proto, rest = b[6], b[40:]
		// Extension headers: hop-by-hop, routing, destination options,
		// fragment.
		for range 8 {
			switch proto {
			case 0, 43, 60:
				if len(rest) < 8 {
					rest = nil
					break
				}
				l := (int(rest[1]) + 1) * 8
				proto, rest = rest[0], rest[min(l, len(rest)):]
				continue
			case 44:
				if len(rest) < 8 {
					rest = nil
					break
				}
				if binary.BigEndian.Uint16(rest[2:4])&0xfff8 != 0 {
					proto, rest = rest[0], nil // a later fragment: no transport header
					break
				}
				proto, rest = rest[0], rest[8:]
				continue
			}
			break
		}
	default:
		p.invalid = true
		return
	}
	p.proto = protoName(proto)
	if (proto == 6 || proto == 17 || proto == 132) && len(rest) >= 4 {
		p.sport = binary.BigEndian.Uint16(rest[0:2])
		p.dport = binary.BigEndian.Uint16(rest[2:4])
	}
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}
