package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationErrors checks the messages a user gets when the engine
// cannot be reached (a bad DOCKER_HOST), the Dev Containers CLI is missing
// (PATH without it) or the folder has no .devcontainer/: each says what is
// wrong and what to do, with exit status 1 (125 for exec, whose own failures
// must not be mistaken for the command's status).
func TestIntegrationErrors(t *testing.T) {
	s := requireSuite(t)
	w := s.newWorkspace(t, "dbit-errors", "--agent", "none")
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
