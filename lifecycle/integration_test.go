//go:build unix

package lifecycle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// testImage is the local base image (integration/images/make-base.sh);
// nothing is ever pulled.
const testImage = "devbox-test/debian:bookworm"

// needEngine skips under -short and fails when there is no engine: an
// integration test that cannot run is a failure, never a silent skip.
func needEngine(t *testing.T) Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real Docker Engine): skipped under -short")
	}
	eng, ep, err := Connect(context.Background(), os.Getenv)
	if err != nil {
		t.Fatalf("integration test needs a Docker Engine (run with -short to skip it): %s: %v", ep, err)
	}
	t.Cleanup(func() { eng.Close() })
	if _, err := eng.(*client.Client).ImageInspect(context.Background(), testImage); err != nil {
		// make-base.sh takes a lock, so packages testing in parallel build it once.
		out, err := exec.Command("bash", "../integration/images/make-base.sh", "bookworm", testImage).CombinedOutput()
		if err != nil {
			t.Fatalf("build base image %s with integration/images/make-base.sh: %v\n%s", testImage, err, out)
		}
	}
	return eng
}

// fakeFirewallFeature stands in for the generated devbox-firewall feature:
// its entrypoint writes the ready marker the way init-firewall does.
const fakeFirewallFeature = `#!/bin/sh
set -e
cat > /usr/local/sbin/init-firewall <<'S'
#!/bin/sh
mkdir -p /run/devbox
rm -f /run/devbox/firewall.ready /run/devbox/firewall.failed
sleep 0.2
echo '{"ok":true}' > /run/devbox/firewall.ready.tmp && mv /run/devbox/firewall.ready.tmp /run/devbox/firewall.ready
S
chmod 755 /usr/local/sbin/init-firewall
`

// newTestWorkspace writes a small workspace: a one-line Dockerfile adding
// the non-root user dev, remoteEnv/containerEnv, and the fake firewall.
func newTestWorkspace(t *testing.T) Workspace {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lcws")
	files := map[string]string{
		"devcontainer.json": `{
  // JSONC, as devbox init writes it
  "build": {"dockerfile": "Dockerfile"},
  "features": {"./devbox-firewall": {}},
  "remoteUser": "dev",
  "containerEnv": {"FROM_CONTAINER": "c1"},
  "remoteEnv": {"FROM_REMOTE": "r1", "PATH": "${containerEnv:PATH}:/opt/remote/bin"}
}`,
		"Dockerfile": "FROM " + testImage + "\nRUN useradd -m -s /bin/bash dev && echo 'export FROM_BASHRC=b1' >> /home/dev/.bashrc\n",
		"devbox-firewall/devcontainer-feature.json": `{"id": "devbox-firewall", "version": "0.0.1", "entrypoint": "/usr/local/sbin/init-firewall"}`,
		"devbox-firewall/install.sh":                fakeFirewallFeature,
	}
	for name, content := range files {
		p := filepath.Join(dir, ".devcontainer", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := OpenWorkspace(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func testManager(t *testing.T, getenv func(string) string) (*Manager, *bytes.Buffer, *bytes.Buffer) {
	state := t.TempDir()
	if getenv == nil {
		getenv = os.Getenv
	}
	var out, errOut bytes.Buffer
	return &Manager{
		In: strings.NewReader(""), Out: &out, Err: &errOut, Progress: &errOut, Runner: runner.Local{},
		Getenv: func(k string) string {
			if k == "XDG_STATE_HOME" {
				return state
			}
			return getenv(k)
		},
		FirewallTimeout: 30 * time.Second,
	}, &out, &errOut
}

// cleanupBox removes whatever the test made for ws, images included.
func cleanupBox(t *testing.T, eng Engine, ws Workspace) {
	t.Cleanup(func() {
		ctx := context.Background()
		box, _ := FindBox(ctx, eng, ws)
		images := builtImages(box)
		if box != nil {
			for _, c := range box.All() {
				eng.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
		for _, img := range images {
			eng.ImageRemove(ctx, img, client.ImageRemoveOptions{PruneChildren: true})
		}
	})
}

func TestIntegrationLifecycle(t *testing.T) {
	eng := needEngine(t)
	ctx := context.Background()
	ws := newTestWorkspace(t)
	cleanupBox(t, eng, ws)
	m, out, errOut := testManager(t, nil)
	// Written by hand, not by devbox init: accepted as `devbox trust` does.
	if err := m.RecordTrust(ws.Dir); err != nil {
		t.Fatal(err)
	}

	res, err := m.Up(ctx, UpOptions{Workspace: ws.Dir})
	if err != nil {
		t.Fatalf("up: %v\n%s", err, errOut)
	}
	if res.RemoteUser != "dev" || res.RemoteWorkspaceFolder != "/workspaces/lcws" || res.Reused {
		t.Fatalf("up: %+v", res)
	}

	t.Run("fast path", func(t *testing.T) {
		res, err := m.Up(ctx, UpOptions{Workspace: ws.Dir})
		if err != nil || !res.Reused || res.ConfigChanged {
			t.Fatalf("second up: %+v, %v", res, err)
		}
	})

	t.Run("exec agrees with devcontainer exec", func(t *testing.T) {
		script := `id -un; pwd; env | sort`
		out.Reset()
		code, err := m.Exec(ctx, ExecOptions{Workspace: ws.Dir, Cmd: []string{"sh", "-c", script}})
		if err != nil || code != 0 {
			t.Fatalf("devbox exec: %d, %v\n%s", code, err, m.Err)
		}
		ours := out.String()
		cmd := exec.Command("devcontainer", "exec", "--workspace-folder", ws.Dir, "sh", "-c", script)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
		theirsB, err := cmd.Output()
		if err != nil {
			t.Fatalf("devcontainer exec: %v", err)
		}
		theirs := string(theirsB)
		norm := func(s string) string {
			var keep []string
			for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
				if !strings.HasPrefix(l, execIDVar+"=") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\n")
		}
		if norm(ours) != norm(theirs) {
			t.Errorf("devbox exec and devcontainer exec differ:\n--- devbox\n%s\n--- devcontainer\n%s", ours, theirs)
		}
		for _, want := range []string{"dev\n/workspaces/lcws\n", "FROM_REMOTE=r1", "FROM_CONTAINER=c1", "FROM_BASHRC=b1", "HOME=/home/dev", ":/opt/remote/bin\n"} {
			if !strings.Contains(ours, want) {
				t.Errorf("devbox exec output lacks %q:\n%s", want, ours)
			}
		}
	})

	t.Run("exec as another user takes nothing from the agent's shell", func(t *testing.T) {
		out.Reset()
		code, err := m.Exec(ctx, ExecOptions{Workspace: ws.Dir, User: "root", Cmd: []string{"sh", "-c", "id -un; env | sort"}})
		if err != nil || code != 0 {
			t.Fatalf("devbox exec -u root: %d, %v", code, err)
		}
		got := out.String()
		for _, want := range []string{"root\n", "FROM_CONTAINER=c1", "HOME=/root", "PATH=" + OtherUserPATH + "\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("exec -u root lacks %q:\n%s", want, got)
			}
		}
		for _, gone := range []string{"FROM_BASHRC", "FROM_REMOTE", "/opt/remote/bin"} {
			if strings.Contains(got, gone) {
				t.Errorf("exec -u root got %q from the remote user:\n%s", gone, got)
			}
		}
	})

	t.Run("exit status and stdin", func(t *testing.T) {
		m.In = strings.NewReader("from stdin\n")
		out.Reset()
		code, err := m.Exec(ctx, ExecOptions{Workspace: ws.Dir, Cmd: []string{"sh", "-c", "cat; exit 7"}})
		m.In = strings.NewReader("")
		if err != nil || code != 7 || out.String() != "from stdin\n" {
			t.Errorf("exec: code %d, err %v, out %q; want 7, nil, stdin echoed", code, err, out)
		}
	})

	t.Run("container removed while exec runs", func(t *testing.T) {
		box, err := FindBox(ctx, eng, ws)
		if err != nil || box == nil {
			t.Fatalf("find the box: %v", err)
		}
		code, done := execAsync(ctx, m, ExecOptions{Workspace: ws.Dir, Cmd: []string{"sleep", "31"}})
		waitFor(t, func() bool { return hasProcess(ctx, eng, box.Dev.ID, "sleep 31") }, done)
		if _, err := eng.ContainerRemove(ctx, box.Dev.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Fatalf("remove the container: %v", err)
		}
		if err := awaitExec(t, done, 30*time.Second); err == nil || !strings.Contains(err.Error(), "removed while the command ran") {
			t.Errorf("exec while removed: %d, %v", *code, err)
		}
		if _, err := m.Up(ctx, UpOptions{Workspace: ws.Dir}); err != nil {
			t.Fatalf("up again: %v\n%s", err, errOut)
		}
	})

	t.Run("signals are forwarded", func(t *testing.T) {
		// The trap is set, and Exec relays signals, once "trapping" is out.
		var stdout syncBuffer
		m.Out = &stdout
		defer func() { m.Out = out }()
		code, done := execAsync(ctx, m, ExecOptions{Workspace: ws.Dir,
			Cmd: []string{"sh", "-c", `trap 'echo got TERM; exit 5' TERM; echo trapping; sleep 20 & wait`}})
		waitFor(t, func() bool { return strings.Contains(stdout.String(), "trapping\n") }, done)
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err := awaitExec(t, done, 30*time.Second)
		if err != nil || *code != 5 || !strings.Contains(stdout.String(), "got TERM") {
			t.Errorf("SIGTERM to devbox exec: code %d, err %v, out %q; want 5 and the trap's output", *code, err, stdout.String())
		}
	})

	t.Run("reset gives a fresh container", func(t *testing.T) {
		if code, err := m.Exec(ctx, ExecOptions{Workspace: ws.Dir, Cmd: []string{"touch", "/home/dev/scratch"}}); code != 0 || err != nil {
			t.Fatalf("touch: %d, %v", code, err)
		}
		before, _ := FindBox(ctx, eng, ws)
		if _, err := m.Reset(ctx, ResetOptions{Workspace: ws.Dir}); err != nil {
			t.Fatalf("reset: %v", err)
		}
		res, err := m.Up(ctx, UpOptions{Workspace: ws.Dir, Rebuild: true, NoCache: true})
		if err != nil {
			t.Fatalf("up after reset: %v\n%s", err, errOut)
		}
		if res.ContainerID == before.Dev.ID {
			t.Errorf("reset kept container %s", shortID(before.Dev.ID))
		}
		if code, err := m.Exec(ctx, ExecOptions{Workspace: ws.Dir, Cmd: []string{"test", "!", "-e", "/home/dev/scratch"}}); code != 0 || err != nil {
			t.Errorf("the file written before reset survived: %d, %v", code, err)
		}
	})

	t.Run("status stop start down", func(t *testing.T) {
		st := statusOf(t, m, ws)
		if st == nil || st.State != "running" || st.Firewall != "applied" {
			t.Fatalf("status after up: %+v", st)
		}
		if _, err := m.Stop(ctx, StopOptions{Workspace: ws.Dir}); err != nil {
			t.Fatal(err)
		}
		if st := statusOf(t, m, ws); st == nil || st.State != "exited" || st.Firewall != "-" {
			t.Fatalf("status after stop: %+v", st)
		}
		if _, err := m.Exec(ctx, ExecOptions{Workspace: ws.Dir, Cmd: []string{"true"}}); err == nil ||
			!strings.Contains(err.Error(), "devbox start") {
			t.Errorf("exec on a stopped box: %v", err)
		}
		if _, err := m.Start(ctx, StartOptions{Workspace: ws.Dir}); err != nil {
			t.Fatal(err)
		}
		if st := statusOf(t, m, ws); st == nil || st.State != "running" || st.Firewall != "applied" {
			t.Fatalf("status after start: %+v", st)
		}
		for i := 0; i < 2; i++ { // idempotent
			if _, err := m.Down(ctx, DownOptions{Workspace: ws.Dir}); err != nil {
				t.Fatalf("down #%d: %v", i+1, err)
			}
		}
		if st := statusOf(t, m, ws); st != nil {
			t.Errorf("status after down still lists %+v", st)
		}
	})
}

// execAsync runs m.Exec in the background. done gets its error; *code is
// its exit status once done has.
func execAsync(ctx context.Context, m *Manager, opts ExecOptions) (code *int, done <-chan error) {
	code = new(int)
	ch := make(chan error, 1)
	go func() {
		c, err := m.Exec(ctx, opts)
		*code = c
		ch <- err
	}()
	return code, ch
}

// awaitExec waits up to timeout for the error of execAsync.
func awaitExec(t *testing.T, done <-chan error, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		t.Fatalf("exec still runs after %s", timeout)
		return nil
	}
}

// hasProcess says whether a process whose command line contains cmd runs
// in container id.
func hasProcess(ctx context.Context, eng Engine, id, cmd string) bool {
	top, err := eng.(*client.Client).ContainerTop(ctx, id, client.ContainerTopOptions{})
	if err != nil {
		return false
	}
	for _, p := range top.Processes {
		if strings.Contains(strings.Join(p, " "), cmd) {
			return true
		}
	}
	return false
}

func statusOf(t *testing.T, m *Manager, ws Workspace) *BoxStatus {
	t.Helper()
	list, err := m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Workspace == ws.Dir {
			return &s
		}
	}
	return nil
}

// startMarkerContainer runs a container (labelled as a workspace's) whose
// command writes markers like init-firewall would: script runs at each
// start.
func startMarkerContainer(t *testing.T, eng Engine, ws Workspace, script string) string {
	t.Helper()
	ctx := context.Background()
	c, err := eng.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: testImage, Cmd: []string{"sh", "-c", script + "\nexec sleep 600"},
			Labels: map[string]string{LabelLocalFolder: ws.Dir, LabelConfigFile: ws.ConfigFile}},
		HostConfig: &container.HostConfig{NetworkMode: "none",
			Binds: []string{ws.Dir + ":/workspaces/" + filepath.Base(ws.Dir)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}) })
	if _, err := eng.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestIntegrationMarker(t *testing.T) {
	eng := needEngine(t)
	ctx := context.Background()
	m, _, _ := testManager(t, nil)
	m.FirewallTimeout, m.PollInterval = 3*time.Second, 50*time.Millisecond

	t.Run("ready on first start, stale after restart", func(t *testing.T) {
		ws, _ := workspaceAt(t.TempDir())
		id := startMarkerContainer(t, eng, ws, `mkdir -p /run/devbox
if [ ! -e /started-once ]; then touch /started-once; sleep 0.3; echo '{"ok":true}' > /run/devbox/firewall.ready; fi`)
		if _, err := m.waitFirewall(ctx, eng, id); err != nil {
			t.Fatalf("first start: %v", err)
		}
		if _, err := eng.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: ptr(0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := m.waitFirewall(ctx, eng, id)
		if err == nil || !strings.Contains(err.Error(), "never reported") {
			t.Fatalf("after restart the old marker counted: %v", err)
		}
	})

	t.Run("failed marker refuses with its reason", func(t *testing.T) {
		ws, _ := workspaceAt(t.TempDir())
		id := startMarkerContainer(t, eng, ws, `mkdir -p /run/devbox
echo '{"ok":false,"error":"resolve api.example.test: no such host"}' > /run/devbox/firewall.failed`)
		_, err := m.waitFirewall(ctx, eng, id)
		if err == nil || !strings.Contains(err.Error(), "resolve api.example.test: no such host") {
			t.Fatalf("failed marker: %v", err)
		}
	})

	t.Run("exec waits for a late marker", func(t *testing.T) {
		ws, _ := workspaceAt(t.TempDir())
		startMarkerContainer(t, eng, ws, `(sleep 1; mkdir -p /run/devbox; echo '{"ok":true}' > /run/devbox/firewall.ready) &`)
		code, err := m.Exec(ctx, ExecOptions{Workspace: ws.Dir, Cmd: []string{"test", "-e", contract.ReadyMarker}})
		if err != nil || code != 0 {
			t.Fatalf("exec ran before the marker, or failed: %d, %v", code, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// proxy forwards TCP connections on 127.0.0.1 to the engine's unix socket:
// a second endpoint of the local engine. It counts connections.
func proxy(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	sock := strings.TrimPrefix(client.DefaultDockerHost, "unix://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer c.Close()
				u, err := net.Dial("unix", sock)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	return "tcp://" + ln.Addr().String(), &n
}

func TestIntegrationEndpoint(t *testing.T) {
	needEngine(t)
	ctx := context.Background()
	host, conns := proxy(t)

	// A docker config with a context pointing at the proxy.
	cfg := t.TempDir()
	sum := sha256.Sum256([]byte("devbox-loopback"))
	meta := filepath.Join(cfg, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json")
	os.MkdirAll(filepath.Dir(meta), 0o755)
	os.WriteFile(meta, []byte(fmt.Sprintf(`{"Name":"devbox-loopback","Metadata":{},"Endpoints":{"docker":{"Host":%q,"SkipTLSVerify":false}}}`, host)), 0o644)
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"currentContext":"devbox-loopback"}`), 0o644)

	tests := []struct {
		name, source string
		env          map[string]string
	}{
		{"DOCKER_HOST", "DOCKER_HOST", map[string]string{"DOCKER_HOST": host}},
		{"currentContext", `context "devbox-loopback"`, map[string]string{"DOCKER_CONFIG": cfg}},
		{"DOCKER_CONTEXT", `context "devbox-loopback"`, map[string]string{"DOCKER_CONFIG": t.TempDir() + "/none", "DOCKER_CONTEXT": "devbox-loopback"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "DOCKER_CONTEXT" { // the store of cfg, selected by env only
				tt.env["DOCKER_CONFIG"] = cfg
				os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{}`), 0o644)
			}
			getenv := func(k string) string { return tt.env[k] }
			before := conns.Load()
			m, _, _ := testManager(t, getenv)
			list, err := m.Status(ctx)
			if err != nil {
				t.Fatalf("status through %s: %v", tt.name, err)
			}
			_ = list
			if conns.Load() == before {
				t.Errorf("status did not go through the loopback endpoint")
			}
			ep, err := ResolveEndpoint(getenv)
			if err != nil || ep.Host != host || ep.Source != tt.source {
				t.Errorf("endpoint %+v, %v; want %s from %s", ep, err, host, tt.source)
			}
		})
	}

	t.Run("unreachable says where it looked", func(t *testing.T) {
		getenv := func(k string) string { return map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:1"}[k] }
		_, _, err := Connect(ctx, getenv)
		if err == nil || !strings.Contains(err.Error(), "tcp://127.0.0.1:1 (DOCKER_HOST)") || !strings.Contains(err.Error(), "DOCKER_HOST") {
			t.Errorf("unreachable engine: %v", err)
		}
	})
}

func TestIntegrationComposeDown(t *testing.T) {
	eng := needEngine(t).(*client.Client)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "lccompose")
	files := map[string]string{
		"devcontainer.json": `{"dockerComposeFile": "compose.yaml", "service": "dev", "workspaceFolder": "/workspaces/lccompose"}`,
		"compose.yaml": `services:
  dev:
    image: ` + testImage + `
    command: sleep infinity
    network_mode: none
    volumes: ["..:/workspaces/lccompose", "keep:/keep"]
  side:
    image: ` + testImage + `
    command: sleep infinity
    network_mode: none
volumes:
  keep: {}
`,
	}
	for name, content := range files {
		p := filepath.Join(dir, ".devcontainer", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	ws, _ := OpenWorkspace(dir)
	project := "lccompose_devcontainer"
	t.Cleanup(func() {
		res, _ := eng.ContainerList(ctx, client.ContainerListOptions{All: true,
			Filters: make(client.Filters).Add("label", LabelComposeProject+"="+project)})
		for _, c := range res.Items {
			eng.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		}
		eng.VolumeRemove(ctx, project+"_keep", client.VolumeRemoveOptions{Force: true})
	})
	// The CLI brings it up (devbox up would refuse: no firewall feature).
	if out, err := exec.Command("devcontainer", "up", "--workspace-folder", ws.Dir).CombinedOutput(); err != nil {
		t.Fatalf("devcontainer up: %v\n%s", err, out)
	}
	m, _, _ := testManager(t, nil)
	st := statusOf(t, m, ws)
	if st == nil || st.Project != project || len(st.Services) != 1 || st.Firewall != "none" ||
		strings.Join(st.Volumes, ",") != project+"_keep" {
		t.Fatalf("status of the compose box: %+v", st)
	}
	if _, err := m.Down(ctx, DownOptions{Workspace: ws.Dir}); err != nil {
		t.Fatal(err)
	}
	res, _ := eng.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelComposeProject+"="+project)})
	if len(res.Items) != 0 {
		t.Errorf("down left %d containers of the project", len(res.Items))
	}
	if _, err := eng.VolumeInspect(ctx, project+"_keep", client.VolumeInspectOptions{}); err != nil {
		t.Errorf("down without --volumes removed the named volume: %v", err)
	}
	down, err := m.Down(ctx, DownOptions{Workspace: ws.Dir, Volumes: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.VolumeInspect(ctx, project+"_keep", client.VolumeInspectOptions{}); err == nil {
		t.Errorf("down --volumes kept the volume; it removed %+v", down.Removed)
	}
}
