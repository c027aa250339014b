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

	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// spreadPrefixes returns n4 IPv4 /32s and n6 IPv6 /64s, no two of them
// adjacent, so that merging cannot shrink them: every other address of
// 198.18.0.0/15 and every other /64 of 2001:db8:1000::/48.
func spreadPrefixes(n4, n6 int) (v4, v6 []netip.Prefix) {
	for i := range n4 {
		a := 2 * i
		v4 = append(v4, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(a>>16&1), byte(a >> 8), byte(a)}), 32))
	}
	for i := range n6 {
		a := 2 * i
		v6 = append(v6, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, 0x00, byte(a >> 8), byte(a)}), 64))
	}
	return v4, v6
}

// BenchmarkLargeConfigRun times what a user with a large allowlist waits
// for at every box start: a whole init-firewall process applying 10,000
// IPv4 and 2,000 IPv6 prefixes written in firewall.jsonc, none of which
// merge (read, validated, merged, loaded into the sets, chains restored),
// side by side with `ipset restore` of the same prefixes, each started the
// same way in a new network namespace of its own (first-run-ms, the
// figure a box start costs), and a re-run in a namespace that has the
// rules already (rerun-ms). Needs root; run it with `task bench`. Nothing is sent:
// the config names no domain, source or verify target.
func BenchmarkLargeConfigRun(b *testing.B) {
	l := newLab(b)
	v4, v6 := spreadPrefixes(10_000, 2_000)
	var cfg strings.Builder
	cfg.WriteString("{\n  // 12,000 prefixes, one per line\n  \"cidrs\": [\n")
	for _, p := range slices.Concat(v4, v6) {
		fmt.Fprintf(&cfg, "    %q, // entry\n", p)
	}
	cfg.WriteString("  ],\n}\n")
	path := filepath.Join(l.dir, "large.jsonc")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	script := IpsetRestoreScript("bench-v4", "inet", v4) + IpsetRestoreScript("bench-v6", "inet6", v6)
	other := testnet.NewNetns(b, "dbfw-r")
	restore := func() time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := other.Command(ctx, "ipset", "restore")
		cmd.Stdin = strings.NewReader(script)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ipset restore: %v: %s", err, out)
		}
		took := time.Since(start)
		if out, err := other.Command(ctx, "ipset", "destroy").CombinedOutput(); err != nil {
			b.Fatalf("ipset destroy: %v: %s", err, out)
		}
		return took
	}
	apply := func() time.Duration {
		r := l.apply(b, "--config", path)
		if r.code != 0 {
			b.Fatalf("init-firewall: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		return r.took
	}

	// A box's start is a first run: a gateway (or a single container)
	// starts in a new network namespace each time. Each is timed in a
	// namespace of its own, as bare as the one ipset restore gets.
	first := func() time.Duration {
		ns := testnet.NewNetns(b, "dbfw-f")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := ns.Command(ctx, l.bin, "--run-dir", filepath.Join(l.dir, "run-"+ns.Name), "--timeout", "8s", "--config", path)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("init-firewall, first run: %v: %s", err, out)
		}
		return time.Since(start)
	}
	apply() // the lab's namespace gets its rules; later runs there swap sets
	// The fixed part of a run: the same process with an empty allowlist.
	empty := l.config(b, "{}")
	var fixed []time.Duration
	for range 5 {
		r := l.apply(b, "--config", empty)
		if r.code != 0 {
			b.Fatalf("init-firewall, empty allowlist: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		fixed = append(fixed, r.took)
	}
	var firsts, runs, restores []time.Duration
	for b.Loop() {
		firsts = append(firsts, first())
		runs = append(runs, apply())
		restores = append(restores, restore())
	}
	_, summary := l.marker(b)
	fr, run, rs := median(firsts), median(runs), median(restores)
	b.Logf("steps of the last re-run (ms): %v; init-firewall's own figure %d ms", summary.StepsMS, summary.DurationMS)
	b.ReportMetric(float64(fr.Microseconds())/1000, "first-run-ms")
	b.ReportMetric(float64(median(fixed).Microseconds())/1000, "empty-rerun-ms")
	b.ReportMetric(float64(run.Microseconds())/1000, "rerun-ms")
	b.ReportMetric(float64(rs.Microseconds())/1000, "ipset-restore-ms")
	b.ReportMetric(float64(fr)/float64(rs), "first/restore")
	b.ReportMetric(float64(run)/float64(rs), "rerun/restore")
	b.ReportMetric(0, "ns/op") // the process figures above are the ones to read
}
