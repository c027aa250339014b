//go:build linux

package firewall

// The firewall benchmarks need root and network namespaces (dbbn-* for the
// loaders, the dbfw-* lab for a whole run), so -short skips them. Run them
// with bench/firewall.sh, or
// go test -run '^$' -bench '^BenchmarkFirewallLoad$' ./firewall

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-iptables/iptables"
	"golang.org/x/sys/unix"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchEach runs f b.N times, timing only f; undo runs after each f,
// untimed. It reports the mean milliseconds of f under unit, and returns
// them.
func benchEach(b *testing.B, unit string, f, undo func() error) float64 {
	b.Helper()
	b.StopTimer()
	var total time.Duration
	for range b.N {
		start := time.Now()
		b.StartTimer()
		err := f()
		b.StopTimer()
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if undo != nil {
			if err := undo(); err != nil {
				b.Fatal(err)
			}
		}
	}
	ms := float64(total) / float64(b.N) / float64(time.Millisecond)
	b.ReportMetric(ms, unit)
	return ms
}

// inNetns runs a program from a thread inside ns (no `ip netns exec`
// per call, so the per-entry loop is charged only its own processes).
func inNetns(ns *testnet.Netns, stdin string, argv ...string) error {
	return ns.Do(func() error {
		cmd := exec.Command(argv[0], argv[1:]...)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out)
		}
		return nil
	})
}

// BenchmarkFirewallLoad measures what init-firewall spends loading the
// allowlist and its rules, against the tools it replaces, and a whole run.
// Each sub-benchmark reports ms per load; the ratios (x-restore, x-ours)
// compare with the sub-benchmarks before it.
func BenchmarkFirewallLoad(b *testing.B) {
	testnet.RequireNetns(b)
	b.Run("ipset", benchIpsetLoaders)
	b.Run("rules", benchRuleLoaders)
	b.Run("run", benchWholeRun)
}

// benchIpsetLoaders loads 10,000 IPv4 and 2,000 IPv6 prefixes: with
// ipset restore (one process, the reference), with init-firewall's netlink
// loader at three batch sizes, and with one ipset add per entry.
func benchIpsetLoaders(b *testing.B) {
	ns := testnet.NewNetns(b, "dbbn-")
	v4, v6 := testPrefixes(10000, 2000)
	sets := []struct {
		name   string
		family string
		af     uint8
		ps     []netip.Prefix
	}{{"bench-v4", "inet", unix.AF_INET, v4}, {"bench-v6", "inet6", unix.AF_INET6, v6}}
	entries := float64(len(v4) + len(v6))

	netlinkLoad := func(batch int) func() error {
		return func() error {
			return ns.Do(func() error {
				c, err := openIpset()
				if err != nil {
					return err
				}
				defer c.Close()
				c.batch = batch
				for _, s := range sets {
					rev, err := c.typeRevision(s.af)
					if err != nil {
						return err
					}
					if err := c.create(s.name, s.af, rev, len(s.ps)); err != nil {
						return err
					}
					if err := c.add(s.name, s.ps); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	var script strings.Builder
	for _, s := range sets {
		script.WriteString(IpsetRestoreScript(s.name, s.family, s.ps))
	}
	restore := func() error { return inNetns(ns, script.String(), "ipset", "restore") }
	destroyAll := func() error { return inNetns(ns, "", "ipset", "destroy") }
	perEntry := func() error {
		for _, s := range sets {
			if err := inNetns(ns, "", "ipset", "create", s.name, "hash:net", "family", s.family, "maxelem", "65536"); err != nil {
				return err
			}
			err := ns.Do(func() error {
				for _, p := range s.ps {
					if out, err := exec.Command("ipset", "add", s.name, p.String()).CombinedOutput(); err != nil {
						return fmt.Errorf("ipset add: %v: %s", err, out)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}

	var restoreMS, oursMS float64
	b.Run("restore", func(b *testing.B) {
		restoreMS = benchEach(b, "ms/load", restore, destroyAll)
		b.ReportMetric(entries, "entries")
	})
	for _, batch := range []int{ipsetBatch, 1, 1024} {
		b.Run(fmt.Sprintf("netlink-batch%d", batch), func(b *testing.B) {
			ms := benchEach(b, "ms/load", netlinkLoad(batch), destroyAll)
			if batch == ipsetBatch {
				oursMS = ms // init-firewall's own batch size
			}
			if restoreMS > 0 {
				b.ReportMetric(ms/restoreMS, "x-restore") // goal <= 1.5 for ipsetBatch
			}
		})
	}
	b.Run("add-per-entry", func(b *testing.B) {
		ms := benchEach(b, "ms/load", perEntry, destroyAll)
		if oursMS > 0 {
			b.ReportMetric(ms/oursMS, "x-ours") // goal >= 100
		}
	})
}

// benchRuleLoaders loads devbox's IPv4 chains into a namespace without
// them: with one iptables-restore --noflush (atomic, what init-firewall
// does), and with go-iptables (one iptables process per rule, not atomic).
func benchRuleLoaders(b *testing.B) {
	ns := testnet.NewNetns(b, "dbbn-")
	if err := ns.Do(func() error {
		c, err := openIpset()
		if err != nil {
			return err
		}
		defer c.Close()
		return c.create(SetV4, unix.AF_INET, 0, 0)
	}); err != nil {
		b.Fatal(err)
	}
	host := Host{Resolvers: []netip.Addr{netip.MustParseAddr("198.51.100.53")}, Gateways: []netip.Addr{netip.MustParseAddr("198.18.0.1")}}
	rs := host.ruleset(familyV4, &allowlist.Config{HostPorts: []int{8080}, InboundPorts: []int{2222}}, DefaultNFLogGroup)
	rules := float64(strings.Count(rs.Restore(FirstRunHooks), "\n-"))
	unhook := func() error {
		return ns.Do(func() error {
			ipt, err := iptables.New()
			if err != nil {
				return err
			}
			for _, h := range [][2]string{{"OUTPUT", ChainOut}, {"INPUT", ChainIn}} {
				if err := ipt.DeleteIfExists("filter", h[0], "-j", h[1]); err != nil {
					return err
				}
			}
			for _, c := range []string{ChainOut, ChainIn, ChainRejectOut, ChainRejectIn} {
				if err := ipt.ClearAndDeleteChain("filter", c); err != nil {
					return err
				}
			}
			return nil
		})
	}
	restore := func() error { return inNetns(ns, rs.Restore(FirstRunHooks), "iptables-restore", "--noflush") }
	perRule := func() error {
		return ns.Do(func() error {
			ipt, err := iptables.New()
			if err != nil {
				return err
			}
			for _, c := range []string{ChainOut, ChainIn, ChainRejectOut, ChainRejectIn} {
				if err := ipt.NewChain("filter", c); err != nil {
					return err
				}
			}
			for _, line := range strings.Split(rs.Restore(Hooks{}), "\n") {
				if !strings.HasPrefix(line, "-A ") {
					continue
				}
				f := strings.Fields(line)
				if err := ipt.Append("filter", f[1], f[2:]...); err != nil {
					return err
				}
			}
			if err := ipt.Insert("filter", "OUTPUT", 1, "-j", ChainOut); err != nil {
				return err
			}
			return ipt.Insert("filter", "INPUT", 1, "-j", ChainIn)
		})
	}
	var restoreMS float64
	b.Run("iptables-restore", func(b *testing.B) {
		restoreMS = benchEach(b, "ms/load", restore, unhook)
		b.ReportMetric(rules, "rules")
	})
	b.Run("go-iptables-per-rule", func(b *testing.B) {
		ms := benchEach(b, "ms/load", perRule, unhook)
		if restoreMS > 0 {
			b.ReportMetric(ms/restoreMS, "x-restore")
		}
	})
}

// benchWholeRun re-applies a config of 20 domains from the lab's DNS
// server and a 1,000-prefix GitHub meta from its HTTP server: the whole
// init-firewall process (rules, sets, verification), as a box start does.
// It reports the process's wall time, init-firewall's own figure, the peak
// RSS (goal < 40 MB) and the binary's size.
func benchWholeRun(b *testing.B) {
	l := newLab(b)
	l.meta.metaV4Count = 1000 - 2 // plus the two ranges it always serves
	// The meta is fetched by name, so its host must stay resolvable.
	records := map[string][]string{"meta.test": {metaHost}}
	var domains []string
	for i := range 20 {
		name := fmt.Sprintf("d%d.test", i)
		records[name] = []string{fmt.Sprintf("198.51.100.%d", 10+i), fmt.Sprintf("2001:db8:100::%x", 0x10+i)}
		domains = append(domains, `"`+name+`"`)
	}
	l.dns.SetRecords(records)
	cfg := l.config(b, `{
  "domains": [`+strings.Join(domains, ", ")+`],
  "github": {"url": "META/meta", "keys": ["api"]},
  "cacheDir": "CACHE",
  "verify": {"reachable": ["tcp://198.51.100.10:80"], "blocked": ["tcp://203.0.113.10:80"]}
}`)
	apply := func(b *testing.B) fwResult {
		r := l.apply(b, "--config", cfg, "--json")
		if r.code != 0 {
			b.Fatalf("init-firewall: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		return r
	}
	first := apply(b) // the first run also creates the chains and sets
	b.Run("rerun", func(b *testing.B) {
		var inner time.Duration
		maxRSS := first.maxRSS
		benchEach(b, "ms/run", func() error {
			maxRSS = max(maxRSS, apply(b).maxRSS)
			return nil
		}, func() error {
			_, s := l.marker(b)
			inner += time.Duration(s.DurationMS) * time.Millisecond
			return nil
		})
		b.ReportMetric(float64(first.took)/float64(time.Millisecond), "ms/first-run")
		b.ReportMetric(float64(inner)/float64(b.N)/float64(time.Millisecond), "ms/run-own")
		b.ReportMetric(float64(maxRSS)/1024, "MB-peak-RSS")
		info, err := os.Stat(l.bin)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.Size())/(1<<20), "MB-binary")
	})
}
