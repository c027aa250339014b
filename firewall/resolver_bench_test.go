//go:build linux

package firewall

// The resolver's figures, measured on the real thing: init-firewall
// gateway in the lab's client namespace (pinned to one core), queried
// through Docker's address and the nat redirect, with the lab's DNS server
// as its upstream. Run with bench/firewall.sh, or
// go test -run '^$' -bench '^BenchmarkGatewayResolver$' ./firewall

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// benchNames is how many distinct names the memory figure caches.
const benchNames = 10000

// benchRecords adds m<N>.wild.test for N < benchNames to the resolver
// tests' records, each with its own address.
func benchRecords() map[string][]string {
	r := resolverRecords()
	a := netip.MustParseAddr("198.18.128.0")
	for i := range benchNames {
		r[fmt.Sprintf("m%d.wild.test", i)] = []string{a.String()}
		a = a.Next()
	}
	return r
}

// exchangeTimes asks server each name in turn from sockets made in the
// lab's client namespace (marked when mark is set, as the resolver's own
// upstream queries are) and returns each round trip.
func (l *lab) exchangeTimes(b *testing.B, server string, names []string, mark bool) []time.Duration {
	b.Helper()
	var conn net.Conn
	err := l.client.Do(func() error {
		d := &net.Dialer{}
		if mark {
			d.Control = markControl
		}
		var err error
		conn, err = d.Dial("udp", server)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := &dns.Conn{Conn: conn}
	out := make([]time.Duration, 0, len(names))
	for _, name := range names {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		start := time.Now()
		if err := c.WriteMsg(q); err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		reply, err := c.ReadMsg()
		if err != nil || reply.Rcode != dns.RcodeSuccess || len(reply.Answer) == 0 {
			b.Fatalf("%s via %s: %v %v", name, server, reply, err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// quantile returns the q quantile of ds (sorted in place).
func quantile(ds []time.Duration, q float64) time.Duration {
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// rssKiB reads VmRSS of pid.
func rssKiB(b *testing.B, pid int) int {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	b.Fatalf("no VmRSS for %d", pid)
	return 0
}

// BenchmarkGatewayResolver reports, per run of the whole gateway:
//   - upstream-p50/p99-ms: a query straight to the upstream, from a marked
//     socket in the box's namespace (the resolver's own path);
//   - miss-p50/p99-ms: a fresh name through the resolver (upstream query,
//     set write, answer), and added-p50/p99-ms, the difference;
//   - hit-p50/p99-ms: a cached name (set refresh, answer);
//   - qps: cached answers per second with the gateway pinned to one core;
//   - rss-idle-MB and rss-10k-MB: the gateway's resident memory when ready
//     and with 10,000 names cached.
//
// log=on is the gateway as it runs, writing its audit log (every answer,
// up to the log's rate); log=off the same without it: the log's cost.
func BenchmarkGatewayResolver(b *testing.B) {
	for _, log := range []string{"on", "off"} {
		b.Run("log="+log, func(b *testing.B) {
			var extra []string
			if log == "off" {
				extra = []string{"--no-audit"}
			}
			for range b.N {
				benchGatewayResolver(b, extra...)
			}
		})
	}
}

func benchGatewayResolver(b *testing.B, extra ...string) {
	l, _ := resolverLab(b)
	l.dns.SetRecords(benchRecords())
	config := strings.Replace(resolverConfig, `"minTTL": 1, "grace": 2`, `"minTTL": 600, "grace": 30`, 1)
	g := l.startGatewayOn(b, l.config(b, config), "0", extra...)
	pid := g.cmd.Process.Pid
	idle := rssKiB(b, pid)

	const n = 2000
	names := func(from int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("m%d.wild.test.", from+i)
		}
		return out
	}
	upstream := l.exchangeTimes(b, resolverV4+":53", names(0), true)
	miss := l.exchangeTimes(b, "127.0.0.11:53", names(0), false)
	hit := l.exchangeTimes(b, "127.0.0.11:53", names(0), false)
	up50, up99 := quantile(upstream, 0.5), quantile(upstream, 0.99)
	miss50, miss99 := quantile(miss, 0.5), quantile(miss, 0.99)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(up50), "upstream-p50-ms")
	b.ReportMetric(ms(up99), "upstream-p99-ms")
	b.ReportMetric(ms(miss50), "miss-p50-ms")
	b.ReportMetric(ms(miss99), "miss-p99-ms")
	b.ReportMetric(ms(miss50-up50), "added-p50-ms")
	b.ReportMetric(ms(miss99-up99), "added-p99-ms")
	b.ReportMetric(ms(quantile(hit, 0.5)), "hit-p50-ms")
	b.ReportMetric(ms(quantile(hit, 0.99)), "hit-p99-ms")
	b.ReportMetric(float64(l.qps(b, "127.0.0.11:53", names(0), 3*time.Second)), "qps")

	// The rest of the 10,000 names, then the memory they take.
	l.exchangeTimes(b, "127.0.0.11:53", func() []string {
		out := make([]string, 0, benchNames-n)
		for i := n; i < benchNames; i++ {
			out = append(out, fmt.Sprintf("m%d.wild.test.", i))
		}
		return out
	}(), false)
	b.ReportMetric(float64(idle)/1024, "rss-idle-MB")
	b.ReportMetric(float64(rssKiB(b, pid))/1024, "rss-10k-MB")
}

// qps asks the cached names from 16 sockets at once for d and returns the
// answers per second.
func (l *lab) qps(b *testing.B, server string, names []string, d time.Duration) int {
	b.Helper()
	const workers = 16
	conns := make([]*dns.Conn, workers)
	if err := l.client.Do(func() error {
		for i := range conns {
			c, err := net.Dial("udp", server)
			if err != nil {
				return err
			}
			conns[i] = &dns.Conn{Conn: c}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var answered atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for w, c := range conns {
		wg.Go(func() {
			defer c.Close()
			for i := w; ctx.Err() == nil; i += workers {
				q := new(dns.Msg)
				q.SetQuestion(names[i%len(names)], dns.TypeA)
				if c.WriteMsg(q) != nil {
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
				if r, err := c.ReadMsg(); err == nil && r.Rcode == dns.RcodeSuccess {
					answered.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(float64(answered.Load()) / d.Seconds())
}

// BenchmarkNameSetsAllow times the set write the resolver makes before it
// releases an answer (one address, two ports, a timeout), over netlink in a
// namespace of its own: ns/op is the mean, and p50/p99 are reported.
func BenchmarkNameSetsAllow(b *testing.B) {
	l, _ := resolverLab(b)
	// The sets exist once a gateway has run.
	l.startGatewayOn(b, l.config(b, resolverConfig), "")
	var sets *NameSets
	if err := l.client.Do(func() error {
		var err error
		sets, err = OpenNameSets(true)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer sets.Close()
	a := netip.MustParseAddr("198.18.128.0")
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		a = a.Next()
		start := time.Now()
		if err := sets.Allow(context.Background(), []netip.Addr{a}, []uint16{80, 443}, 90*time.Second); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(quantile(times, 0.5))/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(quantile(times, 0.99))/float64(time.Millisecond), "p99-ms")
}

// cpuTicks reads the user and system clock ticks of pid.
func cpuTicks(b *testing.B, pid int) int {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.Atoi(f[11]) // fields 14 and 15
	stime, _ := strconv.Atoi(f[12])
	return utime + stime
}

// BenchmarkGatewayRefusedFlood floods refused UDP packets from the box's
// namespace for 3 s (distinct destinations and ports, so folding helps
// least) and reports the gateway's work: refused-pps sent, gateway-cpu-%
// (of one core, reading NFLOG and writing the log), its RSS after, the
// records the flood cost the log (log-records, log-KB), and the share of
// the packets the totals counted (counted-%: the reader's bound of 100,000
// a second lets the kernel drop the rest).
func BenchmarkGatewayRefusedFlood(b *testing.B) {
	for range b.N {
		l, _ := resolverLab(b)
		g := l.startGatewayOn(b, l.config(b, resolverConfig), "0")
		pid := g.cmd.Process.Pid
		logPath := filepath.Join(l.dir, "audit", filepath.Base(contract.AuditLog))
		before, _ := os.Stat(logPath)
		ticks := cpuTicks(b, pid)
		const d = 3 * time.Second
		var sent int
		if err := l.client.Do(func() error {
			c, err := net.ListenPacket("udp4", ":0")
			if err != nil {
				return err
			}
			defer c.Close()
			base := netip.MustParseAddr("198.18.64.0")
			start := time.Now()
			for i := 0; time.Since(start) < d; i++ {
				to := &net.UDPAddr{IP: base.AsSlice(), Port: 1000 + i%5000}
				if i%5000 == 0 {
					base = base.Next()
				}
				_, _ = c.WriteTo([]byte("x"), to) // refused: the point
				sent++
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // the reader's last batch and the counts' next write
		used := cpuTicks(b, pid) - ticks
		after, err := os.Stat(logPath)
		if err != nil {
			b.Fatal(err)
		}
		var records int
		_ = audit.Read(logPath, audit.Filter{Since: time.Now().Add(-time.Minute)}, func(audit.Record) error { records++; return nil })
		b.ReportMetric(float64(sent)/d.Seconds(), "refused-pps")
		b.ReportMetric(float64(used)/100/(d.Seconds()+1.5)*100, "gateway-cpu-%")
		b.ReportMetric(float64(rssKiB(b, pid))/1024, "rss-MB")
		b.ReportMetric(float64(records), "log-records")
		size := after.Size()
		if before != nil {
			size -= before.Size()
		}
		b.ReportMetric(float64(size)/1024, "log-KB")
		if data, err := os.ReadFile(filepath.Join(l.dir, "run", contract.AuditCountsName)); err == nil {
			if c := audit.ParseCounts(data); c != nil {
				b.ReportMetric(float64(c.ConnRefused)/float64(sent)*100, "counted-%")
			}
		}
	}
}
