//go:build linux

package firewall

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// srcTestDNS starts a DNS server on loopback and returns it with options whose
// resolv.conf points at it (never at the host's resolver).
func srcTestDNS(t *testing.T, records map[string][]string) (*testnet.DNSServer, GatherOptions) {
	t.Helper()
	s, err := testnet.NewDNSServer("127.0.0.1:0", records)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srcDNSOptions(t, s.Port(), "127.0.0.1")
}

// srcDNSOptions writes a resolv.conf listing servers and returns fast options.
func srcDNSOptions(t *testing.T, port int, servers ...string) GatherOptions {
	t.Helper()
	conf := "search example.invalid\noptions ndots:5\n"
	for _, s := range servers {
		conf += "nameserver " + s + "\n"
	}
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return GatherOptions{ResolvConf: path, DNSPort: port, DNSTimeout: 200 * time.Millisecond, DNSAttempts: 2}
}

var srcRecords = map[string][]string{
	"api.test":      {"198.51.100.1", "2001:db8::1"},
	"mirror.test":   {"198.51.100.1"}, // shares an address with api.test
	"alias.test":    {"CNAME:cdn.test"},
	"cdn.test":      {"CNAME:edge.cdn.test"},
	"edge.cdn.test": {"203.0.113.5", "2001:db8::5"},
	"v6only.test":   {"2001:db8::6"},
	"dangling.test": {"CNAME:nowhere.test"},
	"empty.test":    {},
	"loop1.test":    {"CNAME:loop2.test"},
	"loop2.test":    {"CNAME:loop1.test"},
	"zero.test":     {"0.0.0.0", "198.51.100.9"},
}

func srcAddrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func srcPrefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestGatherDNS(t *testing.T) {
	for _, follow := range []bool{true, false} {
		t.Run(fmt.Sprintf("resolver follows CNAMEs=%v", follow), func(t *testing.T) {
			s, opts := srcTestDNS(t, srcRecords)
			s.SetFollowCNAMEs(follow)
			cfg := &allowlist.Config{
				Domains:         []string{"api.test", "Mirror.Test.", "alias.test", "v6only.test", "api.test"},
				OptionalDomains: []string{"api.test", "dead.test"},
				CacheDir:        t.TempDir(),
			}
			list, warnings, err := Gather(context.Background(), cfg, opts)
			if err != nil {
				t.Fatalf("Gather: %v", err)
			}
			wantDomains := map[string][]netip.Addr{
				"api.test":    srcAddrs("198.51.100.1", "2001:db8::1"),
				"mirror.test": srcAddrs("198.51.100.1"),
				"alias.test":  srcAddrs("203.0.113.5", "2001:db8::5"),
				"v6only.test": srcAddrs("2001:db8::6"),
			}
			if fmt.Sprint(list.Domains) != fmt.Sprint(wantDomains) {
				t.Errorf("Domains = %v\nwant %v", list.Domains, wantDomains)
			}
			// The names' addresses go to the name sets, on their ports only.
			if len(list.V4)+len(list.V6) != 0 {
				t.Errorf("V4 = %v, V6 = %v: want none (names are allowed on their ports)", list.V4, list.V6)
			}
			if got := list.DomainPorts["api.test"]; !slices.Equal(got, []uint16{443}) {
				t.Errorf("DomainPorts[api.test] = %v, want [443]", got)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0].String(), "dns: optional domain dead.test skipped: no such domain") {
				t.Errorf("warnings = %v, want one for dead.test", warnings)
			}
			if len(list.Sources) != 2 || list.Sources[1].Name != "dns" || list.Sources[1].Prefixes != 6 {
				t.Errorf("Sources = %+v", list.Sources)
			}
		})
	}
}

func TestGatherDNSFailures(t *testing.T) {
	tests := []struct {
		name     string
		behavior testnet.Behavior
		delay    time.Duration
		domains  []string
		want     string // in the error
	}{
		{name: "unresolvable required", domains: []string{"api.test", "missing.test"}, want: "resolve required domain missing.test: no such domain"},
		{name: "no records", domains: []string{"empty.test"}, want: "resolve required domain empty.test: no A or AAAA records"},
		{name: "dangling CNAME", domains: []string{"dangling.test"}, want: "resolve required domain dangling.test: no such domain"},
		{name: "CNAME loop", domains: []string{"loop1.test"}, want: "more than 8 CNAMEs"},
		{name: "silent", behavior: testnet.Silent, domains: []string{"api.test"}, want: "resolve required domain api.test: A and AAAA: ask 127.0.0.1:"},
		{name: "slow", delay: time.Second, domains: []string{"api.test"}, want: "no answer within 200ms"},
		{name: "garbage", behavior: testnet.Garbage, domains: []string{"api.test"}, want: "unreadable reply"},
		{name: "servfail", behavior: testnet.ServFail, domains: []string{"api.test"}, want: "server answered SERVFAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, opts := srcTestDNS(t, srcRecords)
			s.SetBehavior(tt.behavior)
			s.SetDelay(tt.delay)
			cfg := &allowlist.Config{Domains: tt.domains, CIDRs: []string{"203.0.113.0/24"}, CacheDir: t.TempDir()}
			start := time.Now()
			list, _, err := Gather(context.Background(), cfg, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Gather error = %v, want it to contain %q", err, tt.want)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %v", elapsed)
			}
			// What was gathered is still returned, so the caller can fail closed with it.
			if list == nil || !slices.Contains(list.V4, netip.MustParsePrefix("203.0.113.0/24")) {
				t.Errorf("partial list lost: %+v", list)
			}
			if list.Sources[1].Error == "" {
				t.Errorf("dns source has no error: %+v", list.Sources[1])
			}
		})
	}
}

func TestGatherDNSOptionalFailuresAreWarnings(t *testing.T) {
	s, opts := srcTestDNS(t, srcRecords)
	s.SetBehavior(testnet.Garbage)
	cfg := &allowlist.Config{OptionalDomains: []string{"api.test"}, CacheDir: t.TempDir()}
	list, warnings, err := Gather(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0].Message, "optional domain api.test skipped") {
		t.Errorf("warnings = %v", warnings)
	}
	if len(list.V4)+len(list.V6) != 0 {
		t.Errorf("list = %+v", list)
	}
}

func TestGatherDNSDown(t *testing.T) {
	s, opts := srcTestDNS(t, srcRecords)
	s.Close()
	cfg := &allowlist.Config{Domains: []string{"api.test"}, CacheDir: t.TempDir()}
	_, _, err := Gather(context.Background(), cfg, opts)
	if err == nil || !strings.Contains(err.Error(), "resolve required domain api.test: A and AAAA: ask 127.0.0.1:") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Gather error = %v", err)
	}
}

func TestGatherDNSTruncatedFallsBackToTCP(t *testing.T) {
	s, opts := srcTestDNS(t, srcRecords)
	s.SetBehavior(testnet.Truncate)
	list, _, err := Gather(context.Background(), &allowlist.Config{Domains: []string{"api.test"}, CacheDir: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := srcAddrs("198.51.100.1", "2001:db8::1"); !slices.Equal(list.Domains["api.test"], want) {
		t.Errorf("api.test = %v, want %v", list.Domains["api.test"], want)
	}
}

func TestGatherDNSSecondServer(t *testing.T) {
	// The first nameserver is silent; the second (another loopback address,
	// same port) answers.
	first, opts := srcTestDNS(t, srcRecords)
	first.SetBehavior(testnet.Silent)
	second, err := testnet.NewDNSServer(fmt.Sprintf("127.0.0.2:%d", first.Port()), srcRecords)
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { second.Close() })
	opts = srcDNSOptions(t, first.Port(), "127.0.0.1", "127.0.0.2")
	list, _, err := Gather(context.Background(), &allowlist.Config{Domains: []string{"alias.test"}, CacheDir: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Domains["alias.test"]) != 2 || second.Queries() == 0 {
		t.Errorf("alias.test = %v, second server queries %d", list.Domains["alias.test"], second.Queries())
	}
}

func TestGatherDNSSkipsUnspecifiedAddress(t *testing.T) {
	_, opts := srcTestDNS(t, srcRecords)
	list, warnings, err := Gather(context.Background(), &allowlist.Config{Domains: []string{"zero.test"}, CacheDir: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := srcAddrs("198.51.100.9"); !slices.Equal(list.Domains["zero.test"], want) {
		t.Errorf("Domains[zero.test] = %v, want %v", list.Domains["zero.test"], want)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0].Message, "0.0.0.0 is unspecified") {
		t.Errorf("warnings = %v", warnings)
	}
}

func TestGatherDNSContextDeadline(t *testing.T) {
	s, opts := srcTestDNS(t, srcRecords)
	s.SetBehavior(testnet.Silent)
	opts.DNSTimeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := Gather(ctx, &allowlist.Config{Domains: []string{"api.test"}, CacheDir: t.TempDir()}, opts)
	if err == nil || !strings.Contains(err.Error(), "out of time") || time.Since(start) > 2*time.Second {
		t.Errorf("Gather = %v after %v; want an error once the context ends", err, time.Since(start))
	}
}

func TestResolvers(t *testing.T) {
	opts := srcDNSOptions(t, 53, "127.0.0.11", "2001:db8::53")
	got, err := Resolvers(opts.ResolvConf)
	if err != nil || !slices.Equal(got, srcAddrs("127.0.0.11", "2001:db8::53")) {
		t.Errorf("Resolvers = %v, %v", got, err)
	}
	if _, err := Resolvers(srcDNSOptions(t, 53).ResolvConf); err == nil || !strings.Contains(err.Error(), "no nameserver") {
		t.Errorf("empty resolv.conf: %v", err)
	}
	if _, err := Resolvers(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing resolv.conf: no error")
	}
	_, _, err = Gather(context.Background(), &allowlist.Config{Domains: []string{"a.test"}, CacheDir: t.TempDir()},
		GatherOptions{ResolvConf: filepath.Join(t.TempDir(), "missing")})
	if err == nil || !strings.Contains(err.Error(), "resolve domains: read resolvers") {
		t.Errorf("Gather with a missing resolv.conf: %v", err)
	}
}
