//go:build linux

package firewall

// Real-kernel tests of the gateway's filtering resolver: init-firewall
// gateway runs in the lab's client namespace, the upstream is the lab's
// test DNS server (whose own log says what reached it), and the test hosts
// the answers point to live in the server namespace.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// Test hosts the resolver's answers point to: each on the server
// namespace's loopback, which answers on every address of its prefixes.
const (
	wildV4    = "198.18.16.1" // a.wild.test
	deepV4    = "198.18.16.2" // b.c.wild.test (not allowed: one label only)
	siblingV4 = "198.18.16.3" // sibling.test (not allowed)
	portsV4   = "198.18.16.4" // ports.test (allowed on 81 only)
	ttlOldV4  = "198.18.16.5" // ttl.wild.test before the move
	ttlNewV4  = "198.18.16.6" // and after
	raceBase  = "198.18.20.0" // r<N>.wild.test: 198.18.20.0/22, one address each
	raceNames = 1000
	// dockerPort is where the stand-in for Docker's embedded resolver
	// listens; Docker's NAT sends 127.0.0.11:53 there (addDockerNAT).
	dockerPort = "40553"
)

// resolverConfig allows names by pattern and port, denies one, names the
// lab's DNS server as the upstream and shortens the timeouts.
const resolverConfig = `{
  "domains": ["*.wild.test:80,81", "ports.test:81"],
  "cidrs": ["198.18.16.8", "198.18.16.9:81", "198.18.16.10"],
  "deny": ["bad.wild.test", "198.18.16.10"],
  "upstreams": ["198.51.100.53"],
  "dns": {"minTTL": 1, "grace": 2},
  "cacheDir": "CACHE",
  "verify": {
    "reachable": ["http://a.wild.test/"],
    "blocked": ["tcp://203.0.113.10:80"]
  }
}`

// resolverRecords are the upstream's records for the resolver tests.
func resolverRecords() map[string][]string {
	r := map[string][]string{
		"a.wild.test":           {wildV4},
		"b.c.wild.test":         {deepV4},
		"sibling.test":          {siblingV4},
		"bad.wild.test":         {wildV4},
		"ports.test":            {portsV4},
		"ttl.wild.test":         {ttlOldV4},
		"private.wild.test":     {"10.9.9.9"},
		"meta.wild.test":        {"169.254.169.254"},
		"mapped.wild.test":      {"::ffff:10.0.0.1"},
		"alias.wild.test":       {"CNAME:target.elsewhere.test"},
		"target.elsewhere.test": {wildV4},
	}
	base := netip.MustParseAddr(raceBase)
	for i := range raceNames {
		r[fmt.Sprintf("r%d.wild.test", i)] = []string{base.String()}
		base = base.Next()
	}
	return r
}

// gatewayProc is init-firewall gateway running in the lab's client
// namespace.
type gatewayProc struct {
	cmd *exec.Cmd
	out *syncBuilder
	// exited is closed when the process has ended, with err its end.
	exited chan struct{}
	err    error
}

// syncBuilder is a strings.Builder safe for the process's two streams.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGateway runs init-firewall gateway with config and waits for its
// ready marker; the process is stopped when the test ends.
func (l *lab) startGateway(t testing.TB, config string) *gatewayProc {
	t.Helper()
	return l.startGatewayOn(t, config, "")
}

// startGatewayOn is startGateway with the process pinned to cpus (taskset's
// list) when set, and extra arguments.
func (l *lab) startGatewayOn(t testing.TB, config, cpus string, extra ...string) *gatewayProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	run := filepath.Join(l.dir, "run")
	argv := append([]string{l.bin, contract.GatewayArg, "--run-dir", run, "--audit-dir", filepath.Join(l.dir, "audit"), "--timeout", "8s", "--config", config}, extra...)
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	cmd := l.client.Command(ctx, argv...)
	g := &gatewayProc{cmd: cmd, out: &syncBuilder{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = g.out, g.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { g.err = cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(5 * time.Second):
		}
		cancel()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(run, contract.ReadyMarkerName)); err == nil {
			return g
		}
		select {
		case <-g.exited:
			t.Fatalf("gateway exited before it was ready: %v\n%s", g.err, g.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready after 30s:\n%s", g.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the marker
	}
}

// query asks server for name/qtype from the client namespace, as uid (0 or
// the agent's 1000), over proto, and returns "NOERROR 1.2.3.4 ...", the
// rcode alone, or a probe outcome when nothing answered.
func (l *lab) query(t testing.TB, uid int, server, name, qtype, proto string) string {
	t.Helper()
	return l.helper(t, uid, "DBFW_PROBE=query", "DBFW_ADDR="+server, "DBFW_NAME="+name, "DBFW_TYPE="+qtype, "DBFW_PROTO="+proto)
}

// helper runs the probe helper (this test binary) in the client namespace
// as uid with env, and returns what it printed.
func (l *lab) helper(t testing.TB, uid int, env ...string) string {
	t.Helper()
	exe := agentCopyOfTestBinary(t)
	var out []byte
	err := l.client.Do(func() error {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = env
		if uid != 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
		}
		var err error
		out, err = cmd.CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("probe helper: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// queryHelper is the "query" probe: one question, the answer summarized.
func queryHelper() string {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(os.Getenv("DBFW_NAME")), dns.StringToType[os.Getenv("DBFW_TYPE")])
	c := &dns.Client{Net: os.Getenv("DBFW_PROTO"), Timeout: 3 * time.Second}
	reply, _, err := c.Exchange(q, os.Getenv("DBFW_ADDR"))
	if err != nil {
		return outcome(err)
	}
	parts := []string{dns.RcodeToString[reply.Rcode]}
	for _, rr := range reply.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			parts = append(parts, rr.A.String())
		case *dns.AAAA:
			parts = append(parts, rr.AAAA.String())
		default:
			parts = append(parts, dns.TypeToString[rr.Header().Rrtype])
		}
	}
	return strings.Join(parts, " ")
}

// raceHelper is the "race" probe: every name r<N>.wild.test is asked at
// once, and each address is connected to the moment its answer arrives.
// It prints "ok N" or the failures.
func raceHelper() string {
	n, _ := strconv.Atoi(os.Getenv("DBFW_N"))
	server := os.Getenv("DBFW_ADDR")
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fail := func(format string, args ...any) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("r%d: ", i)+fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			q := new(dns.Msg)
			q.SetQuestion(fmt.Sprintf("r%d.wild.test.", i), dns.TypeA)
			c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
			reply, _, err := c.Exchange(q, server)
			if err != nil || reply.Rcode != dns.RcodeSuccess || len(reply.Answer) != 1 {
				fail("answer %v %v", reply, err)
				return
			}
			a, ok := reply.Answer[0].(*dns.A)
			if !ok {
				fail("answer %v", reply.Answer[0])
				return
			}
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(a.A.String(), "80"), 5*time.Second)
			if err != nil {
				fail("connect %s: %v", a.A, err)
				return
			}
			conn.Close()
		})
	}
	close(start)
	wg.Wait()
	if len(failures) > 0 {
		return fmt.Sprintf("%d failed: %s", len(failures), strings.Join(failures[:min(5, len(failures))], "; "))
	}
	return fmt.Sprintf("ok %d", n)
}

// resolverLab is a lab whose server answers for the resolver's test hosts
// and whose client has Docker's NAT for 127.0.0.11 and a stand-in for
// Docker's resolver that knows the compose service "db".
func resolverLab(t testing.TB) (*lab, *testnet.DNSServer) {
	t.Helper()
	l := newLab(t)
	for _, p := range []string{"198.18.16.1/24", "198.18.20.1/22"} {
		l.server.MustRun(t, "ip", "addr", "add", p, "dev", "lo")
	}
	l.dns.SetRecords(resolverRecords())
	l.otherDNS.SetRecords(resolverRecords())
	l.client.WriteResolvConf(t, "127.0.0.11")
	l.addDockerNAT(t)
	var docker *testnet.DNSServer
	if err := l.client.Do(func() error {
		var err error
		docker, err = testnet.NewDNSServer("127.0.0.11:"+dockerPort, map[string][]string{"db": {peerV4}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker.Close() })
	// The workspace's compose file, beside firewall.jsonc as in the gateway.
	compose := "services:\n  gateway:\n    image: x\n  dev:\n    image: x\n  db:\n    image: x\n"
	if err := os.WriteFile(filepath.Join(l.dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	return l, docker
}

func TestIntegrationNetnsResolver(t *testing.T) {
	l, docker := resolverLab(t)
	g := l.startGateway(t, l.config(t, resolverConfig))
	_, s := l.marker(t)
	t.Logf("gateway ready in %d ms, steps %v, upstreams %v from %s, resolver %s", s.DurationMS, s.StepsMS, s.DNSUpstreams, s.UpstreamsFrom, s.Resolver)
	if s.UpstreamsFrom != "config" {
		t.Errorf("upstreams from %q, want config", s.UpstreamsFrom)
	}
	dockerDNS := "127.0.0.11:53"

	t.Run("a wildcard name resolves and connects; a sibling is never asked", func(t *testing.T) {
		if got := l.query(t, 1000, dockerDNS, "a.wild.test", "A", "udp"); got != "NOERROR "+wildV4 {
			t.Fatalf("a.wild.test: %s", got)
		}
		if got := l.probeAs(t, "tcp", wildV4+":80"); got != probeReached {
			t.Errorf("a.wild.test:80 after its answer: %s", got)
		}
		if got, _ := l.probeTCP(t, wildV4+":22"); got != probeRefused {
			t.Errorf("a.wild.test:22 (no such port in the entry): %s", got)
		}
		for _, name := range []string{"b.c.wild.test", "sibling.test", "bad.wild.test", "wild.test"} {
			if got := l.query(t, 1000, dockerDNS, name, "A", "udp"); got != "NXDOMAIN" {
				t.Errorf("%s: %s, want NXDOMAIN", name, got)
			}
			if l.dns.Saw(name) {
				t.Errorf("the upstream saw %s, which is not allowed", name)
			}
		}
		if got, _ := l.probeTCP(t, deepV4+":80"); got != probeRefused {
			t.Errorf("b.c.wild.test's address: %s", got)
		}
	})

	t.Run("only A and AAAA of allowed names leave, whoever asks and wherever", func(t *testing.T) {
		servers := []string{dockerDNS, "127.0.0.1:53", resolverV4 + ":53", otherResolverV4 + ":53", blockedV4 + ":53", "[" + blockedV6 + "]:53", "[::1]:53"}
		for _, uid := range []int{1000, 0} {
			for _, server := range servers {
				for _, proto := range []string{"udp", "tcp"} {
					label := fmt.Sprintf("x%d%s.wild.test", uid, strings.NewReplacer(".", "", ":", "", "[", "", "]", "").Replace(server+proto))
					for _, c := range []struct{ name, qtype string }{{"a.wild.test", "TXT"}, {label, "TXT"}, {"random" + label[1:], "A"}, {"a.wild.test", "ANY"}, {"a.wild.test", "NULL"}} {
						got := l.query(t, uid, server, c.name, c.qtype, proto)
						if strings.Contains(got, "TXT") || strings.Contains(got, "NULL") {
							t.Errorf("uid %d %s %s %s/%s: answered %s", uid, proto, server, c.name, c.qtype, got)
						}
					}
				}
			}
		}
		// Wherever it was sent, a query is answered by the resolver.
		for _, uid := range []int{1000, 0} {
			for _, server := range servers {
				for _, proto := range []string{"udp", "tcp"} {
					if got := l.query(t, uid, server, "a.wild.test", "A", proto); got != "NOERROR "+wildV4 {
						t.Errorf("uid %d %s %s a.wild.test: %s, want the resolver's answer", uid, proto, server, got)
					}
				}
			}
		}
		for _, q := range append(l.dns.Asked(), l.otherDNS.Asked()...) {
			if q.Type != "A" && q.Type != "AAAA" {
				t.Errorf("an upstream saw %s %s over %s", q.Name, q.Type, q.Proto)
			}
			// x… names were only ever asked as TXT; random… ones as A,
			// which the pattern allows.
			if strings.HasPrefix(q.Name, "x") {
				t.Errorf("an upstream saw %s %s, asked only as TXT", q.Name, q.Type)
			}
		}
	})

	t.Run("Docker's resolver: services only, its real port closed to dev", func(t *testing.T) {
		if got := l.query(t, 1000, dockerDNS, "db", "A", "udp"); got != "NOERROR "+peerV4 {
			t.Errorf("service db: %s", got)
		}
		if l.dns.Saw("db") {
			t.Error("the upstream saw the service name db")
		}
		if got := l.query(t, 1000, dockerDNS, "notaservice", "A", "udp"); got != "NXDOMAIN" {
			t.Errorf("notaservice: %s", got)
		}
		if docker.Saw("notaservice") {
			t.Error("Docker's resolver saw a name that is no service")
		}
		before := docker.Queries()
		for _, uid := range []int{1000, 0} {
			for _, proto := range []string{"udp", "tcp"} {
				if got := l.query(t, uid, "127.0.0.11:"+dockerPort, "exfil.example.test", "TXT", proto); got != probeRefused {
					t.Errorf("uid %d to Docker's real port over %s: %s, want refused", uid, proto, got)
				}
			}
		}
		if docker.Queries() != before {
			t.Errorf("Docker's resolver got %d queries straight from dev", docker.Queries()-before)
		}
	})

	t.Run("no answer points inward", func(t *testing.T) {
		for _, name := range []string{"private.wild.test", "meta.wild.test"} {
			if got := l.query(t, 1000, dockerDNS, name, "A", "udp"); got != "SERVFAIL" {
				t.Errorf("%s: %s, want SERVFAIL", name, got)
			}
		}
		if got := l.query(t, 1000, dockerDNS, "mapped.wild.test", "AAAA", "udp"); got != "SERVFAIL" {
			t.Errorf("mapped.wild.test AAAA: %s, want SERVFAIL", got)
		}
	})

	t.Run("CNAME chains are followed and flattened", func(t *testing.T) {
		if got := l.query(t, 1000, dockerDNS, "alias.wild.test", "A", "udp"); got != "NOERROR "+wildV4 {
			t.Errorf("alias.wild.test: %s", got)
		}
	})

	t.Run("an entry with ports allows only those", func(t *testing.T) {
		if got := l.query(t, 1000, dockerDNS, "ports.test", "A", "udp"); got != "NOERROR "+portsV4 {
			t.Fatalf("ports.test: %s", got)
		}
		if got, _ := l.probeTCP(t, portsV4+":81"); got != probeReached {
			t.Errorf("ports.test:81: %s", got)
		}
		if got, _ := l.probeTCP(t, portsV4+":80"); got != probeRefused {
			t.Errorf("ports.test:80: %s, want refused", got)
		}
	})

	t.Run("CIDRs: every port, named ports only, deny wins, DNS over TLS never", func(t *testing.T) {
		if err := l.server.Do(func() error { return serveTCP(t, "tcp", ":853", nil) }); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ addr, want string }{
			{"198.18.16.8:80", probeReached}, {"198.18.16.8:81", probeReached},
			{"198.18.16.9:81", probeReached}, {"198.18.16.9:80", probeRefused},
			{"198.18.16.10:80", probeRefused}, // allowed by a CIDR, denied by another entry
			{"198.18.16.8:853", probeRefused}, // every port of the CIDR but DoT's
		} {
			got, took := l.probeTCP(t, c.addr)
			expect(t, l, c.addr, got, took, c.want)
		}
	})

	t.Run("the race: each fresh address connects at once after its answer", func(t *testing.T) {
		got := l.helper(t, 1000, "DBFW_PROBE=race", "DBFW_ADDR="+dockerDNS, "DBFW_N="+strconv.Itoa(raceNames))
		if got != "ok "+strconv.Itoa(raceNames) {
			t.Errorf("race: %s\n%s", got, g.out.String())
		}
	})

	t.Run("an allowed connection needs no process: the resolver stopped", func(t *testing.T) {
		if got := l.query(t, 1000, dockerDNS, "a.wild.test", "A", "udp"); got != "NOERROR "+wildV4 {
			t.Fatalf("a.wild.test: %s", got)
		}
		if err := g.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		got, _ := l.probeTCP(t, wildV4+":80")
		_ = g.cmd.Process.Signal(syscall.SIGCONT)
		if got != probeReached {
			t.Errorf("a.wild.test:80 with the gateway process stopped: %s", got)
		}
	})

	t.Run("TTL: a moved name, a living connection, an expired address", func(t *testing.T) {
		l.dns.SetTTL(1)
		defer l.dns.SetTTL(60)
		if got := l.query(t, 1000, dockerDNS, "ttl.wild.test", "A", "udp"); got != "NOERROR "+ttlOldV4 {
			t.Fatalf("ttl.wild.test: %s", got)
		}
		var held net.Conn
		if err := l.client.Do(func() error {
			var err error
			held, err = net.DialTimeout("tcp", ttlOldV4+":81", 2*time.Second)
			return err
		}); err != nil {
			t.Fatalf("connect to the old address: %v", err)
		}
		defer held.Close()
		records := resolverRecords()
		records["ttl.wild.test"] = []string{ttlNewV4}
		l.dns.SetRecords(records)
		defer l.dns.SetRecords(resolverRecords())
		moved := time.Now()
		for got := ""; got != "NOERROR "+ttlNewV4; {
			if time.Since(moved) > 10*time.Second {
				t.Fatalf("ttl.wild.test still answers %s 10s after the move", got)
			}
			time.Sleep(200 * time.Millisecond) // polling the answer
			got = l.query(t, 1000, dockerDNS, "ttl.wild.test", "A", "udp")
		}
		if got, _ := l.probeTCP(t, ttlNewV4+":81"); got != probeReached {
			t.Errorf("the new address: %s", got)
		}
		// Expired: timeout max(TTL, minTTL) + grace = 3s after the last answer.
		for {
			got, _ := l.probeTCP(t, ttlOldV4+":80")
			if got == probeRefused {
				break
			}
			if time.Since(moved) > 15*time.Second {
				t.Fatalf("the old address still connects 15s after the move: %s", got)
			}
			time.Sleep(250 * time.Millisecond) // polling the set's timeout
		}
		if _, err := held.Write([]byte("still\n")); err != nil {
			t.Fatalf("the established connection died: %v", err)
		}
		_ = held.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := held.Read(make([]byte, 16)); err != nil || n == 0 {
			t.Errorf("the established connection to the old address: %v", err)
		}
	})

	select {
	case <-g.exited:
		t.Fatalf("gateway exited while ready: %v\n%s", g.err, g.out.String())
	default:
	}
}

// TestIntegrationNetnsResolverUpstreams runs the gateway without
// "upstreams", on both paths Docker's resolver forwards by: from inside
// the box's namespace (Docker 20.10; later engines when the host's
// resolver is off loopback), where the gateway learns its upstreams and
// asks them itself, and from the host's namespace (Docker 25 and later
// with a resolver on the host's loopback), where nothing is learned and
// Docker's resolver is asked from marked sockets.
func TestIntegrationNetnsResolverUpstreams(t *testing.T) {
	config := strings.Replace(resolverConfig, `"upstreams": ["198.51.100.53"],`, "", 1)
	for _, c := range []struct {
		name, want string
		hostSide   bool
	}{{"forwarded from the namespace", "learned", false}, {"forwarded from the host", "docker", true}} {
		t.Run(c.name, func(t *testing.T) {
			l := newLab(t)
			l.server.MustRun(t, "ip", "addr", "add", "198.18.16.1/24", "dev", "lo")
			l.dns.SetRecords(resolverRecords())
			l.client.WriteResolvConf(t, "127.0.0.11")
			l.addDockerNAT(t)
			from := l.client
			if c.hostSide {
				from = l.server // stands in for the host's namespace
			}
			fwd := startForwarderIn(t, l.client, from, "127.0.0.11:"+dockerPort, resolverV4+":53")
			defer fwd.stop()
			l.startGateway(t, l.config(t, config))
			_, s := l.marker(t)
			if s.UpstreamsFrom != c.want {
				t.Errorf("upstreams from %q (%v), want %s", s.UpstreamsFrom, s.DNSUpstreams, c.want)
			}
			if got := l.query(t, 1000, "127.0.0.11:53", "a.wild.test", "A", "udp"); got != "NOERROR "+wildV4 {
				t.Errorf("a.wild.test: %s", got)
			}
			if got := l.probeAs(t, "tcp", wildV4+":80"); got != probeReached {
				t.Errorf("a.wild.test:80: %s", got)
			}
			for _, uid := range []int{1000, 0} {
				for _, server := range []string{"127.0.0.11:53", "127.0.0.11:" + dockerPort, resolverV4 + ":53"} {
					name := fmt.Sprintf("leak%d%s.example.test", uid, strings.NewReplacer(".", "", ":", "").Replace(server))
					l.query(t, uid, server, name, "TXT", "udp")
					l.query(t, uid, server, name, "A", "tcp")
					if l.dns.Saw(name) {
						t.Errorf("uid %d through %s: the upstream saw %s", uid, server, name)
					}
				}
			}
		})
	}
}
