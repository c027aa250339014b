package hostcheck

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// repo makes a workspace with a .git folder as `git init` leaves it.
func repo(t *testing.T, ws string) {
	mkdir(t, ws, ".git/hooks")
	mkdir(t, ws, ".git/objects/info")
	write(t, ws, ".git/HEAD", "ref: refs/heads/main\n")
	write(t, ws, ".git/config", "[core]\n\tbare = false\n")
	write(t, ws, ".git/hooks/pre-commit.sample", "#!/bin/sh\n")
}

// submodule adds a submodule checkout at sub, with its git folder under
// .git/modules.
func submodule(t *testing.T, ws, sub string) {
	mkdir(t, ws, ".git/modules/"+sub+"/hooks")
	write(t, ws, ".git/modules/"+sub+"/HEAD", "ref: refs/heads/main\n")
	write(t, ws, ".git/modules/"+sub+"/config", "[core]\n\tworktree = ../../../"+sub+"\n")
	mkdir(t, ws, sub)
	write(t, ws, sub+"/.git", "gitdir: ../.git/modules/"+sub+"\n")
}

// mounted is what devbox init mounts read-only for the workspaces below.
var mounted = Protected{".devcontainer", ".vscode", ".git/hooks", ".git/config", ".git/modules/lib/config", ".git/modules/lib/hooks"}

func TestCheckGit(t *testing.T) {
	home := t.TempDir()
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, ws string)
		prot  Protected
		want  string // "" means accepted
	}{
		{"no .git", func(*testing.T, string) {}, mounted, ""},
		{"fresh repository", repo, mounted, ""},
		{"fresh repository, mounts unknown", repo, nil, ""},
		{"submodule mounted", func(t *testing.T, ws string) { repo(t, ws); submodule(t, ws, "lib") }, mounted, ""},
		{"commondir", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, ws, ".git/commondir", "../.evil\n")
		}, mounted, ".git/commondir: makes host git read its config"},
		{"commondir, mounts unknown", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, ws, ".git/commondir", "../.evil\n")
		}, nil, ".git/commondir"},
		{"submodule config planted", func(t *testing.T, ws string) {
			repo(t, ws)
			submodule(t, ws, "evil")
		}, mounted, ".git/modules/evil/config: is read by host git"},
		{"nested submodule config planted", func(t *testing.T, ws string) {
			repo(t, ws)
			submodule(t, ws, "lib")
			mkdir(t, ws, ".git/modules/lib/modules/deep")
			write(t, ws, ".git/modules/lib/modules/deep/HEAD", "x")
			write(t, ws, ".git/modules/lib/modules/deep/config", "[core]\n\tfsmonitor = touch /tmp/x\n")
		}, mounted, ".git/modules/lib/modules/deep/config"},
		{"submodule hook planted", func(t *testing.T, ws string) {
			repo(t, ws)
			submodule(t, ws, "lib")
			write(t, ws, ".git/modules/lib/hooks/post-checkout", "#!/bin/sh\n")
		}, Protected{".git/hooks", ".git/config", ".git/modules/lib/config"}, ".git/modules/lib/hooks/post-checkout: is a git hook"},
		{"alternates", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, ws, ".git/objects/info/alternates", "/tmp/evil/objects\n")
		}, mounted, ".git/objects/info/alternates"},
		{"alternates mounted", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, ws, ".git/objects/info/alternates", "/srv/shared/objects\n")
		}, append(Protected{".git/objects/info/alternates"}, mounted...), ""},
		{"config.worktree", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, ws, ".git/config.worktree", "[core]\n\tfsmonitor = x\n")
		}, mounted, ".git/config.worktree"},
		{"worktree commondir redirected", func(t *testing.T, ws string) {
			repo(t, ws)
			mkdir(t, ws, ".git/worktrees/wt")
			write(t, ws, ".git/worktrees/wt/commondir", "../../../evil\n")
		}, nil, ".git/worktrees/wt/commondir: points the worktree's git"},
		{"worktree commondir as git writes it", func(t *testing.T, ws string) {
			repo(t, ws)
			mkdir(t, ws, ".git/worktrees/wt")
			write(t, ws, ".git/worktrees/wt/commondir", "../..\n")
		}, mounted, ""},
		{"nested .git folder", func(t *testing.T, ws string) {
			repo(t, ws)
			mkdir(t, ws, "src/vendor/x/.git")
			write(t, ws, "src/vendor/x/.git/config", "[core]\n\tfsmonitor = touch /tmp/x\n")
		}, mounted, "src/vendor/x/.git: is a nested git repository"},
		{"nested .GIT, another case", func(t *testing.T, ws string) {
			repo(t, ws)
			mkdir(t, ws, "a/.GIT")
		}, nil, "a/.GIT: is a nested git repository"},
		{"nested .git file pointing outside .git/modules", func(t *testing.T, ws string) {
			repo(t, ws)
			mkdir(t, ws, "a")
			write(t, ws, "a/.git", "gitdir: ../evil\n")
		}, mounted, "a/.git: is a nested git repository"},
		{"nested .git symlink", func(t *testing.T, ws string) {
			repo(t, ws)
			mkdir(t, ws, "a")
			symlink(t, "/tmp", filepath.Join(ws, "a", ".git"))
		}, mounted, "a/.git: is a nested git repository"},
		{"hooksPath in the work tree", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, ws, ".git/config", "[core]\n\tbare = false\n\thooksPath = .husky/_\n")
			mkdir(t, ws, ".husky/_")
		}, mounted, ".git/config:3: core.hooksPath = .husky/_"},
		{"hooksPath mounted", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, ws, ".git/config", "[core]\n\thooksPath = \"./.husky/_\"\n")
			mkdir(t, ws, ".husky/_")
		}, append(Protected{".husky/_"}, mounted...), ""},
		{"hooksPath outside the work tree", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, ws, ".git/config", "[core]\n\thooksPath = /etc/git-hooks\n")
		}, mounted, ""},
		{"hooksPath in the global configuration", func(t *testing.T, ws string) {
			repo(t, ws)
			write(t, home, ".gitconfig", "[user]\n\tname = x\n[Core]\n  HooksPath = githooks ; team hooks\n")
			t.Cleanup(func() { write(t, home, ".gitconfig", "") })
		}, mounted, ".gitconfig:4: core.hooksPath = githooks"},
		{"worktree .git file mounted", func(t *testing.T, ws string) {
			write(t, ws, ".git", "gitdir: /srv/main/.git/worktrees/wt\n")
		}, Protected{".git", ".devcontainer"}, ""},
		{"worktree .git file not mounted", func(t *testing.T, ws string) {
			write(t, ws, ".git", "gitdir: /srv/main/.git/worktrees/wt\n")
		}, Protected{".devcontainer"}, ".git: is a .git file"},
		{"worktree .git file into the workspace", func(t *testing.T, ws string) {
			write(t, ws, ".git", "gitdir: evil\n")
		}, nil, "inside the workspace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			tt.setup(t, ws)
			check(t, CheckGit(ws, home, tt.prot), tt.want)
		})
	}
}

func TestCheckVSCodeTasks(t *testing.T) {
	const folderOpen = `{
  // a comment
  "version": "2.0.0",
  "tasks": [{"label": "x", "command": "touch /tmp/m", "runOptions": {"runOn": "folderOpen"},},],
}`
	for _, tt := range []struct {
		name, tasks string
		prot        Protected
		want        string
	}{
		{"none", "", Protected{}, ""},
		{"default run", `{"tasks": [{"label": "build", "runOptions": {"runOn": "default"}}]}`, Protected{}, ""},
		{"folderOpen", folderOpen, Protected{".devcontainer"}, `.vscode/tasks.json: has a task with "runOn": "folderOpen"`},
		{"folderOpen, .vscode mounted", folderOpen, Protected{".vscode"}, ""},
		{"unreadable", `{"tasks": [`, Protected{}, ".vscode/tasks.json: cannot be read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			if tt.tasks != "" {
				mkdir(t, ws, ".vscode")
				write(t, ws, ".vscode/tasks.json", tt.tasks)
			}
			check(t, CheckVSCodeTasks(ws, tt.prot), tt.want)
		})
	}
}

func TestConfigValue(t *testing.T) {
	for _, tt := range []struct {
		conf, want string
		line       int
	}{
		{"[core]\n\thooksPath = a\n", "a", 2},
		{"[core]\nhooksPath=a\n[core]\n\thookspath = \"b c\"\n", "b c", 4},
		{"[alias]\n\thooksPath = a\n", "", 0},
		{"[core] hooksPath = x # comment\n", "x", 1},
		{"[core \"sub\"]\n\thooksPath = a\n", "", 0},
	} {
		v, line, _ := ConfigValue([]byte(tt.conf), "core", "hookspath")
		if v != tt.want || line != tt.line {
			t.Errorf("%q: got %q at %d, want %q at %d", tt.conf, v, line, tt.want, tt.line)
		}
	}
}

func TestCheckCase(t *testing.T) {
	t.Run("this file system", func(t *testing.T) {
		ws := t.TempDir()
		mkdir(t, ws, ".DevContainer")
		if caseInsensitive(ws) {
			t.Skip("case-insensitive here; the fake below covers the logic")
		}
		check(t, CheckCase(ws), "")
	})
	real := caseInsensitive
	caseInsensitive = func(string) bool { return true }
	t.Cleanup(func() { caseInsensitive = real })
	for _, tt := range []struct {
		name string
		dirs []string
		want string
	}{
		{"exact names", []string{".devcontainer", ".git/hooks", ".vscode"}, ""},
		{".DevContainer", []string{".DevContainer"}, ".DevContainer: differs only in case from .devcontainer"},
		{".GIT", []string{".GIT"}, ".GIT: differs only in case from .git"},
		{".git/Hooks", []string{".git/Hooks"}, "Hooks: differs only in case from hooks"},
		{".VSCode", []string{".VSCode"}, ".VSCode: differs only in case from .vscode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			for _, d := range tt.dirs {
				mkdir(t, ws, d)
			}
			check(t, CheckCase(ws), tt.want)
		})
	}
}

func TestCheckGitLaterInit(t *testing.T) {
	ws := t.TempDir()
	repo(t, ws)
	// git init after devbox init: nothing of .git is mounted read-only.
	check(t, CheckGit(ws, "", Protected{".devcontainer"}), ".git/config: is read by host git")
}

// TestTreeCache: a nested repository made after a check is found by the
// next one through the cache, in a folder the cache had, and one it had
// not; a folder changed within RacyWindow is not kept.
func TestTreeCache(t *testing.T) {
	ws := t.TempDir()
	repo(t, ws)
	mkdir(t, ws, "a/b/c")
	real := clock
	t.Cleanup(func() { clock = real })
	clock = func() time.Time { return real().Add(time.Minute) }
	c := DecodeTreeCache(nil)
	check(t, CheckWorkspace(ws, "", mounted, c), "")
	if len(c.Dirs) < 4 || !c.Changed() {
		t.Fatalf("cache holds %d folders (changed %v), want the 4 of the tree at least", len(c.Dirs), c.Changed())
	}
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	c = DecodeTreeCache(data)
	check(t, CheckWorkspace(ws, "", mounted, c), "")
	if c.Changed() {
		t.Error("an unchanged tree changed the cache")
	}
	mkdir(t, ws, "a/b/c/.git")
	check(t, CheckWorkspace(ws, "", mounted, c), "a/b/c/.git: is a nested git repository")
	if err := os.RemoveAll(filepath.Join(ws, "a/b/c/.git")); err != nil {
		t.Fatal(err)
	}
	mkdir(t, ws, "a/new/deep/.git")
	check(t, CheckWorkspace(ws, "", mounted, c), "a/new/deep/.git: is a nested git repository")

	clock = real // now everything is racy: nothing is kept
	c = DecodeTreeCache(nil)
	CheckWorkspace(ws, "", mounted, c)
	if len(c.Dirs) != 0 {
		t.Errorf("kept %d folders changed within RacyWindow", len(c.Dirs))
	}
}

func TestCheckGitIncludesAndRebase(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, ws string)
		want  string
	}{
		{"include of a work tree file", func(t *testing.T, ws string) {
			write(t, ws, ".git/config", "[core]\n\tbare = false\n[include]\n\tpath = ../.gitconfig\n")
		}, ".git/config:4: includes"},
		{"includeIf of a work tree file", func(t *testing.T, ws string) {
			write(t, ws, ".git/config", "[includeIf \"onbranch:main\"]\n\tpath = ../tools/git.cfg\n")
		}, ".git/config:2: includes"},
		{"include outside the workspace", func(t *testing.T, ws string) {
			write(t, ws, ".git/config", "[include]\n\tpath = /etc/team.gitconfig\n")
		}, ""},
		{"rebase todo with exec", func(t *testing.T, ws string) {
			mkdir(t, ws, ".git/rebase-merge")
			write(t, ws, ".git/rebase-merge/git-rebase-todo", "pick 1234 a\nexec touch /tmp/m\n")
		}, ".git/rebase-merge/git-rebase-todo:2: an interactive rebase"},
		{"rebase todo without exec", func(t *testing.T, ws string) {
			mkdir(t, ws, ".git/rebase-merge")
			write(t, ws, ".git/rebase-merge/git-rebase-todo", "pick 1234 a\n# exec is a command\n")
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			repo(t, ws)
			tt.setup(t, ws)
			check(t, CheckGit(ws, "", mounted), tt.want)
		})
	}
}
