//go:build linux

package firewall

// Real-kernel tests: a client namespace gets the firewall (the built
// init-firewall binary run with `ip netns exec`), a server namespace holds
// the test hosts, a DNS server and an HTTP server with GitHub- and
// AWS-shaped documents. Nothing outside these namespaces is contacted and no
// address or route is added to the machine's own namespace.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// Addresses of the lab. The client sits on 198.18.0.0/24 and
// 2001:db8:1::/64 behind the server, which holds every test host.
const (
	clientV4, gatewayV4 = "198.18.0.2", "198.18.0.1"
	clientV6, gatewayV6 = "2001:db8:1::2", "2001:db8:1::1"
	peerV4, peerV6      = "198.18.0.3", "2001:db8:1::3" // another box on the client's network
	resolverV4          = "198.51.100.53"               // in the client's resolv.conf
	otherResolverV4     = "203.0.113.53"                // not in it
	metaHost            = "198.51.100.80"               // HTTP sources (not allowlisted)
	allowedV4           = "198.51.100.10"               // allowed.test, and a static CIDR
	allowedV6           = "2001:db8:100::10"
	blockedV4           = "203.0.113.10"
	blockedV6           = "2001:db8:200::10"
	githubV4            = "198.51.100.130" // inside the GitHub meta ranges
	awsV4               = "198.51.100.200" // inside the AWS ranges
	awsV6               = "2001:db8:300::20"
)

var testHosts = []string{resolverV4, otherResolverV4, metaHost, allowedV4, allowedV6, blockedV4, blockedV6, githubV4, awsV4, awsV6}

// lab is one client/server pair of namespaces with the servers running.
type lab struct {
	client, server *testnet.Netns
	dns, otherDNS  *testnet.DNSServer
	meta           *labSources
	dir            string // config, markers, cache
	bin            string
}

// labSources serves /meta (GitHub-shaped) and /ip-ranges.json (AWS-shaped).
type labSources struct {
	mode        atomic.Value // "ok", "down", "garbage", "slow"
	metaV4Count int
}

func (m *labSources) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch m.mode.Load() {
	case "down":
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case "garbage":
		fmt.Fprint(w, "<html>not json</html>")
		return
	case "slow":
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
	switch r.URL.Path {
	case "/meta":
		api := []string{"198.51.100.128/26", "2001:db8:400::/48"}
		// Filler ranges for the benchmark: /32s in 198.19.0.0/16.
		for i := range m.metaV4Count {
			api = append(api, fmt.Sprintf("198.19.%d.%d/32", i/256, i%256))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"verifiable_password_authentication": false,
			"api":                                api,
			"web":                                []string{"198.51.100.128/26"},
		})
	case "/ip-ranges.json":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"syncToken": "1", "createDate": "2026-01-01-00-00-00",
			"prefixes": []map[string]string{
				{"ip_prefix": "198.51.100.192/27", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
				{"ip_prefix": "203.0.113.0/24", "region": "eu-west-1", "service": "S3", "network_border_group": "eu-west-1"},
			},
			"ipv6_prefixes": []map[string]string{
				{"ipv6_prefix": "2001:db8:300::/48", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
			},
		})
	default:
		http.NotFound(w, r)
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// initFirewallBinary builds cmd/init-firewall once per test process, the
// way the image gets it (static, stripped).
func initFirewallBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dbfw-bin-")
		if err != nil {
			buildErr = err
			return
		}
		_ = os.Chmod(dir, 0o755) // status is also run as uid 1000
		builtBin = filepath.Join(dir, "init-firewall")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", builtBin, "../cmd/init-firewall")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if os.Getenv("DBFW_RACE") != "" { // DBFW_RACE=1 go test: the binary under the race detector
			cmd = exec.Command("go", "build", "-race", "-o", builtBin, "../cmd/init-firewall")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build init-firewall: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// newLab makes the namespaces, links and servers.
func newLab(t testing.TB) *lab {
	t.Helper()
	testnet.RequireNetns(t)
	l := &lab{dir: t.TempDir(), bin: initFirewallBinary(t), meta: &labSources{}}
	l.meta.mode.Store("ok")
	l.client = testnet.NewNetns(t, "dbfw-c")
	l.server = testnet.NewNetns(t, "dbfw-s")
	testnet.Link(t, l.client, "eth0", []string{clientV4 + "/24", clientV6 + "/64"},
		l.server, "eth0", []string{gatewayV4 + "/24", gatewayV6 + "/64"})
	l.server.MustRun(t, "ip", "addr", "add", peerV4+"/24", "dev", "eth0")
	l.server.MustRun(t, "ip", "addr", "add", peerV6+"/64", "dev", "eth0", "nodad")
	l.client.MustRun(t, "ip", "route", "add", "default", "via", gatewayV4)
	l.client.MustRun(t, "ip", "-6", "route", "add", "default", "via", gatewayV6)
	for _, h := range testHosts {
		if strings.Contains(h, ":") {
			l.server.MustRun(t, "ip", "addr", "add", h+"/128", "dev", "lo", "nodad")
		} else {
			l.server.MustRun(t, "ip", "addr", "add", h+"/32", "dev", "lo")
		}
	}
	l.client.WriteResolvConf(t, resolverV4)
	records := map[string][]string{
		"allowed.test":   {allowedV4, allowedV6},
		"alias.test":     {"CNAME:allowed.test"},
		"blocked.test":   {blockedV4, blockedV6},
		"github.test":    {githubV4},
		"duplicate.test": {allowedV4},
		"meta.test":      {metaHost},
	}
	err := l.server.Do(func() error {
		var err error
		if l.dns, err = testnet.NewDNSServer(resolverV4+":53", records); err != nil {
			return err
		}
		if l.otherDNS, err = testnet.NewDNSServer(otherResolverV4+":53", records); err != nil {
			return err
		}
		hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })
		if err := serveTCP(t, "tcp", ":80", hello); err != nil { // every host, both families
			return err
		}
		if err := serveTCP(t, "tcp", gatewayV4+":8080", nil); err != nil { // a host port
			return err
		}
		if err := serveEcho(t, ":81"); err != nil {
			return err
		}
		// One socket per host, so replies come from the address asked.
		for _, h := range []string{allowedV4, allowedV6, blockedV4, blockedV6} {
			if err := serveUDPEcho(t, net.JoinHostPort(h, "7")); err != nil {
				return err
			}
		}
		return serveTCP(t, "tcp", metaHost+":8081", l.meta)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.dns.Close(); l.otherDNS.Close() })
	// The first IPv6 contact on new veths stalls for a second (the kernel
	// settling, not the firewall); go through it once, then forget the
	// neighbours so the firewall tests still need neighbour discovery.
	l.probeTCP(t, "["+allowedV6+"]:80")
	for _, ns := range []*testnet.Netns{l.client, l.server} {
		ns.MustRun(t, "ip", "-6", "neigh", "flush", "all")
	}
	return l
}

// serveTCP accepts connections on addr (HTTP when h is set, else it just
// greets and closes) until the test ends.
func serveTCP(t testing.TB, network, addr string, h http.Handler) error {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	t.Cleanup(func() { ln.Close() })
	if h != nil {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln) //nolint:errcheck // ends when ln closes
		t.Cleanup(func() { srv.Close() })
		return nil
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	return nil
}

// serveEcho echoes what each TCP connection sends until it closes.
func serveEcho(t testing.TB, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	t.Cleanup(func() { ln.Close() })
	go acceptEach(ln, func(c net.Conn) {
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	return nil
}

// acceptEach serves every connection ln accepts with serve, each on its
// own goroutine, closing it afterwards, until ln closes.
func acceptEach(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			serve(c)
		}()
	}
}

func serveUDPEcho(t testing.TB, addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	return nil
}

// config writes a firewall.jsonc for the lab and returns its path.
func (l *lab) config(t testing.TB, body string) string {
	t.Helper()
	body = strings.ReplaceAll(body, "CACHE", filepath.Join(l.dir, "cache"))
	body = strings.ReplaceAll(body, "META", "http://meta.test:8081")
	path := filepath.Join(l.dir, "firewall.jsonc")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fullConfig uses every source.
const fullConfig = `{
  // test allowlist
  // Names allow TCP 443 unless they name ports; the lab serves HTTP on 80.
  "domains": ["allowed.test:80", "alias.test:80", "duplicate.test:80"],
  "optionalDomains": ["dead.test"],
  "cidrs": ["198.51.100.10/32", "198.51.100.10"],
  "github": {"url": "META/meta", "keys": ["api"]},
  "aws": {"url": "META/ip-ranges.json", "services": ["S3"], "regions": ["us-east-1"]},
  "hostPorts": [8080],
  "inboundPorts": [2222],
  "cacheDir": "CACHE",
  "verify": {
    "reachable": ["tcp://198.51.100.10:80", "http://[2001:db8:100::10]/", "udp://198.51.100.53:53"],
    // DNS elsewhere is refused to everyone but the gateway's marked sockets.
    "blocked": ["tcp://203.0.113.10:80", "tcp://[2001:db8:200::10]:80", "udp://203.0.113.53:53", "http://blocked.test/"]
  }
}`

// result of one init-firewall run.
type fwResult struct {
	code   int
	stdout string
	stderr string
	took   time.Duration
	maxRSS int64 // KiB
}

// apply runs init-firewall in the client namespace.
func (l *lab) apply(t testing.TB, args ...string) fwResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{l.bin, "--run-dir", filepath.Join(l.dir, "run"), "--timeout", "8s"}, args...)
	cmd := l.client.Command(ctx, argv...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := fwResult{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run init-firewall: %v", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss
	}
	return r
}

// marker reads the marker the last run left.
func (l *lab) marker(t testing.TB) (name string, s Summary) {
	t.Helper()
	for _, name := range []string{contract.ReadyMarkerName, contract.FailedMarkerName} {
		data, err := os.ReadFile(filepath.Join(l.dir, "run", name))
		if err != nil {
			continue
		}
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("marker %s: %v", name, err)
		}
		return name, s
	}
	t.Fatal("no marker written")
	return "", s
}

// probe outcomes.
const (
	probeReached = "probeReached"
	probeRefused = "probeRefused"
	probeTimeout = "timeout"
)

// probeTCP connects from the client namespace (as root) and says how it went.
func (l *lab) probeTCP(t testing.TB, addr string) (string, time.Duration) {
	t.Helper()
	var out string
	start := time.Now()
	_ = l.client.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		out = outcome(err)
		if err == nil {
			c.Close()
		}
		return nil
	})
	return out, time.Since(start)
}

// probeUDP sends a datagram to the echo service and waits for the echo.
func (l *lab) probeUDP(t testing.TB, addr string) (string, time.Duration) {
	t.Helper()
	var out string
	start := time.Now()
	_ = l.client.Do(func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			out = outcome(err)
			return nil
		}
		defer c.Close()
		if _, err := c.Write([]byte("ping")); err != nil {
			out = outcome(err)
			return nil
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 16))
		out = outcome(err)
		return nil
	})
	return out, time.Since(start)
}

func outcome(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return probeReached
	case errors.As(err, &ne) && ne.Timeout():
		return probeTimeout
	}
	return probeRefused
}

// probeAs runs the probe helper (this test binary) in the client namespace
// as uid/gid 1000, the agent's user.
func (l *lab) probeAs(t testing.TB, kind, addr string) string {
	t.Helper()
	return l.helper(t, 1000, "DBFW_PROBE="+kind, "DBFW_ADDR="+addr)
}

var (
	agentCopyOnce sync.Once
	agentCopy     string
)

// agentCopyOfTestBinary copies the test binary where uid 1000 can run it.
func agentCopyOfTestBinary(t testing.TB) string {
	agentCopyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dbfw-probe-")
		if err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(dir, 0o755)
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		agentCopy = filepath.Join(dir, "probe")
		if err := os.WriteFile(agentCopy, data, 0o755); err != nil {
			t.Fatal(err)
		}
	})
	return agentCopy
}

// TestMain doubles as the probe helper run by probeAs, and removes the
// binaries the tests built.
func TestMain(m *testing.M) {
	switch kind := os.Getenv("DBFW_PROBE"); kind {
	case "":
	case "query":
		fmt.Println(queryHelper())
		os.Exit(0)
	case "race":
		fmt.Println(raceHelper())
		os.Exit(0)
	case "unix":
		fmt.Println(unixHelper(os.Getenv("DBFW_ADDR")))
		os.Exit(0)
	default:
		fmt.Println(probeHelper(kind, os.Getenv("DBFW_ADDR")))
		os.Exit(0)
	}
	code := m.Run()
	for _, f := range []string{builtBin, agentCopy} {
		if f != "" {
			_ = os.RemoveAll(filepath.Dir(f))
		}
	}
	os.Exit(code)
}

// probeHelper does one probe: "dns" sends a DNS query for allowed.test over
// UDP and waits for an answer; "tcp" connects.
func probeHelper(kind, addr string) string {
	switch kind {
	case "tcp":
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			c.Close()
		}
		return outcome(err)
	case "dns":
		c, err := net.Dial("udp", addr)
		if err != nil {
			return outcome(err)
		}
		defer c.Close()
		// A query for allowed.test, type A, recursion desired.
		q := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'a', 'l', 'l', 'o', 'w', 'e', 'd', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1}
		if _, err := c.Write(q); err != nil {
			return outcome(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 512))
		return outcome(err)
	}
	return "unknown probe " + kind
}

// rulesState is what a re-run must leave unchanged: devbox's chains and
// the set contents (counters left out).
func (l *lab) rulesState(t testing.TB) string {
	t.Helper()
	counters := regexp.MustCompile(`\[\d+:\d+\]`)
	var b strings.Builder
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		for _, line := range strings.Split(l.client.MustRun(t, tool), "\n") {
			if !strings.HasPrefix(line, "#") {
				b.WriteString(counters.ReplaceAllString(line, "") + "\n")
			}
		}
	}
	for _, set := range []string{SetV4, SetV6} {
		lines := strings.Split(l.client.MustRun(t, "ipset", "save", set), "\n")
		slices.Sort(lines) // hash order differs between equal sets
		initval := regexp.MustCompile(` initval 0x[0-9a-f]+`)
		for i := range lines {
			lines[i] = initval.ReplaceAllString(lines[i], "")
		}
		b.WriteString(strings.Join(lines, "\n"))
	}
	return b.String()
}

// addDockerNAT creates the nat rules Docker's embedded DNS puts into a
// container on a user-defined network.
func (l *lab) addDockerNAT(t testing.TB) {
	t.Helper()
	for _, args := range [][]string{
		{"-t", "nat", "-N", "DOCKER_OUTPUT"},
		{"-t", "nat", "-N", "DOCKER_POSTROUTING"},
		{"-t", "nat", "-A", "OUTPUT", "-d", "127.0.0.11/32", "-j", "DOCKER_OUTPUT"},
		{"-t", "nat", "-A", "POSTROUTING", "-d", "127.0.0.11/32", "-j", "DOCKER_POSTROUTING"},
		{"-t", "nat", "-A", "DOCKER_OUTPUT", "-d", "127.0.0.11/32", "-p", "udp", "--dport", "53", "-j", "DNAT", "--to-destination", "127.0.0.11:40553"},
		{"-t", "nat", "-A", "DOCKER_POSTROUTING", "-s", "127.0.0.11/32", "-p", "udp", "--sport", "40553", "-j", "SNAT", "--to-source", ":53"},
		{"-t", "nat", "-A", "DOCKER_OUTPUT", "-d", "127.0.0.11/32", "-p", "tcp", "--dport", "53", "-j", "DNAT", "--to-destination", "127.0.0.11:40553"},
		{"-t", "nat", "-A", "DOCKER_POSTROUTING", "-s", "127.0.0.11/32", "-p", "tcp", "--sport", "40553", "-j", "SNAT", "--to-source", ":53"},
	} {
		l.client.MustRun(t, append([]string{"iptables"}, args...)...)
	}
}

func natRules(t testing.TB, l *lab) string {
	return l.client.MustRun(t, "iptables", "-t", "nat", "-S")
}

func expect(t *testing.T, l *lab, what string, got string, took time.Duration, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: %s, want %s", what, got, want)
	}
	if want == probeRefused && took > time.Second {
		t.Errorf("%s: probeRefused only after %s (want an immediate REJECT)", what, took)
	}
}

func TestIntegrationNetnsApply(t *testing.T) {
	l := newLab(t)
	l.addDockerNAT(t)
	natBefore := natRules(t, l)

	// Before the firewall everything is open (the lab works).
	if got, _ := l.probeTCP(t, blockedV4+":80"); got != probeReached {
		t.Fatalf("lab broken: blocked host not reachable before the firewall: %s", got)
	}

	r := l.apply(t, "--config", l.config(t, fullConfig))
	if r.code != 0 {
		t.Fatalf("init-firewall exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("first run: %s(%s)", r.stdout, r.took)
	t.Logf("marker: %s", must(os.ReadFile(filepath.Join(l.dir, "run", contract.ReadyMarkerName))))
	if !strings.Contains(r.stdout, "firewall ready") || !strings.Contains(r.stdout, "IPv6 filtered") {
		t.Errorf("summary line: %q", r.stdout)
	}
	name, s := l.marker(t)
	if name != contract.ReadyMarkerName || !s.OK || s.Pid1Start == 0 || s.Verified != 7 {
		t.Errorf("marker %s: %+v", name, s)
	}

	nflog := nflogListen(t, l.client, DefaultNFLogGroup)
	for _, c := range []struct{ what, addr, want string }{
		{"allowed v4 (domain, cidr)", allowedV4 + ":80", probeReached},
		{"allowed v6 (AAAA; needs neighbour discovery)", "[" + allowedV6 + "]:80", probeReached},
		{"allowed v6 by name on a port its entry does not name", "[" + allowedV6 + "]:81", probeRefused},
		{"GitHub meta range", githubV4 + ":80", probeReached},
		{"AWS range v4 (S3 us-east-1)", awsV4 + ":80", probeReached},
		{"AWS range v6", "[" + awsV6 + "]:80", probeReached},
		{"gateway on a host port", gatewayV4 + ":8080", probeReached},
		{"gateway on another port", gatewayV4 + ":80", probeRefused},
		{"peer on the local network (allowLocalNetworks off)", peerV4 + ":80", probeRefused},
		{"IPv6 peer on the local network", "[" + peerV6 + "]:80", probeRefused},
		{"blocked v4", blockedV4 + ":80", probeRefused},
		{"blocked v6", "[" + blockedV6 + "]:80", probeRefused},
		{"AWS range of another region", "203.0.113.10:80", probeRefused},
		{"meta server (only for marked sockets while gathering)", metaHost + ":8081", probeRefused},
	} {
		got, took := l.probeTCP(t, c.addr)
		expect(t, l, "tcp "+c.what, got, took, c.want)
	}
	for _, c := range []struct{ what, addr, want string }{
		{"allowed v4", allowedV4 + ":7", probeReached},
		// allowedV6 is allowed by name only, and a name allows TCP on its
		// ports: UDP there is refused.
		{"allowed v6 by name (TCP only)", "[" + allowedV6 + "]:7", probeRefused},
		{"blocked v4", blockedV4 + ":7", probeRefused},
		{"blocked v6", "[" + blockedV6 + "]:7", probeRefused},
	} {
		got, took := l.probeUDP(t, c.addr)
		expect(t, l, "udp "+c.what, got, took, c.want)
	}

	// DNS: the agent's user may ask the resolver of resolv.conf only.
	if got := l.probeAs(t, "dns", resolverV4+":53"); got != probeReached {
		t.Errorf("uid 1000 DNS to the resolv.conf resolver: %s", got)
	}
	if got := l.probeAs(t, "dns", otherResolverV4+":53"); got != probeRefused {
		t.Errorf("uid 1000 DNS to another resolver: %s, want probeRefused", got)
	}
	if got := l.probeAs(t, "tcp", blockedV4+":80"); got != probeRefused {
		t.Errorf("uid 1000 to a blocked host: %s, want probeRefused", got)
	}
	// Nor may root: only the gateway's marked sockets get an exception.
	var rootDNS string
	_ = l.client.Do(func() error { rootDNS = probeHelper("dns", otherResolverV4+":53"); return nil })
	if rootDNS != probeRefused {
		t.Errorf("root DNS to another resolver: %s, want probeRefused", rootDNS)
	}

	// Inbound: only the published port.
	err := l.client.Do(func() error { return serveTCP(t, "tcp", ":2222", nil) })
	if err == nil {
		err = l.client.Do(func() error { return serveTCP(t, "tcp", ":2223", nil) })
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ port, want string }{{"2222", probeReached}, {"2223", probeRefused}} {
		var got string
		_ = l.server.Do(func() error {
			conn, err := net.DialTimeout("tcp", clientV4+":"+c.port, 2*time.Second)
			got = outcome(err)
			if err == nil {
				conn.Close()
			}
			return nil
		})
		if got != c.want {
			t.Errorf("inbound to port %s: %s, want %s", c.port, got, c.want)
		}
	}

	// Rejections are counted and copied to NFLOG, where a listener reads them.
	select {
	case prefix := <-nflog:
		if prefix != NFLogPrefixOut {
			t.Errorf("NFLOG prefix %q, want %q", prefix, NFLogPrefixOut)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("no rejected packet reached the NFLOG listener of group %d", DefaultNFLogGroup)
	}
	out := l.client.MustRun(t, "iptables", "-L", ChainRejectOut, "-v", "-x", "-n")
	if !strings.Contains(out, "nflog-group 100") || regexp.MustCompile(`(?m)^\s+0\s+0\s+NFLOG`).MatchString(out) {
		t.Errorf("reject chain has no NFLOG rule with hits:\n%s", out)
	}

	if got := natRules(t, l); got != natBefore {
		t.Errorf("Docker's nat rules changed:\n--- before\n%s--- after\n%s", natBefore, got)
	}

	// A re-run gives the same rules and sets.
	before := l.rulesState(t)
	if r := l.apply(t, "--config", l.config(t, fullConfig)); r.code != 0 {
		t.Fatalf("re-run exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if after := l.rulesState(t); after != before {
		t.Errorf("re-run changed the rules:\n%s", diffLines(before, after))
	}
	if got := natRules(t, l); got != natBefore {
		t.Errorf("Docker's nat rules changed by the re-run")
	}

	// A re-run with a broken config keeps the rules it finds.
	r = l.apply(t, "--config", l.config(t, `{"domains": [`))
	if r.code != 2 || !strings.Contains(r.stderr, "firewall left as it was (closed)") || !strings.Contains(r.stderr, "firewall.jsonc:1:") {
		t.Errorf("re-run with a broken config: exit %d: %s", r.code, r.stderr)
	}
	if after := l.rulesState(t); after != before {
		t.Errorf("re-run with a broken config changed the rules:\n%s", diffLines(before, after))
	}

	// A rule someone put before devbox's hook: a re-run puts the hook back
	// in front and leaves the other rule alone.
	l.client.MustRun(t, "iptables", "-I", "OUTPUT", "1", "-d", blockedV4, "-j", "ACCEPT")
	if got, _ := l.probeTCP(t, blockedV4+":80"); got != probeReached {
		t.Fatalf("lab: the foreign ACCEPT did not take effect: %s", got)
	}
	if r := l.apply(t, "--config", l.config(t, fullConfig)); r.code != 0 {
		t.Fatalf("re-run exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	out = l.client.MustRun(t, "iptables", "-S", "OUTPUT")
	if !strings.Contains(out, "-A OUTPUT -j DEVBOX-OUT\n-A OUTPUT -d "+blockedV4+"/32 -j ACCEPT") || strings.Count(out, "DEVBOX-OUT") != 1 {
		t.Errorf("OUTPUT after the re-run:\n%s", out)
	}
	if got, took := l.probeTCP(t, blockedV4+":80"); got != probeRefused || took > time.Second {
		t.Errorf("blocked host after the re-run: %s after %s", got, took)
	}

	// status needs no privilege and sees the fresh marker.
	for _, d := range []string{filepath.Dir(l.dir), l.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	st := exec.Command(l.bin, "status", "--run-dir", filepath.Join(l.dir, "run"), "--json")
	st.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 1000}}
	if out, err := st.CombinedOutput(); err != nil || !strings.Contains(string(out), `"ok":true`) {
		t.Errorf("status as uid 1000: %v: %s", err, out)
	}
}

func TestIntegrationNetnsReapplyNoWindow(t *testing.T) {
	l := newLab(t)
	cfgA := l.config(t, fullConfig)
	if r := l.apply(t, "--config", cfgA); r.code != 0 {
		t.Fatalf("first run exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	// An established connection to a host the next config drops.
	var kept, cut net.Conn
	err := l.client.Do(func() error {
		var err error
		if cut, err = net.Dial("tcp", githubV4+":81"); err != nil {
			return err
		}
		kept, err = net.Dial("tcp", allowedV4+":81")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	defer cut.Close()

	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	var probes atomic.Int64
	prober := func(addr, want string) {
		defer wg.Done()
		for !stop.Load() {
			got, _ := l.probeTCP(t, addr)
			probes.Add(1)
			if got != want {
				bad.Store(fmt.Sprintf("during re-apply %s was %s, want %s", addr, got, want))
			}
		}
	}
	wg.Add(4)
	go prober(allowedV4+":80", probeReached)
	go prober("["+allowedV6+"]:80", probeReached)
	go prober(blockedV4+":80", probeRefused)
	go prober("["+blockedV6+"]:80", probeRefused)
	for i := range 6 {
		r := l.apply(t, "--config", cfgA)
		if r.code != 0 {
			t.Fatalf("re-run %d exit %d: %s%s", i, r.code, r.stdout, r.stderr)
		}
		// The sources were fetched through the closed rules, not taken
		// from the cache.
		if strings.Contains(r.stdout, "(cache)") {
			t.Errorf("re-run %d used a cached source: %s", i, r.stdout)
		}
	}
	stop.Store(true)
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		t.Error(msg)
	}
	t.Logf("%d probes during 6 re-applies", probes.Load())

	// Now drop GitHub: its established connection is cut, others live on.
	noGitHub := strings.Replace(fullConfig, `"github": {"url": "META/meta", "keys": ["api"]},`, "", 1)
	r := l.apply(t, "--config", l.config(t, noGitHub))
	if r.code != 0 {
		t.Fatalf("re-run without github exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if got, _ := l.probeTCP(t, githubV4+":80"); got != probeRefused {
		t.Errorf("new connection to a removed range: %s", got)
	}
	if err := echo(kept); err != nil {
		t.Errorf("connection to a still-allowed destination did not survive the re-apply: %v", err)
	}
	if err := echo(cut); err == nil {
		t.Errorf("connection to a removed destination survived the re-apply")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// diffLines lists the lines only in a (-) or only in b (+).
func diffLines(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out strings.Builder
	for l, n := range count {
		switch {
		case n > 0:
			fmt.Fprintf(&out, "- %s\n", l)
		case n < 0:
			fmt.Fprintf(&out, "+ %s\n", l)
		}
	}
	return out.String()
}

// echo sends a line over c and reads it back.
func echo(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := c.Read(make([]byte, 16))
	return err
}

func TestIntegrationNetnsFailClosed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  string
		args    []string
		setup   func(l *lab)
		code    int
		message string // in stderr and the failed marker
		allowed string // outcome for the static CIDR host afterwards
	}{
		{
			name: "DNS down", setup: func(l *lab) { l.dns.SetBehavior(testnet.Silent) },
			code: 1, message: "allowed.test", allowed: probeReached,
		},
		{
			name: "meta server down", setup: func(l *lab) { l.meta.mode.Store("down") },
			code: 1, message: "github", allowed: probeReached,
		},
		{
			name: "meta server slow", setup: func(l *lab) { l.meta.mode.Store("slow") }, args: []string{"--timeout", "2s"},
			code: 1, message: "github", allowed: probeReached,
		},
		{
			name: "meta server serves garbage", setup: func(l *lab) { l.meta.mode.Store("garbage") },
			code: 1, message: "github", allowed: probeReached,
		},
		{
			name:   "unresolvable required domain",
			config: strings.Replace(fullConfig, `"domains": [`, `"domains": ["nowhere.test", `, 1),
			code:   1, message: "nowhere.test", allowed: probeReached,
		},
		{
			name:   "malformed config",
			config: "{\n  \"domains\": [\"allowed.test\"],\n  \"cidrs\": [\"0.0.0.0/0\"]\n}\n",
			code:   2, message: "firewall.jsonc:3:", allowed: probeRefused,
		},
		{
			name:   "duplicates and a dead optional domain are fine",
			config: strings.Replace(fullConfig, `"optionalDomains": ["dead.test"]`, `"optionalDomains": ["dead.test", "allowed.test", "gone.test"]`, 1),
			code:   0, allowed: probeReached,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			if tc.setup != nil {
				tc.setup(l)
			}
			cfg := tc.config
			if cfg == "" {
				cfg = fullConfig
			}
			start := time.Now()
			r := l.apply(t, append([]string{"--config", l.config(t, cfg)}, tc.args...)...)
			t.Logf("exit %d after %s: %s%s", r.code, time.Since(start).Round(time.Millisecond), r.stdout, r.stderr)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			name, s := l.marker(t)
			if tc.code != 0 {
				if name != contract.FailedMarkerName || s.OK || !strings.Contains(s.Error, tc.message) || !strings.Contains(r.stderr, tc.message) {
					t.Errorf("marker %s %+v; stderr %q; want the failed marker naming %q", name, s, r.stderr, tc.message)
				}
			} else if name != contract.ReadyMarkerName {
				t.Errorf("marker %s: %+v", name, s)
			}
			// Closed whatever happened: blocked hosts refused at once, the
			// static allowlist applied when the config could be read.
			for _, c := range []struct{ addr, want string }{
				{blockedV4 + ":80", probeRefused},
				{"[" + blockedV6 + "]:80", probeRefused},
				{metaHost + ":8081", probeRefused},
				{allowedV4 + ":80", tc.allowed},
			} {
				got, took := l.probeTCP(t, c.addr)
				expect(t, l, c.addr, got, took, c.want)
			}
			if got := l.probeAs(t, "dns", otherResolverV4+":53"); got != probeRefused {
				t.Errorf("uid 1000 DNS to another resolver: %s", got)
			}
		})
	}
}

// TestIntegrationNetnsNoIP6tables runs init-firewall where ip6tables is missing: IPv6
// must end up off, not open. With /proc/sys writable the sysctl does it;
// read-only (as in a container), the IPv6 addresses and routes go.
func TestIntegrationNetnsNoIP6tables(t *testing.T) {
	for _, tc := range []struct {
		name     string
		roSysctl bool
		want     string
	}{{"sysctl", false, "disable_ipv6"}, {"read-only /proc/sys", true, "removed"}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			// init-firewall takes its tools only from the system folders,
			// whatever PATH says: hide ip6tables there, in a mount
			// namespace of its own. /usr/sbin becomes a tmpfs holding only
			// the IPv4 tools, which point at the real binary through /mnt.
			cmdline := fmt.Sprintf(`set -e
real=$(readlink -f /usr/sbin/iptables-restore)
mount --bind "$(dirname "$real")" /mnt
mount -t tmpfs -o mode=0755 tmpfs /usr/sbin
for tool in iptables iptables-restore iptables-save; do ln -s "/mnt/$(basename "$real")" /usr/sbin/$tool; done
exec %s --run-dir %s --config %s`, l.bin, filepath.Join(l.dir, "run"), l.config(t, fullConfig))
			if tc.roSysctl {
				cmdline = "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && " + cmdline
			}
			if _, err := os.Stat("/mnt"); err != nil {
				t.Fatalf("the test binds the real tools at /mnt: %v", err)
			}
			out, err := l.client.Command(context.Background(), "unshare", "-m", "sh", "-c", cmdline).CombinedOutput()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("init-firewall without ip6tables: %v", err)
			}
			_, s := l.marker(t)
			if s.IPv6 != "disabled" || !strings.Contains(strings.Join(s.Warnings, " "), tc.want) {
				t.Errorf("marker: ipv6=%q warnings=%q, want disabled and %q", s.IPv6, s.Warnings, tc.want)
			}
			for _, addr := range []string{"[" + allowedV6 + "]:80", "[" + blockedV6 + "]:80"} {
				if got, took := l.probeTCP(t, addr); got != probeRefused || took > time.Second {
					t.Errorf("%s with IPv6 off: %s after %s", addr, got, took)
				}
			}
			if got, _ := l.probeTCP(t, allowedV4+":80"); got != probeReached {
				t.Errorf("allowed IPv4 host: %s", got)
			}
		})
	}
}

// TestIntegrationNetnsPlantedTools starts init-firewall as the image's
// entrypoint would, as root, with a PATH whose first folder holds planted
// iptables tools (as a Dev Container feature's folder the agent can write
// would) and an environment that would break the real tools if it reached
// them. The planted tools never run, the environment never reaches the
// tools, and the rules are the real ones.
func TestIntegrationNetnsPlantedTools(t *testing.T) {
	l := newLab(t)
	planted := filepath.Join(l.dir, "planted")
	ran := filepath.Join(l.dir, "planted-tool-ran")
	if err := os.MkdirAll(planted, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"iptables", "iptables-restore", "iptables-save", "ip6tables", "ip6tables-restore", "ip6tables-save", "ipset", "ip", "modprobe"} {
		script := fmt.Sprintf("#!/bin/sh\necho %s >> %s\nexit 0\n", tool, ran)
		if err := os.WriteFile(filepath.Join(planted, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmdline := fmt.Sprintf("PATH=%s:$PATH XTABLES_LIBDIR=/nonexistent LD_LIBRARY_PATH=/nonexistent exec %s --run-dir %s --config %s",
		planted, l.bin, filepath.Join(l.dir, "run"), l.config(t, fullConfig))
	out, err := l.client.Command(context.Background(), "sh", "-c", cmdline).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("init-firewall with planted tools: %v", err)
	}
	if data, err := os.ReadFile(ran); err == nil {
		t.Fatalf("planted tools ran: %s", data)
	}
	if name, s := l.marker(t); name != contract.ReadyMarkerName || s.IPv6 != "filtered" {
		t.Fatalf("marker %s, ipv6 %q, want ready and filtered: %+v", name, s.IPv6, s)
	}
	for addr, want := range map[string]string{
		allowedV4 + ":80": probeReached, "[" + allowedV6 + "]:80": probeReached,
		blockedV4 + ":80": probeRefused, "[" + blockedV6 + "]:80": probeRefused,
	} {
		if got, _ := l.probeTCP(t, addr); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}

// TestIntegrationNetnsPrivilege runs the binary as the agent's user (no capabilities)
// and as if started through sudo. It changes nothing in any namespace.
func TestIntegrationNetnsPrivilege(t *testing.T) {
	testnet.RequireNetns(t)
	bin := initFirewallBinary(t)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "firewall.jsonc")
	if err := os.WriteFile(cfg, []byte(`{"cidrs": ["198.51.100.0/24", "2001:db8:100::/64"], "hostPorts": [8080]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(uid uint32, env []string, args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stdout.String(), stderr.String()
	}

	code, _, stderr := run(1000, nil, "--config", cfg, "--run-dir", filepath.Join(dir, "run"))
	if code != 1 || !strings.Contains(stderr, "needs CAP_NET_ADMIN") {
		t.Errorf("as uid 1000: exit %d, stderr %q; want 1 and a CAP_NET_ADMIN error", code, stderr)
	}

	code, stdout, stderr := run(1000, nil, "--dry-run", "--config", cfg)
	for _, want := range []string{"-I OUTPUT 1 -j DEVBOX-OUT", "# ip6tables-restore --noflush", "add devbox-allow-v4 198.51.100.0/24", "add devbox-allow-v6 2001:db8:100::/64"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--dry-run as uid 1000 lacks %q (exit %d):\n%s%s", want, code, stdout, stderr)
		}
	}
	if code != 0 || !strings.Contains(stderr+stdout, "dry run: 1 IPv4 + 1 IPv6 prefixes") {
		t.Errorf("--dry-run as uid 1000: exit %d: %s", code, stderr)
	}

	// Through sudo, --config is ignored for the root-owned default. In an
	// empty namespace: should that file exist here, its gathering reaches
	// nothing.
	ns := testnet.NewNetns(t, "dbfw-p")
	cmd := ns.Command(context.Background(), bin, "--dry-run", "--config", cfg)
	cmd.Env = []string{"SUDO_UID=1000", "HTTPS_PROXY=http://198.51.100.99:3128", "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	code = 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	stderr = string(out)
	if !strings.Contains(stderr, "ignoring --config") || !strings.Contains(stderr, allowlist.DefaultConfigPath) {
		t.Errorf("with SUDO_UID: exit %d, stderr %q; want --config ignored for %s", code, stderr, allowlist.DefaultConfigPath)
	}
}

// TestIntegrationNetnsLocalNetworks is the gateway's case: a second
// interface without a default route (a compose project's internal network)
// holds the services. With servicePorts, only their ports are allowed; the
// Docker host's address there (the subnet's first) and the egress
// network's peers are refused.
func TestIntegrationNetnsLocalNetworks(t *testing.T) {
	l := newLab(t)
	svc := testnet.NewNetns(t, "dbfw-p")
	const internalHost, service = "198.18.1.1", "198.18.1.3"
	testnet.Link(t, l.client, "eth1", []string{"198.18.1.2/24"}, svc, "eth0", []string{internalHost + "/24", service + "/24"})
	err := svc.Do(func() error {
		for _, port := range []string{":80", ":5432"} {
			if err := serveTCP(t, "tcp4", port, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(fullConfig, `"hostPorts": [8080],`, `"hostPorts": [8080], "allowLocalNetworks": true, "servicePorts": [5432],`, 1)
	if r := l.apply(t, "--config", l.config(t, cfg)); r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct{ what, addr, want string }{
		{"service on its port", service + ":5432", probeReached},
		{"service on another port", service + ":80", probeRefused},
		{"Docker host on the internal network, service port", internalHost + ":5432", probeRefused},
		{"peer on the egress network", peerV4 + ":80", probeRefused},
		{"peer v6 on the egress network", "[" + peerV6 + "]:80", probeRefused},
		{"gateway on a host port", gatewayV4 + ":8080", probeReached},
		{"gateway on another port", gatewayV4 + ":80", probeRefused},
		{"gateway v6 on another port", "[" + gatewayV6 + "]:80", probeRefused},
		{"blocked v4", blockedV4 + ":80", probeRefused},
	} {
		got, took := l.probeTCP(t, c.addr)
		expect(t, l, c.what, got, took, c.want)
	}
}

// TestIntegrationNetnsGateway runs init-firewall gateway the way the gateway
// container does, with a stand-in for Docker's embedded resolver at
// 127.0.0.11 that forwards from inside the namespace (as Docker 20.10
// does) to a dead upstream and to the lab's resolver: the gateway must
// learn both, ask them itself (marked, so Docker's resolver sees only the
// probe), answer every DNS packet of the namespace, wherever it was sent,
// with its own resolver, and stay up until it is stopped.
func TestIntegrationNetnsGateway(t *testing.T) {
	l := newLab(t)
	const deadUpstream = "198.51.100.54" // an upstream that never answers
	l.server.MustRun(t, "ip", "addr", "add", deadUpstream+"/32", "dev", "lo")
	l.client.WriteResolvConf(t, "127.0.0.11")
	fwd := startForwarder(t, l.client, "127.0.0.11:53", deadUpstream+":53", resolverV4+":53")
	defer fwd.stop()

	// Names open as they are answered: the address target after its name.
	config := strings.Replace(fullConfig, `"reachable": ["tcp://198.51.100.10:80", "http://[2001:db8:100::10]/", "udp://198.51.100.53:53"],`,
		`"reachable": ["http://allowed.test/", "http://[2001:db8:100::10]/", "tcp://198.51.100.10:80"],`, 1)
	config = strings.Replace(config, `"udp://203.0.113.53:53", `, "", 1)
	g := l.startGateway(t, l.config(t, config))
	_, s := l.marker(t)
	t.Logf("gateway ready in %d ms, steps %v", s.DurationMS, s.StepsMS)
	slices.Sort(s.DNSUpstreams)
	if want := []string{resolverV4 + ":53", deadUpstream + ":53"}; !slices.Equal(s.DNSUpstreams, want) || s.UpstreamsFrom != "learned" {
		t.Errorf("upstreams %v from %q, want %v learned\n%s", s.DNSUpstreams, s.UpstreamsFrom, want, g.out.String())
	}
	if out := l.client.MustRun(t, "iptables", "-S", ChainOut); strings.Contains(out, "--string") {
		t.Errorf("the learning rule outlived the learning:\n%s", out)
	}
	for _, c := range []struct{ what, policy string }{{"iptables", "-P OUTPUT DROP"}, {"ip6tables", "-P OUTPUT DROP"}} {
		if out := l.client.MustRun(t, c.what, "-S", "OUTPUT"); !strings.Contains(out, c.policy) {
			t.Errorf("%s OUTPUT policy: %s, want %s", c.what, out, c.policy)
		}
	}
	// The gateway asked the learned upstreams itself; Docker's resolver
	// carried the probe alone.
	if tcp, udp := fwd.tcp.Load(), fwd.udp.Load(); tcp != 0 || udp > 1 {
		t.Errorf("the stand-in for Docker's resolver got %d queries over TCP and %d over UDP; want the probe alone", tcp, udp)
	}
	for _, server := range []string{"127.0.0.11:53", resolverV4 + ":53", otherResolverV4 + ":53"} {
		if got := l.probeAs(t, "dns", server); got != probeReached {
			t.Errorf("uid 1000 DNS to %s: %s, want the gateway's resolver to answer", server, got)
		}
	}
	var rootDNS string
	_ = l.client.Do(func() error { rootDNS = probeHelper("dns", otherResolverV4+":53"); return nil })
	if rootDNS != probeReached || l.otherDNS.Saw("allowed.test") {
		t.Errorf("root DNS to a resolver that is no upstream: %s, seen there: %v; want it answered by the gateway, unseen there", rootDNS, l.otherDNS.Saw("allowed.test"))
	}
	select {
	case <-g.exited:
		t.Fatalf("gateway exited while ready: %v\n%s", g.err, g.out.String())
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	if <-g.exited; g.err != nil {
		t.Errorf("gateway stopped with %v, want status 0\n%s", g.err, g.out.String())
	}
}

// forwarder stands in for Docker's embedded resolver; it counts the
// queries it got over each protocol.
type forwarder struct {
	tcp, udp atomic.Int32
	stop     func()
}

// startForwarder stands in for Docker's embedded resolver in ns: it answers
// queries on listen, over UDP and TCP, by asking each upstream in turn over
// UDP (from sockets made inside ns, owned by root, unmarked) until one
// answers.
func startForwarder(t testing.TB, ns *testnet.Netns, listen string, upstreams ...string) *forwarder {
	t.Helper()
	return startForwarderIn(t, ns, ns, listen, upstreams...)
}

// startForwarderIn listens in ns and makes its upstream sockets in from.
func startForwarderIn(t testing.TB, ns, from *testnet.Netns, listen string, upstreams ...string) *forwarder {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	var ups []net.Conn
	err := ns.Do(func() error {
		var err error
		if pc, err = net.ListenPacket("udp", listen); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", listen)
		return err
	})
	if err == nil {
		err = from.Do(func() error {
			for _, u := range upstreams {
				c, err := net.Dial("udp", u)
				if err != nil {
					return err
				}
				ups = append(ups, c)
			}
			return nil
		})
	}
	if err != nil {
		t.Fatalf("forwarder: %v", err)
	}
	var mu sync.Mutex // the upstream sockets are shared
	ask := func(q []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		reply := make([]byte, 1500)
		for _, u := range ups {
			if _, err := u.Write(q); err != nil {
				continue
			}
			_ = u.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if m, err := u.Read(reply); err == nil {
				return reply[:m]
			}
		}
		return nil
	}
	f := &forwarder{}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			f.udp.Add(1)
			if r := ask(buf[:n]); r != nil {
				_, _ = pc.WriteTo(r, from)
			}
		}
	}()
	go acceptEach(ln, func(c net.Conn) {
		for {
			var size [2]byte
			if _, err := io.ReadFull(c, size[:]); err != nil {
				return
			}
			q := make([]byte, binary.BigEndian.Uint16(size[:]))
			if _, err := io.ReadFull(c, q); err != nil {
				return
			}
			f.tcp.Add(1)
			r := ask(q)
			if r == nil {
				return
			}
			if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...)); err != nil {
				return
			}
		}
	})
	f.stop = func() {
		pc.Close()
		ln.Close()
		for _, u := range ups {
			u.Close()
		}
	}
	return f
}

// nflogListen binds an NFLOG listener to group inside ns (as the audit log
// will) and sends the prefix of every packet it is given.
func nflogListen(t testing.TB, ns *testnet.Netns, group uint16) <-chan string {
	t.Helper()
	var fd int
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		// NFULNL_MSG_CONFIG with NFULA_CFG_CMD = NFULNL_CFG_CMD_BIND.
		const subsysULOG, msgConfig, cfgCmd, cmdBind = 4, 1, 1, 1
		payload := []byte{unix.AF_UNSPEC, 0, byte(group >> 8), byte(group)} // nfgenmsg, res_id big-endian
		payload = appendAttr(payload, cfgCmd, []byte{cmdBind})
		msg := binary.NativeEndian.AppendUint32(nil, uint32(unix.SizeofNlMsghdr+len(payload)))
		msg = binary.NativeEndian.AppendUint16(msg, subsysULOG<<8|msgConfig)
		msg = binary.NativeEndian.AppendUint16(msg, unix.NLM_F_REQUEST|unix.NLM_F_ACK)
		msg = binary.NativeEndian.AppendUint32(msg, 1) // seq
		msg = binary.NativeEndian.AppendUint32(msg, 0) // pid
		return unix.Sendto(fd, append(msg, payload...), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	})
	if err != nil {
		t.Fatalf("NFLOG listener: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	prefixes := make(chan string, 64)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return
			}
			msgs, err := syscall.ParseNetlinkMessage(buf[:n])
			if err != nil {
				continue
			}
			for _, m := range msgs {
				if m.Header.Type != 4<<8 || len(m.Data) < 4 { // NFULNL_MSG_PACKET
					continue
				}
				for a := range nl.ParseAttributes(m.Data[4:]) {
					if a.Type&nl.NLA_TYPE_MASK == 10 { // NFULA_PREFIX
						select {
						case prefixes <- strings.TrimRight(string(a.Value), "\x00"):
						default:
						}
					}
				}
			}
		}
	}()
	return prefixes
}
