package inet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/devbox-sandbox/devbox/internal/runner"
	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// Internet is the running stand-in internet. Close removes it.
type Internet struct {
	ns      *testnet.Netns
	run     runner.Runner
	servers *servers
}

// Start removes leftovers of an earlier run, checks that the host has no
// route of its own into the test ranges, creates the namespace, the veth
// pair and the host routes, checks with `ip route get` that every test host
// is reached through the veth, and starts the servers. On failure it removes
// what it made.
func Start(ctx context.Context, r runner.Runner) (_ *Internet, err error) {
	n := &Internet{ns: &testnet.Netns{Name: Namespace}, run: r}
	n.removeLinks(ctx)
	if err := checkFreeRanges(ctx, r); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if err := n.link(ctx); err != nil {
		return nil, fmt.Errorf("make the stand-in internet: %w", err)
	}
	if err := checkRoutesLeadIn(ctx, r); err != nil {
		return nil, err
	}
	s, err := startServers(n.ns)
	if err != nil {
		return nil, fmt.Errorf("make the stand-in internet: %w", err)
	}
	n.servers = s
	return n, nil
}

// link creates the namespace, the veth pair, the hosts' addresses and the
// host routes.
func (n *Internet) link(ctx context.Context) error {
	steps := [][]string{
		{"ip", "netns", "add", Namespace},
		{"ip", "link", "add", HostLink, "type", "veth", "peer", "name", PeerLink, "netns", Namespace},
		{"ip", "addr", "add", hostV4.String(), "dev", HostLink},
		{"ip", "addr", "add", hostV6.String(), "dev", HostLink, "nodad"},
		{"ip", "link", "set", HostLink, "up"},
		{"ip", "-n", Namespace, "link", "set", "lo", "up"},
		{"ip", "-n", Namespace, "addr", "add", peerV4.String(), "dev", PeerLink},
		{"ip", "-n", Namespace, "addr", "add", peerV6.String(), "dev", PeerLink, "nodad"},
		{"ip", "-n", Namespace, "link", "set", PeerLink, "up"},
	}
	for _, h := range Hosts {
		for _, a := range h.Addrs() {
			steps = append(steps, []string{"ip", "-n", Namespace, "addr", "add", netip.PrefixFrom(a, a.BitLen()).String(), "dev", "lo"})
		}
	}
	for _, p := range Routes {
		via := peerV4.Addr()
		if p.Addr().Is6() {
			via = peerV6.Addr()
		}
		steps = append(steps, []string{"ip", "route", "add", p.String(), "via", via.String(), "dev", HostLink})
	}
	for _, argv := range steps {
		if _, err := n.run.Run(ctx, runner.Cmd{Name: argv[0], Args: argv[1:]}); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the servers and removes the namespace, the veth pair and with
// it the host routes through it.
func (n *Internet) Close() error {
	var errs []error
	if n.servers != nil {
		errs = append(errs, n.servers.close())
	}
	n.removeLinks(context.Background())
	if n.exists(context.Background()) {
		errs = append(errs, fmt.Errorf("remove the stand-in internet: namespace %s or link %s is still there", Namespace, HostLink))
	}
	return errors.Join(errs...)
}

// removeLinks deletes the namespace and the host link if they exist; the
// routes through the link go with it.
func (n *Internet) removeLinks(ctx context.Context) {
	for _, argv := range [][]string{{"ip", "link", "del", HostLink}, {"ip", "netns", "del", Namespace}} {
		n.run.Run(ctx, runner.Cmd{Name: argv[0], Args: argv[1:]}) //nolint:errcheck // absent is fine
	}
}

func (n *Internet) exists(ctx context.Context) bool {
	_, errLink := n.run.Run(ctx, runner.Cmd{Name: "ip", Args: []string{"link", "show", HostLink}})
	_, errNS := n.run.Run(ctx, runner.Cmd{Name: "ip", Args: []string{"netns", "pids", Namespace}})
	return errLink == nil || errNS == nil
}

// Requests returns how many requests the HTTP server has answered for path.
func (n *Internet) Requests(path string) int { return n.servers.requests(path) }

// SawQuery reports whether any DNS server of the stand-in internet (the
// resolver the boxes are pointed at, and the one on the blocked host) was
// asked name or a name below it.
func (n *Internet) SawQuery(name string) bool {
	for _, d := range n.servers.dns {
		if d.Saw(name) {
			return true
		}
	}
	return false
}

// route is the part of `ip -json route` output the checks read.
type route struct {
	Dst string `json:"dst"`
	Dev string `json:"dev"`
}

// checkFreeRanges refuses to start when a route of the host other than the
// default one overlaps a test range: the tests would then send their traffic
// somewhere real (the uplink is 192.0.2.0/24 and fd00::/64 here).
func checkFreeRanges(ctx context.Context, r runner.Runner) error {
	for _, family := range []string{"-4", "-6"} {
		res, err := r.Run(ctx, runner.Cmd{Name: "ip", Args: []string{"-json", family, "route", "show", "table", "all"}})
		if err != nil {
			return fmt.Errorf("read the host's routes: %w", err)
		}
		var routes []route
		if err := json.Unmarshal(res.Stdout, &routes); err != nil {
			return fmt.Errorf("read the host's routes: %w", err)
		}
		for _, rt := range routes {
			dst, err := netip.ParsePrefix(rt.Dst)
			if err != nil {
				a, aerr := netip.ParseAddr(rt.Dst)
				if aerr != nil {
					continue // "default", multicast and other special entries
				}
				dst = netip.PrefixFrom(a, a.BitLen())
			}
			for _, p := range Routes {
				if dst.Bits() > 0 && p.Overlaps(dst) && !dst.Addr().IsLinkLocalUnicast() {
					return fmt.Errorf("the host already routes %s (dev %s), which overlaps the test range %s: refusing to add routes", rt.Dst, rt.Dev, p)
				}
			}
		}
	}
	return nil
}

// checkRoutesLeadIn asks the kernel, for every test host address, which way
// it would send a packet, and fails unless it is into the veth pair.
func checkRoutesLeadIn(ctx context.Context, r runner.Runner) error {
	for _, h := range Hosts {
		for _, a := range h.Addrs() {
			res, err := r.Run(ctx, runner.Cmd{Name: "ip", Args: []string{"-json", "route", "get", a.String()}})
			if err != nil {
				return fmt.Errorf("check the route to %s: %w", a, err)
			}
			var routes []route
			if err := json.Unmarshal(res.Stdout, &routes); err != nil || len(routes) == 0 {
				return fmt.Errorf("check the route to %s: unreadable answer %q", a, res.Stdout)
			}
			if routes[0].Dev != HostLink {
				return fmt.Errorf("the route to %s (%s) leads to %s, not into %s: refusing to send anything", a, h.Name, routes[0].Dev, HostLink)
			}
		}
	}
	return nil
}
