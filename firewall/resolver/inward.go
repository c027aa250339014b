package resolver

import (
	"fmt"
	"net/netip"
)

// rangeReason is an address range that points inward, and why.
type rangeReason struct {
	prefix netip.Prefix
	reason string
}

func ranges(reason string, prefixes ...string) []rangeReason {
	var rs []rangeReason
	for _, p := range prefixes {
		rs = append(rs, rangeReason{netip.MustParsePrefix(p), reason})
	}
	return rs
}

// inward4 and inward6 are the ranges no answer may point into: the box's
// own host, the networks around it, and addresses that are not one host.
var (
	inward4 = concat(
		ranges("unspecified (this network)", "0.0.0.0/8"),
		ranges("loopback", "127.0.0.0/8"),
		ranges("private (RFC 1918)", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
		ranges("link-local (cloud metadata lives here)", "169.254.0.0/16"),
		ranges("carrier-grade NAT", "100.64.0.0/10"),
		ranges("multicast", "224.0.0.0/4"),
		ranges("reserved or broadcast", "240.0.0.0/4"),
	)
	inward6 = concat(
		// ::/96 holds :: and ::1 and the deprecated IPv4-compatible form,
		// which no public host uses.
		ranges("unspecified, loopback or IPv4-compatible", "::/96"),
		ranges("unique local (ULA)", "fc00::/7"),
		ranges("link-local", "fe80::/10"),
		ranges("site-local", "fec0::/10"),
		ranges("multicast", "ff00::/8"),
		// The local-use NAT64 prefix embeds IPv4 at a position that depends
		// on the operator's prefix length: it is only ever local.
		ranges("local-use NAT64", "64:ff9b:1::/48"),
	)
	mapped4 = netip.MustParsePrefix("::ffff:0:0/96")
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
)

func concat(lists ...[]rangeReason) []rangeReason {
	var all []rangeReason
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// InwardRanges returns every range Inward refuses by itself, with the
// NAT64 and 6to4 prefixes whole (they can embed an inward IPv4 address):
// the gateway's audit mode keeps them closed.
func InwardRanges() []netip.Prefix {
	var out []netip.Prefix
	for _, r := range concat(inward4, inward6) {
		out = append(out, r.prefix)
	}
	return append(out, nat64, sixTo4)
}

// Inward says why a points inward (loopback, private, link-local, CGNAT,
// multicast, reserved, a local network, or an IPv6 form embedding one of
// these), or "" when it does not. It ignores Config.Inward.
func Inward(a netip.Addr, localNets []netip.Prefix) string {
	a = a.WithZone("")
	if embedded, form := embeddedIPv4(a); form != "" {
		if r := Inward(embedded, localNets); r != "" {
			return form + " form of " + embedded.String() + ", " + r
		}
		if form == "IPv4-mapped" {
			return "" // it is that IPv4 address, which is fine
		}
	}
	for _, p := range localNets {
		if p.Contains(a) {
			return "in local network " + p.String()
		}
	}
	list := inward6
	if a.Is4() {
		list = inward4
	}
	for _, r := range list {
		if r.prefix.Contains(a) {
			return r.reason
		}
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address an IPv6 form carries and the form's
// name: IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4
// (2002::/16).
func embeddedIPv4(a netip.Addr) (netip.Addr, string) {
	if !a.Is6() {
		return netip.Addr{}, ""
	}
	b := a.As16()
	switch {
	case mapped4.Contains(a):
		return a.Unmap(), "IPv4-mapped"
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64"
	case sixTo4.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4"
	}
	return netip.Addr{}, ""
}

// checkInward refuses the whole answer when any address points inward and
// no allowed CIDR (Config.Inward) covers it.
func (s *Server) checkInward(addrs []netip.Addr) error {
	for _, a := range addrs {
		reason := Inward(a, s.cfg.LocalNets)
		if reason == "" {
			continue
		}
		if s.cfg.Inward != nil {
			if s.cfg.Inward(a) {
				continue
			}
			if e, form := embeddedIPv4(a); form != "" && s.cfg.Inward(e) {
				continue
			}
		}
		s.stats.refusedInward.Add(1)
		return fmt.Errorf("answer refused: %s points inward (%s)", a, reason)
	}
	return nil
}
