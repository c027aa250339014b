package hostcheck

import (
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// caseInsensitive reports whether the file system holding dir finds a name
// whatever its case (macOS and Windows by default). A variable so that
// tests on Linux can fake one.
var caseInsensitive = func(dir string) bool {
	base := filepath.Base(dir)
	flipped := strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, base)
	if flipped == base {
		return false // no letters to tell by; the entries below are then checked anyway by exact name
	}
	a, err1 := os.Stat(dir)
	b, err2 := os.Stat(filepath.Join(filepath.Dir(dir), flipped))
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// caseNames are the names devbox mounts or reads by their exact spelling,
// in the workspace and in its .git folder.
var caseNames = map[string][]string{
	"":     {".devcontainer", ".git", ".vscode", ".env"},
	".git": {"hooks", "config", "commondir", "modules", "objects", "worktrees", "config.worktree"},
}

// CheckCase refuses, on a case-insensitive file system, a name that differs
// only in case from one devbox mounts (.DevContainer for .devcontainer,
// .GIT for .git): Docker, git and VS Code find it under devbox's spelling,
// but inside the box (a case-sensitive Linux view of the same folder) it is
// a second, writable name for the folder mounted read-only.
func CheckCase(workspace string) error {
	if !caseInsensitive(workspace) {
		return nil
	}
	for dir, names := range caseNames {
		entries, err := os.ReadDir(filepath.Join(workspace, dir))
		if err != nil {
			continue
		}
		for _, e := range entries {
			for _, want := range names {
				if e.Name() != want && strings.EqualFold(e.Name(), want) {
					p := filepath.Join(workspace, dir, e.Name())
					return &PlantedError{Path: p, Why: "differs only in case from " + want + ", which devbox protects by that exact name; on this case-insensitive file system the box could write it under the other spelling. Rename it to " + want}
				}
			}
		}
	}
	return nil
}
