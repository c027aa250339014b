package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/integration/internal/inet"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// testRedTeam attacks the box from dev as the agent's user and as root
// (`devbox exec -u root`): the allowlist holds for both, root holds no
// network capability and cannot change the namespace, DNS goes nowhere but
// the learned upstream, the services answer on their ports only, and the
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
		} {
			if out, code := asRoot(argv...); code == 0 {
				t.Errorf("root in dev: %s succeeded: %s", strings.Join(argv, " "), out)
			}
		}
		if out, code := w.exec("python3", "-c", "import socket; socket.socket().bind(('127.0.0.1', 53))"); code == 0 {
			t.Errorf("the agent's user bound port 53 on the gateway's loopback: %s", out)
		}
	})
	t.Run("DNS only through the learned upstream", func(t *testing.T) {
		// A query to the stand-in internet's hosts on port 53 (no resolver
		// answers there, but the firewall must refuse before that matters).
		query := `import socket,sys
s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.connect((sys.argv[1], 53)); s.send(b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07allowed\x04dbit\x04test\x00\x00\x01\x00\x01')
try:
    s.recv(512); print('answered')
except socket.timeout:
    print('timeout'); sys.exit(3)
except OSError as e:
    print('refused', e); sys.exit(2)`
		for _, run := range []func(...string) (string, int){w.exec, asRoot} {
			for _, host := range []string{inet.Blocked.V4.String(), inet.Blocked.V6.String(), inet.Allowed.V4.String()} {
				if out, code := run("python3", "-c", query, host); code != 2 {
					t.Errorf("DNS to %s: exit %d (%s), want refused at once", host, code, out)
				}
			}
			if out, code := run("python3", "-c", query, inet.Resolver.V4.String()); code != 0 {
				t.Errorf("DNS to the learned upstream %s: exit %d (%s)", inet.Resolver.V4, code, out)
			}
			if out, code := run("getent", "hosts", inet.Allowed.Name); code != 0 || !strings.Contains(out, inet.Allowed.V4.String()) && !strings.Contains(out, inet.Allowed.V6.String()) {
				t.Errorf("getent hosts %s through 127.0.0.11: exit %d: %s", inet.Allowed.Name, code, out)
			}
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
		connect := `import socket,sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print('connected')
except OSError as e:
    print('refused', e); sys.exit(2)`
		pg := docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.Gateway}}{{end}}", w.serviceContainer(t, "postgres"))
		fields := strings.Fields(pg)
		if len(fields) != 2 {
			t.Fatalf("postgres addresses: %q", pg)
		}
		for _, c := range []struct{ host, port string }{
			{fields[0], "22"},   // postgres, not its port
			{fields[1], "5432"}, // the Docker host on the internal network
			{fields[1], "22"},
		} {
			if out, code := asRoot("python3", "-c", connect, c.host, c.port); code != 2 {
				t.Errorf("root in dev to %s:%s: exit %d (%s), want refused", c.host, c.port, code, out)
			}
		}
		hostGW := docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.Gateway}} {{end}}", gateway)
		for _, gw := range strings.Fields(hostGW) {
			if out, code := asRoot("python3", "-c", connect, gw, "22"); code != 2 {
				t.Errorf("root in dev to the Docker host at %s: exit %d (%s), want refused", gw, code, out)
			}
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
		for i := range 20 {
			docker(t, "restart", gateway, w.devContainer(t))
			// The first thing dev can do after the restart: anything it
			// reaches must be allowed, and the blocked host never is.
			out, _ := run(t.Context(), "docker", "exec", w.devContainer(t), "curl", "-sS", "--max-time", "3", inet.URL(inet.Blocked.V4.String()))
			if strings.Contains(out, "dbit-inet") {
				t.Fatalf("restart %d: dev reached the blocked host: %s", i, out)
			}
		}
		w.waitGatewayHealthy(t, gateway)
		runProbes(t, w.exec, httpProbes(inet.Blocked, false)[:1])
	})
}

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
