package resolver_test

// The whole measurement (STYLE 14): the resolver and the upstream each run
// in a process of their own (this test binary, re-executed), the resolver
// on one core (GOMAXPROCS=1, and taskset -c 0 where there is one), and a
// client in the benchmark's process times real UDP queries on loopback.
// bench/resolver.sh runs them; bench/README.md says what each figure is.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/resolver"
	"github.com/devbox-sandbox/devbox/firewall/resolver/resolvertest"
)

const (
	roleEnv   = "RESOLVER_BENCH_ROLE" // "upstream" or "resolver": TestBenchChild serves
	upEnv     = "RESOLVER_BENCH_UPSTREAM"
	benchZone = "bench.test"
)

// childStats is what a child prints when it reads "stats" on its stdin.
type childStats struct {
	HeapInuseMB, HeapAllocMB, SysMB float64
	RSSMB                           float64
	Stats                           resolver.Stats
}

// TestBenchChild is not a test: the benchmarks re-execute the test binary
// with RESOLVER_BENCH_ROLE set to run an upstream or a resolver in a process
// of its own. It prints the address it serves on, then answers "stats"
// lines on stdin until stdin closes.
func TestBenchChild(t *testing.T) {
	role := os.Getenv(roleEnv)
	if role == "" {
		t.Skip("run by the benchmarks only")
	}
	var addr string
	var res *resolver.Server
	switch role {
	case "upstream":
		up, err := resolvertest.Start("", resolvertest.Options{Synthesize: benchZone})
		if err != nil {
			t.Fatal(err)
		}
		defer up.Close()
		addr = up.Addr().String()
	case "resolver":
		var err error
		res, err = resolver.New(resolver.Config{
			Policy: resolver.PolicyFunc(func(name string) resolver.Decision {
				return resolver.Decision{Allowed: strings.HasSuffix(name, "."+benchZone), Rule: "**." + benchZone, Ports: []uint16{443}}
			}),
			Allower:   resolver.AllowerFunc(func(context.Context, string, []netip.Addr, []uint16, time.Duration) error { return nil }),
			Upstreams: []netip.AddrPort{netip.MustParseAddrPort(os.Getenv(upEnv))},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Start(context.Background(), "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		addr = res.Addrs()[0]
	}
	fmt.Println(addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		cs := childStats{HeapInuseMB: mb(ms.HeapInuse), HeapAllocMB: mb(ms.HeapAlloc), SysMB: mb(ms.Sys), RSSMB: rssMB(os.Getpid())}
		if res != nil {
			cs.Stats = res.Stats()
		}
		out, _ := json.Marshal(cs)
		fmt.Println(string(out))
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// rssMB reads a process's resident set size (Linux; 0 elsewhere).
func rssMB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// child is a running TestBenchChild.
type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
}

func startChild(b *testing.B, role string, env ...string) *child {
	b.Helper()
	args := []string{"-test.run=^TestBenchChild$", "-test.count=1"}
	name := os.Args[0]
	if role == "resolver" {
		if tp, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{"-c", "0", name}, args...)
			name = tp
		}
		env = append(env, "GOMAXPROCS=1")
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the %s process: %v", role, err)
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewScanner(stdout)}
	b.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	if !c.out.Scan() {
		b.Fatalf("the %s process printed no address", role)
	}
	c.addr = strings.TrimSpace(c.out.Text())
	return c
}

func (c *child) stats(b *testing.B) childStats {
	b.Helper()
	if _, err := io.WriteString(c.in, "stats\n"); err != nil {
		b.Fatal(err)
	}
	for c.out.Scan() {
		var cs childStats
		if json.Unmarshal(c.out.Bytes(), &cs) == nil {
			return cs
		}
	}
	b.Fatal("the child printed no stats")
	return childStats{}
}

// benchPair starts an upstream and a resolver asking it.
func benchPair(b *testing.B) (up, res *child) {
	up = startChild(b, "upstream")
	res = startChild(b, "resolver", upEnv+"="+up.addr)
	return up, res
}

// client times queries over one UDP socket.
type client struct {
	c    dns.Client
	conn *dns.Conn
}

func dial(b *testing.B, addr string) *client {
	b.Helper()
	cl := &client{c: dns.Client{Net: "udp", Timeout: 2 * time.Second}}
	var err error
	if cl.conn, err = cl.c.Dial(addr); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.conn.Close() })
	return cl
}

func (cl *client) query(b *testing.B, name string) time.Duration {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	start := time.Now()
	r, _, err := cl.c.ExchangeWithConn(q, cl.conn)
	d := time.Since(start)
	if err != nil || len(r.Answer) != 1 {
		b.Fatalf("%s: %v %v", name, r, err)
	}
	return d
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkResolverLatency times, for each of b.N fresh names: the query
// straight to the upstream, the same through the resolver (a cache miss:
// upstream, checks, Allow), and again (a cache hit). Run it with a fixed
// count: -benchtime=5000x.
func BenchmarkResolverLatency(b *testing.B) {
	up, res := benchPair(b)
	direct, through := dial(b, up.addr), dial(b, res.addr)
	var tDirect, tMiss, tHit []time.Duration
	run := fmt.Sprint(time.Now().UnixNano())
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("n%d-%s.%s.", i, run, benchZone)
		tDirect = append(tDirect, direct.query(b, name))
		tMiss = append(tMiss, through.query(b, name))
		tHit = append(tHit, through.query(b, name))
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"direct", tDirect}, {"miss", tMiss}, {"hit", tHit}} {
		b.ReportMetric(us(quantile(m.ds, 0.5)), m.name+"-p50-µs")
		b.ReportMetric(us(quantile(m.ds, 0.99)), m.name+"-p99-µs")
	}
	// What the resolver adds: the miss path against the upstream alone.
	b.ReportMetric(us(quantile(tMiss, 0.5)-quantile(tDirect, 0.5)), "added-p50-µs")
	b.ReportMetric(us(quantile(tMiss, 0.99)-quantile(tDirect, 0.99)), "added-p99-µs")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkResolverQPS: b.N queries from 32 concurrent clients to the
// resolver on one core; cache hits (names cycled through 1,000) and
// misses (fresh names, each also asked upstream).
func BenchmarkResolverQPS(b *testing.B) {
	for _, path := range []string{"hit", "miss"} {
		b.Run(path, func(b *testing.B) {
			_, res := benchPair(b)
			const clients = 32
			run := fmt.Sprint(time.Now().UnixNano())
			name := func(i int64) string {
				if path == "hit" {
					return fmt.Sprintf("n%d-%s.%s.", i%1000, run, benchZone)
				}
				return fmt.Sprintf("n%d-%s.%s.", i, run, benchZone)
			}
			if path == "hit" {
				warm := dial(b, res.addr)
				for i := range int64(1000) {
					warm.query(b, name(i))
				}
			}
			conns := make([]*client, clients)
			for i := range conns {
				conns[i] = dial(b, res.addr)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for _, cl := range conns {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						cl.query(b, name(i))
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "queries/s")
		})
	}
}

// BenchmarkResolverMemory reports the resolver process's memory idle and
// with 10,000 names cached. Run it once: -benchtime=1x.
func BenchmarkResolverMemory(b *testing.B) {
	_, res := benchPair(b)
	idle := res.stats(b)
	run := fmt.Sprint(time.Now().UnixNano())
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		cl := dial(b, res.addr)
		wg.Go(func() {
			for i := next.Add(1); i <= 10000; i = next.Add(1) {
				cl.query(b, fmt.Sprintf("n%d-%s.%s.", i, run, benchZone))
			}
		})
	}
	wg.Wait()
	full := res.stats(b)
	if full.Stats.CacheEntries < 10000 {
		b.Fatalf("%d names cached, want 10,000", full.Stats.CacheEntries)
	}
	b.ReportMetric(idle.RSSMB, "idle-RSS-MB")
	b.ReportMetric(idle.HeapInuseMB, "idle-heap-MB")
	b.ReportMetric(full.RSSMB, "10k-RSS-MB")
	b.ReportMetric(full.HeapInuseMB, "10k-heap-MB")
	b.ReportMetric(full.SysMB, "10k-sys-MB")
	b.ReportMetric(0, "ns/op")
}
