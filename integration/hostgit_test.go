package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostRoute is a way for the agent to make host git or VS Code run a program
// of its own: planted from the box as root, by a script whose payload would
// make the marker file $M on the host.
type hostRoute struct {
	name string
	// user runs first on the host, in $ws, as the user would (husky
	// setting core.hooksPath); "" for none.
	user string
	// plant runs as root in the box with $ws the workspace there; its
	// commands are joined with && unless each must fail.
	plant []string
	// refused is the workspace path that the next `devbox exec` must name;
	// "" means every plant command must fail (the route is closed).
	refused string
	// undo removes the plant on the host, as the user does after the
	// refusal.
	undo string
	// trigger is what makes host git run the payload (beyond git status
	// and git log), run in $ws on the host.
	trigger string
}

var hostRoutes = []hostRoute{
	{
		name: "commondir",
		plant: []string{`cd "$ws" && rm -rf .evil && mkdir .evil && cp -a .git/. .evil/ && rm -f .evil/commondir` +
			` && printf '[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfsmonitor = touch %s\n' "$M" > .evil/config && echo ../.evil > .git/commondir`},
		refused: ".git/commondir",
		undo:    `rm -rf "$ws/.evil" "$ws/.git/commondir"`,
	},
	{
		name: "submodule config and gitlink",
		plant: []string{`cd "$ws" && mkdir -p .git/modules/evil && cp -a .git/objects .git/refs .git/HEAD .git/modules/evil/` +
			` && printf '[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ../../../evil\n\tfsmonitor = touch %s\n' "$M" > .git/modules/evil/config` +
			` && mkdir -p evil && echo 'gitdir: ../.git/modules/evil' > evil/.git` +
			` && git -c safe.directory='*' update-index --add --cacheinfo "160000,$(git -c safe.directory='*' rev-parse HEAD),evil"` +
			` && printf '[submodule "evil"]\n\tpath = evil\n\turl = ./evil\n' > .gitmodules`},
		refused: ".git/modules/evil/config",
		undo:    `cd "$ws" && rm -rf evil .gitmodules .git/modules && git update-index --force-remove evil`,
	},
	{
		name: "alternates",
		plant: []string{`echo /tmp/evil/objects > "$ws/.git/objects/info/alternates"`, `rm -rf "$ws/.git/objects/info"`, `mv "$ws/.git/objects/info" "$ws/.git/objects/info-old"`,
			// The folder above: renaming it would carry the read-only
			// mount along and leave the path free.
			`mv "$ws/.git/objects" "$ws/.git/objects-old"`},
	},
	{
		name: "nested repository with core.fsmonitor",
		plant: []string{`mkdir -p "$ws/vendor/x" && cd "$ws/vendor/x" && git init -q && git -c safe.directory='*' config core.fsmonitor "touch $M"` +
			` && chmod -R a+rwX "$ws/vendor"`},
		refused: "vendor/x/.git",
		undo:    `rm -rf "$ws/vendor"`,
		trigger: `git -C vendor/x status`,
	},
	{
		name:    "core.hooksPath in the work tree",
		user:    `git config core.hooksPath .husky/_ && mkdir -p .husky/_ && chmod 0777 .husky/_`,
		plant:   []string{`printf '#!/bin/sh\ntouch %s\n' "$M" > "$ws/.husky/_/pre-commit" && chmod +x "$ws/.husky/_/pre-commit"`},
		refused: ".git/config",
		undo:    `git config --unset core.hooksPath && rm -rf .husky`,
		trigger: `git commit -q --allow-empty -m x`,
	},
	{
		name: ".vscode write",
		plant: []string{`echo '{"git.path": "/tmp/evil"}' > "$ws/.vscode/settings.json"`, `mkdir "$ws/.vscode/x"`,
			`mv "$ws/.vscode" "$ws/.vscode-old"`, `rm -rf "$ws/.vscode"`},
	},
	{
		name: "tasks.json folderOpen",
		plant: []string{`printf '{"version": "2.0.0", "tasks": [{"label": "x", "type": "shell", "command": "touch %s", "runOptions": {"runOn": "folderOpen"}}]}' "$M"` +
			` > "$ws/.vscode/tasks.json"`},
	},
}

// testHostGit: each route by which the agent could make host git or VS Code
// run its program is either closed (every write fails, even as root in dev)
// or refused by the next `devbox exec`, naming the path. Host git then runs in
// the workspace and the marker stays absent. A control plants the same on
// the host, in a scratch repository, to show each payload does make the
// marker with this git, so that its absence means something.
func testHostGit(t *testing.T, w *workspace) {
	box := "/workspaces/" + filepath.Base(w.dir)
	// The agent is already in the box: it plants with a process there, not
	// through a devbox exec that checks first.
	dev := w.devContainer(t)
	asRoot := func(argv ...string) (string, int) {
		out, err := exec.Command("docker", append([]string{"exec", "-u", "root", dev}, argv...)...).CombinedOutput()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return string(out), ee.ExitCode()
			}
			return string(out) + err.Error(), -1
		}
		return string(out), 0
	}
	marks := t.TempDir()
	hostGit(t, w.dir, `git add -A .devcontainer && git commit -q --allow-empty -m "devbox red team"`)
	for _, r := range hostRoutes {
		t.Run(r.name, func(t *testing.T) {
			marker := filepath.Join(marks, strings.ReplaceAll(r.name, " ", "-"))
			vars := "ws=" + shQuote(box) + "; M=" + shQuote(marker) + "; "
			if r.refused != "" {
				t.Run("control: the payload runs with host git", func(t *testing.T) {
					control := filepath.Join(t.TempDir(), "ws")
					hostGit(t, filepath.Dir(control), "git init -q ws && cd ws && git commit -q --allow-empty -m init")
					if r.user != "" {
						hostGit(t, control, r.user)
					}
					for _, p := range r.plant {
						hostGit(t, control, "M="+shQuote(marker+"-control")+"; "+p)
					}
					runHostGit(control, "git status; git log --oneline; "+r.trigger)
					if _, err := os.Stat(marker + "-control"); err != nil {
						t.Fatalf("the payload did not run with host git, so the route proves nothing: %v", err)
					}
				})
			}
			undone := false
			defer func() {
				if !undone && r.undo != "" {
					runHostGit(w.dir, r.undo)
				}
			}()
			if r.user != "" {
				hostGit(t, w.dir, r.user)
			}
			if r.refused == "" {
				for _, p := range r.plant {
					if out, code := asRoot("sh", "-c", vars+p); code == 0 {
						t.Errorf("root in dev: %s succeeded: %s", p, out)
					}
				}
			} else {
				if out, code := asRoot("sh", "-c", vars+strings.Join(r.plant, " && ")); code != 0 {
					t.Fatalf("plant (root in dev): exit %d: %s", code, out)
				}
				out, code := w.exec("true")
				if code == 0 || !strings.Contains(out, filepath.Join(w.dir, r.refused)) {
					t.Errorf("devbox exec after the plant: exit %d, want a refusal naming %s:\n%s", code, filepath.Join(w.dir, r.refused), out)
				}
				undone = true
				hostGit(t, w.dir, r.undo)
			}
			runHostGit(w.dir, "git status; git log --oneline; "+r.trigger)
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("host git ran the agent's payload: %s exists", marker)
			}
			if out, code := w.exec("true"); code != 0 {
				t.Errorf("devbox exec after the route was undone: exit %d:\n%s", code, out)
			}
		})
	}
}

// hostGitEnv is the environment of host git in these tests: no global or
// system configuration, a fixed author.
func hostGitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
}

// hostGit runs script with sh in dir on the host, failing t on an error.
func hostGit(t *testing.T, dir, script string) {
	t.Helper()
	if out, err := runHostGit(dir, script); err != nil {
		t.Fatalf("on the host, in %s: %s: %v\n%s", dir, script, err, out)
	}
}

// runHostGit runs script with sh in dir on the host, with $ws set to dir.
func runHostGit(dir, script string) (string, error) {
	cmd := exec.Command("sh", "-c", "ws="+shQuote(dir)+"; "+script)
	cmd.Dir = dir
	cmd.Env = hostGitEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// shQuote quotes s for sh.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
