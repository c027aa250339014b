//go:build linux

package firewall

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/firewall/resolver"
)

// Host is what init-firewall reads of the box's own network to build its
// rules: where DNS goes, which networks it sits on, and the Docker host.
type Host struct {
	// Resolvers are the nameservers of resolv.conf.
	Resolvers []netip.Addr
	// Gateways are the next hops of the box's routes.
	Gateways []netip.Addr
	// LocalNets are the subnets of the box's interfaces other than lo and
	// the ones that carry a default route (IPv6 link-local ones left out):
	// a compose project's internal network, not the egress one.
	LocalNets []netip.Prefix
	// Addrs are the box's own addresses (lo's left out).
	Addrs []netip.Addr
	// Subnets are the subnets of every interface but lo, the egress
	// network's included (link-local ones left out).
	Subnets []netip.Prefix
	// IPv6 is false when the kernel has no IPv6 at all.
	IPv6 bool
}

// ReadHost reads the interfaces and routes of the current network
// namespace, and the nameservers of resolv.conf at resolvConf (one without
// any, or with lines that do not parse, gives no DNS rule but root's). It
// needs no privilege. On error it still returns what it could read.
func ReadHost(resolvConf string) (Host, error) {
	var h Host
	_, err := os.Stat("/proc/net/if_inet6")
	h.IPv6 = err == nil
	var resolvErr error
	if _, err := os.Stat(resolvConf); err != nil {
		resolvErr = fmt.Errorf("read resolvers: %w", err)
	} else if rs, err := Resolvers(resolvConf); err == nil {
		for _, a := range rs {
			h.Resolvers = append(h.Resolvers, a.WithZone("").Unmap())
		}
	}
	if err := h.readInterfaces(); err != nil {
		return h, errors.Join(resolvErr, err)
	}
	return h, resolvErr
}

// readInterfaces fills the addresses, subnets and gateways.
func (h *Host) readInterfaces() error {
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("list network interfaces: %w", err)
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	egress := map[int]bool{} // links with a default route
	for _, r := range routes {
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			h.Gateways = append(h.Gateways, gw.Unmap())
		}
		for _, nh := range r.MultiPath {
			if gw, ok := netip.AddrFromSlice(nh.Gw); ok {
				h.Gateways = append(h.Gateways, gw.Unmap())
			}
		}
		if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
			egress[r.LinkIndex] = true
		}
	}
	for _, l := range links {
		if l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			bits, _ := a.Mask.Size()
			h.Addrs = append(h.Addrs, ip)
			if !ip.IsLinkLocalUnicast() {
				h.Subnets = append(h.Subnets, netip.PrefixFrom(ip, bits).Masked())
			}
			if !ip.IsLinkLocalUnicast() && !egress[l.Attrs().Index] {
				h.LocalNets = append(h.LocalNets, netip.PrefixFrom(ip, bits).Masked())
			}
		}
	}
	h.Gateways = sortedAddrs(h.Gateways)
	h.LocalNets = sortedPrefixes(h.LocalNets)
	h.Subnets = sortedPrefixes(h.Subnets)
	return nil
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

// bridgeHost is the address Docker's IPAM gives the host on a bridge
// network by default, the subnet's first: the host is there on internal
// networks too, with no route naming it.
func bridgeHost(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// ruleset builds fam's rules from the host facts and the config.
func (h Host) ruleset(fam family, cfg *allowlist.Config, nflogGroup int) Ruleset {
	r := Ruleset{fam: fam, HostPorts: cfg.HostPorts, InboundPorts: cfg.InboundPorts, ServicePorts: cfg.ServicePorts, NFLogGroup: nflogGroup, DoH: doHPrefixes(), Upstreams: cfg.UpstreamAddrs()}
	for _, p := range cfg.DenyCIDRs() {
		if fam.is(p.Addr()) {
			r.Deny = append(r.Deny, p)
		}
	}
	for _, a := range h.Resolvers {
		if fam.is(a) {
			r.Resolvers = append(r.Resolvers, a)
		}
	}
	for _, a := range h.Gateways {
		if fam.is(a) {
			r.Gateways = append(r.Gateways, a)
		}
	}
	for _, p := range h.LocalNets {
		if !fam.is(p.Addr()) {
			continue
		}
		// The host's address on each local network is refused like the
		// route gateways, whether or not the networks are allowed.
		r.Gateways = append(r.Gateways, bridgeHost(p))
		if cfg.AllowLocalNetworks {
			r.LocalNets = append(r.LocalNets, p)
		}
	}
	r.AuditClosed = append(append(resolver.InwardRanges(), h.Subnets...), h.LocalNets...)
	for _, a := range r.Gateways {
		r.AuditClosed = append(r.AuditClosed, netip.PrefixFrom(a, a.BitLen()))
	}
	return r
}
