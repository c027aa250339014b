package generator

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DirName is the folder devbox writes in the workspace.
const DirName = ".devcontainer"

// Result is what Init did, or would do in a dry run.
type Result struct {
	// Dir is the .devcontainer folder.
	Dir string
	// Files are the files written (or printed by a dry run).
	Files []File
	// Edited is true when an existing devcontainer.json was edited in place.
	Edited bool
	// Notes are things the user should know, such as a missing binary for
	// the other architecture and how to build it.
	Notes []string
}

// Generate validates o and returns the files of .devcontainer/ without
// writing anything. With o.Force, an existing devcontainer.json is edited
// rather than replaced (see Init).
func Generate(o Options) (*Result, error) {
	s, err := resolve(o)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(s.Workspace)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, inputErrorf("workspace %s does not exist (-w names an existing folder)", s.Workspace)
	case err != nil:
		return nil, fmt.Errorf("workspace %s: %w", s.Workspace, err)
	case !info.IsDir():
		return nil, inputErrorf("workspace %s is not a folder (-w names an existing folder)", s.Workspace)
	}
	s.HasGit = isDir(filepath.Join(s.Workspace, ".git"))
	s.HasGitHooks = s.HasGit && isDir(filepath.Join(s.Workspace, ".git", "hooks"))
	s.HasGitConfig = s.HasGit && isFile(filepath.Join(s.Workspace, ".git", "config"))

	files, err := s.render()
	if err != nil {
		return nil, err
	}
	bins, notes, err := s.firewallBinaries()
	if err != nil {
		return nil, err
	}
	r := &Result{Dir: filepath.Join(s.Workspace, DirName), Files: append(files, bins...), Notes: notes}
	if !o.Force {
		return r, nil
	}
	path := filepath.Join(r.Dir, "devcontainer.json")
	existing, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	for i, f := range r.Files {
		if f.Path == "devcontainer.json" {
			edited, err := editDevcontainer(path, existing, f.Data, len(s.Services) > 0)
			if err != nil {
				return nil, err
			}
			r.Files[i].Data, r.Edited = edited, true
		}
	}
	return r, nil
}

// Init writes WORKSPACE/.devcontainer/ for o: all of it or, on any error,
// none of it. Without o.Force it refuses to replace a file and names the
// ones that exist; with it, devbox's files are regenerated and an existing
// devcontainer.json is edited, keeping the user's comments and settings.
// With o.DryRun the files are printed to o.Out instead, after the same
// checks.
func Init(o Options) (*Result, error) {
	r, err := Generate(o)
	if err != nil {
		return nil, err
	}
	if !o.Force {
		var exist []string
		for _, f := range r.Files {
			if _, err := os.Lstat(filepath.Join(r.Dir, filepath.FromSlash(f.Path))); err == nil {
				exist = append(exist, f.Path)
			}
		}
		if len(exist) > 0 {
			return nil, inputErrorf("%s already has %s: pass --force to regenerate devbox's files (devcontainer.json is edited, keeping your changes)",
				r.Dir, strings.Join(exist, ", "))
		}
	}
	if o.DryRun {
		out := o.Out
		if out == nil {
			out = io.Discard
		}
		return r, printFiles(out, r)
	}
	if err := writeAll(r.Dir, r.Files); err != nil {
		return nil, err
	}
	return r, nil
}

// printFiles shows a dry run: every file with its mode, text files in full.
func printFiles(w io.Writer, r *Result) error {
	for _, f := range r.Files {
		name := filepath.Join(r.Dir, filepath.FromSlash(f.Path))
		var err error
		if f.Binary {
			_, err = fmt.Fprintf(w, "==> %s (%04o, binary, %d bytes) <==\n\n", name, f.Mode, len(f.Data))
		} else {
			_, err = fmt.Fprintf(w, "==> %s (%04o) <==\n%s\n", name, f.Mode, f.Data)
		}
		if err != nil {
			return fmt.Errorf("print dry run: %w", err)
		}
	}
	return nil
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}
