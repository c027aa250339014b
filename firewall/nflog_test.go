//go:build linux

package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
)

// nflogMessage builds an NFULNL_MSG_PACKET body: nfgenmsg, prefix and
// payload attributes.
func nflogMessage(group uint16, prefix string, payload []byte) []byte {
	b := []byte{2, 0}
	b = binary.BigEndian.AppendUint16(b, group)
	attr := func(typ uint16, data []byte) {
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(data)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	attr(nfulaPrefix, append([]byte(prefix), 0))
	attr(nfulaPayload, payload)
	return b
}

func ipv4(proto byte, src, dst string, sport, dport uint16) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	h[9] = proto
	copy(h[12:16], netip.MustParseAddr(src).AsSlice())
	copy(h[16:20], netip.MustParseAddr(dst).AsSlice())
	h = binary.BigEndian.AppendUint16(h, sport)
	return binary.BigEndian.AppendUint16(h, dport)
}

func ipv6(next byte, src, dst string, rest []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	h[6] = next
	copy(h[8:24], netip.MustParseAddr(src).AsSlice())
	copy(h[24:40], netip.MustParseAddr(dst).AsSlice())
	return append(h, rest...)
}

func TestParseNFLogPacket(t *testing.T) {
	ports := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 40000), 443)
	hopByHop := append([]byte{6, 0, 0, 0, 0, 0, 0, 0}, ports...)
	for _, c := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"tcp v4", nflogMessage(100, NFLogPrefixOut, ipv4(6, "172.18.0.2", "198.51.100.7", 40000, 22)),
			"100 devbox-reject-out 172.18.0.2 198.51.100.7 tcp 22 false"},
		{"udp v4, audit group", nflogMessage(101, "devbox-audit", ipv4(17, "172.18.0.2", "198.51.100.7", 5353, 53)),
			"101 devbox-audit 172.18.0.2 198.51.100.7 udp 53 false"},
		{"icmp v4", nflogMessage(100, NFLogPrefixOut, ipv4(1, "172.18.0.2", "198.51.100.7", 0x0800, 0)),
			"100 devbox-reject-out 172.18.0.2 198.51.100.7 icmp 0 false"},
		{"tcp v6 past a hop-by-hop header", nflogMessage(100, NFLogPrefixIn, ipv6(0, "2001:db8::1", "2001:db8::2", hopByHop)),
			"100 devbox-reject-in 2001:db8::1 2001:db8::2 tcp 443 false"},
		{"truncated", nflogMessage(100, NFLogPrefixOut, []byte{0x45, 0}), "100 devbox-reject-out invalid IP invalid IP  0 true"},
		{"no payload", nflogMessage(100, NFLogPrefixOut, nil), "100 devbox-reject-out invalid IP invalid IP  0 true"},
		{"attribute overruns", append(nflogMessage(100, NFLogPrefixOut, nil), 0xff, 0xff, 9, 0), "100 devbox-reject-out invalid IP invalid IP  0 true"},
	} {
		p := parseNFLogPacket(c.msg)
		got := fmt.Sprintf("%d %s %v %v %s %d %v", p.group, p.prefix, p.src, p.dst, p.proto, p.dport, p.invalid)
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestAddrNamesBounded(t *testing.T) {
	n := newAddrNames(8)
	a := netip.MustParseAddr("198.51.100.0")
	for i := range 100 {
		n.put([]netip.Addr{a}, fmt.Sprintf("n%d.example", i))
		a = a.Next()
	}
	if got := len(n.cur) + len(n.old); got > 8 {
		t.Errorf("%d addresses remembered, bound 8", got)
	}
	if got := n.get(a.Prev()); got != "n99.example" {
		t.Errorf("the last address: %q", got)
	}
	if got := n.get(netip.MustParseAddr("198.51.100.0")); got != "" {
		t.Errorf("the first address, long evicted: %q", got)
	}
	n.put([]netip.Addr{netip.MustParseAddr("::ffff:198.51.100.200")}, "mapped.example")
	if got := n.get(netip.MustParseAddr("198.51.100.200")); got != "mapped.example" {
		t.Errorf("a v4-mapped answer: %q", got)
	}
}

// FuzzParseNFLogPacket: whatever the kernel (or a packet the agent
// shaped) puts in a message, parsing neither panics nor reads past it.
func FuzzParseNFLogPacket(f *testing.F) {
	ports := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 1), 2)
	f.Add(nflogMessage(100, NFLogPrefixOut, ipv4(6, "172.18.0.2", "198.51.100.7", 40000, 22)))
	f.Add(nflogMessage(100, NFLogPrefixIn, ipv6(44, "2001:db8::1", "2001:db8::2", append([]byte{6, 0, 0, 0, 0, 0, 0, 0}, ports...))))
	f.Add(nflogMessage(101, "", ipv6(60, "2001:db8::1", "2001:db8::2", []byte{0, 255})))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return // read() hands only messages of 4 bytes or more
		}
		p := parseNFLogPacket(data)
		if !p.invalid && (!p.src.IsValid() || !p.dst.IsValid()) {
			t.Errorf("valid packet without addresses: %+v", p)
		}
	})
}
