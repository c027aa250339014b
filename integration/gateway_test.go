package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/integration/internal/inet"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// testRedTeam attacks the box from dev as the agent's user and as root
// (`devbox exec -u root`): the allowlist holds for both, root holds no
// network capability and cannot change the namespace, DNS goes nowhere but
// the gateway's resolver, the services answer on their ports only, and the
// Docker host is out of reach on every network.
func testRedTeam(t *testing.T, w *workspace, kind boxKind) {
	gateway := w.gatewayContainer(t)
	asRoot := func(argv ...string) (string, int) {
		res, err := w.devbox("exec", append([]string{"-u", "root", "--"}, argv...)...)
		return combined(res), exitStatus(err)
	}

	t.Run("allowlist as the user", func(t *testing.T) {
		probes := append(httpProbes(inet.Allowed, true), httpProbes(inet.Blocked, false)...)
		runProbes(t, w.exec, append(probes, echoProbes(inet.Blocked, false)...))
	})
	t.Run("allowlist as root", func(t *testing.T) {
		probes := append(httpProbes(inet.Allowed, true)[:2], httpProbes(inet.Blocked, false)...)
		runProbes(t, asRoot, append(probes, echoProbes(inet.Blocked, false)...))
	})
	if !kind.volume { // a volume workspace mounts nothing of the host's folder
		t.Run("mount points cannot be renamed", func(t *testing.T) { testMountPointsStay(t, w, asRoot) })
		t.Run("host git runs nothing the agent planted", func(t *testing.T) { testHostGit(t, w) })
	}
	t.Run("root holds no network capability", func(t *testing.T) {
		out, code := asRoot("sh", "-c", "grep ^CapEff: /proc/self/status")
		if code != 0 {
			t.Fatalf("read CapEff: %s", out)
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "CapEff:")), 16, 64)
		if err != nil {
			t.Fatalf("parse %q: %v", out, err)
		}
		for name, bit := range map[string]uint{"NET_ADMIN": 12, "NET_RAW": 13, "MKNOD": 27} {
			if caps&(1<<bit) != 0 {
				t.Errorf("root in dev holds CAP_%s (CapEff %x)", name, caps)
			}
		}
	})
	t.Run("root cannot change the namespace", func(t *testing.T) {
		for _, argv := range [][]string{
			{"ip", "link", "set", "eth0", "down"},
			{"ip", "addr", "add", "198.18.9.9/32", "dev", "lo"},
			{"ip", "route", "add", "198.18.9.0/24", "dev", "eth0"},
			{"ip", "-6", "route", "add", "2001:db8:9::/48", "dev", "eth0"},
			{"sh", "-c", "echo 0 >/proc/sys/net/ipv4/ip_unprivileged_port_start"},
			{"sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward"},
			{"unshare", "--net", "true"},
			{"python3", "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)"},
			{"python3", "-c", "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)"},
			{"python3", "-c", "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, 36, " + strconv.Itoa(contract.GatewayMark) + ")"},
			// What ipset, iptables-nft and nft do, by hand (dev has none of
			// them): a netfilter netlink write, here ipset's FLUSH of every
			// set. The kernel's answer is read: 0 would mean it flushed.
			{"python3", "-c", netfilterWriteScript},
		} {
			if out, code := asRoot(argv...); code == 0 {
				t.Errorf("root in dev: %s succeeded: %s", strings.Join(argv, " "), out)
			}
		}
		if out, code := w.exec("python3", "-c", "import socket; socket.socket().bind(('127.0.0.1', 53))"); code == 0 {
			t.Errorf("the agent's user bound port 53 on the gateway's loopback: %s", out)
		}
	})
	t.Run("DNS: only allowed names leave, through the gateway's resolver", func(t *testing.T) {
		// argv: HOST PORT NAME QTYPE [tcp]; prints the answer's rcode and
		// record types, or why there was none. 127.0.0.11's real port is
		// read from /proc/net/udp (or tcp) when PORT is "real".
		query := `import socket,sys,struct,random
host,port,name,qtype=sys.argv[1],sys.argv[2],sys.argv[3],int(sys.argv[4])
tcp=len(sys.argv) > 5
if port == 'real':
    for line in open('/proc/net/tcp' if tcp else '/proc/net/udp').read().splitlines()[1:]:
        local=line.split()[1]
        if local.startswith('0B00007F:'): port=int(local.split(':')[1], 16)
port=int(port)
q=struct.pack('>HHHHHH', random.randrange(65536), 0x0100, 1, 0, 0, 0)+b''.join(bytes([len(l)])+l.encode() for l in name.split('.'))+b'\x00'+struct.pack('>HH', qtype, 1)
s=socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM); s.settimeout(3)
try:
    s.connect((host, port)); s.send(len(q).to_bytes(2, 'big')+q if tcp else q)
    r=s.recv(4096)
    if tcp: r=r[2:]
    print('rcode', r[3] & 15, 'answers', struct.unpack('>H', r[6:8])[0])
except socket.timeout:
    print('timeout')
except OSError as e:
    print('refused', e)`
		const txt, a = "16", "1"
		control := startControl(t, docker(t, "inspect", "--format", "{{.Image}}", w.devContainer(t)), egressNetwork(t, w.devContainer(t)))
		controlName := fmt.Sprintf("control-%d.%s", time.Now().UnixNano(), inet.Allowed.Name)
		if out, code := control.exec("python3", "-c", query, inet.Blocked.V4.String(), "53", controlName, txt); code != 0 || !requireSuite(t).net.SawQuery(controlName) {
			t.Fatalf("control: %s to %s unseen by the stand-in's DNS servers (exit %d: %s): the checks below prove nothing", controlName, inet.Blocked.V4, code, out)
		}
		var names []string
		for who, run := range map[string]func(...string) (string, int){"user": w.exec, "root": asRoot} {
			for _, host := range [][2]string{{"127.0.0.11", "53"}, {"127.0.0.11", "real"}, {inet.Resolver.V4.String(), "53"}, {inet.Blocked.V4.String(), "53"}, {inet.Blocked.V6.String(), "53"}} {
				for _, proto := range [][]string{nil, {"tcp"}} {
					// A random label under an allowed name, as a tunnel would use.
					name := fmt.Sprintf("leak-%s-%d.%s", who, time.Now().UnixNano(), inet.Allowed.Name)
					names = append(names, name)
					for _, qtype := range []string{txt, a} {
						out, _ := run(append([]string{"python3", "-c", query, host[0], host[1], name, qtype}, proto...)...)
						if !strings.Contains(out, "rcode 3 ") && !strings.Contains(out, "refused") && !strings.Contains(out, "answers 0") {
							t.Errorf("%s: %s type %s to %s:%s %v: %s, want NXDOMAIN, no answer or refused", who, name, qtype, host[0], host[1], proto, out)
						}
					}
				}
			}
			if out, code := run("getent", "hosts", inet.Allowed.Name); code != 0 || !strings.Contains(out, inet.Allowed.V4.String()) && !strings.Contains(out, inet.Allowed.V6.String()) {
				t.Errorf("%s: getent hosts %s through 127.0.0.11: exit %d: %s", who, inet.Allowed.Name, code, out)
			}
		}
		for _, name := range names {
			if requireSuite(t).net.SawQuery(name) {
				t.Errorf("the stand-in internet's DNS saw %s", name)
			}
		}
		// Root may rewrite dev's resolv.conf: its queries still reach only
		// the gateway's resolver, which answers allowed names. (The gateway
		// reads its own resolv.conf.)
		swap := fmt.Sprintf(`cp /etc/resolv.conf /tmp/resolv.orig && echo 'nameserver %s' >/etc/resolv.conf; getent hosts %s; rc=$?; cat /tmp/resolv.orig >/etc/resolv.conf; exit $rc`, inet.Blocked.V4, inet.Allowed.Name)
		if out, code := asRoot("sh", "-c", swap); code != 0 {
			t.Errorf("with resolv.conf naming %s, root in dev could not resolve %s through the redirect: %s", inet.Blocked.V4, inet.Allowed.Name, out)
		}
		if out, code := w.exec("getent", "hosts", inet.Allowed.Name); code != 0 {
			t.Errorf("resolv.conf not restored: getent hosts %s: exit %d: %s", inet.Allowed.Name, code, out)
		}
	})
	t.Run("services on their ports only, never the host", func(t *testing.T) {
		if !kind.services {
			t.Skip("no services in this workspace")
		}
		if got := w.mustExec(t, "sh", "-c", `psql "$DATABASE_URL" -tAc 'select 40 + 2'`); got != "42" {
			t.Errorf("postgres through DATABASE_URL: %q", got)
		}
		if got := w.mustExec(t, "sh", "-c", `redis-cli -u "$REDIS_URL" ping`); got != "PONG" {
			t.Errorf("redis-cli ping: %q", got)
		}
		// A second listener in the redis container, on a port that is no
		// service's: a control on the internal network reaches it, dev not.
		redis := w.serviceContainer(t, "redis")
		docker(t, "exec", "-u", "redis", redis, "redis-server", "--port", "6390", "--daemonize", "yes", "--protected-mode", "no", "--save", "", "--dir", "/tmp")
		redisIP := docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", redis)
		internal := docker(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", redis)
		control := startControl(t, docker(t, "inspect", "--format", "{{.Image}}", w.devContainer(t)), internal)
		var reached bool
		for range 50 {
			if _, code := control.exec("python3", "-c", connectScript, redisIP, "6390"); code == 0 {
				reached = true
				break
			}
			run(t.Context(), "sleep", "0.1") //nolint:errcheck // polling the listener
		}
		if !reached {
			t.Fatalf("control on %s could not reach %s:6390: the check proves nothing", internal, redisIP)
		}
		for _, run := range []func(...string) (string, int){w.exec, asRoot} {
			if out, code := run("python3", "-c", connectScript, redisIP, "6390"); code != 2 {
				t.Errorf("dev to redis on a port that is no service's: exit %d (%s), want refused", code, out)
			}
		}
	})
	t.Run("the host and a neighbour, with listeners there", func(t *testing.T) {
		// A listener of this test on every host address, and one in a
		// neighbour container on the egress network: a control container
		// reaches both, dev must reach neither.
		port := hostListener(t)
		image := docker(t, "inspect", "--format", "{{.Image}}", w.devContainer(t))
		neighbour := startControl(t, image, egressNetwork(t, w.devContainer(t)))
		if out, code := neighbour.exec("sh", "-c", "nohup python3 -m http.server 8099 >/dev/null 2>&1 &"); code != 0 {
			t.Fatalf("neighbour listener: %s", out)
		}
		neighbourIP := docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", neighbour.id)
		targets := [][2]string{{neighbourIP, "8099"}}
		for _, gw := range strings.Fields(docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.Gateway}} {{.IPv6Gateway}} {{end}}", gateway)) {
			targets = append(targets, [2]string{gw, port})
		}
		for _, tg := range targets {
			// The control sits on the egress network only; the internal
			// network's host address is checked from dev alone.
			if out, code := asRoot("python3", "-c", connectScript, tg[0], tg[1]); code != 2 {
				t.Errorf("root in dev to %s port %s: exit %d (%s), want refused", tg[0], tg[1], code, out)
			}
		}
		var reached bool
		for range 50 { // the neighbour's listener starts in the background
			if _, code := neighbour.exec("python3", "-c", connectScript, neighbourIP, "8099"); code == 0 {
				reached = true
				break
			}
			run(t.Context(), "sleep", "0.1") //nolint:errcheck // polling the listener
		}
		egressGW := docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", neighbour.id)
		if out, code := neighbour.exec("python3", "-c", connectScript, egressGW, port); !reached || code != 0 {
			t.Errorf("control: the neighbour's listener reached %v, the host's at %s:%s exit %d (%s): the checks above prove nothing", reached, egressGW, port, code, out)
		}
	})
}

// testGatewayRestarts restarts the containers: dev alone keeps the rules;
// after a gateway restart dev has no network at all until `devbox start`
// restarts it too; and 20 restarts of both never leave dev open.
func testGatewayRestarts(t *testing.T, w *workspace, kind boxKind) {
	gateway := w.gatewayContainer(t)
	t.Run("restart dev alone", func(t *testing.T) {
		docker(t, "restart", w.devContainer(t))
		runProbes(t, w.exec, append(httpProbes(inet.Blocked, false)[:1], httpProbes(inet.Allowed, true)[:1]...))
	})
	t.Run("restart the gateway alone: dev has no network", func(t *testing.T) {
		docker(t, "restart", gateway)
		w.waitGatewayHealthy(t, gateway)
		dev := w.devContainer(t)
		out := docker(t, "exec", dev, "cat", "/proc/net/dev")
		if strings.Contains(out, "eth0") {
			t.Errorf("after a gateway restart, dev still has eth0:\n%s", out)
		}
		if _, code := w.exec("true"); code == 0 {
			t.Error("devbox exec ran in a dev container left without network by a gateway restart; want it refused")
		}
		w.mustDevbox(t, "start") // repairs: restarts dev into the new namespace
		runProbes(t, w.exec, append(httpProbes(inet.Blocked, false)[:1], httpProbes(inet.Allowed, true)[:1]...))
	})
	t.Run("20 restarts of both", func(t *testing.T) {
		if !kind.services {
			t.Skip("run on the compose box only")
		}
		// The prober: from the host, one `docker exec` after another into
		// dev (the same container across its restarts), each a short burst
		// of connections to the blocked host's address, and one to an
		// allowed host, for as long as the restarts go on.
		dev := w.devContainer(t)
		burst := fmt.Sprintf(`grep -q eth0 /proc/net/dev && echo NET; for i in 1 2 3 4 5; do curl -s --max-time 1 %s && echo LEAK; curl -s --max-time 1 -o /dev/null -w 'allowed%%{http_code}\n' %s; done`,
			inet.URL(inet.Blocked.V4.String()), inet.URL(inet.Allowed.V4.String()))
		stop := make(chan struct{})
		type tally struct{ execs, withNet, leaks, allowed int }
		done := make(chan tally)
		go func() {
			var n tally
			for {
				select {
				case <-stop:
					done <- n
					return
				default:
				}
				out, err := run(context.Background(), "docker", "exec", dev, "sh", "-c", burst)
				if err == nil || out != "" {
					n.execs++
				}
				n.withNet += strings.Count(out, "NET\n")
				n.leaks += strings.Count(out, "LEAK")
				n.allowed += strings.Count(out, "allowed200")
			}
		}()
		for range 20 {
			docker(t, "restart", gateway, dev)
		}
		close(stop)
		n := <-done
		t.Logf("prober: %d bursts ran in dev during 20 restarts of both, %d of them with a network; the allowed host answered %d times; leaks %d", n.execs, n.withNet, n.allowed, n.leaks)
		if n.leaks > 0 {
			t.Errorf("dev reached the blocked host %d times during the restarts", n.leaks)
		}
		if n.withNet == 0 || n.allowed == 0 {
			t.Errorf("the prober never ran in dev with a network (%d bursts) and live rules (%d answers): the restarts were not probed", n.withNet, n.allowed)
		}
		w.waitGatewayHealthy(t, gateway)
		runProbes(t, w.exec, httpProbes(inet.Blocked, false)[:1])
	})
}

// netfilterWriteScript sends an ipset FLUSH (all sets) over netfilter
// netlink and exits with 0 only when the kernel accepts it.
const netfilterWriteScript = `import socket,struct,sys
s=socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
attr=struct.pack('=HHB3x', 5, 1, 7)
body=struct.pack('=BBH', socket.AF_INET, 0, 0)+attr
s.send(struct.pack('=IHHII', 16+len(body), (6<<8)|4, 1|4, 1, 0)+body)
data=s.recv(4096)
err=struct.unpack('=i', data[16:20])[0]
print('netlink answer', err); sys.exit(0 if err == 0 else 2)`

// publishedPort is what the workspace without services publishes.
const publishedPort = 18765

// testPublished: a server the agent starts on the published port answers
// on the host's 127.0.0.1, through the gateway.
func testPublished(t *testing.T, w *workspace, kind boxKind) {
	if kind.services {
		t.Skip("publishes nothing")
	}
	port := strconv.Itoa(publishedPort)
	if out, code := w.exec("sh", "-c", "nohup python3 -m http.server "+port+" >/dev/null 2>&1 &"); code != 0 {
		t.Fatalf("start a server in dev: %s", out)
	}
	var err error
	for range 50 {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			return
		}
		run(t.Context(), "sleep", "0.1") //nolint:errcheck // polling the server
	}
	t.Errorf("the published port %s does not answer on 127.0.0.1: %v", port, err)
}

// connectScript connects to argv[1] port argv[2]: exit 0 when it
// connects, 2 when refused (the firewall's REJECT, at once), 1 otherwise.
const connectScript = `import socket,sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print('connected')
except (ConnectionRefusedError, OSError) as e:
    if isinstance(e, socket.timeout): print('timeout'); sys.exit(1)
    print('refused', e); sys.exit(2)`

// gatewayContainer returns the ID of the workspace's gateway container.
func (w *workspace) gatewayContainer(t *testing.T) string {
	t.Helper()
	return w.serviceContainer(t, contract.GatewayService)
}

// serviceContainer returns the ID of the compose service's container in
// the dev container's project.
func (w *workspace) serviceContainer(t *testing.T, service string) string {
	t.Helper()
	project := docker(t, "inspect", "--format", `{{index .Config.Labels "com.docker.compose.project"}}`, w.devContainer(t))
	out := docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project, "--filter", "label=com.docker.compose.service="+service)
	ids := strings.Fields(out)
	if len(ids) != 1 {
		t.Fatalf("want one %s container in project %s, got %q", service, project, ids)
	}
	return ids[0]
}

// waitGatewayHealthy polls the gateway's health until it is healthy.
func (w *workspace) waitGatewayHealthy(t *testing.T, id string) {
	t.Helper()
	for range 600 {
		status := docker(t, "inspect", "--format", "{{.State.Health.Status}}", id)
		if status == "healthy" {
			return
		}
		if _, err := run(t.Context(), "sleep", "0.2"); err != nil { // polling the engine
			t.Fatal(err)
		}
	}
	t.Fatalf("gateway %s not healthy: %s", id, fmt.Sprint(docker(t, "logs", "--tail", "20", id)))
}

// testMountPointsStay: root in dev can rename what it likes in the
// workspace (the control), but not .git, .devcontainer or .git/hooks, which
// are mount points: renaming .git would carry the read-only hooks and config
// along and leave the name free for a folder of the agent's, whose hooks
// and config host git would then run.
func testMountPointsStay(t *testing.T, w *workspace, asRoot func(argv ...string) (string, int)) {
	ws := "/workspaces/" + filepath.Base(w.dir)
	if out, code := asRoot("sh", "-c", "mkdir "+ws+"/.dbit-x && mv "+ws+"/.dbit-x "+ws+"/.dbit-y && rmdir "+ws+"/.dbit-y"); code != 0 {
		t.Fatalf("control: root in dev cannot rename a folder of the workspace, so the checks below prove nothing: %s", out)
	}
	for _, p := range []string{".git", ".devcontainer", ".git/hooks"} {
		if out, code := asRoot("mv", ws+"/"+p, ws+"/"+p+"-old"); code == 0 {
			t.Errorf("root in dev renamed %s: %s", p, out)
		}
	}
	for _, p := range []string{".git/hooks", ".git/config", ".devcontainer/devcontainer.json"} {
		if _, err := os.Stat(filepath.Join(w.dir, p)); err != nil {
			t.Errorf("on the host: %v", err)
		}
	}
}

// hostListener listens on every address of the host (the engine's
// machine) on a free TCP port until the test ends, accepting and closing
// each connection, and returns the port.
func hostListener(t *testing.T) string {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
