package hostcheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tailscale/hujson"
)

// Protected is the set of workspace paths (relative, with slashes) that are
// mounted read-only into the box, so the agent cannot have written them. A
// path under a protected folder is protected too.
//
// A nil Protected means "not known" (no box has been made yet): the checks
// of files that devbox mounts read-only when they exist at init are then
// skipped, and only what is never legitimate is refused.
type Protected []string

// Covers reports whether rel (relative, with slashes) is protected.
func (p Protected) Covers(rel string) bool {
	for _, m := range p {
		if rel == m || strings.HasPrefix(rel, m+"/") {
			return true
		}
	}
	return false
}

// CheckWorkspace refuses what the box could have planted in workspace for
// host git or VS Code to run: see CheckMountSources, CheckCase, CheckGit
// and CheckVSCodeTasks. home is the user's home folder, for the global git
// configuration ("" skips it). cache (nil for none) spares reading the
// folders that have not changed since the last check; it is updated.
func CheckWorkspace(workspace, home string, prot Protected, cache *TreeCache) error {
	if err := CheckMountSources(workspace); err != nil {
		return err
	}
	if err := CheckCase(workspace); err != nil {
		return err
	}
	if err := checkGit(workspace, home, prot, cache); err != nil {
		return err
	}
	return CheckVSCodeTasks(workspace, prot)
}

// CheckGit refuses what host git would read as configuration, hooks or
// object stores from a place the box can write:
//   - .git/commondir, and a worktree's commondir other than "../.." (git
//     would read its config and hooks from the folder named there);
//   - .git/config.worktree, a worktree's config.worktree, a submodule's
//     config, commondir or hooks under .git/modules, and
//     objects/info/alternates, unless mounted read-only;
//   - a .git anywhere in the work tree but at its top (a nested repository,
//     whose config host git and VS Code use once you are in it), except a
//     submodule's .git file pointing into .git/modules;
//   - a core.hooksPath (from .git/config or the global configuration) that
//     points into the work tree, unless mounted read-only.
//
// It reads the files itself and runs no git: running host git on a planted
// configuration is the attack.
func CheckGit(workspace, home string, prot Protected) error {
	return checkGit(workspace, home, prot, nil)
}

func checkGit(workspace, home string, prot Protected, cache *TreeCache) error {
	dot := filepath.Join(workspace, ".git")
	fi, err := os.Lstat(dot)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("check %s: %w", dot, err)
	case fi.Mode().IsRegular():
		if err := checkGitFile(workspace, dot, prot); err != nil {
			return err
		}
	case fi.IsDir():
		if err := checkGitDir(workspace, ".git", prot); err != nil {
			return err
		}
		if err := checkHooksPath(workspace, home, prot); err != nil {
			return err
		}
		if err := checkRebaseTodo(workspace); err != nil {
			return err
		}
	}
	return checkNested(workspace, prot, cache)
}

// checkGitFile checks a .git file (a linked worktree, or a submodule's
// checkout): the gitdir it names lives outside the workspace, where the box
// cannot write; the file itself must be mounted read-only, or the box could
// point it anywhere.
func checkGitFile(workspace, dot string, prot Protected) error {
	if prot != nil && !prot.Covers(".git") {
		return planted(dot, "is a .git file (a worktree) that the box can rewrite to point host git at a repository of its own; "+
			"run `devbox init --force` so that it is mounted read-only", "cat -v "+shellQuote(dot))
	}
	gitdir, err := ReadGitFile(dot)
	if err != nil {
		return err
	}
	if inside(workspace, gitdir) && (prot == nil || !prot.Covers(relTo(workspace, gitdir))) {
		return planted(dot, fmt.Sprintf("points host git at %s, inside the workspace, which the box can write", gitdir), "cat -v "+shellQuote(dot))
	}
	return nil
}

// ReadGitFile returns the folder a .git file names ("gitdir: PATH"),
// absolute, without running git.
func ReadGitFile(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	dir, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "gitdir: ")
	if !ok || dir == "" {
		return "", &PlantedError{Path: p, Why: `is not a .git file git understands (want "gitdir: PATH")`}
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(p), dir)
	}
	return filepath.Clean(dir), nil
}

// checkGitDir checks the git folder at rel in workspace (.git, or a
// submodule's under .git/modules).
func checkGitDir(workspace, rel string, prot Protected) error {
	dir := filepath.Join(workspace, filepath.FromSlash(rel))
	mountable := func(name string) error {
		p := path.Join(rel, name)
		if prot == nil || prot.Covers(p) || !exists(filepath.Join(workspace, filepath.FromSlash(p))) {
			return nil
		}
		abs := filepath.Join(workspace, filepath.FromSlash(p))
		return planted(abs, "is read by host git and the box can write it: it is not mounted read-only in the box "+
			"(it was not there when devbox init ran, or a folder above it is not a mount point of its own). If you did not make it, remove it; if you did, run `devbox init --force`", inspectConfig(abs))
	}
	if p := filepath.Join(dir, "commondir"); rel == ".git" && exists(p) && (prot == nil || !prot.Covers(".git/commondir")) {
		return planted(p, "makes host git read its config and hooks from the folder it names; a repository's own .git has none. Remove it", "cat -v "+shellQuote(p))
	}
	for _, name := range []string{"config.worktree", "objects/info/alternates"} {
		if err := mountable(name); err != nil {
			return err
		}
	}
	// .git/config and .git/hooks are mounted read-only when they exist at
	// init; after a `git init` that came later, they are not.
	for _, name := range []string{"config", "commondir"} {
		if rel == ".git" && name == "commondir" {
			continue // refused above
		}
		if err := mountable(name); err != nil {
			return err
		}
	}
	if err := checkHooks(workspace, path.Join(rel, "hooks"), prot); err != nil {
		return err
	}
	if rel != ".git" {
		return nil // SubmoduleGitDirs includes nested submodules
	}
	if err := checkWorktrees(workspace, path.Join(rel, "worktrees"), prot); err != nil {
		return err
	}
	return checkModules(workspace, prot)
}

// checkHooks refuses hooks (any file but git's *.sample) in a hooks folder
// that is not mounted read-only.
func checkHooks(workspace, rel string, prot Protected) error {
	if prot == nil || prot.Covers(rel) {
		return nil
	}
	dir := filepath.Join(workspace, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // none
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sample") {
			p := filepath.Join(dir, e.Name())
			return planted(p, "is a git hook the box can write, which host git would run; "+
				"if you did not make it, remove it; if you did, run `devbox init --force` so that it is mounted read-only", "cat -v "+shellQuote(p))
		}
	}
	return nil
}

// checkWorktrees checks the administrative folders of linked worktrees: git
// reads their commondir (normally "../..") to find the config and hooks of
// the worktree, which is checked out elsewhere on this machine.
func checkWorktrees(workspace, rel string, prot Protected) error {
	dir := filepath.Join(workspace, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		wt := path.Join(rel, e.Name())
		p := filepath.Join(dir, e.Name(), "commondir")
		data, err := os.ReadFile(p)
		if err == nil && strings.TrimSpace(string(data)) != "../.." && (prot == nil || !prot.Covers(wt+"/commondir")) {
			return planted(p, fmt.Sprintf("points the worktree's git at %q instead of \"../..\": host git would read config and hooks from there. Restore it (echo ../.. > PATH)", strings.TrimSpace(string(data))), "cat -v "+shellQuote(p))
		}
		if cw := wt + "/config.worktree"; prot != nil && !prot.Covers(cw) && exists(filepath.Join(workspace, filepath.FromSlash(cw))) {
			abs := filepath.Join(workspace, filepath.FromSlash(cw))
			return planted(abs, "is read by host git in that worktree and the box can write it; run `devbox init --force` so that it is mounted read-only", inspectConfig(abs))
		}
	}
	return nil
}

// checkModules checks every submodule's git folder under .git/modules.
func checkModules(workspace string, prot Protected) error {
	for _, rel := range SubmoduleGitDirs(workspace) {
		if err := checkGitDir(workspace, rel, prot); err != nil {
			return err
		}
	}
	return nil
}

// isGitDir reports whether dir looks like a git folder (it has HEAD).
func isGitDir(dir string) bool { return exists(filepath.Join(dir, "HEAD")) }

// checkNested refuses a .git anywhere in the work tree but at its top,
// unless it is mounted read-only or is a submodule's .git file pointing
// into workspace/.git/modules. Names are compared without case: on macOS
// and Windows, .GIT is .git.
func checkNested(workspace string, prot Protected, cache *TreeCache) error {
	for _, n := range nestedGitCached(workspace, cache, clock()) {
		if prot.Covers(n.rel) || n.submodule {
			continue
		}
		p := filepath.Join(workspace, filepath.FromSlash(n.rel))
		return planted(p, "is a nested git repository (or a pointer to one) the box can write: host git, your shell prompt and VS Code run git "+
			"with its configuration and hooks as soon as you are in that folder. If you did not make it, remove it; if you did, run `devbox init --force` so that it is mounted read-only", inspectNested(p, n.dir))
	}
	return nil
}

// nested is a .git below the work tree's top.
type nested struct {
	rel       string // relative to the workspace, with slashes
	dir       bool
	submodule bool // a .git file pointing into the workspace's .git/modules
}

// nestedGit finds every .git (any case) below the work tree's top, without
// following symlinks or descending into .git folders or .devcontainer.
func nestedGit(workspace string) []nested {
	modules := filepath.Join(workspace, ".git", "modules")
	var out []nested
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return // unreadable: host git cannot read it either
		}
		for _, e := range entries {
			name := e.Name()
			r := name
			if rel != "" {
				r = rel + "/" + name
			}
			if strings.EqualFold(name, ".git") {
				if rel == "" {
					continue // the repository's own
				}
				n := nested{rel: r, dir: e.IsDir()}
				if e.Type().IsRegular() {
					gd, err := ReadGitFile(filepath.Join(dir, name))
					n.submodule = err == nil && inside(modules, gd)
				}
				out = append(out, n)
				continue
			}
			if e.IsDir() && !(rel == "" && name == ".devcontainer") {
				walk(filepath.Join(dir, name), r)
			}
		}
	}
	walk(workspace, "")
	return out
}

// NestedRepositories returns the nested .git folders of the work tree
// (relative, with slashes), which devbox init mounts read-only.
func NestedRepositories(workspace string) []string {
	var out []string
	for _, n := range nestedGit(workspace) {
		if n.dir {
			out = append(out, n.rel)
		}
	}
	return out
}

// SubmoduleGitDirs returns the git folders of the submodules under
// workspace/.git/modules (relative, with slashes), nested ones included.
func SubmoduleGitDirs(workspace string) []string {
	var out []string
	var walk func(rel string)
	walk = func(rel string) {
		entries, err := os.ReadDir(filepath.Join(workspace, filepath.FromSlash(rel)))
		if err != nil {
			return
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			sub := path.Join(rel, e.Name())
			if isGitDir(filepath.Join(workspace, filepath.FromSlash(sub))) {
				out = append(out, sub)
				walk(path.Join(sub, "modules"))
			} else {
				walk(sub)
			}
		}
	}
	walk(".git/modules")
	return out
}

// checkHooksPath refuses a core.hooksPath, from .git/config or the global
// configuration, that points into the work tree, unless it is mounted
// read-only: the box could put hooks there that host git runs (husky,
// lefthook and the like keep them in the work tree). It refuses as well an
// include of a file in the workspace, from either.
func checkHooksPath(workspace, home string, prot Protected) error {
	files := []string{filepath.Join(workspace, ".git", "config")}
	if home != "" {
		xdg := os.Getenv("XDG_CONFIG_HOME")
		if xdg == "" {
			xdg = filepath.Join(home, ".config")
		}
		files = append(files, filepath.Join(home, ".gitconfig"), filepath.Join(xdg, "git", "config"))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, inc := range configIncludes(data) {
			p := inc.value
			if strings.HasPrefix(p, "~/") && home != "" {
				p = filepath.Join(home, p[2:])
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(f), p) // relative to the including file
			}
			if p = filepath.Clean(p); inside(workspace, p) && !prot.Covers(relTo(workspace, p)) {
				return &PlantedError{Path: f, Line: inc.line, Why: fmt.Sprintf("includes %s, in the workspace, which the box can write: host git would take any setting from it (core.fsmonitor runs a program). "+
					"Move the file out of the workspace, or remove the include.\n  inspect: cat -v %s", p, shellQuote(p))}
			}
		}
		v, line, ok := ConfigValue(data, "core", "hookspath")
		if !ok {
			continue
		}
		dir := v
		if strings.HasPrefix(dir, "~/") && home != "" {
			dir = filepath.Join(home, dir[2:])
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(workspace, dir) // hooks run at the work tree's top
		}
		dir = filepath.Clean(dir)
		if !inside(workspace, dir) {
			continue
		}
		rel := relTo(workspace, dir)
		if prot == nil || prot.Covers(rel) || rel == ".git/hooks" {
			continue
		}
		return &PlantedError{Path: f, Line: line, Why: fmt.Sprintf("core.hooksPath = %s: host git runs hooks from %s, in the work tree, which the box can write. "+
			"Run `devbox init --force` so that it is mounted read-only (it must exist then), or unset core.hooksPath.\n  inspect: ls -la %s", v, dir, shellQuote(dir))}
	}
	return nil
}

// configIncludes returns the path of every [include] and [includeIf "..."]
// section of a git config file.
func configIncludes(data []byte) []configEntry {
	var out []configEntry
	for _, e := range configEntries(data) {
		name := strings.ToLower(e.section)
		if (name == "include" || strings.HasPrefix(name, "includeif")) && strings.EqualFold(e.key, "path") {
			out = append(out, e)
		}
	}
	return out
}

// checkRebaseTodo refuses an interactive rebase in progress whose todo list
// runs commands: `git rebase --continue` on the host would run them.
func checkRebaseTodo(workspace string) error {
	p := filepath.Join(workspace, ".git", "rebase-merge", "git-rebase-todo")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	for n, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "exec" || f[0] == "x") {
			return &PlantedError{Path: p, Line: n + 1, Why: "an interactive rebase in progress runs this command on `git rebase --continue`, and the box can write this file; " +
				"run `git rebase --abort` (it runs nothing) unless you wrote it.\n  inspect: cat -v " + shellQuote(p)}
		}
	}
	return nil
}

// HooksPath returns core.hooksPath of the repository's .git/config, or "",
// read without running git.
func HooksPath(workspace string) string {
	data, err := os.ReadFile(filepath.Join(workspace, ".git", "config"))
	if err != nil {
		return ""
	}
	v, _, _ := ConfigValue(data, "core", "hookspath")
	return v
}

// ConfigValue returns the last value of section.key (both lower case, no
// subsection) in a git config file, and its line. It understands what git
// writes (sections, key = value, quotes, comments), not every corner of the
// format: a value it cannot read is not found.
func ConfigValue(data []byte, section, key string) (value string, line int, ok bool) {
	for _, e := range configEntries(data) {
		if strings.EqualFold(e.section, section) && strings.EqualFold(e.key, key) {
			value, line, ok = e.value, e.line, true
		}
	}
	return value, line, ok
}

// configEntry is one "key = value" of a git config file.
type configEntry struct {
	section    string // as written between the brackets, subsection included
	key, value string
	line       int
}

// configEntries reads a git config file as git writes it: sections, key =
// value, quotes, comments; not every corner of the format.
func configEntries(data []byte) []configEntry {
	var out []configEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	section := ""
	for n := 1; sc.Scan(); n++ {
		s := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(s, "[") {
			end := strings.Index(s, "]")
			if end < 0 {
				continue
			}
			section = strings.TrimSpace(s[1:end])
			s = strings.TrimSpace(s[end+1:]) // [core] hooksPath = x
		}
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		k, v, _ := strings.Cut(s, "=")
		v = strings.TrimSpace(v)
		if i := strings.IndexAny(v, "#;"); i >= 0 && !strings.HasPrefix(v, `"`) {
			v = strings.TrimSpace(v[:i])
		}
		out = append(out, configEntry{section: section, key: strings.TrimSpace(k), value: strings.Trim(v, `"`), line: n})
	}
	return out
}

// CheckVSCodeTasks refuses .vscode/tasks.json with a task that runs when
// the folder is opened ("runOptions": {"runOn": "folderOpen"}), unless
// .vscode is mounted read-only: VS Code runs it on this machine when you
// open the folder locally.
func CheckVSCodeTasks(workspace string, prot Protected) error {
	if prot == nil || prot.Covers(".vscode/tasks.json") {
		return nil
	}
	p := filepath.Join(workspace, ".vscode", "tasks.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	v, err := hujson.Parse(data)
	if err != nil {
		return planted(p, fmt.Sprintf("cannot be read (%v), so devbox cannot tell whether a task runs when the folder is opened", err), "cat -v "+shellQuote(p))
	}
	v.Standardize()
	var found bool
	var scan func(hujson.Value)
	scan = func(v hujson.Value) {
		switch c := v.Value.(type) {
		case *hujson.Object:
			for _, m := range c.Members {
				if k, ok := m.Name.Value.(hujson.Literal); ok && k.String() == "runOn" {
					if s, ok := m.Value.Value.(hujson.Literal); ok && s.String() == "folderOpen" {
						found = true
					}
				}
				scan(m.Value)
			}
		case *hujson.Array:
			for _, e := range c.Elements {
				scan(e)
			}
		}
	}
	scan(v)
	if found {
		return planted(p, `has a task with "runOn": "folderOpen", which VS Code runs on this machine when you open the folder locally, and the box can write this file. Remove the task (or the file)`, "cat -v "+shellQuote(p))
	}
	return nil
}

func planted(p, why, inspect string) error {
	return &PlantedError{Path: p, Why: why + ".\n  inspect it without running git on it: " + inspect}
}

func inspectConfig(p string) string {
	return "cat -v " + shellQuote(p) + "   (or: git config --no-includes --file " + shellQuote(p) + " --list, run outside the workspace)"
}

func inspectNested(p string, dir bool) string {
	if dir {
		c := filepath.Join(p, "config")
		return "ls -la " + shellQuote(p) + "; cat -v " + shellQuote(c)
	}
	return "ls -la " + shellQuote(p) + "; cat -v " + shellQuote(p)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// inside reports whether p is dir or under it (both clean and absolute).
func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func relTo(dir, p string) string {
	rel, _ := filepath.Rel(dir, p)
	return filepath.ToSlash(rel)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r == '\\' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
