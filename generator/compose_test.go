package generator

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// checkComposeProject checks the properties the sandbox relies on, as
// compose-go understood them.
func checkComposeProject(t *testing.T, p *types.Project) {
	t.Helper()
	dev, ok := p.Services["dev"]
	if !ok {
		t.Fatal("no dev service")
	}
	gw, gateway := p.Services[contract.GatewayService]
	switch {
	case gateway:
		checkGateway(t, p, dev, gw)
	case !slices.Contains(dev.CapAdd, "NET_ADMIN") || !slices.Contains(dev.SecurityOpt, "no-new-privileges"):
		t.Errorf("dev: cap_add %v, security_opt %v", dev.CapAdd, dev.SecurityOpt)
	}
	if _, ok := dev.Networks["default"]; !ok && !gateway {
		t.Error("dev is not on the default network: it would have no egress")
	}
	if net, ok := p.Networks[internalNetwork]; len(p.Services) > 2 && (!ok || !net.Internal) {
		t.Errorf("network %q missing or not internal: %+v", internalNetwork, net)
	}
	for name, svc := range p.Services {
		if name == "dev" || name == contract.GatewayService {
			continue
		}
		if len(svc.Networks) != 1 || svc.Networks[internalNetwork] == nil && !hasKey(svc.Networks, internalNetwork) {
			t.Errorf("%s: networks %v, want only %s (no route out)", name, keys(svc.Networks), internalNetwork)
		}
		if svc.HealthCheck == nil || len(svc.HealthCheck.Test) == 0 {
			t.Errorf("%s: no healthcheck", name)
		}
		if dep, ok := dev.DependsOn[name]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("dev does not wait for %s to be healthy: %+v", name, dev.DependsOn)
		}
		if len(svc.Volumes) == 0 || svc.Volumes[0].Type != types.VolumeTypeVolume {
			t.Errorf("%s: data not on a named volume: %+v", name, svc.Volumes)
		}
		checkServiceLockdown(t, name, svc)
	}
	if mysql, ok := p.Services["mysql"]; ok {
		if host := mysql.Environment["MYSQL_ROOT_HOST"]; host == nil || *host != "localhost" {
			t.Errorf("mysql: MYSQL_ROOT_HOST = %v, want localhost (root must not log in over the network)", host)
		}
	}
	if _, ok := p.Services["postgres"]; ok {
		url := dev.Environment["DATABASE_URL"]
		if url == nil || !strings.HasPrefix(*url, "postgres://app:") {
			t.Errorf("DATABASE_URL = %v, want the non-superuser role app", url)
		}
	}
	if _, ok := p.Services["redis"]; ok {
		if url := dev.Environment["REDIS_URL"]; url == nil || !strings.HasPrefix(*url, "redis://app:") {
			t.Errorf("REDIS_URL = %v, want the ACL user app", url)
		}
	}
	readOnly := 0
	for _, v := range dev.Volumes {
		if v.ReadOnly {
			readOnly++
		}
	}
	if readOnly == 0 {
		t.Error("dev mounts nothing read-only (.devcontainer must be)")
	}
}

// checkServiceLockdown checks what each service container gets whatever
// the service: no way to gain privileges, no raw sockets, a fixed command,
// and its generated files mounted read-only.
func checkServiceLockdown(t *testing.T, name string, svc types.ServiceConfig) {
	t.Helper()
	if !slices.Contains(svc.SecurityOpt, "no-new-privileges") || !slices.Contains(svc.CapDrop, "NET_RAW") {
		t.Errorf("%s: security_opt %v, cap_drop %v; want no-new-privileges and NET_RAW dropped", name, svc.SecurityOpt, svc.CapDrop)
	}
	if len(svc.Command) == 0 {
		t.Errorf("%s: no command: the image's default runs without the options that lock it down", name)
	}
	for _, v := range svc.Volumes[1:] {
		if v.Type != types.VolumeTypeBind || !v.ReadOnly {
			t.Errorf("%s: %s mounted %s, read-only %v; want a read-only bind mount", name, v.Target, v.Type, v.ReadOnly)
		}
	}
}

// checkGateway checks the gateway layout: dev holds no network capability
// and lives in the gateway's namespace, which it waits for; the gateway
// alone holds NET_ADMIN, keeps low ports for root, and reports health.
func checkGateway(t *testing.T, p *types.Project, dev, gw types.ServiceConfig) {
	t.Helper()
	if dev.NetworkMode != "service:"+contract.GatewayService || len(dev.Networks) != 0 {
		t.Errorf("dev: network_mode %q, networks %v; want only the gateway's namespace", dev.NetworkMode, keys(dev.Networks))
	}
	// no-new-privileges goes (for sudo) only where nothing of the host
	// is writable from dev: root could plant setuid files there.
	writable := slices.ContainsFunc(dev.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeBind && !v.ReadOnly
	})
	if len(dev.CapAdd) != 0 || writable && !slices.Contains(dev.SecurityOpt, "no-new-privileges") {
		t.Errorf("dev: cap_add %v, security_opt %v", dev.CapAdd, dev.SecurityOpt)
	}
	if slices.ContainsFunc(dev.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Source == contract.WorkspaceVolume }) && writable {
		t.Errorf("dev: the volume workspace with a writable host path: %+v", dev.Volumes)
	}
	for _, c := range []string{"NET_ADMIN", "NET_RAW", "MKNOD"} {
		if !slices.Contains(dev.CapDrop, c) {
			t.Errorf("dev: cap_drop %v lacks %s", dev.CapDrop, c)
		}
	}
	if dep, ok := dev.DependsOn[contract.GatewayService]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("dev does not wait for the gateway to be healthy: %+v", dev.DependsOn)
	}
	if dev.Restart != "" && dev.Restart != "no" {
		t.Errorf("dev: restart %q, want none", dev.Restart)
	}
	if !slices.Contains(gw.CapAdd, "NET_ADMIN") || !slices.Contains(gw.SecurityOpt, "no-new-privileges") {
		t.Errorf("gateway: cap_add %v, security_opt %v", gw.CapAdd, gw.SecurityOpt)
	}
	if gw.Sysctls["net.ipv4.ip_unprivileged_port_start"] != "1024" {
		t.Errorf("gateway: sysctls %v, want net.ipv4.ip_unprivileged_port_start 1024", gw.Sysctls)
	}
	if gw.HealthCheck == nil || !slices.Equal(gw.HealthCheck.Test, contract.GatewayHealthcheck()) {
		t.Errorf("gateway: healthcheck %+v, want %v", gw.HealthCheck, contract.GatewayHealthcheck())
	}
	for _, p := range gw.Ports {
		if p.HostIP != "127.0.0.1" {
			t.Errorf("gateway publishes port %d on %q, want 127.0.0.1 only", p.Target, p.HostIP)
		}
	}
	if _, ok := gw.Networks["default"]; !ok {
		t.Error("gateway is not on the default network: the box would have no egress")
	}
	if _, ok := p.Networks[internalNetwork]; ok && !hasKey(gw.Networks, internalNetwork) {
		t.Error("gateway is not on the internal network: dev could not reach the services")
	}
}

func hasKey[V any](m map[string]V, k string) bool { _, ok := m[k]; return ok }

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestIntegrationCompose1 checks every compose file with Compose 1.29, the
// Compose on this machine, which refuses fields compose-go writes.
func TestIntegrationCompose1(t *testing.T) {
	requireDocker(t)
	forEachCompose(t, func(t *testing.T, _, dir string) {
		run(t, dir, "docker-compose", "-f", "compose.yaml", "config", "-q")
	})
}

// forEachCompose generates every combination with services and calls check
// with the workspace and its .devcontainer folder.
func forEachCompose(t *testing.T, check func(t *testing.T, ws, dir string)) {
	for _, c := range combinations {
		if len(c.opts.Services) == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			ws := newWorkspace(t, c.name, c.git)
			r, err := Init(c.options(ws))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(r.Dir, "compose.yaml")); err != nil {
				t.Fatal(err)
			}
			check(t, ws, r.Dir)
		})
	}
}

// composeV2Image is Compose v2 (Debian trixie's docker-compose package) in a
// local image: no Compose v2 is installed on this machine, and none can be
// pulled. `config` needs no engine, so it runs with no network.
const composeV2Image = "devbox-test/compose-v2"

// requireComposeV2 builds composeV2Image from the local trixie base when it
// is missing, and checks that it really is Compose v2.
func requireComposeV2(t *testing.T) {
	t.Helper()
	if exec.Command("docker", "image", "inspect", composeV2Image).Run() != nil {
		base := requireBaseImage(t, "trixie")
		build := exec.Command("docker", "build", "-q", "-t", composeV2Image, "-")
		build.Stdin = strings.NewReader("FROM " + base + "\n" +
			"RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose && rm -rf /var/lib/apt/lists/*\n")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", composeV2Image, err, out)
		}
	}
	version := run(t, ".", "docker", "run", "--rm", "--network", "none", composeV2Image, "docker-compose", "version")
	if !strings.HasPrefix(version, "Docker Compose version 2.") && !strings.HasPrefix(version, "Docker Compose version v2.") {
		t.Fatalf("%s holds %q, not Compose v2", composeV2Image, version)
	}
}

// TestIntegrationCompose2 checks every compose file with Compose v2, which
// most users have.
func TestIntegrationCompose2(t *testing.T) {
	requireDocker(t)
	requireComposeV2(t)
	forEachCompose(t, func(t *testing.T, ws, dir string) {
		// The workspace is mounted at the same path, so relative paths
		// (.., ./postgres-init.sql) resolve as they would on the host.
		run(t, dir, "docker", "run", "--rm", "--network", "none", "-v", ws+":"+ws, "-w", dir,
			composeV2Image, "docker-compose", "-f", "compose.yaml", "config", "-q")
	})
}
