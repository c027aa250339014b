package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

func upCmd(env Env, m *lifecycle.Manager) *cli.Command     { return upCommand(env, m) }
func execCmd(env Env, m *lifecycle.Manager) *cli.Command   { return execCommand(env, m) }
func shellCmd(env Env, m *lifecycle.Manager) *cli.Command  { return shellCommand(env, m) }
func startCmd(env Env, m *lifecycle.Manager) *cli.Command  { return startCommand(env, m) }
func resetCmd(env Env, m *lifecycle.Manager) *cli.Command  { return resetCommand(env, m) }
func stopCmd(env Env, m *lifecycle.Manager) *cli.Command   { return stopCommand(env, m) }
func downCmd(env Env, m *lifecycle.Manager) *cli.Command   { return downCommand(env, m) }
func statusCmd(env Env, m *lifecycle.Manager) *cli.Command { return statusCommand(env, m) }
func doctorCmd(env Env, m *lifecycle.Manager) *cli.Command { return doctorCommand(env, m) }

func TestUp(t *testing.T) {
	tests := []struct {
		name     string
		firewall bool
		setup    func(w *world)
		args     []string
	}{
		{name: "up-created", firewall: true},
		{name: "up-json", firewall: true, args: []string{"--json"}},
		{name: "up-no-firewall-feature"},
		{name: "up-no-devcontainer", firewall: true, args: []string{"-w", "/nonexistent/ws"}},
		{name: "up-engine-unreachable", firewall: true, setup: func(w *world) { w.unreachable = true }},
		{name: "up-cli-missing", firewall: true, setup: func(w *world) {
			w.runner.up = func() (runner.Result, error) {
				return runner.Result{}, &runner.RunError{Command: "devcontainer up", ExitCode: -1, Err: fmt.Errorf("exec: %w", exec.ErrNotFound)}
			}
		}},
		{name: "up-build-fails", firewall: true, setup: func(w *world) {
			w.runner.up = func() (runner.Result, error) {
				out := `{"outcome":"error","message":"Command failed: docker build","description":"An error occurred building the image."}`
				return runner.Result{Stdout: []byte(out)}, &runner.RunError{Command: "devcontainer up", ExitCode: 1, Err: errors.New("exit status 1")}
			}
		}},
		{name: "up-firewall-failed", firewall: true, setup: func(w *world) {
			delete(w.markers, contract.ReadyMarker)
			w.markers[contract.FailedMarker] = started.Add(2 * time.Second)
			w.failReason = "resolve api.anthropic.com: no such host"
		}},
		{name: "up-firewall-never-reported", firewall: true, setup: func(w *world) {
			w.markers[contract.ReadyMarker] = started.Add(-time.Hour) // from an earlier start
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.firewall)
			w.boxes = nil // no container before up
			w.eng.ContainerListFunc = func(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
				return client.ContainerListResult{}, nil
			}
			w.boxes = []container.Summary{w.summary(boxID, "/quirky_box")} // what devcontainer up made
			if tt.setup != nil {
				tt.setup(w)
			}
			args := append([]string{"up", "-w", w.ws}, tt.args...)
			if slices.Contains(tt.args, "-w") {
				args = append([]string{"up"}, tt.args...)
			}
			code := w.run(upCmd, args...)
			w.golden(tt.name, code)
		})
	}
}

func TestUpFastPathAndChange(t *testing.T) {
	w := newWorld(t, true)
	if code := w.run(upCmd, "up", "-w", w.ws); code != 0 {
		t.Fatalf("first up: exit %d: %s", code, w.err.String())
	}
	calls := len(w.runner.calls)
	w.out.Reset()
	w.err.Reset()
	code := w.run(upCmd, "up", "-w", w.ws)
	if len(w.runner.calls) != calls {
		t.Errorf("fast path ran %v", w.runner.calls[calls:])
	}
	w.golden("up-fast-path", code)

	// Same content, new mtime: still unchanged.
	writeFile(t, filepath.Join(w.ws, ".devcontainer", "devcontainer.json"),
		"{\n  // a comment\n  \"image\": \"devbox-test/debian:bookworm\", \"features\": {\"./devbox-firewall\": {}},\n  \"remoteUser\": \"dev\"\n}\n")
	w.out.Reset()
	w.err.Reset()
	if code := w.run(upCmd, "up", "-w", w.ws); code != 0 || strings.Contains(w.err.String(), "changed") {
		t.Errorf("touched config reported as changed: %s", w.err.String())
	}

	writeFile(t, filepath.Join(w.ws, ".devcontainer", "firewall.jsonc"), `{"domains": ["example.org"]}`)
	w.out.Reset()
	w.err.Reset()
	if code := w.run(upCmd, "up", "-w", w.ws); code != 1 || !strings.Contains(w.err.String(), "changed since it was trusted: .devcontainer/firewall.jsonc") {
		t.Errorf("up of a changed, untrusted configuration: exit %d, stderr %q", code, w.err.String())
	}
	w.trust()
	w.out.Reset()
	w.err.Reset()
	code = w.run(upCmd, "up", "-w", w.ws)
	w.golden("up-config-changed", code)

	// A stopped box is started by the CLI as it was made: still changed.
	w.running = false
	w.runner.up = func() (runner.Result, error) {
		w.running = true
		return runner.Result{Stdout: []byte(`{"outcome":"success","containerId":"` + boxID + `","remoteUser":"dev","remoteWorkspaceFolder":"/workspaces/ws"}`)}, nil
	}
	w.out.Reset()
	w.err.Reset()
	if code := w.run(upCmd, "up", "-w", w.ws); code != 0 || !strings.Contains(w.err.String(), "changed since container") {
		t.Errorf("up of a stopped, changed box: exit %d, stderr %q", code, w.err.String())
	}

	w.out.Reset()
	w.err.Reset()
	w.run(upCmd, "up", "-w", w.ws, "--rebuild")
	if last := w.runner.calls[len(w.runner.calls)-1]; !strings.Contains(last, "--remove-existing-container") {
		t.Errorf("--rebuild ran %q", last)
	}
}

func TestExec(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
		args  []string
	}{
		{name: "exec-status-passed-through", setup: func(w *world) { w.execOut, w.execCode = "hello\n", 7 }, args: []string{"--", "sh", "-c", "echo hello; exit 7"}},
		{name: "exec-no-command"},
		{name: "exec-stopped", setup: func(w *world) { w.running = false }, args: []string{"--", "true"}},
		{name: "exec-no-box", setup: func(w *world) { w.boxes = nil }, args: []string{"--", "true"}},
		{name: "exec-firewall-failed", setup: func(w *world) {
			delete(w.markers, contract.ReadyMarker)
			w.markers[contract.FailedMarker] = started.Add(time.Second)
			w.failReason = "verify: https://example.com was reachable" // parsed only, never dialed
		}, args: []string{"--", "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, true)
			if tt.setup != nil {
				tt.setup(w)
			}
			code := w.run(execCmd, append([]string{"exec", "-w", w.ws}, tt.args...)...)
			w.golden(tt.name, code)
		})
	}
}

func TestExecRunsAsRemoteUserInWorkspace(t *testing.T) {
	w := newWorld(t, true)
	if code := w.run(execCmd, "exec", "-w", w.ws, "--", "env"); code != 0 {
		t.Fatalf("exit %d: %s", code, w.err.String())
	}
	got := w.lastExec
	if got.User != "dev" || got.WorkingDir != "/workspaces/ws" {
		t.Errorf("user %q, dir %q; want dev, /workspaces/ws", got.User, got.WorkingDir)
	}
	env := strings.Join(got.Env, " ")
	for _, want := range []string{"HOME=/home/dev", "PATH=/home/dev/bin:/usr/bin:/bin", "EDITOR=vi"} {
		if !strings.Contains(env, want) {
			t.Errorf("env %q lacks %s", env, want)
		}
	}
	if strings.Contains(env, "PWD=") {
		t.Errorf("env %q keeps the probe's PWD", env)
	}
	w.run(shellCmd, "shell", "-w", w.ws)
	if cmd := strings.Join(w.lastExec.Cmd, " "); cmd != "/bin/bash -l" {
		t.Errorf("shell ran %q", cmd)
	}
}

// TestExecAsOtherUserTakesNothingFromTheAgent: `exec -u root` runs with the
// container's own environment and a fixed PATH, none of what the remote
// user's login shell (which the agent writes) or remoteEnv set.
func TestExecAsOtherUserTakesNothingFromTheAgent(t *testing.T) {
	w := newWorld(t, true)
	if code := w.run(execCmd, "exec", "-w", w.ws, "-u", "root", "--", "env"); code != 0 {
		t.Fatalf("exit %d: %s", code, w.err.String())
	}
	got := w.lastExec
	if got.User != "root" {
		t.Errorf("user %q, want root", got.User)
	}
	var env []string
	for _, kv := range got.Env {
		if !strings.HasPrefix(kv, "DEVBOX_EXEC_ID=") {
			env = append(env, kv)
		}
	}
	if want := []string{"PATH=" + lifecycle.OtherUserPATH}; !slices.Equal(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
}

func TestStatus(t *testing.T) {
	for _, json := range []bool{false, true} {
		w := newWorld(t, true)
		w.boxes[0].Labels[lifecycle.LabelLocalFolder] = "/home/me/project" // stable column widths
		stopped := w.summary("dead00000000beef", "/old_box")
		stopped.Labels[lifecycle.LabelLocalFolder] = "/home/me/other"
		stopped.State = container.StateExited
		w.boxes = append(w.boxes, stopped)
		list := w.eng.ContainerListFunc
		w.eng.ContainerListFunc = func(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
			res, err := list(ctx, o)
			res.Items[1].State = container.StateExited
			return res, err
		}
		w.statusGolden("status", json)
	}
}

// statusGolden runs `status`, or `ls --json` into NAME-json.golden.
func (w *world) statusGolden(name string, asJSON bool) {
	w.t.Helper()
	args := []string{"status"}
	if asJSON {
		args, name = []string{"ls", "--json"}, name+"-json"
	}
	w.golden(name, w.run(statusCmd, args...))
}

func TestDownTwice(t *testing.T) {
	w := newWorld(t, true)
	code := w.run(downCmd, "down", "-w", w.ws, "--volumes")
	w.boxes = nil
	code2 := w.run(downCmd, "down", "-w", w.ws)
	if code != 0 || code2 != 0 {
		t.Fatalf("down: exit %d then %d: %s", code, code2, w.err.String())
	}
	w.golden("down-twice", 0)
}

func TestStopStart(t *testing.T) {
	w := newWorld(t, true)
	w.eng.ContainerStopFunc = func(context.Context, string, client.ContainerStopOptions) (client.ContainerStopResult, error) {
		w.running = false
		return client.ContainerStopResult{}, nil
	}
	w.eng.ContainerStartFunc = func(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error) {
		w.running = true
		return client.ContainerStartResult{}, nil
	}
	c1 := w.run(stopCmd, "stop", "-w", w.ws)
	c2 := w.run(startCmd, "start", "-w", w.ws)
	if c1 != 0 || c2 != 0 {
		t.Fatalf("stop/start: exit %d, %d: %s", c1, c2, w.err.String())
	}
	w.golden("stop-start", 0)
}

// TestStartUntrusted: the gateway reads firewall.jsonc at every start, so
// start refuses a configuration changed since it was trusted (a checkout
// of the agent's commit) before it starts anything.
func TestStartUntrusted(t *testing.T) {
	w := newWorld(t, true)
	w.running = false
	started := false
	w.eng.ContainerStartFunc = func(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error) {
		started = true
		return client.ContainerStartResult{}, nil
	}
	writeFile(t, filepath.Join(w.ws, ".devcontainer", "firewall.jsonc"), `{"cidrs": ["0.0.0.0/0"]}`)
	if code := w.run(startCmd, "start", "-w", w.ws); code == 0 || started || !strings.Contains(w.err.String(), "devbox trust -w "+w.ws) {
		t.Errorf("start of an untrusted configuration: exit %d, started %v, stderr %q", code, started, w.err.String())
	}
}

func TestResetNeedsYesOffTerminal(t *testing.T) {
	w := newWorld(t, true)
	code := w.run(resetCmd, "reset", "-w", w.ws)
	w.golden("reset-no-yes", code)
}

func TestDoctor(t *testing.T) {
	w := newWorld(t, true)
	w.eng.ServerVersionFunc = func(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
		return client.ServerVersionResult{Version: "20.10.24", APIVersion: "1.41"}, nil
	}
	w.eng.ContainerCreateFunc = func(context.Context, client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
		return client.ContainerCreateResult{}, cerrdefs.ErrNotFound.WithMessage("No such image: nope:latest")
	}
	code := w.run(doctorCmd, "doctor", "-w", w.ws, "--image", "nope")
	w.golden("doctor", code)
}

func TestResetYes(t *testing.T) {
	w := newWorld(t, true)
	var removedImages []string
	w.eng.ImageRemoveFunc = func(_ context.Context, img string, _ client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
		if img == "vsc-ws-0123" {
			return client.ImageRemoveResult{}, cerrdefs.ErrNotFound
		}
		removedImages = append(removedImages, img)
		return client.ImageRemoveResult{}, nil
	}
	code := w.run(resetCmd, "reset", "-w", w.ws, "--yes")
	if last := w.runner.calls[len(w.runner.calls)-1]; !strings.Contains(last, "--remove-existing-container --build-no-cache") {
		t.Errorf("reset ran %q", last)
	}
	if strings.Join(removedImages, " ") != "vsc-ws-0123-features" {
		t.Errorf("removed images %q", removedImages)
	}
	w.golden("reset-yes", code)
}

// TestPlantedWorkspaceRefused: what the box can write in the workspace and
// the host would act on when a box is made or started is refused, naming
// the file, before anything runs.
func TestPlantedWorkspaceRefused(t *testing.T) {
	for _, tt := range []struct {
		name  string
		plant func(t *testing.T, ws string)
		cmd   func(Env, *lifecycle.Manager) *cli.Command
		args  []string
		want  string
	}{
		{"up with COMPOSE_PROJECT_NAME in .env", func(t *testing.T, ws string) {
			writeFile(t, filepath.Join(ws, ".env"), "API=1\nCOMPOSE_PROJECT_NAME=another-box\n")
		}, upCmd, []string{"up"}, ".env:2: COMPOSE_PROJECT_NAME: a COMPOSE_* setting"},
		{"up with .git/config a symlink", func(t *testing.T, ws string) {
			plantSymlink(t, "/etc/shadow", filepath.Join(ws, ".git", "config"))
		}, upCmd, []string{"up"}, `.git/config: is a symlink (to "/etc/shadow")`},
		{"start with .git/hooks a symlink", func(t *testing.T, ws string) {
			plantSymlink(t, "/root/.ssh", filepath.Join(ws, ".git", "hooks"))
		}, startCmd, []string{"start"}, `.git/hooks: is a symlink (to "/root/.ssh")`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, true)
			started := false
			w.eng.ContainerStartFunc = func(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error) {
				started = true
				return client.ContainerStartResult{}, nil
			}
			tt.plant(t, w.ws)
			code := w.run(tt.cmd, append(tt.args, "-w", w.ws)...)
			if code != 1 || !strings.Contains(w.err.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", code, w.err.String(), tt.want)
			}
			if len(w.runner.calls) > 0 || started {
				t.Errorf("ran %v (container started: %v) before refusing", w.runner.calls, started)
			}
		})
	}
}

func plantSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestPlantedForHostGit: what the box plants for host git is refused by
// exec and shell before anything runs in the box, and by stop and down after
// they have done their work, naming the file.
func TestPlantedForHostGit(t *testing.T) {
	for _, tt := range []struct {
		name string
		cmd  func(Env, *lifecycle.Manager) *cli.Command
		args []string
		code int                 // exec and shell exit 125 on devbox's own errors, as docker exec does
		ran  func(w *world) bool // whether the command did its work
	}{
		{"exec", execCmd, []string{"exec", "--", "true"}, 125, func(w *world) bool { return w.attached }},
		{"shell", shellCmd, []string{"shell"}, 125, func(w *world) bool { return w.attached }},
		{"stop", stopCmd, []string{"stop"}, 1, func(w *world) bool { return !w.isRunning(boxID) }},
		{"down", downCmd, []string{"down"}, 1, func(w *world) bool { return strings.Contains(w.out.String(), "removed container") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, true)
			attach := w.eng.ExecAttachFunc
			w.eng.ExecAttachFunc = func(ctx context.Context, id string, o client.ExecAttachOptions) (client.ExecAttachResult, error) {
				w.attached = w.attached || id != "probe" // attaching starts the exec
				return attach(ctx, id, o)
			}
			writeFile(t, filepath.Join(w.ws, ".git", "HEAD"), "ref: refs/heads/main\n")
			writeFile(t, filepath.Join(w.ws, ".git", "commondir"), "../.evil\n")
			code := w.run(tt.cmd, append(tt.args[:1], append([]string{"-w", w.ws}, tt.args[1:]...)...)...)
			want := filepath.Join(w.ws, ".git", "commondir") + ": makes host git read its config"
			if code != tt.code || !strings.Contains(w.err.String(), want) || !strings.Contains(w.err.String(), "cat -v") {
				t.Fatalf("exit %d, stderr %q; want %d and %q with the command to inspect it", code, w.err.String(), tt.code, want)
			}
			if ran := tt.ran(w); ran != (tt.name == "stop" || tt.name == "down") {
				t.Errorf("%s did its work: %v", tt.name, ran)
			}
		})
	}
}
