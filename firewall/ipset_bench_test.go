//go:build linux

package firewall

// The firewall benchmark (not a timed test: it reports, it does not fail on
// a figure). Run it with bench/firewall.sh, or
// DEVBOX_BENCH=1 go test -run TestBenchFirewall -v ./firewall

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

func benchEnabled(t *testing.T) {
	if os.Getenv("DEVBOX_BENCH") == "" {
		t.Skip("benchmark: set DEVBOX_BENCH=1 (bench/firewall.sh does)")
	}
	testnet.RequireNetns(t)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// timeIt runs f n times and returns the median time of f; undo, when
// set, runs after each f and is not timed.
func timeIt(t *testing.T, n int, f, undo func() error) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(start))
		if undo != nil {
			if err := undo(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return median(ds)
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

func TestBenchFirewall(t *testing.T) {
	benchEnabled(t)
	t.Run("ipset loaders", benchLoaders)
	t.Run("rule loaders", benchRuleLoaders)
	t.Run("whole run", benchWholeRun)
}

// benchLoaders loads 10,000 IPv4 and 2,000 IPv6 prefixes three ways.
func benchLoaders(t *testing.T) {
	ns := testnet.NewNetns(t, "dbfw-b")
	v4, v6 := testPrefixes(10000, 2000)
	t.Logf("entries: %d IPv4 + %d IPv6", len(v4), len(v6))
	sets := []struct {
		name   string
		family string
		af     uint8
		ps     []netip.Prefix
	}{{"bench-v4", "inet", unix.AF_INET, v4}, {"bench-v6", "inet6", unix.AF_INET6, v6}}

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
	loop := func() error {
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

	ours := timeIt(t, 9, netlinkLoad(ipsetBatch), destroyAll)
	single := timeIt(t, 3, netlinkLoad(1), destroyAll)
	big := timeIt(t, 5, netlinkLoad(1024), destroyAll)
	ref := timeIt(t, 9, restore, destroyAll)
	perEntry := timeIt(t, 1, loop, destroyAll)
	report := fmt.Sprintf(`ipset load, 10,000 IPv4 + 2,000 IPv6 prefixes (median):
  init-firewall netlink, %4d entries/message: %10s
  init-firewall netlink,    1 entry/message:   %10s
  init-firewall netlink, 1024 entries/message: %10s
  ipset restore (one process):                 %10s
  ipset add per entry (%d processes):       %10s
  ratio init-firewall / ipset restore:  %.2fx (goal <= 1.5x)
  ratio per-entry loop / init-firewall: %.0fx (goal >= 100x)`,
		ipsetBatch, ours, single, big, ref, len(v4)+len(v6), perEntry.Round(time.Millisecond),
		float64(ours)/float64(ref), float64(perEntry)/float64(ours))
	fmt.Println(report)
	t.Log(report)
}

// benchRuleLoaders compares loading devbox's IPv4 chains with go-iptables
// (one iptables process per rule) and with one iptables-restore.
func benchRuleLoaders(t *testing.T) {
	ns := testnet.NewNetns(t, "dbfw-b")
	if err := ns.Do(func() error {
		c, err := openIpset()
		if err != nil {
			return err
		}
		defer c.Close()
		return c.create(SetV4, unix.AF_INET, 0, 0)
	}); err != nil {
		t.Fatal(err)
	}
	host := Host{Resolvers: []netip.Addr{netip.MustParseAddr("198.51.100.53")}, Gateways: []netip.Addr{netip.MustParseAddr("198.18.0.1")}}
	rs := host.ruleset(familyV4, &allowlist.Config{HostPorts: []int{8080}, InboundPorts: []int{2222}}, DefaultNFLogGroup)
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
	rules := strings.Count(rs.Restore(FirstRunHooks), "\n-")
	a, b := timeIt(t, 9, restore, unhook), timeIt(t, 5, perRule, unhook)
	report := fmt.Sprintf(`IPv4 rules (%d rules + 2 hooks), load into a namespace without them (median):
  one iptables-restore --noflush:     %10s  (atomic: one transaction)
  go-iptables, one process per rule:  %10s  (not atomic)
  ratio: %.1fx`, rules, a, b, float64(b)/float64(a))
	fmt.Println(report)
	t.Log(report)
}

// benchWholeRun applies a config with 20 domains from the local DNS server
// and a 1,000-prefix GitHub meta from the local HTTP server.
func benchWholeRun(t *testing.T) {
	l := newLab(t)
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
	cfg := l.config(t, `{
  "domains": [`+strings.Join(domains, ", ")+`],
  "github": {"url": "META/meta", "keys": ["api"]},
  "cacheDir": "CACHE",
  "verify": {"reachable": ["tcp://198.51.100.10:80"], "blocked": ["tcp://203.0.113.10:80"]}
}`)
	var first fwResult
	var runs []time.Duration
	var inner []time.Duration
	var maxRSS int64
	var steps string
	for i := range 11 {
		r := l.apply(t, "--config", cfg, "--json")
		if r.code != 0 {
			t.Fatalf("run %d: exit %d: %s%s", i, r.code, r.stdout, r.stderr)
		}
		if i == 0 {
			first = r
			t.Logf("first run: %s", r.stdout)
			continue
		}
		runs = append(runs, r.took)
		_, s := l.marker(t)
		inner = append(inner, time.Duration(s.DurationMS)*time.Millisecond)
		steps = fmt.Sprint(s.StepsMS)
		maxRSS = max(maxRSS, r.maxRSS)
	}
	maxRSS = max(maxRSS, first.maxRSS)
	info, err := os.Stat(l.bin)
	if err != nil {
		t.Fatal(err)
	}
	report := fmt.Sprintf(`whole run, 20 domains (A+AAAA) + 1,000-prefix GitHub meta, rules + sets + verify:
  first run (no rules yet):      %10s
  re-run, median of 10:          %10s (process wall time; init-firewall's own figure %s)
  steps of the last run (ms):    %s
  peak RSS:                      %7.1f MB (goal < 40 MB)
  binary size (static, -s -w):   %7.1f MB`,
		first.took.Round(time.Millisecond), median(runs).Round(time.Millisecond), median(inner), steps,
		float64(maxRSS)/1024, float64(info.Size())/(1<<20))
	fmt.Println(report)
	t.Log(report)
}
