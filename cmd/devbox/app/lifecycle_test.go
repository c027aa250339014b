package app

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
	"github.com/devbox-sandbox/devbox/lifecycle"
	"github.com/devbox-sandbox/devbox/lifecycle/lifecycletest"
)

func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const boxID = "c0ffee1234567890c0ffee1234567890c0ffee1234567890c0ffee1234567890"

var started = time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)

// world is a workspace, a state directory, a fake engine with one running
// box for the workspace, and a fake runner.
type world struct {
	attached bool // an exec other than the environment probe was started
	t        *testing.T
	ws       string
	state    string
	eng      *lifecycletest.Engine
	runner   *fakeRunner
	out      bytes.Buffer
	err      bytes.Buffer
	// Knobs the default fake engine reads.
	running     bool
	boxes       []container.Summary
	markers     map[string]time.Time
	failReason  string
	execOut     string
	execCode    int
	execErr     string // the exec's stderr
	unreachable bool
	nonce       string
	lastExec    client.ExecCreateOptions
	// Per container (by ID): a start other than started, whether it runs
	// whatever running says, and the exit status of one that does not.
	startedAt map[string]time.Time
	up        map[string]bool
	exited    map[string]int
	clock     time.Time // the start of the last container started
	// markerHosts, when set, are the only containers that have the markers.
	markerHosts map[string]bool
	gatewayLog  string
	// auditCounts are the contents of contract.AuditCounts by container.
	auditCounts map[string]string
	// calls records starts, stops and restarts: "start ID", ...
	calls []string
}

const gatewayID = "9a7e0a1234567890a7e0a1234567890a7e0a1234567890a7e0a1234567890a7e"

// withGateway makes the box a compose project with a gateway, which
// started before dev and holds the markers.
func (w *world) withGateway() {
	const project = "ws_devcontainer"
	w.boxes[0].Labels[lifecycle.LabelComposeProject] = project
	w.boxes[0].Labels[lifecycle.LabelComposeService] = contract.DevService
	w.boxes = append(w.boxes, container.Summary{ID: gatewayID, Names: []string{"/ws_devcontainer-gateway-1"},
		Image: "ws_devcontainer-gateway", State: container.StateRunning,
		Labels: map[string]string{lifecycle.LabelComposeProject: project, lifecycle.LabelComposeService: contract.GatewayService}})
	w.startedAt[gatewayID] = started.Add(-2 * time.Second)
	w.markerHosts = map[string]bool{gatewayID: true}
}

func (w *world) isRunning(id string) bool {
	if up, ok := w.up[id]; ok {
		return up
	}
	return w.running
}

// nextStart is the start time of a container started now: a minute after
// the last one, the first an hour after started (later than any start a
// test sets).
func (w *world) nextStart() time.Time {
	w.clock = w.clock.Add(time.Minute)
	return w.clock
}

func (w *world) startOf(id string) time.Time {
	if t, ok := w.startedAt[id]; ok {
		return t
	}
	return started
}

func newWorld(t *testing.T, firewall bool) *world {
	t.Helper()
	w := &world{t: t, ws: t.TempDir(), state: t.TempDir(), running: true, runner: &fakeRunner{},
		markers:   map[string]time.Time{contract.ReadyMarker: started.Add(time.Second)},
		startedAt: map[string]time.Time{}, up: map[string]bool{}, exited: map[string]int{}, clock: started.Add(time.Hour)}
	feature := ""
	if firewall {
		feature = `"features": {"./devbox-firewall": {}},`
	}
	writeFile(t, filepath.Join(w.ws, ".devcontainer", "devcontainer.json"),
		"{\n  // a comment\n  \"image\": \"devbox-test/debian:bookworm\", "+feature+"\n  \"remoteUser\": \"dev\"\n}\n")
	w.trust() // as devbox init does
	w.boxes = []container.Summary{w.summary(boxID, "/quirky_box")}
	w.eng = w.fakeEngine()
	return w
}

// trust records the workspace's configuration as trusted, as `devbox init`
// or `devbox trust --yes` would.
func (w *world) trust() {
	w.t.Helper()
	m := &lifecycle.Manager{Getenv: func(k string) string { return map[string]string{"XDG_STATE_HOME": w.state}[k] }}
	if err := m.RecordTrust(w.ws); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) summary(id, name string) container.Summary {
	state := container.StateRunning
	if !w.running {
		state = container.StateExited
	}
	return container.Summary{ID: id, Names: []string{name}, Image: "vsc-ws-0123-features", State: state,
		Labels: map[string]string{lifecycle.LabelLocalFolder: w.ws,
			lifecycle.LabelConfigFile: filepath.Join(w.ws, ".devcontainer", "devcontainer.json")},
		Mounts: []container.MountPoint{{Type: mount.TypeVolume, Name: "devbox-claude-config"}}}
}

func (w *world) fakeEngine() *lifecycletest.Engine {
	return &lifecycletest.Engine{
		ContainerListFunc: func(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
			items := []container.Summary{}
			for _, c := range w.boxes {
				if !lifecycletest.MatchesLabels(c.Labels, o.Filters) {
					continue
				}
				c.State = map[bool]container.ContainerState{true: container.StateRunning, false: container.StateExited}[w.isRunning(c.ID)]
				items = append(items, c)
			}
			return client.ContainerListResult{Items: items}, nil
		},
		ContainerInspectFunc: func(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
			for _, c := range w.boxes {
				if c.ID == id {
					md := `[{"id":"./devbox-firewall","entrypoint":"/usr/local/sbin/init-firewall"},{"remoteUser":"dev","remoteEnv":{"EDITOR":"vi"}}]`
					labels := map[string]string{lifecycle.LabelMetadata: md}
					for k, v := range c.Labels {
						labels[k] = v
					}
					state := &container.State{Status: container.StateRunning, Running: true, StartedAt: w.startOf(id).Format(time.RFC3339Nano)}
					if !w.isRunning(id) {
						state.Status, state.Running, state.ExitCode = container.StateExited, false, w.exited[id]
					}
					return client.ContainerInspectResult{Container: container.InspectResponse{
						ID: id, State: state,
						Config: &container.Config{Labels: labels, Env: []string{"PATH=/usr/bin:/bin"}},
						Mounts: []container.MountPoint{{Type: mount.TypeBind, Source: w.ws, Destination: "/workspaces/ws"}},
					}}, nil
				}
			}
			return client.ContainerInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such container: " + id)
		},
		ContainerStatPathFunc: func(_ context.Context, id string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
			if t, ok := w.markers[o.Path]; ok && (w.markerHosts == nil || w.markerHosts[id]) {
				return client.ContainerStatPathResult{Stat: container.PathStat{Name: filepath.Base(o.Path), Mtime: t}}, nil
			}
			return client.ContainerStatPathResult{}, cerrdefs.ErrNotFound.WithMessage("no such file")
		},
		CopyFromContainerFunc: func(_ context.Context, id string, o client.CopyFromContainerOptions) (client.CopyFromContainerResult, error) {
			switch {
			case o.SourcePath == "/etc/passwd":
				return client.CopyFromContainerResult{Content: lifecycletest.Tar("passwd", "root:x:0:0::/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash\n")}, nil
			case o.SourcePath == contract.AuditCounts && w.auditCounts[id] != "":
				return client.CopyFromContainerResult{Content: lifecycletest.Tar("audit.counts.json", w.auditCounts[id])}, nil
			case o.SourcePath == contract.FailedMarker && (w.markerHosts == nil || w.markerHosts[id]):
				return client.CopyFromContainerResult{Content: lifecycletest.Tar("firewall.failed", `{"ok":false,"error":"`+w.failReason+`"}`)}, nil
			}
			return client.CopyFromContainerResult{}, cerrdefs.ErrNotFound
		},
		ExecCreateFunc: func(_ context.Context, _ string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
			if len(o.Cmd) == 3 && o.Cmd[1] == "-lic" { // the environment probe
				w.nonce = strings.TrimSuffix(strings.Fields(o.Cmd[2])[2], ";")
				return client.ExecCreateResult{ID: "probe"}, nil
			}
			w.lastExec = o
			return client.ExecCreateResult{ID: "exec"}, nil
		},
		ExecAttachFunc: func(_ context.Context, id string, _ client.ExecAttachOptions) (client.ExecAttachResult, error) {
			if id == "probe" {
				return lifecycletest.Attached(w.nonce+"HOME=/home/dev\x00PATH=/home/dev/bin:/usr/bin:/bin\x00PWD=/\x00"+w.nonce, ""), nil
			}
			return lifecycletest.Attached(w.execOut, w.execErr), nil
		},
		ExecInspectFunc: func(_ context.Context, id string, _ client.ExecInspectOptions) (client.ExecInspectResult, error) {
			if id == "probe" {
				return client.ExecInspectResult{}, nil
			}
			return client.ExecInspectResult{ExitCode: w.execCode}, nil
		},
		ContainerLogsFunc: func(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
			return lifecycletest.Logs("", w.gatewayLog), nil
		},
		ContainerStartFunc: func(_ context.Context, id string, _ client.ContainerStartOptions) (client.ContainerStartResult, error) {
			w.calls = append(w.calls, "start "+id[:3])
			if !w.isRunning(id) {
				w.up[id] = true
				w.startedAt[id] = w.nextStart()
			}
			return client.ContainerStartResult{}, nil
		},
		ContainerStopFunc: func(_ context.Context, id string, _ client.ContainerStopOptions) (client.ContainerStopResult, error) {
			w.calls = append(w.calls, "stop "+id[:3])
			w.up[id] = false
			return client.ContainerStopResult{}, nil
		},
		ContainerRestartFunc: func(_ context.Context, id string, _ client.ContainerRestartOptions) (client.ContainerRestartResult, error) {
			w.calls = append(w.calls, "restart "+id[:3])
			w.startedAt[id] = w.nextStart()
			return client.ContainerRestartResult{}, nil
		},
		ContainerRemoveFunc: func(_ context.Context, id string, _ client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
			return client.ContainerRemoveResult{}, nil
		},
		VolumeRemoveFunc: func(context.Context, string, client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
			return client.VolumeRemoveResult{}, nil
		},
	}
}

// run runs one command the way Main would and returns the exit status.
func (w *world) run(mk func(Env, *lifecycle.Manager) *cli.Command, args ...string) int {
	w.t.Helper()
	vars := map[string]string{"XDG_STATE_HOME": w.state, "HOME": w.state}
	env := Env{Streams: Streams{In: strings.NewReader(""), Out: &w.out, Err: &w.err}, Runner: w.runner,
		Getenv: func(k string) string { return vars[k] }}
	m := newManager(env)
	m.Connect = func(context.Context, func(string) string) (lifecycle.Engine, lifecycle.Endpoint, error) {
		ep := lifecycle.Endpoint{Host: "unix:///var/run/docker.sock", Source: "default socket"}
		if w.unreachable {
			return nil, ep, &lifecycle.UnreachableError{Endpoint: ep, Err: errors.New("dial unix /var/run/docker.sock: connect: no such file or directory")}
		}
		return w.eng, ep, nil
	}
	m.Now = func() time.Time { return started.Add(90 * time.Minute) }
	m.FirewallTimeout, m.PollInterval = 50*time.Millisecond, 10*time.Millisecond
	a := newApp(env, []*cli.Command{mk(env, m)})
	return report(&w.err, a.RunContext(context.Background(), append([]string{"devbox"}, args...)))
}

// golden compares the run's output (paths made stable) with testdata/NAME.golden.
func (w *world) golden(name string, code int) {
	w.t.Helper()
	got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, w.out.String(), w.err.String())
	got = strings.ReplaceAll(got, w.state, "$STATE")
	got = strings.ReplaceAll(got, w.ws, "$WS")
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		writeFile(w.t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		w.t.Errorf("%s differs (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeRunner answers `devcontainer` and compose invocations.
type fakeRunner struct {
	calls []string
	up    func() (runner.Result, error)
}

func (r *fakeRunner) Run(_ context.Context, c runner.Cmd) (runner.Result, error) {
	r.calls = append(r.calls, c.String())
	switch {
	case c.Name == "devcontainer" && len(c.Args) > 0 && c.Args[0] == "up":
		if c.Stderr != nil {
			fmt.Fprint(c.Stderr, "[2026-11-29T01:00:00.000Z] @devcontainers/cli 0.89.0.\nStep 1/3 : FROM devbox-test/debian:bookworm\n")
		}
		if r.up != nil {
			return r.up()
		}
		return runner.Result{Stdout: []byte(`{"outcome":"success","containerId":"` + boxID + `","remoteUser":"dev","remoteWorkspaceFolder":"/workspaces/ws"}` + "\n")}, nil
	case c.Name == "devcontainer" && len(c.Args) > 0 && c.Args[0] == "read-configuration":
		return runner.Result{Stdout: []byte(`{"configuration":{"remoteUser":"dev"},"mergedConfiguration":{"remoteUser":"dev"}}` + "\n")}, nil
	case c.Name == "devcontainer":
		return runner.Result{Stdout: []byte("0.89.0\n")}, nil
	case c.Name == "docker-compose":
		return runner.Result{Stdout: []byte("1.29.2\n")}, nil
	}
	return runner.Result{}, &runner.RunError{Command: c.String(), ExitCode: -1, Err: exec.ErrNotFound}
}
