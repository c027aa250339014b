//go:build linux

package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ipsetBatch is how many entries go into one netlink message. The kernel
// takes a list of entries in one IPSET_CMD_ADD (that is how `ipset restore`
// is fast); 512 IPv6 entries make a message of about 20 KiB, well under the
// socket buffer. TestBenchFirewall compares 1, 512 and 1,024 per message.
const ipsetBatch = 512

// ipsetConn talks to the kernel's ipset subsystem over one netfilter netlink
// socket, reused for every request of a run.
type ipsetConn struct {
	sockets map[int]*nl.SocketHandle
	batch   int // entries per add message; ipsetBatch unless a benchmark says otherwise
}

// openIpset opens the netlink socket in the current network namespace.
func openIpset() (*ipsetConn, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open netfilter netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval((10 * time.Second).Nanoseconds())
	if err := s.SetSendTimeout(&tv); err != nil {
		s.Close()
		return nil, fmt.Errorf("set netlink send timeout: %w", err)
	}
	if err := s.SetReceiveTimeout(&tv); err != nil {
		s.Close()
		return nil, fmt.Errorf("set netlink receive timeout: %w", err)
	}
	return &ipsetConn{sockets: map[int]*nl.SocketHandle{unix.NETLINK_NETFILTER: {Socket: s}}, batch: ipsetBatch}, nil
}

// Close releases the socket.
func (c *ipsetConn) Close() {
	for _, s := range c.sockets {
		s.Close()
	}
}

// request sends one ipset command whose attributes (after the protocol
// version, which every request carries) are attrs, and returns the answers.
func (c *ipsetConn) request(cmd int, extraFlags int, attrs []byte) ([][]byte, error) {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   unix.SizeofNlMsghdr,
			Type:  uint16(cmd | unix.NFNL_SUBSYS_IPSET<<8),
			Flags: uint16(nl.GetIpsetFlags(cmd) | extraFlags),
		},
		Sockets: c.sockets,
	}
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_INET, Version: nl.NFNETLINK_V0})
	raw := appendAttr(nil, nl.IPSET_ATTR_PROTOCOL, []byte{nl.IPSET_PROTOCOL})
	req.AddRawData(append(raw, attrs...))
	msgs, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	var errno syscall.Errno
	if errors.As(err, &errno) && int(errno) >= nl.IPSET_ERR_PRIVATE {
		err = ipsetError(errno)
	}
	return msgs, err
}

// ipsetError names the ipset-specific error codes the kernel returns.
func ipsetError(errno syscall.Errno) error {
	switch int(errno) {
	case nl.IPSET_ERR_PROTOCOL:
		return errors.New("kernel ipset protocol mismatch")
	case nl.IPSET_ERR_FIND_TYPE:
		return errors.New("set type hash:net not supported by the kernel")
	case nl.IPSET_ERR_EXIST_SETNAME2:
		return errors.New("second set does not exist")
	case nl.IPSET_ERR_TYPE_MISMATCH:
		return errors.New("sets have different types or families")
	case nl.IPSET_ERR_REFERENCED:
		return errors.New("set is still referenced by a rule")
	case nl.IPSET_ERR_INVALID_CIDR:
		return errors.New("invalid prefix length")
	case nl.IPSET_ERR_INVALID_FAMILY:
		return errors.New("address family does not match the set")
	case nl.IPSET_ERR_TYPE_SPECIFIC + 1: // IPSET_ERR_HASH_FULL
		return errors.New("set is full")
	}
	return fmt.Errorf("ipset error %d", int(errno))
}

// appendAttr appends one netlink attribute (header, value, padding) to b.
func appendAttr(b []byte, typ int, value []byte) []byte {
	n := unix.SizeofRtAttr + len(value)
	b = binary.NativeEndian.AppendUint16(b, uint16(n))
	b = binary.NativeEndian.AppendUint16(b, uint16(typ))
	b = append(b, value...)
	for range nlaAlign(n) - n {
		b = append(b, 0)
	}
	return b
}

// nested wraps attributes into a nested attribute of type typ.
func nested(typ int, inner []byte) []byte {
	return appendAttr(nil, typ|unix.NLA_F_NESTED, inner)
}

func nlaAlign(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

func beUint32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func nameAttr(typ int, name string) []byte {
	return appendAttr(nil, typ, append([]byte(name), 0))
}

// typeRevision asks the kernel for the newest revision of hash:net it has
// for family, the one `ipset create` would use.
func (c *ipsetConn) typeRevision(family uint8) (uint8, error) {
	return c.typeRevisionOf(typeNet, family)
}

// create makes an empty hash:net set of family sized for about n entries.
func (c *ipsetConn) create(name string, family uint8, revision uint8, n int) error {
	return c.createRev(name, typeNet, family, revision, n, false)
}

// destroy removes the set name; a set that does not exist is not an error.
func (c *ipsetConn) destroy(name string) error {
	_, err := c.request(nl.IPSET_CMD_DESTROY, 0, nameAttr(nl.IPSET_ATTR_SETNAME, name))
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("destroy ipset %s: %w", name, err)
	}
	return nil
}

// swap exchanges the contents of two sets of the same type and family in one
// kernel operation: rules that match a by name see b's entries from then on.
func (c *ipsetConn) swap(a, b string) error {
	attrs := append(nameAttr(nl.IPSET_ATTR_SETNAME, a), nameAttr(nl.IPSET_ATTR_SETNAME2, b)...)
	if _, err := c.request(nl.IPSET_CMD_SWAP, 0, attrs); err != nil {
		return fmt.Errorf("swap ipsets %s and %s: %w", a, b, err)
	}
	return nil
}

// exists reports whether the set name exists.
func (c *ipsetConn) exists(name string) (bool, error) {
	_, err := c.request(nl.IPSET_CMD_HEADER, 0, nameAttr(nl.IPSET_ATTR_SETNAME, name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, fmt.Errorf("look up ipset %s: %w", name, err)
}

// add puts prefixes (all of the set's family) into the set, c.batch per
// message. Entries already present are not an error.
func (c *ipsetConn) add(name string, prefixes []netip.Prefix) error {
	setName := nameAttr(nl.IPSET_ATTR_SETNAME, name)
	// The list is one attribute, whose length is 16 bits: 1,500 IPv6
	// entries (36 bytes each) stay below 64 KiB.
	size := min(c.batch, 1500)
	for start := 0; start < len(prefixes); start += size {
		batch := prefixes[start:min(start+size, len(prefixes))]
		entries := make([]byte, 0, len(batch)*44)
		for _, p := range batch {
			entries = append(entries, nested(nl.IPSET_ATTR_DATA, entryAttrs(p))...)
		}
		attrs := append(append([]byte{}, setName...), nested(nl.IPSET_ATTR_ADT, entries)...)
		// The kernel wants a line number beside a list of entries.
		attrs = appendAttr(attrs, nl.IPSET_ATTR_LINENO|unix.NLA_F_NET_BYTEORDER, beUint32(uint32(start)))
		if _, err := c.request(nl.IPSET_CMD_ADD, 0, attrs); err != nil {
			return fmt.Errorf("add %d entries (from %s) to ipset %s: %w", len(batch), batch[0], name, err)
		}
	}
	return nil
}

// entryAttrs encodes one hash:net entry: the address and its prefix length.
func entryAttrs(p netip.Prefix) []byte {
	typ := nl.IPSET_ATTR_IPADDR_IPV4
	if p.Addr().Is6() {
		typ = nl.IPSET_ATTR_IPADDR_IPV6
	}
	ip := appendAttr(nil, typ|unix.NLA_F_NET_BYTEORDER, p.Addr().AsSlice())
	b := nested(nl.IPSET_ATTR_IP, ip)
	return appendAttr(b, nl.IPSET_ATTR_CIDR, []byte{uint8(p.Bits())})
}

// list returns the entries of the set name.
func (c *ipsetConn) list(name string) ([]netip.Prefix, error) {
	msgs, err := c.request(nl.IPSET_CMD_LIST, 0, nameAttr(nl.IPSET_ATTR_SETNAME, name))
	if err != nil {
		return nil, fmt.Errorf("list ipset %s: %w", name, err)
	}
	var out []netip.Prefix
	for _, m := range msgs {
		for a := range nl.ParseAttributes(m[nfgenmsgLen:]) {
			if a.Type&nl.NLA_TYPE_MASK != nl.IPSET_ATTR_ADT {
				continue
			}
			for d := range nl.ParseAttributes(a.Value) {
				if p, ok := parseEntry(d.Value); ok {
					out = append(out, p)
				}
			}
		}
	}
	return out, nil
}

// parseEntry decodes the IPSET_ATTR_DATA of one hash:net entry.
func parseEntry(data []byte) (netip.Prefix, bool) {
	var addr netip.Addr
	bits := -1
	for a := range nl.ParseAttributes(data) {
		switch a.Type & nl.NLA_TYPE_MASK {
		case nl.IPSET_ATTR_IP:
			for ip := range nl.ParseAttributes(a.Value) {
				addr, _ = netip.AddrFromSlice(ip.Value)
			}
		case nl.IPSET_ATTR_CIDR:
			if len(a.Value) > 0 {
				bits = int(a.Value[0])
			}
		}
	}
	if !addr.IsValid() {
		return netip.Prefix{}, false
	}
	if bits < 0 {
		bits = addr.BitLen()
	}
	return netip.PrefixFrom(addr, bits), true
}

// IpsetRestoreScript renders entries as input for `ipset restore`: the same
// set the netlink loader builds. Used by --dry-run and the benchmark.
func IpsetRestoreScript(name, family string, prefixes []netip.Prefix) string {
	var b strings.Builder
	fmt.Fprintf(&b, "create %s hash:net family %s maxelem %d\n", name, family, max(65536, 2*len(prefixes)))
	for _, p := range prefixes {
		fmt.Fprintf(&b, "add %s %s\n", name, p)
	}
	return b.String()
}

// nfgenmsgLen is the size of the netfilter header before the attributes.
const nfgenmsgLen = 4
