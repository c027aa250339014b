package generator

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/devbox-sandbox/devbox/internal/hostcheck"
)

// readOnlyPath is a workspace path mounted read-only at the same place in
// the box, besides .devcontainer, .git/hooks and .git/config.
type readOnlyPath struct {
	Rel string // relative to the workspace, with slashes
	Why string
}

// vscodeDir is VS Code's folder of workspace settings and tasks, which it
// runs on the host when the folder is opened locally. Init makes it when it
// is missing, so that it can be mounted read-only: a check alone would not
// cover settings.json, and a folder the box made later would not be
// mounted.
const vscodeDir = ".vscode"

// readOnlyPaths returns what else of the workspace host git or VS Code
// reads as configuration or runs, and that exists now: .vscode, a
// worktree's .git file, the config and hooks of submodules, nested
// repositories, objects/info (alternates), config.worktree and a
// core.hooksPath folder in the work tree. What does not exist yet cannot be
// mounted; devbox checks for it before up, exec and shell and after stop and
// down (internal/hostcheck).
func readOnlyPaths(workspace string, hasGit, gitFile bool) []readOnlyPath {
	out := []readOnlyPath{{vscodeDir, "Read-only: VS Code runs tasks and applies settings from .vscode on the host when the folder is opened locally."}}
	exists := func(rel string) bool {
		_, err := os.Lstat(filepath.Join(workspace, filepath.FromSlash(rel)))
		return err == nil
	}
	if gitFile {
		out = append(out, readOnlyPath{".git", "Read-only: this worktree's .git file; the agent cannot point host git at a repository of its own."})
	}
	if hasGit {
		if exists(".git/config.worktree") {
			out = append(out, readOnlyPath{".git/config.worktree", "Read-only: host git reads it as configuration."})
		}
		if exists(".git/objects/info") {
			// The folder, not just alternates: it can be made only where
			// the folder is writable. Git in the box cannot write a
			// commit-graph then (gc warns); commits work.
			out = append(out, readOnlyPath{".git/objects/info", "Read-only: the agent cannot add alternates (object stores host git would read)."})
		}
		for _, dir := range hostcheck.SubmoduleGitDirs(workspace) {
			for _, name := range []string{"config", "hooks"} {
				if rel := dir + "/" + name; exists(rel) {
					out = append(out, readOnlyPath{rel, "Read-only: a submodule's git configuration or hooks, which host git runs."})
				}
			}
		}
		if hp := hooksPathInTree(workspace); hp != "" {
			out = append(out, readOnlyPath{hp, "Read-only: core.hooksPath points here, in the work tree; host git runs these hooks."})
		}
	}
	for _, rel := range hostcheck.NestedRepositories(workspace) {
		out = append(out, readOnlyPath{rel, "Read-only: a nested repository, whose configuration and hooks host git runs in that folder."})
	}
	return out
}

// hooksPathInTree returns core.hooksPath of .git/config when it names an
// existing folder in the work tree other than .git/hooks, relative with
// slashes (for husky's FOLDER/_, FOLDER); "" otherwise.
func hooksPathInTree(workspace string) string {
	hp := hostcheck.HooksPath(workspace)
	if hp == "" || filepath.IsAbs(hp) || hp[0] == '~' {
		return ""
	}
	rel, err := filepath.Rel(workspace, filepath.Join(workspace, hp))
	if err != nil || rel == "." || rel == ".." || !filepath.IsLocal(rel) || !isDir(filepath.Join(workspace, rel)) {
		return ""
	}
	if rel = filepath.ToSlash(rel); rel == ".git/hooks" {
		return ""
	}
	if parent := path.Dir(rel); path.Base(rel) == "_" && parent != "." {
		// husky 9: the hooks in .husky/_ run the scripts in .husky.
		return parent
	}
	return rel
}

// MakeVSCodeDir makes workspace/.vscode when it is missing, so that the box
// gets it read-only (Docker refuses to bind-mount a missing path). Init
// makes it, and so does up: git does not keep an empty folder, so a fresh
// clone of a workspace has none.
func MakeVSCodeDir(workspace string) error {
	if err := os.Mkdir(filepath.Join(workspace, vscodeDir), 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("make %s: %w", filepath.Join(workspace, vscodeDir), err)
	}
	return nil
}

// wrapComment turns s into YAML comment lines of at most ~80 columns.
func wrapComment(s string) string {
	var b strings.Builder
	line := "#"
	for _, w := range strings.Fields(s) {
		if len(line)+1+len(w) > 80 && line != "#" {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}

// mountPoints returns the folders between the workspace's top and each
// read-only path that must be mount points of their own (writable, at the
// same place), as .git is: root in the box could otherwise rename such a
// folder, which carries the read-only mount inside along with it, and make
// a new one at the old path, which host git would then read.
func mountPoints(ro []readOnlyPath, hasGit bool) []string {
	mounted := map[string]bool{".git": hasGit}
	for _, r := range ro {
		mounted[r.Rel] = true
	}
	var out []string
	for _, r := range ro {
		parts := strings.Split(r.Rel, "/")
		for i := 1; i < len(parts); i++ {
			if a := strings.Join(parts[:i], "/"); !mounted[a] {
				mounted[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}
