package lifecycle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/lifecycle/lifecycletest"
)

func TestParseMetadataAndMergeEnv(t *testing.T) {
	label := `[{"id":"./devbox-firewall","entrypoint":"/usr/local/sbin/init-firewall"},` +
		`{"remoteUser":"root","remoteEnv":{"A":"1","GONE":null}},` +
		`{"remoteUser":"dev","userEnvProbe":"loginShell","remoteEnv":{"PATH":"${containerEnv:PATH}:/x","B":"${containerEnv:NOPE:dflt}"}}]`
	md, err := parseMetadata(label)
	if err != nil {
		t.Fatal(err)
	}
	if md.RemoteUser != "dev" || md.UserEnvProbe != "loginShell" || !md.HasFirewall || !md.Known {
		t.Errorf("metadata %+v", md)
	}
	got := mergeEnv([]string{"HOME=/home/dev", "GONE=x", "PATH=/probe"}, md.RemoteEnv, []string{"PATH=/usr/bin"})
	want := []string{"HOME=/home/dev", "PATH=/usr/bin:/x", "A=1", "B=dflt"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
	if md, _ := parseMetadata(`[{"remoteUser":"dev"}]`); md.HasFirewall {
		t.Errorf("no firewall feature, but HasFirewall")
	}
}

func TestResolveEndpoint(t *testing.T) {
	cfg := t.TempDir()
	writeContext := func(name, host string) {
		sum := sha256.Sum256([]byte(name))
		p := filepath.Join(cfg, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(`{"Name":"`+name+`","Endpoints":{"docker":{"Host":"`+host+`"}}}`), 0o644)
	}
	writeContext("remote", "ssh://me@box")
	writeContext("other", "tcp://10.0.0.1:2375")
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"currentContext":"remote"}`), 0o644)
	tests := []struct {
		name, host, source string
		env                map[string]string
	}{
		{"DOCKER_HOST wins", "tcp://127.0.0.1:2375", "DOCKER_HOST", map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375", "DOCKER_CONTEXT": "other", "DOCKER_CONFIG": cfg}},
		{"DOCKER_CONTEXT over config", "tcp://10.0.0.1:2375", `context "other"`, map[string]string{"DOCKER_CONTEXT": "other", "DOCKER_CONFIG": cfg}},
		{"currentContext", "ssh://me@box", `context "remote"`, map[string]string{"DOCKER_CONFIG": cfg}},
		{"default", client.DefaultDockerHost, "default socket", map[string]string{"DOCKER_CONFIG": t.TempDir()}},
		{"default context name", client.DefaultDockerHost, "default socket", map[string]string{"DOCKER_CONTEXT": "default", "DOCKER_CONFIG": cfg}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := resolveEndpoint(platform{goos: "linux", getenv: func(k string) string { return tt.env[k] }, exists: fileExists})
			if err != nil || ep.Host != tt.host || ep.Source != tt.source {
				t.Errorf("got %+v, %v; want %s from %s", ep, err, tt.host, tt.source)
			}
		})
	}
	_, err := ResolveEndpoint(func(k string) string { return map[string]string{"DOCKER_CONTEXT": "nope", "DOCKER_CONFIG": cfg}[k] })
	if err == nil || !strings.Contains(err.Error(), `docker context "nope"`) {
		t.Errorf("missing context: %v", err)
	}
}

func TestBuiltImages(t *testing.T) {
	box := &Box{Project: "app_devcontainer",
		Dev: container.Summary{Image: "vsc-app-abc-uid"},
		Services: []container.Summary{
			{Image: "devbox-test/debian:bookworm"}, // a base image a service uses: never removed
			{Image: "app_devcontainer_db:latest"},
		}}
	got := builtImages(box)
	want := []string{"vsc-app-abc-features", "app_devcontainer_db", "vsc-app-abc-uid", "vsc-app-abc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("builtImages = %q, want %q", got, want)
	}
}

func TestConfigChanged(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".devcontainer", "devcontainer.json")
	os.MkdirAll(filepath.Dir(cfg), 0o755)
	os.WriteFile(cfg, []byte(`{"image": "x"}`), 0o644)
	ws, _ := OpenWorkspace(dir)
	m := &Manager{Getenv: envMapGetter{"XDG_STATE_HOME": t.TempDir()}.get}
	hash, _ := configHash(ws)
	stamp, _ := configStamp(ws)
	st := &boxState{Workspace: ws.Dir, ConfigHash: hash, ConfigStamp: stamp}
	if changed, err := m.configChanged(ws, st); changed || err != nil {
		t.Fatalf("unchanged: %v, %v", changed, err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(cfg, later, later)
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "devcontainer-lock.json"), []byte(`{}`), 0o644)
	if changed, err := m.configChanged(ws, st); changed || err != nil {
		t.Fatalf("touched (and the CLI's lock file written): %v, %v", changed, err)
	}
	os.WriteFile(cfg, []byte(`{"image": "y"}`), 0o644)
	if changed, err := m.configChanged(ws, st); !changed || err != nil {
		t.Fatalf("edited: %v, %v", changed, err)
	}
}

type envMapGetter map[string]string

func (e envMapGetter) get(k string) string { return e[k] }

func TestProgressPlainKeepsTail(t *testing.T) {
	var out, log bytes.Buffer
	p := newProgress(&out, &log)
	for i := 0; i < 30; i++ {
		p.Write([]byte("[2026-11-29T01:00:00.000Z] step " + string(rune('a'+i%26)) + "\n"))
	}
	p.Write([]byte("no newline"))
	p.done()
	if !strings.HasSuffix(out.String(), "no newline\n") || log.Len() == 0 {
		t.Errorf("plain output %q", out.String())
	}
	if tail := p.lastLines(3); len(tail) != 3 || tail[2] != "no newline" {
		t.Errorf("tail %q", tail)
	}
}

func TestInterruptedSaysWhatWasLeft(t *testing.T) {
	ws, _ := workspaceAt("/home/me/app")
	items := []container.Summary{}
	eng := &lifecycletest.Engine{ContainerListFunc: func(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
		return client.ContainerListResult{Items: items}, nil
	}}
	m := &Manager{settle: time.Nanosecond}
	if err := m.interrupted(ws, eng, map[string]bool{}); !strings.Contains(err.Error(), "no new container was left") {
		t.Errorf("nothing left: %v", err)
	}
	items = []container.Summary{{ID: "abcdef1234567890", State: container.StateCreated, Labels: map[string]string{}}}
	err := m.interrupted(ws, eng, map[string]bool{})
	if want := "left container abcdef123456 (created) half made; remove it with `devbox down -w /home/me/app`"; !strings.Contains(err.Error(), want) {
		t.Errorf("half-made container: %v", err)
	}
}

func TestConnectRefusesSSHWithAFix(t *testing.T) {
	_, _, err := Connect(context.Background(), func(k string) string {
		return map[string]string{"DOCKER_HOST": "ssh://me@build-host"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "DOCKER_HOST=unix:///tmp/docker.sock") {
		t.Errorf("ssh endpoint: %v", err)
	}
}

func TestProgressTerminalShowsTheCurrentStep(t *testing.T) {
	var out, log bytes.Buffer
	p := &progress{out: &out, log: &log, tty: true, width: 60}
	p.Write([]byte("[2026-11-29T01:00:00.000Z] Start: Run: docker build\nStep 2/3 : RUN apt-get update\nGet:1 http://deb.debian.org/debian bookworm InRelease [151 kB]\n"))
	p.done()
	want := "\r\033[KStart: Run: docker build\r\033[KStep 2/3 : RUN apt-get update" +
		"\r\033[KStep 2/3 : RUN apt-get update | Get:1 http://deb.debian.…\r\033[K"
	if out.String() != want {
		t.Errorf("terminal view:\n%q\nwant\n%q", out.String(), want)
	}
}

// TestFindBoxGateway: the gateway is the project's container labelled with
// the gateway service (the running one of several), kept apart from the
// other services; a project without one has no gateway.
func TestFindBoxGateway(t *testing.T) {
	ws, _ := workspaceAt("/home/me/app")
	labels := func(service string) map[string]string {
		l := map[string]string{LabelComposeProject: "app", LabelComposeService: service}
		if service == contract.DevService {
			l[LabelLocalFolder], l[LabelConfigFile] = ws.Dir, ws.ConfigFile
		}
		return l
	}
	tests := []struct {
		name         string
		items        []container.Summary
		gateway      string
		services     []string
		stoppedFirst []string // All's order
	}{
		{"gateway and a service", []container.Summary{
			{ID: "db", Labels: labels("db"), State: container.StateRunning},
			{ID: "gw", Labels: labels(contract.GatewayService), State: container.StateRunning},
			{ID: "dev", Labels: labels(contract.DevService), State: container.StateRunning},
		}, "gw", []string{"db"}, []string{"dev", "gw", "db"}},
		{"a leftover gateway", []container.Summary{
			{ID: "gw-new", Labels: labels(contract.GatewayService), State: container.StateExited, Created: 2},
			{ID: "gw", Labels: labels(contract.GatewayService), State: container.StateRunning, Created: 1},
			{ID: "dev", Labels: labels(contract.DevService), State: container.StateRunning},
		}, "gw", []string{"gw-new"}, []string{"dev", "gw", "gw-new"}},
		{"no gateway (made before the layout)", []container.Summary{
			{ID: "db", Labels: labels("db"), State: container.StateRunning},
			{ID: "dev", Labels: labels(contract.DevService), State: container.StateRunning},
		}, "", []string{"db"}, []string{"dev", "db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := &lifecycletest.Engine{ContainerListFunc: func(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
				var items []container.Summary
				for _, c := range tt.items {
					if lifecycletest.MatchesLabels(c.Labels, o.Filters) {
						items = append(items, c)
					}
				}
				return client.ContainerListResult{Items: items}, nil
			}}
			box, err := FindBox(context.Background(), eng, ws)
			if err != nil || box == nil {
				t.Fatalf("FindBox: %v, %v", box, err)
			}
			gw := ""
			if box.Gateway != nil {
				gw = box.Gateway.ID
			}
			ids := func(cs []container.Summary) (out []string) {
				for _, c := range cs {
					out = append(out, c.ID)
				}
				return out
			}
			if box.Dev.ID != "dev" || gw != tt.gateway || !reflect.DeepEqual(ids(box.Services), tt.services) ||
				!reflect.DeepEqual(ids(box.All()), tt.stoppedFirst) {
				t.Errorf("dev %s, gateway %q, services %q, all %q; want dev, %q, %q, %q",
					box.Dev.ID, gw, ids(box.Services), ids(box.All()), tt.gateway, tt.services, tt.stoppedFirst)
			}
			g, err := findGateway(context.Background(), eng, "app")
			if err != nil || (g == nil) != (tt.gateway == "") || g != nil && g.ID != tt.gateway {
				t.Errorf("findGateway = %v, %v; want %q", g, err, tt.gateway)
			}
		})
	}
}

// TestGatewayDown: a gateway that is not running is FAILED when its last
// start left a failed marker or it exited with an error status, stopped
// when it was stopped; the last lines of its log come with it, made safe
// for a terminal, with or without a TTY.
func TestGatewayDown(t *testing.T) {
	start := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		exit   int
		failed time.Time // the failed marker's mtime; zero: none
		tty    bool
		state  FirewallState
		reason string
	}{
		{"failed marker", 1, start.Add(time.Second), false, FirewallFailed,
			"the gateway exited with status 1: the firewall failed to apply: resolve example.org: no such host"},
		{"failed marker of an earlier start", 1, start.Add(-time.Hour), false, FirewallFailed,
			"the gateway exited with status 1: its firewall failed"},
		{"stopped", 0, time.Time{}, true, FirewallStopped,
			"the gateway is not running (it exited with status 0), so the box has no network"},
		{"killed", 137, time.Time{}, false, FirewallStopped,
			"the gateway is not running (it exited with status 137), so the box has no network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := &lifecycletest.Engine{
				ContainerStatPathFunc: func(_ context.Context, _ string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
					if o.Path != contract.FailedMarker || tt.failed.IsZero() {
						return client.ContainerStatPathResult{}, cerrdefs.ErrNotFound
					}
					return client.ContainerStatPathResult{Stat: container.PathStat{Mtime: tt.failed}}, nil
				},
				CopyFromContainerFunc: func(context.Context, string, client.CopyFromContainerOptions) (client.CopyFromContainerResult, error) {
					return client.CopyFromContainerResult{Content: lifecycletest.Tar("firewall.failed", `{"error":"resolve example.org: no such host"}`)}, nil
				},
				ContainerLogsFunc: func(_ context.Context, _ string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
					if o.Tail != "10" {
						t.Errorf("log tail %q", o.Tail)
					}
					if tt.tty {
						return io.NopCloser(strings.NewReader("one\r\ntwo \x1b]0;title\x07\r\n")), nil
					}
					return lifecycletest.Logs("one\n", "two \x1b]0;title\x07\n"), nil
				},
			}
			c := container.InspectResponse{ID: "gw",
				State:  &container.State{Status: container.StateExited, ExitCode: tt.exit, StartedAt: start.Format(time.RFC3339Nano)},
				Config: &container.Config{Tty: tt.tty}}
			state, reason, log := gatewayDown(context.Background(), eng, c)
			if state != tt.state || reason != tt.reason {
				t.Errorf("got %s, %q; want %s, %q", state, reason, tt.state, tt.reason)
			}
			if want := []string{"one", `two \x1b]0;title\x07`}; !reflect.DeepEqual(log, want) {
				t.Errorf("log %q, want %q", log, want)
			}
		})
	}
}

// TestOrphanedProject: with the dev container gone, `down` finds the rest
// of the box by the compose project recorded at `up`.
func TestOrphanedProject(t *testing.T) {
	ws := Workspace{Dir: "/w"}
	gw := container.Summary{ID: "gw", Labels: map[string]string{LabelComposeProject: "w_devcontainer", LabelComposeService: contract.GatewayService}}
	eng := &lifecycletest.Engine{ContainerListFunc: func(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
		if lifecycletest.MatchesLabels(gw.Labels, o.Filters) {
			return client.ContainerListResult{Items: []container.Summary{gw}}, nil
		}
		return client.ContainerListResult{}, nil
	}}
	for _, tt := range []struct {
		name string
		st   *boxState
		want string // the box's first container, "" for none
	}{
		{"project recorded", &boxState{Project: "w_devcontainer"}, "gw"},
		{"another project", &boxState{Project: "other_devcontainer"}, ""},
		{"single container", &boxState{}, ""},
		{"no state", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			box, err := orphanedProject(context.Background(), eng, ws, tt.st)
			got := ""
			if box != nil {
				got = box.Dev.ID
			}
			if err != nil || got != tt.want {
				t.Errorf("orphanedProject = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
