//go:build linux

package firewall

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/devbox-sandbox/devbox/firewall/resolver"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// ChainDNS is the nat chain that sends every DNS packet of the namespace,
// to any address, over UDP and TCP, to the gateway's resolver. Only the
// resolver's own sockets (contract.GatewayMark) pass it unchanged.
const ChainDNS = "DEVBOX-DNS"

// ResolverPort is the port the gateway's resolver listens on, on the
// namespace's loopback. It is below contract.UnprivilegedPortStart, so
// the agent's user cannot take it over.
const ResolverPort = 53

// redirectPayload renders the nat table's DEVBOX-DNS chain for one
// `iptables-restore --noflush`, with the jump from OUTPUT when hook is
// set. REDIRECT sends a locally made packet to the loopback address of its
// family, where the resolver listens.
func redirectPayload(hook bool) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("*nat")
	w(":%s - [0:0]", ChainDNS)
	if hook {
		w("-I OUTPUT 1 -j %s", ChainDNS)
	}
	w("-A %s -m mark --mark %#x -j RETURN", ChainDNS, contract.GatewayMark)
	for _, proto := range []string{"udp", "tcp"} {
		w("-A %s -p %s --dport 53 -j REDIRECT --to-ports %d", ChainDNS, proto, ResolverPort)
	}
	w("COMMIT")
	return b.String()
}

// redirectDNS puts the DEVBOX-DNS chain of fam in place, hooked first in
// the nat table's OUTPUT.
func (a *applier) redirectDNS(ctx context.Context, fam family) error {
	tool, err := a.tool(fam.iptables)
	if err != nil {
		return err
	}
	_, checkErr := a.run.Run(ctx, runner.Cmd{Name: tool, Args: []string{"-w", "-t", "nat", "-C", "OUTPUT", "-j", ChainDNS}})
	if err := a.restore(ctx, fam, redirectPayload(checkErr != nil)); err != nil {
		return fmt.Errorf("redirect %s DNS to the resolver: %w", fam.name, err)
	}
	return nil
}

// wellKnownResolvers are the addresses of public DNS resolvers that also
// answer DNS over HTTPS: the rules refuse them unless a static CIDR allows
// them, so that an allowed name whose answer points there opens no way
// around the resolver.
var wellKnownResolvers = []string{
	"1.1.1.1/32", "1.0.0.1/32", "1.1.1.2/32", "1.0.0.2/32", "1.1.1.3/32", "1.0.0.3/32",
	"2606:4700:4700::1111/128", "2606:4700:4700::1001/128", "2606:4700:4700::1112/128",
	"2606:4700:4700::1002/128", "2606:4700:4700::1113/128", "2606:4700:4700::1003/128",
	"8.8.8.8/32", "8.8.4.4/32", "2001:4860:4860::8888/128", "2001:4860:4860::8844/128",
	"9.9.9.9/32", "149.112.112.112/32", "9.9.9.10/32", "149.112.112.10/32", "9.9.9.11/32", "149.112.112.11/32",
	"2620:fe::fe/128", "2620:fe::9/128", "2620:fe::10/128", "2620:fe::fe:10/128", "2620:fe::11/128", "2620:fe::fe:11/128",
	"208.67.222.222/32", "208.67.220.220/32", "208.67.222.123/32", "208.67.220.123/32",
	"2620:119:35::35/128", "2620:119:53::53/128",
	"94.140.14.14/32", "94.140.15.15/32", "94.140.14.15/32", "94.140.15.16/32",
	"2a10:50c0::ad1:ff/128", "2a10:50c0::ad2:ff/128",
	"185.228.168.9/32", "185.228.169.9/32", "185.228.168.168/32", "185.228.169.168/32",
	"45.90.28.0/24", "45.90.30.0/24", "2a07:a8c0::/29", "2a07:a8c1::/29",
	"76.76.2.0/24", "76.76.10.0/24", "194.242.2.0/24", "86.54.11.0/24",
}

// doHPrefixes parses wellKnownResolvers.
func doHPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(wellKnownResolvers))
	for _, s := range wellKnownResolvers {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// upstreamChoice is where the resolver sends the names it allows.
type upstreamChoice struct {
	addrs []netip.AddrPort
	// how says where they came from: "config", "learned" or "docker"
	// (Docker's resolver forwards from the host's namespace, so it is
	// asked itself, from marked sockets only).
	how string
}

// chooseUpstreams picks the resolver's upstreams: the config's, else the
// upstreams of Docker's resolver learned at start, else Docker's resolver
// itself, which then forwards from the host's namespace (Docker 25 and
// later with a resolver on the host's loopback), where nothing of the box
// can reach it.
func (r *run) chooseUpstreams() (upstreamChoice, error) {
	if ups := r.cfg.UpstreamAddrs(); len(ups) > 0 {
		return upstreamChoice{addrs: ups, how: "config"}, nil
	}
	var learned []netip.AddrPort
	for _, f := range r.fams {
		got, err := r.a.ipset.list(f.dnsSet)
		if err != nil {
			return upstreamChoice{}, fmt.Errorf("choose DNS upstreams: %w", err)
		}
		for _, p := range got {
			learned = append(learned, netip.AddrPortFrom(p.Addr(), 53))
		}
	}
	if len(learned) > 0 {
		return upstreamChoice{addrs: learned, how: "learned"}, nil
	}
	if slices.Contains(r.host.Resolvers, dockerDNS) {
		return upstreamChoice{addrs: []netip.AddrPort{netip.AddrPortFrom(dockerDNS, 53)}, how: "docker"}, nil
	}
	return upstreamChoice{}, errors.New(`choose DNS upstreams: Docker's resolver is not this box's nameserver and firewall.jsonc names no "upstreams"; name them there`)
}

// markControl sets contract.GatewayMark on a socket before it is used.
func markControl(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, contract.GatewayMark)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("mark socket: %w", serr)
	}
	return nil
}

// upstreamLookup resolves through the chosen upstreams from marked
// sockets, for the gateway's own lookups before its resolver runs (the
// hosts of the HTTP sources). Docker's resolver is asked over TCP only
// (tcpOnly).
func upstreamLookup(ups []netip.AddrPort) *startLookup {
	l := &startLookup{timeout: 2 * time.Second, attempts: 2, dialer: &net.Dialer{Timeout: 2 * time.Second, Control: markControl}}
	for _, up := range ups {
		l.servers = append(l.servers, up.String())
		l.tcp = l.tcp || tcpOnly(up.Addr())
	}
	return l
}

// composeServices returns the service names of the compose files in dir
// (the workspace's .devcontainer/, mounted into the gateway): the only
// names the resolver asks Docker's resolver. A file that is not a compose
// file is skipped.
func composeServices(dir string) ([]string, error) {
	var names []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		files, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read compose services: %w", err)
			}
			var doc struct {
				Services map[string]any `yaml:"services"`
			}
			if yaml.Unmarshal(data, &doc) != nil {
				continue
			}
			for name := range doc.Services {
				names = append(names, strings.ToLower(name))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// hasLocalAddr reports whether an interface of the namespace holds a (a
// container with IPv6 turned off has no ::1).
func hasLocalAddr(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == a {
				return true
			}
		}
	}
	return false
}

// startResolver starts the gateway's filtering resolver on the loopback
// and then redirects the namespace's DNS to it. It runs until ctx ends.
func (r *run) startResolver(ctx context.Context, ups upstreamChoice) error {
	sets, err := OpenNameSets(len(r.fams) == 2)
	if err != nil {
		return fmt.Errorf("start the resolver: %w", err)
	}
	services, err := composeServices(filepath.Dir(r.opts.ConfigPath))
	if err != nil {
		sets.Close()
		return fmt.Errorf("start the resolver: %w", err)
	}
	local := slices.Clone(r.host.LocalNets)
	for _, a := range append(slices.Clone(r.host.Addrs), r.host.Gateways...) {
		local = append(local, netip.PrefixFrom(a, a.BitLen()))
	}
	// The audit log: a failure leaves the box filtered, unlogged.
	var logEvent func(resolver.Event)
	var aud *auditor
	err = errors.New("turned off")
	if !r.opts.NoAudit {
		aud, err = startAuditor(ctx, r.opts.AuditDir, r.opts.RunDir, r.opts.NFLogGroup)
	}
	switch {
	case err != nil:
		r.summary.Warnings = append(r.summary.Warnings, fmt.Sprintf("no audit log: %v", err))
	case aud.nflogErr != nil:
		r.summary.Warnings = append(r.summary.Warnings, fmt.Sprintf("the audit log has no refused connections: %v", aud.nflogErr))
		fallthrough
	default:
		logEvent = aud.dnsEvent
	}
	l := newLive(r)
	l.sets = sets
	if aud != nil {
		// Policy changes and audit mode's start and end go to the log too.
		l.record = aud.log.Log
	}
	srv, err := resolver.New(resolver.Config{
		Policy:          l,
		Allower:         l,
		Upstreams:       ups.addrs,
		Services:        services,
		ServiceUpstream: netip.AddrPortFrom(dockerDNS, 53),
		Control:         markControl,
		IPv6:            len(r.fams) == 2,
		Inward:          l.inward,
		LocalNets:       local,
		MinTTL:          r.cfg.MinTTL(),
		Grace:           r.cfg.Grace(),
		Log:             logEvent,
	})
	if err != nil {
		sets.Close()
		return fmt.Errorf("start the resolver: %w", err)
	}
	addrs := []string{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ResolverPort).String()}
	if len(r.fams) == 2 && hasLocalAddr(netip.IPv6Loopback()) {
		addrs = append(addrs, netip.AddrPortFrom(netip.IPv6Loopback(), ResolverPort).String())
	}
	if err := srv.Start(ctx, addrs...); err != nil {
		sets.Close()
		return fmt.Errorf("start the resolver: %w", err)
	}
	l.srv = srv
	r.live = l
	go func() {
		<-ctx.Done()
		srv.Close()
		sets.Close()
	}()
	for _, f := range r.fams {
		err := r.a.redirectDNS(ctx, f)
		switch {
		case err == nil:
		case f.name == "v6":
			// Closed still: unmarked DNS is refused by the filter rules;
			// only the redirect to the resolver is missing.
			r.summary.Warnings = append(r.summary.Warnings, fmt.Sprintf("IPv6 DNS is refused, not answered: %v", err))
		default:
			return err
		}
	}
	r.summary.Resolver = strings.Join(addrs, " ")
	r.summary.DNSUpstreams = nil
	for _, up := range ups.addrs {
		r.summary.DNSUpstreams = append(r.summary.DNSUpstreams, up.String())
	}
	r.summary.UpstreamsFrom = ups.how
	return nil
}
