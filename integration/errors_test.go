package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
)

// TestIntegrationErrors checks the messages a user gets when the engine
// cannot be reached (a bad DOCKER_HOST), the Dev Containers CLI is missing
// (PATH without it), the image build fails (its last lines and the full
// log's path) or the folder has no .devcontainer/: each says what is
// wrong and what to do, with exit status 1 (125 for exec, whose own failures
// must not be mistaken for the command's status).
func TestIntegrationErrors(t *testing.T) {
	s := requireSuite(t)
	w := s.newWorkspace(t, "dbit-errors", "--agent", "none")
	broken := s.newWorkspace(t, "dbit-broken", "--agent", "none", "--base-image", images.Bookworm)
	appendToDockerfile(t, broken.dir, "RUN echo dbit-build-broke && false\n")
	broken.trust(t)
	noSocket := "unix://" + filepath.Join(t.TempDir(), "no-engine.sock")
	empty := t.TempDir()
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want []string // every one must be in the output
	}{
		{
			name: "engine unreachable: status",
			env:  []string{"DOCKER_HOST=" + noSocket},
			args: []string{"status"},
			code: 1,
			want: []string{noSocket, "DOCKER_HOST"},
		},
		{
			name: "engine unreachable: up",
			env:  []string{"DOCKER_HOST=" + noSocket},
			args: []string{"up", "-w", w.dir},
			code: 1,
			want: []string{noSocket, "DOCKER_HOST"},
		},
		{
			name: "engine unreachable: exec",
			env:  []string{"DOCKER_HOST=" + noSocket},
			args: []string{"exec", "-w", w.dir, "--", "true"},
			code: 125,
			want: []string{noSocket, "DOCKER_HOST"},
		},
		{
			name: "CLI missing",
			env:  []string{"PATH=" + pathWithout(t, "devcontainer")},
			args: []string{"up", "-w", w.dir},
			code: 1,
			want: []string{"devcontainer", "npm install -g @devcontainers/cli"},
		},
		{
			name: "build fails",
			args: []string{"up", "-w", broken.dir},
			code: 1,
			want: []string{"dbit-build-broke", "full log"},
		},
		{
			name: "no .devcontainer",
			args: []string{"up", "-w", empty},
			code: 1,
			want: []string{empty, "devbox init"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.run(tt.env, tt.args...)
			out := combined(res)
			if code := exitStatus(err); code != tt.code {
				t.Errorf("devbox %s: exit status %d, want %d\n%s", strings.Join(tt.args, " "), code, tt.code, out)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("devbox %s: output does not say %q:\n%s", strings.Join(tt.args, " "), want, out)
				}
			}
		})
	}
}

// pathWithout returns a PATH of one folder holding links to the programs
// devbox may run (docker, compose, git, node), except the one left out.
func pathWithout(t *testing.T, leftOut string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"docker", "docker-compose", "git", "node", "devcontainer"} {
		if name == leftOut {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// appendToDockerfile adds text at the end of the workspace's Dockerfile.
func appendToDockerfile(t *testing.T, dir, text string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, ".devcontainer", "Dockerfile"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationExecContainerRemoved removes the box while `devbox exec`
// runs a command in it: exec ends at once with status 125 and says so.
func TestIntegrationExecContainerRemoved(t *testing.T) {
	s := requireSuite(t)
	w := s.newWorkspace(t, "dbit-removed", "--agent", "none", "--lang", "node@system", "--base-image", images.Bookworm)
	w.mustDevbox(t, "up")
	id := w.devContainer(t)

	var stderr strings.Builder
	cmd := exec.Command(s.devbox, "exec", "-w", w.dir, "--", "sh", "-c", "exec sleep 301")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(docker(t, "top", id), "sleep 301") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the exec'd command did not start within 30s: %s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	docker(t, "rm", "-f", id)
	select {
	case err := <-done:
		if code := exitStatusOf(err); code != 125 {
			t.Errorf("devbox exec exited %d, want 125: %s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "removed while the command ran") {
			t.Errorf("devbox exec does not say the container was removed: %q", stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("devbox exec still runs 30s after its container was removed")
	}
	// The gateway carries no workspace label; down finds it by the project.
	w.mustDevbox(t, "down")
	if left := docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+cliProjectName(w.dir)); left != "" {
		t.Errorf("after devbox down, containers of the box's project remain: %s", left)
	}
}

// exitStatusOf returns the exit status of a finished os/exec command.
func exitStatusOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}
