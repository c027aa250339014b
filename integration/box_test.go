package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
	"github.com/devbox-sandbox/devbox/integration/internal/inet"
)

// boxKind is a kind of workspace the lifecycle scenarios run on.
type boxKind struct {
	name     string
	init     []string // devbox init flags besides the base image
	images   []string // images to make before up
	services bool     // compose, with postgres and redis
	volume   bool     // --workspace volume: no host folder in dev
}

var boxKinds = []boxKind{
	{
		name: "plain",
		init: []string{"--agent", "none", "--lang", "node@system,python@system", "--publish", strconv.Itoa(publishedPort)},
	},
	{
		name: "compose",
		init: []string{
			"--agent", "none", "--lang", "python@system", "--services", "postgres,redis",
			"--service-image", "postgres=" + images.Postgres, "--service-image", "redis=" + images.Redis,
		},
		images:   []string{images.Postgres, images.Redis},
		services: true,
	},
}

// TestIntegrationBox runs the lifecycle scenarios of issue 4, and the
// attacks and restarts of the gateway layout (issue 8), on a workspace
// without services and on one with Postgres and Redis, each made by
// `devbox init`. The steps run in order on one box (up
// first, reset last); a failed up ends its workspace's run.
func TestIntegrationBox(t *testing.T) {
	s := requireSuite(t)
	for _, kind := range boxKinds {
		t.Run(kind.name, func(t *testing.T) {
			for _, img := range kind.images {
				if err := s.images.Ensure(t.Context(), img); err != nil {
					t.Fatal(err)
				}
			}
			w := s.newWorkspace(t, "dbit-"+kind.name, slices.Concat(kind.init, []string{"--base-image", images.Bookworm})...)
			steps := []struct {
				name     string
				run      func(t *testing.T, w *workspace, kind boxKind)
				required bool // the steps after it need it to pass
			}{
				{"up and exec", testUpExec, true},
				{"services", testServices, false},
				{"firewall", testFirewall, false},
				{"agent cannot loosen", testAgentCannotLoosen, false},
				{"trust", testTrust, false},
				{"red team", testRedTeam, false},
				{"audit log", testAuditLog, false},
				{"live policy and audit mode", testLivePolicy, false},
				{"published port", testPublished, false},
				{"restart, stop and start", testRestart, false},
				{"gateway restarts", testGatewayRestarts, false},
				{"down, status and reset", testDownReset, false},
			}
			for _, step := range steps {
				if !t.Run(step.name, func(t *testing.T) { step.run(t, w, kind) }) && step.required {
					return
				}
			}
		})
	}
}

// testUpExec: `devbox up`, then `devbox exec` runs as the remote user in
// the remote workspace folder.
func testUpExec(t *testing.T, w *workspace, kind boxKind) {
	w.mustDevbox(t, "up")
	if got := w.mustExec(t, "id", "-un"); got != "dev" {
		t.Errorf("devbox exec runs as %q, want dev", got)
	}
	want := "/workspaces/" + "dbit-" + kind.name
	if got := w.mustExec(t, "pwd"); got != want {
		t.Errorf("devbox exec runs in %q, want %q", got, want)
	}
}

// testServices: the dev container reaches Postgres (a query, as the
// non-superuser of DATABASE_URL) and Redis (PING, as REDIS_URL's ACL user)
// by service name.
func testServices(t *testing.T, w *workspace, kind boxKind) {
	if !kind.services {
		t.Skip("no services in this workspace")
	}
	if got := w.mustExec(t, "sh", "-c", `psql "$DATABASE_URL" -tAc 'select current_user, count(*) from pg_tables'`); !strings.HasPrefix(got, "app|") {
		t.Errorf("query through DATABASE_URL: got %q, want a row for role app", got)
	}
	if got := w.mustExec(t, "psql", "postgres://app:app@postgres:5432/app", "-tAc", "select 40 + 2"); got != "42" {
		t.Errorf("query to postgres by service name: got %q, want 42", got)
	}
	if got := w.mustExec(t, "sh", "-c", `redis-cli -u "$REDIS_URL" ping`); got != "PONG" {
		t.Errorf("redis-cli ping through REDIS_URL: got %q, want PONG", got)
	}
	if got := w.mustExec(t, "redis-cli", "-h", "redis", "--user", "app", "--pass", "app", "--no-auth-warning", "ping"); got != "PONG" {
		t.Errorf("redis-cli -h redis --user app ping: got %q, want PONG", got)
	}
}

// testFirewall: with the firewall live, the allowed hosts are reachable and
// the blocked ones refused at once, over IPv4 and IPv6, by name and by
// address, over HTTP and TCP/UDP echo; the hosts the GitHub meta, the AWS
// ranges (service S3) and the CIDRs list are reachable on every port, the
// host allowed by name on its entry's port only, the AWS decoy (EC2) not. A control container from the same image on the same network,
// without the firewall, reaches the blocked host: the block is the
// firewall's.
func testFirewall(t *testing.T, w *workspace, kind boxKind) {
	var probes []probe
	for _, h := range []inet.Host{inet.Allowed, inet.GitHub, inet.S3, inet.Static} {
		probes = append(probes, httpProbes(h, true)...)
	}
	probes = append(probes, echoProbes(inet.Static, true)...)
	probes = append(probes, echoProbes(inet.Allowed, false)...)
	probes = append(probes, httpProbes(inet.Blocked, false)...)
	probes = append(probes, httpProbes(inet.EC2, false)...)
	probes = append(probes, echoProbes(inet.Blocked, false)...)
	t.Run("box", func(t *testing.T) { runProbes(t, w.exec, probes) })

	id := w.devContainer(t)
	image := docker(t, "inspect", "--format", "{{.Image}}", id)
	c := startControl(t, image, egressNetwork(t, id))
	control := append(httpProbes(inet.Blocked, true), echoProbes(inet.Blocked, true)...)
	t.Run("control without firewall", func(t *testing.T) { runProbes(t, c.exec, control) })
}

// egressNetwork returns the network of container id that is not internal:
// the one its traffic to the internet leaves through. A container in
// another's network namespace (dev in the gateway's) has that one's.
func egressNetwork(t *testing.T, id string) string {
	t.Helper()
	if mode := docker(t, "inspect", "--format", "{{.HostConfig.NetworkMode}}", id); strings.HasPrefix(mode, "container:") {
		id = strings.TrimPrefix(mode, "container:")
	}
	for _, n := range strings.Fields(docker(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", id)) {
		if docker(t, "network", "inspect", "--format", "{{.Internal}}", n) == "false" {
			return n
		}
	}
	t.Fatalf("container %s is on no network with a route out", id)
	return ""
}

// testAgentCannotLoosen: the agent's user holds no capabilities and no sudo,
// cannot change the rules or run init-firewall on a looser allowlist, and
// cannot write the firewall binary, the allowlist, the firewall's cache and
// markers, .devcontainer/ or .git/hooks; afterwards the blocked host is
// still refused.
func testAgentCannotLoosen(t *testing.T, w *workspace, kind boxKind) {
	for _, capSet := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		got := w.mustExec(t, "sh", "-c", "grep ^"+capSet+": /proc/self/status")
		if !strings.HasSuffix(got, "0000000000000000") {
			t.Errorf("the agent's user holds capabilities: %s", got)
		}
	}
	ws := "/workspaces/dbit-" + kind.name
	open := `{"domains": [], "cidrs": ["203.0.113.0/24", "2001:db8:100::/48"]}`
	refused := []struct {
		name string
		argv []string
	}{
		{"sudo", []string{"sudo", "-n", "true"}},
		{"iptables flush", []string{"iptables", "-F"}},
		{"iptables policy", []string{"iptables", "-P", "OUTPUT", "ACCEPT"}},
		{"ip6tables flush", []string{"ip6tables", "-F"}},
		{"ipset flush", []string{"ipset", "flush"}},
		{"init-firewall with a looser allowlist", []string{"sh", "-c", "echo '" + open + "' >/tmp/open.jsonc && /usr/local/sbin/init-firewall --config /tmp/open.jsonc"}},
		{"write init-firewall", []string{"sh", "-c", "echo >>/usr/local/sbin/init-firewall"}},
		{"replace init-firewall", []string{"cp", "/bin/true", "/usr/local/sbin/init-firewall"}},
		{"write the allowlist", []string{"sh", "-c", "echo >>/etc/devbox/firewall.jsonc"}},
		{"write the cache", []string{"touch", "/var/lib/devbox/meta.json"}},
		{"forge the ready marker", []string{"sh", "-c", "echo '{}' >/run/devbox/firewall.ready"}},
		{"write .devcontainer/", []string{"touch", ws + "/.devcontainer/devcontainer.json"}},
		{"add to .devcontainer/", []string{"touch", ws + "/.devcontainer/new"}},
		{"plant a git hook", []string{"sh", "-c", "echo 'touch /tmp/pwned' >" + ws + "/.git/hooks/post-checkout"}},
		{"set core.hooksPath", []string{"git", "-C", ws, "config", "core.hooksPath", "/tmp"}},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			if out, code := w.exec(c.argv...); code == 0 {
				t.Errorf("%s: succeeded as the agent's user, want it refused: %s", strings.Join(c.argv, " "), out)
			}
		})
	}
	t.Run("still blocked", func(t *testing.T) {
		runProbes(t, w.exec, httpProbes(inet.Blocked, false))
	})
}

// testRestart: after a plain `docker restart` (which runs no lifecycle
// command, only the firewall feature's entrypoint), and after `devbox stop`
// and `devbox start`, the very first `devbox exec` already finds the blocked
// host refused (devbox waited for the fresh ready marker), and the marker is
// the current start's.
func testRestart(t *testing.T, w *workspace, kind boxKind) {
	restarts := []struct {
		name    string
		restart func(t *testing.T)
	}{
		{"docker restart", func(t *testing.T) { docker(t, "restart", w.devContainer(t)) }},
		{"devbox stop and start", func(t *testing.T) {
			// The agent leaves a nested repository as its session ends:
			// stop stops the box, then refuses, naming it.
			nested := filepath.Join(w.dir, "vendor-late", ".git")
			docker(t, "exec", "-u", "root", w.devContainer(t), "mkdir", "-p", "/workspaces/"+filepath.Base(w.dir)+"/vendor-late/.git")
			res, err := w.devbox("stop")
			if err == nil || !strings.Contains(combined(res), nested) {
				t.Errorf("devbox stop after a plant: %v, want a refusal naming %s:\n%s", err, nested, combined(res))
			}
			if err := os.RemoveAll(filepath.Dir(nested)); err != nil {
				t.Fatal(err)
			}
			if out := docker(t, "ps", "-q", "--filter", "label=devcontainer.local_folder="+w.dir); out != "" {
				t.Fatalf("after devbox stop, the dev container still runs: %s", out)
			}
			w.mustDevbox(t, "start")
		}},
	}
	for _, r := range restarts {
		t.Run(r.name, func(t *testing.T) {
			r.restart(t)
			runProbes(t, w.exec, httpProbes(inet.Blocked, false)[:1])
			runProbes(t, w.exec, httpProbes(inet.Allowed, true)[:1])
			checkMarkerFresh(t, w)
		})
	}
}

// checkMarkerFresh fails t unless the firewall's ready marker was written
// for the running start of the container that holds it, the gateway (its
// pid1Start is PID 1's).
func checkMarkerFresh(t *testing.T, w *workspace) {
	t.Helper()
	var marker struct {
		PID1Start json.Number `json:"pid1Start"`
	}
	gw := w.gatewayContainer(t)
	if err := json.Unmarshal([]byte(docker(t, "exec", gw, "cat", "/run/devbox/firewall.ready")), &marker); err != nil {
		t.Fatalf("read the ready marker: %v", err)
	}
	if live := docker(t, "exec", gw, "awk", "{print $22}", "/proc/1/stat"); marker.PID1Start.String() != live {
		t.Errorf("ready marker is for PID 1 started at %s, but PID 1 started at %s: stale marker", marker.PID1Start, live)
	}
}

// testDownReset: `down` leaves no container of the box (nor of its compose
// project) and keeps its volumes (the project's too), and `status` no
// longer lists it; `reset` gives a fresh container in which a file written
// before is gone.
func testDownReset(t *testing.T, w *workspace, kind boxKind) {
	dev := w.devContainer(t)
	volumes := strings.Fields(docker(t, "inspect", "--format", `{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}`, dev))
	project := docker(t, "inspect", "--format", `{{index .Config.Labels "com.docker.compose.project"}}`, dev)
	if project != "" {
		volumes = append(volumes, strings.Fields(docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+project))...)
	}
	if len(volumes) == 0 {
		t.Fatal("the box has no named volume: nothing to check down keeps")
	}
	w.mustDevbox(t, "down")
	if left := w.containers(t.Context()); len(left) > 0 {
		t.Errorf("after down, containers of the box remain: %v", left)
	}
	if project != "" {
		if left := docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project); left != "" {
			t.Errorf("after down, containers of compose project %s remain: %s", project, left)
		}
	}
	for _, v := range volumes {
		if _, err := run(t.Context(), "docker", "volume", "inspect", v); err != nil {
			t.Errorf("down removed volume %s, want it kept: %v", v, err)
		}
	}
	if out := w.s.status(t); strings.Contains(out, w.dir) {
		t.Errorf("after down, status still lists %s:\n%s", w.dir, out)
	}

	w.mustDevbox(t, "up")
	before := w.devContainer(t)
	w.mustExec(t, "touch", "/var/tmp/dbit-reset-marker")
	w.mustDevbox(t, "reset", "--yes")
	if after := w.devContainer(t); after == before {
		t.Errorf("reset kept container %s, want a fresh one", before)
	}
	if out, code := w.exec("test", "-e", "/var/tmp/dbit-reset-marker"); code == 0 {
		t.Errorf("after reset, the file written before is still there%s", out)
	}
	runProbes(t, w.exec, httpProbes(inet.Blocked, false)[:1])
}
