package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// volumeKind is the one box of the volume workspace checks: the box's own
// clone in a named volume, and sudo for its user.
var volumeKind = boxKind{
	name:   "volume",
	init:   []string{"--agent", "none", "--lang", "python@system", "--workspace", "volume", "--sudo"},
	volume: true,
}

// plantedMarker is what every command the agent plants touches; it must
// never appear on the host.
const plantedMarker = "/tmp/dbit-volume-planted-ran"

// TestIntegrationVolume runs the volume workspace (issue 12) on one box
// made by `devbox init --workspace volume --sudo`: the clone on first
// start, nothing of the host writable from dev, sudo, the root red team,
// a hostile agent's work brought back by `devbox pull` with nothing of it
// running on the host, push, uncommitted work surviving stop, start and
// `up --rebuild`, and reset and down refusing to delete it unasked.
func TestIntegrationVolume(t *testing.T) {
	s := requireSuite(t)
	if err := os.Remove(plantedMarker); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	w := s.newWorkspace(t, "dbit-"+volumeKind.name, append(volumeKind.init, "--base-image", images.Bookworm)...)
	writeHostFile(t, w.dir, "README", "from the host\n")
	gitHost(t, w.dir, "add", "-A")
	gitHost(t, w.dir, "commit", "-qm", "host: first")
	branch := gitHost(t, w.dir, "symbolic-ref", "--short", "HEAD")
	ws := "/workspaces/dbit-" + volumeKind.name
	steps := []struct {
		name     string
		run      func(t *testing.T)
		required bool
	}{
		{"up clones the host's repository", func(t *testing.T) {
			start := time.Now()
			w.mustDevbox(t, "up")
			t.Logf("up (build, clone, firewall) took %s", time.Since(start).Round(time.Second))
			if got := w.mustExec(t, "git", "log", "--format=%s"); got != "host: first" {
				t.Errorf("the box's clone has %q, want the host's commit", got)
			}
			if got := w.mustExec(t, "git", "status", "--porcelain"); got != "" {
				t.Errorf("the fresh clone is not clean: %s", got)
			}
			if got := w.mustExec(t, "stat", "-c", "%U", ws+"/README"); got != "dev" {
				t.Errorf("the clone belongs to %q, want dev", got)
			}
		}, true},
		{"nothing of the host is writable", func(t *testing.T) {
			mounts := docker(t, "inspect", "--format", `{{range .Mounts}}{{.Type}} {{.RW}} {{.Destination}}{{"\n"}}{{end}}`, w.devContainer(t))
			for _, m := range strings.Split(strings.TrimSpace(mounts), "\n") {
				if strings.HasPrefix(m, "bind true ") {
					t.Errorf("dev mounts a host path writable: %s", m)
				}
			}
			if !strings.Contains(mounts, "volume true "+ws) {
				t.Errorf("the workspace is not a volume:\n%s", mounts)
			}
			if out, code := w.exec("ls", contract.WorkspaceSourceDir); code == 0 {
				t.Errorf("the agent's user reads the clone's source: %s", out)
			}
			if out, code := w.exec("sudo", "-n", "touch", contract.WorkspaceSource+"/dbit-planted"); code == 0 {
				t.Errorf("root in dev wrote into the host's .git: %s", out)
			}
			if _, err := os.Stat(filepath.Join(w.dir, ".git", "dbit-planted")); err == nil {
				t.Error("the host's .git holds a file root in dev wrote")
			}
		}, false},
		{"sudo", func(t *testing.T) {
			if got := w.mustExec(t, "sudo", "-n", "id", "-u"); got != "0" {
				t.Errorf("sudo -n id -u = %q, want 0", got)
			}
			// Root by sudo is root by exec (the red team's): no network
			// capability, no way to change the namespace.
			caps := w.mustExec(t, "sudo", "-n", "grep", "^CapEff:", "/proc/self/status")
			n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(caps, "CapEff:")), 16, 64)
			if err != nil {
				t.Fatalf("parse %q: %v", caps, err)
			}
			for name, bit := range map[string]uint{"NET_ADMIN": 12, "NET_RAW": 13, "MKNOD": 27, "SYS_ADMIN": 21} {
				if n&(1<<bit) != 0 {
					t.Errorf("root by sudo holds CAP_%s (CapEff %x)", name, n)
				}
			}
			if out, code := w.exec("sudo", "-n", "ip", "link", "set", "lo", "down"); code == 0 {
				t.Errorf("root by sudo changed the namespace: %s", out)
			}
		}, false},
		{"red team", func(t *testing.T) { testRedTeam(t, w, volumeKind) }, false},
		{"hostile work comes back by pull alone", func(t *testing.T) { testHostilePull(t, w, ws, branch) }, false},
		{"push", func(t *testing.T) {
			writeHostFile(t, w.dir, "host2.txt", "more\n")
			gitHost(t, w.dir, "add", "host2.txt")
			gitHost(t, w.dir, "commit", "-qm", "host: second")
			w.mustDevbox(t, "push")
			if got := w.mustExec(t, "git", "log", "-1", "--format=%s", "host/"+branch); got != "host: second" {
				t.Errorf("host/%s in the box is at %q, want the host's new commit", branch, got)
			}
		}, false},
		{"uncommitted work survives stop, start and up --rebuild", func(t *testing.T) {
			w.mustExec(t, "sh", "-c", "echo wip > wip.txt")
			w.mustDevbox(t, "stop")
			w.mustDevbox(t, "start")
			if got := w.mustExec(t, "cat", "wip.txt"); got != "wip" {
				t.Errorf("after stop and start: %q", got)
			}
			before := w.devContainer(t)
			start := time.Now()
			w.mustDevbox(t, "up", "--rebuild")
			t.Logf("up --rebuild took %s", time.Since(start).Round(time.Second))
			if w.devContainer(t) == before {
				t.Error("up --rebuild kept the container")
			}
			if got := w.mustExec(t, "cat", "wip.txt"); got != "wip" {
				t.Errorf("after up --rebuild: %q", got)
			}
		}, false},
		{"reset and down refuse to delete the work unasked", func(t *testing.T) {
			w.mustExec(t, "sh", "-c", "git add wip.txt && git -c user.name=a -c user.email=a@b commit -qm unpulled")
			w.mustExec(t, "sh", "-c", "git add -A && git -c user.name=a -c user.email=a@b commit -qm all && echo more > wip2.txt")
			for _, args := range [][]string{{"reset", "--yes"}, {"down", "--volumes"}} {
				res, err := w.devbox(args[0], args[1:]...)
				out := combined(res)
				if err == nil {
					t.Fatalf("devbox %s deleted the box's work unasked:\n%s", strings.Join(args, " "), out)
				}
				for _, want := range []string{contract.WorkspaceVolume, "not pulled (" + branch + ")", "1 uncommitted path", "--discard-work"} {
					if !strings.Contains(out, want) {
						t.Errorf("devbox %s: %q not in:\n%s", strings.Join(args, " "), want, out)
					}
				}
			}
			if got := w.mustExec(t, "cat", "wip2.txt"); got != "more" {
				t.Errorf("the work is gone after the refusals: %q", got)
			}
			w.mustDevbox(t, "down", "--volumes", "--discard-work")
			if out := docker(t, "volume", "ls", "-q", "--filter", "name="+contract.WorkspaceVolume); strings.Contains(out, "dbit-volume") {
				t.Errorf("down --volumes --discard-work left the workspace volume: %s", out)
			}
		}, false},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.run) && step.required {
			return
		}
	}
	if _, err := os.Stat(plantedMarker); err == nil {
		t.Error("something the agent planted ran on the host")
	}
}

// testHostilePull: the agent commits, plants git config, hooks and an
// ext:: submodule in its clone, and leaves uncommitted work; `devbox pull`
// brings its commits under refs/devbox/ only, and neither the pull nor
// the host's git afterwards (status, log, diff, a checkout) runs anything
// it planted or changes the host's config, hooks or branches.
func testHostilePull(t *testing.T, w *workspace, ws, branch string) {
	plant := `set -eu
git config core.fsmonitor 'sh -c "touch ` + plantedMarker + `" -'
git config core.hooksPath /tmp/dbit-hooks
git config diff.external 'sh -c "touch ` + plantedMarker + `" -'
mkdir -p /tmp/dbit-hooks .git/hooks
for h in post-checkout reference-transaction pre-commit post-merge; do
  printf '#!/bin/sh\ntouch ` + plantedMarker + `\n' > "/tmp/dbit-hooks/$h"; cp "/tmp/dbit-hooks/$h" ".git/hooks/$h"
  chmod +x "/tmp/dbit-hooks/$h" ".git/hooks/$h"
done
printf '[submodule "sub"]\n\tpath = sub\n\turl = ext::sh -c touch%% ` + plantedMarker + `\n' > .gitmodules
git update-index --add --cacheinfo "160000,$(git rev-parse HEAD),sub"
mkdir -p .vscode && echo '{"tasks": []}' > .vscode/tasks.json
echo 'package feature' > feature.go
git add .gitmodules .vscode feature.go
git -c core.hooksPath=/dev/null -c user.name=agent -c user.email=agent@box commit -qm "$(printf 'agent: feature \033]0;pwned\007')"
git branch agent-work
echo changed >> README
echo new > untracked.txt
`
	w.mustExec(t, "sh", "-c", plant)
	before := hostGitState(t, w.dir)

	start := time.Now()
	out := w.mustDevbox(t, "pull")
	t.Logf("pull took %s and printed:\n%s", time.Since(start).Round(time.Millisecond), out)
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("pull printed an escape from the box:\n%q", out)
	}
	for _, want := range []string{`\x1b]0;pwned\x07`, ".gitmodules", ".vscode/tasks.json", "LOOK", "A sub (refs/devbox/head)    <- LOOK: a submodule commit"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull's report lacks %q:\n%s", want, out)
		}
	}
	if got := gitHost(t, w.dir, "log", "-1", "--format=%s", "refs/devbox/heads/"+branch); !strings.HasPrefix(got, "agent: feature") {
		t.Errorf("refs/devbox/heads/%s is at %q, want the agent's commit", branch, got)
	}
	if got := gitHost(t, w.dir, "show", "refs/devbox/worktree:README"); !strings.Contains(got, "changed") {
		t.Errorf("refs/devbox/worktree lacks the uncommitted change: %q", got)
	}
	diff := w.mustDevbox(t, "diff")
	if strings.ContainsRune(diff, 0x1b) || !strings.Contains(diff, "+changed") || !strings.Contains(diff, "untracked.txt") {
		t.Errorf("devbox diff: escapes, or the uncommitted work missing:\n%s", diff)
	}

	// The host runs git over what came back, checkout included.
	checkout := filepath.Join(t.TempDir(), "checkout")
	gitHost(t, w.dir, "status")
	gitHost(t, w.dir, "log", "--all", "-p")
	gitHost(t, w.dir, "diff", "HEAD", "refs/devbox/worktree")
	gitHost(t, w.dir, "worktree", "add", "-q", "--detach", checkout, "refs/devbox/head")
	gitHost(t, checkout, "status")
	gitHost(t, w.dir, "worktree", "remove", "--force", checkout)
	if _, err := os.Stat(plantedMarker); err == nil {
		t.Error("something the agent planted ran on the host")
	}
	if after := hostGitState(t, w.dir); after != before {
		t.Errorf("the host's config, hooks or branches changed:\nbefore %s\nafter  %s", before, after)
	}

	res, err := w.devbox("pull", "--branch", branch)
	if err == nil || !strings.Contains(combined(res), "checked out") {
		t.Errorf("pull --branch onto the checked-out branch: %v\n%s", err, combined(res))
	}
	w.mustDevbox(t, "pull", "--branch", "agent-work")
	if got := gitHost(t, w.dir, "log", "-1", "--format=%s", "agent-work"); !strings.HasPrefix(got, "agent: feature") {
		t.Errorf("pull --branch agent-work made %q, want the agent's commit", got)
	}
}

// hostGitState is what a box must not change in the host's repository:
// its config, its hooks and its branches.
func hostGitState(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	config, err := os.ReadFile(filepath.Join(dir, ".git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	h.Write(config)
	hooks, _ := os.ReadDir(filepath.Join(dir, ".git", "hooks"))
	for _, e := range hooks {
		h.Write([]byte(e.Name() + "\n"))
	}
	h.Write([]byte(gitHost(t, dir, "for-each-ref", "refs/heads", "refs/tags", "refs/remotes")))
	return hex.EncodeToString(h.Sum(nil))
}

// gitHost runs git on the host for the test, with a fixed identity.
func gitHost(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=host", "GIT_AUTHOR_EMAIL=host@example.com", "GIT_COMMITTER_NAME=host", "GIT_COMMITTER_EMAIL=host@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeHostFile(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
