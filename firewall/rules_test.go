//go:build linux

package firewall

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestRestorePayload(t *testing.T) {
	addrs := func(ss ...string) (out []netip.Addr) {
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	host := Host{
		Resolvers: addrs("127.0.0.11", "198.18.0.1", "2001:db8:1::1"),
		Gateways:  addrs("198.18.0.1", "fe80::1"),
		LocalNets: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("2001:db8:1::/64")},
	}
	cfg := &allowlist.Config{HostPorts: []int{8080, 3000, 8080}, InboundPorts: []int{2222}, AllowLocalNetworks: true}
	for _, tc := range []struct {
		name  string
		fam   family
		hooks Hooks
		fetch []netip.AddrPort
		learn string
		ports []int
		// resolver: the gateway's filtering resolver, with an upstream and
		// a deny entry of the config.
		resolver bool
	}{
		{"v4-first-run", familyV4, FirstRunHooks, []netip.AddrPort{netip.MustParseAddrPort("203.0.113.5:443")}, "", nil, false},
		{"v6-first-run", familyV6, FirstRunHooks, nil, "", nil, false},
		{"v4-rerun-misplaced-hook", familyV4, Hooks{InsertOut: true, DeleteOut: 2}, nil, "", nil, false},
		{"v4-gateway-learning", familyV4, FirstRunHooks, nil, "dbx0123", []int{6379, 5432}, false},
		{"v4-gateway-resolver", familyV4, FirstRunHooks, nil, "", []int{5432}, true},
		{"v6-gateway-resolver", familyV6, FirstRunHooks, nil, "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *cfg
			c.ServicePorts = tc.ports
			if tc.resolver {
				c.Upstreams = []string{"198.51.100.53", "[2001:db8:1::53]:5353"}
				c.Deny = []string{"203.0.113.0/24", "2001:db8:dead::/48", "bad.example.com"}
			}
			rs := host.ruleset(tc.fam, &c, DefaultNFLogGroup)
			rs.Fetch = tc.fetch
			rs.LearnLabel = tc.learn
			rs.Resolver = tc.resolver
			golden(t, "restore-"+tc.name+".txt", rs.Restore(tc.hooks))
		})
	}
}

func TestRestoreWithoutLocalNetworks(t *testing.T) {
	host := Host{
		Gateways:  []netip.Addr{netip.MustParseAddr("172.17.0.1")},
		LocalNets: []netip.Prefix{netip.MustParsePrefix("172.17.0.0/16")},
	}
	got := host.ruleset(familyV4, &allowlist.Config{}, 7).Restore(Hooks{})
	for _, bad := range []string{"172.17.0.0/16", "-I OUTPUT", "-D OUTPUT", "--dport 53 -j ACCEPT\n"} {
		if strings.Contains(got, bad) {
			t.Errorf("payload holds %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{"-A DEVBOX-OUT -d 172.17.0.1/32 -j DEVBOX-REJECT-OUT", "--nflog-group 7 "} {
		if !strings.Contains(got, want) {
			t.Errorf("payload lacks %q:\n%s", want, got)
		}
	}
}

func TestParsePid1Start(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want uint64
		ok   bool
	}{
		{"1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 4242 1000 10", 4242, true},
		{"1 (my (odd) init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 77 1000 10", 77, true},
		{"1 (init) S 0 1", 0, false},
		{"garbage", 0, false},
	} {
		got, err := parsePid1Start(tc.stat)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parsePid1Start(%q) = %d, %v; want %d, ok=%v", tc.stat, got, err, tc.want, tc.ok)
		}
	}
}
