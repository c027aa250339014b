//go:build linux

package firewall

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Set types beside hash:net. Entries with ports are TCP only: an allowlist
// entry names TCP ports ("example.com:443"), and a set entry "addr,tcp:443"
// does not match UDP to the same port.
const (
	typeNet     = "hash:net"
	typeNetPort = "hash:net,port"
	typeIPPort  = "hash:ip,port"
)

// protoTCP is IPPROTO_TCP, as a hash:*,port entry names its protocol.
const protoTCP = 6

// maxSetTimeout is the longest timeout the kernel takes for an entry.
const maxSetTimeout = 2147483 * time.Second

// portEntry is one entry of a hash:net,port or hash:ip,port set: TCP to the
// prefix (a single address for hash:ip,port) on port, for timeout (0: none;
// only in a set made with timeouts).
type portEntry struct {
	prefix  netip.Prefix
	port    uint16
	timeout time.Duration
}

// typeRevisionOf asks the kernel for the newest revision of set type typ for
// family, the one `ipset create` would use.
func (c *ipsetConn) typeRevisionOf(typ string, family uint8) (uint8, error) {
	attrs := nameAttr(nl.IPSET_ATTR_TYPENAME, typ)
	attrs = appendAttr(attrs, nl.IPSET_ATTR_FAMILY, []byte{family})
	msgs, err := c.request(nl.IPSET_CMD_TYPE, 0, attrs)
	if err != nil {
		return 0, fmt.Errorf("ask the kernel for ipset type %s: %w", typ, err)
	}
	for _, m := range msgs {
		for a := range nl.ParseAttributes(m[nfgenmsgLen:]) {
			if a.Type == nl.IPSET_ATTR_REVISION && len(a.Value) == 1 {
				return a.Value[0], nil
			}
		}
	}
	return 0, fmt.Errorf("kernel did not name a %s revision", typ)
}

// createTyped makes an empty set of type typ sized for about n entries.
// withTimeout gives it timeout support (entries then carry their own
// timeout; 0 means none).
func (c *ipsetConn) createTyped(name, typ string, family uint8, n int, withTimeout bool) error {
	rev, err := c.typeRevisionOf(typ, family)
	if err != nil {
		return fmt.Errorf("create ipset %s: %w", name, err)
	}
	return c.createRev(name, typ, family, rev, n, withTimeout)
}

// createRev is createTyped with the type's revision known.
func (c *ipsetConn) createRev(name, typ string, family uint8, rev uint8, n int, withTimeout bool) error {
	hashSize := uint32(1024)
	for int(hashSize) < n && hashSize < 1<<20 {
		hashSize <<= 1
	}
	maxElem := uint32(max(65536, 2*n))
	if typ != typeNet {
		maxElem = uint32(max(262144, 2*n)) // names: up to 50 addresses each
	}
	data := appendAttr(nil, nl.IPSET_ATTR_HASHSIZE|unix.NLA_F_NET_BYTEORDER, beUint32(hashSize))
	data = appendAttr(data, nl.IPSET_ATTR_MAXELEM|unix.NLA_F_NET_BYTEORDER, beUint32(maxElem))
	if withTimeout {
		data = appendAttr(data, nl.IPSET_ATTR_TIMEOUT|unix.NLA_F_NET_BYTEORDER, beUint32(0))
	}
	attrs := nameAttr(nl.IPSET_ATTR_SETNAME, name)
	attrs = append(attrs, nameAttr(nl.IPSET_ATTR_TYPENAME, typ)...)
	attrs = appendAttr(attrs, nl.IPSET_ATTR_REVISION, []byte{rev})
	attrs = appendAttr(attrs, nl.IPSET_ATTR_FAMILY, []byte{family})
	attrs = append(attrs, nested(nl.IPSET_ATTR_DATA, data)...)
	if _, err := c.request(nl.IPSET_CMD_CREATE, unix.NLM_F_EXCL, attrs); err != nil {
		return fmt.Errorf("create ipset %s (%s): %w", name, typ, err)
	}
	return nil
}

// addPorts puts entries into the hash:net,port or hash:ip,port set name,
// each with its timeout. An entry already present gets the new timeout
// (the kernel's -exist), which is how a repeated DNS answer refreshes its
// addresses.
func (c *ipsetConn) addPorts(name string, entries []portEntry, withCIDR bool) error {
	return c.portsRequest(nl.IPSET_CMD_ADD, "add", name, entries, withCIDR)
}

// portsRequest sends entries to the set name with cmd (add or delete),
// c.batch (at most 1,000) per message.
func (c *ipsetConn) portsRequest(cmd int, verb, name string, entries []portEntry, withCIDR bool) error {
	setName := nameAttr(nl.IPSET_ATTR_SETNAME, name)
	size := min(c.batch, 1000)
	for start := 0; start < len(entries); start += size {
		batch := entries[start:min(start+size, len(entries))]
		list := make([]byte, 0, len(batch)*64)
		for _, e := range batch {
			list = append(list, nested(nl.IPSET_ATTR_DATA, portEntryAttrs(e, withCIDR))...)
		}
		attrs := append(append([]byte{}, setName...), nested(nl.IPSET_ATTR_ADT, list)...)
		attrs = appendAttr(attrs, nl.IPSET_ATTR_LINENO|unix.NLA_F_NET_BYTEORDER, beUint32(uint32(start)))
		if _, err := c.request(cmd, 0, attrs); err != nil {
			return fmt.Errorf("%s %d entries (from %s port %d), ipset %s: %w", verb, len(batch), batch[0].prefix, batch[0].port, name, err)
		}
	}
	return nil
}

// portEntryAttrs encodes one entry: address (and prefix length for
// hash:net,port), TCP port and, when set, the timeout in whole seconds
// (rounded up, so an entry never expires early).
func portEntryAttrs(e portEntry, withCIDR bool) []byte {
	typ := nl.IPSET_ATTR_IPADDR_IPV4
	if e.prefix.Addr().Is6() {
		typ = nl.IPSET_ATTR_IPADDR_IPV6
	}
	b := nested(nl.IPSET_ATTR_IP, appendAttr(nil, typ|unix.NLA_F_NET_BYTEORDER, e.prefix.Addr().AsSlice()))
	if withCIDR {
		b = appendAttr(b, nl.IPSET_ATTR_CIDR, []byte{uint8(e.prefix.Bits())})
	}
	b = appendAttr(b, nl.IPSET_ATTR_PORT|unix.NLA_F_NET_BYTEORDER, binary.BigEndian.AppendUint16(nil, e.port))
	b = appendAttr(b, nl.IPSET_ATTR_PROTO, []byte{protoTCP})
	if e.timeout > 0 {
		secs := uint32((min(e.timeout, maxSetTimeout) + time.Second - 1) / time.Second)
		b = appendAttr(b, nl.IPSET_ATTR_TIMEOUT|unix.NLA_F_NET_BYTEORDER, beUint32(secs))
	}
	return b
}

// listPorts returns the entries of a hash:net,port or hash:ip,port set.
func (c *ipsetConn) listPorts(name string) ([]portEntry, error) {
	msgs, err := c.request(nl.IPSET_CMD_LIST, 0, nameAttr(nl.IPSET_ATTR_SETNAME, name))
	if err != nil {
		return nil, fmt.Errorf("list ipset %s: %w", name, err)
	}
	var out []portEntry
	for _, m := range msgs {
		for a := range nl.ParseAttributes(m[nfgenmsgLen:]) {
			if a.Type&nl.NLA_TYPE_MASK != nl.IPSET_ATTR_ADT {
				continue
			}
			for d := range nl.ParseAttributes(a.Value) {
				p, ok := parseEntry(d.Value)
				if !ok {
					continue
				}
				e := portEntry{prefix: p}
				for f := range nl.ParseAttributes(d.Value) {
					if f.Type&nl.NLA_TYPE_MASK == nl.IPSET_ATTR_PORT && len(f.Value) == 2 {
						e.port = binary.BigEndian.Uint16(f.Value)
					}
				}
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// NameSets lets the resolver allow answered addresses: it adds them, with
// the ports of the rule that allowed the name and a timeout, to the
// family's name set over its own netlink socket. Concurrent calls are
// written together: one writer takes every request waiting and adds them
// all in one message per family, so a burst of answers costs a few
// netlink round trips, not one each.
type NameSets struct {
	conn *ipsetConn
	// v6 says the IPv6 set exists (IPv6 is filtered); IPv6 addresses are
	// refused otherwise.
	v6   bool
	reqs chan *allowRequest
	stop chan struct{}
	done chan struct{}
}

// allowRequest is one Allow waiting for the writer.
type allowRequest struct {
	v4, v6 []portEntry
	err    chan error
}

// maxGroup bounds the requests written together.
const maxGroup = 512

// OpenNameSets opens a netlink socket for the name sets of the current
// network namespace and starts their writer. ipv6 says whether the IPv6
// set is in use.
func OpenNameSets(ipv6 bool) (*NameSets, error) {
	c, err := openIpset()
	if err != nil {
		return nil, err
	}
	tv := unix.NsecToTimeval((time.Second).Nanoseconds())
	for _, s := range c.sockets {
		_ = s.Socket.SetSendTimeout(&tv)
		_ = s.Socket.SetReceiveTimeout(&tv)
	}
	n := &NameSets{conn: c, v6: ipv6, reqs: make(chan *allowRequest, maxGroup), stop: make(chan struct{}), done: make(chan struct{})}
	go n.write()
	return n, nil
}

// write adds what waits, a group at a time, until Close.
func (n *NameSets) write() {
	defer close(n.done)
	for {
		var group []*allowRequest
		select {
		case r := <-n.reqs:
			group = append(group, r)
		case <-n.stop:
			return
		}
	drain:
		for len(group) < maxGroup {
			select {
			case r := <-n.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		var v4, v6 []portEntry
		for _, r := range group {
			v4 = append(v4, r.v4...)
			v6 = append(v6, r.v6...)
		}
		var err error
		if len(v4) > 0 {
			err = n.conn.addPorts(SetNameV4, v4, false)
		}
		if err == nil && len(v6) > 0 {
			err = n.conn.addPorts(SetNameV6, v6, false)
		}
		for _, r := range group {
			r.err <- err
		}
	}
}

// Allow adds every address on every port for timeout. It returns only once
// the kernel holds them all, or with an error: then some may be held, none
// may be released to a client.
func (n *NameSets) Allow(ctx context.Context, addrs []netip.Addr, ports []uint16, timeout time.Duration) error {
	if len(ports) == 0 {
		return errors.New("allow: no ports")
	}
	if timeout <= 0 {
		return errors.New("allow: entries of the name sets must time out")
	}
	r := &allowRequest{err: make(chan error, 1)}
	for _, a := range addrs {
		a = a.Unmap()
		for _, p := range ports {
			e := portEntry{prefix: netip.PrefixFrom(a, a.BitLen()), port: p, timeout: timeout}
			if a.Is4() {
				r.v4 = append(r.v4, e)
			} else {
				r.v6 = append(r.v6, e)
			}
		}
	}
	if len(r.v6) > 0 && !n.v6 {
		return errors.New("allow: IPv6 is not filtered here")
	}
	select {
	case n.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return errors.New("allow: the name sets are closed")
	}
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the writer and releases the socket.
func (n *NameSets) Close() {
	close(n.stop)
	<-n.done
	n.conn.Close()
}

// delPorts removes entries from the hash:ip,port or hash:net,port set
// name. An entry that is not there (expired meanwhile) is not an error:
// without NLM_F_EXCL the kernel takes a missing one as deleted.
func (c *ipsetConn) delPorts(name string, entries []portEntry, withCIDR bool) error {
	plain := make([]portEntry, len(entries))
	for i, e := range entries {
		plain[i] = portEntry{prefix: e.prefix, port: e.port}
	}
	return c.portsRequest(nl.IPSET_CMD_DEL, "delete", name, plain, withCIDR)
}

// addTimed puts prefixes into the hash:net set name (made with timeouts)
// for timeout; an entry already there gets the new timeout.
func (c *ipsetConn) addTimed(name string, prefixes []netip.Prefix, timeout time.Duration) error {
	secs := uint32((min(timeout, maxSetTimeout) + time.Second - 1) / time.Second)
	var list []byte
	for _, p := range prefixes {
		e := appendAttr(entryAttrs(p), nl.IPSET_ATTR_TIMEOUT|unix.NLA_F_NET_BYTEORDER, beUint32(secs))
		list = append(list, nested(nl.IPSET_ATTR_DATA, e)...)
	}
	attrs := append(nameAttr(nl.IPSET_ATTR_SETNAME, name), nested(nl.IPSET_ATTR_ADT, list)...)
	attrs = appendAttr(attrs, nl.IPSET_ATTR_LINENO|unix.NLA_F_NET_BYTEORDER, beUint32(0))
	if _, err := c.request(nl.IPSET_CMD_ADD, 0, attrs); err != nil {
		return fmt.Errorf("add %v to ipset %s: %w", prefixes, name, err)
	}
	return nil
}

// flush empties the set name.
func (c *ipsetConn) flush(name string) error {
	if _, err := c.request(nl.IPSET_CMD_FLUSH, 0, nameAttr(nl.IPSET_ATTR_SETNAME, name)); err != nil {
		return fmt.Errorf("flush ipset %s: %w", name, err)
	}
	return nil
}
