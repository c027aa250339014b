// Package hostcheck refuses host files that the agent can plant from inside
// the box and that the host would act on: a symlink where devbox
// bind-mounts a path read-only (Docker follows it on the host, so the box
// would get whatever it points to); COMPOSE_* settings in the workspace's
// .env (they choose the compose project, and with it another box's volumes
// and networks); what host git reads as configuration, hooks or object
// stores from a place the box can write (CheckGit); a VS Code task that runs
// when the folder is opened (CheckVSCodeTasks); and, on case-insensitive
// file systems, a second spelling of a protected name (CheckCase).
//
// It reads only: it runs nothing (no git: running host git on a planted
// configuration is the attack) and changes nothing but the TreeCache it is
// given. Its errors name the file and the command to inspect it.
package hostcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// MountSources are the workspace paths devbox bind-mounts into the box
// read-only, relative to the workspace, with the folder holding them.
var MountSources = []string{".devcontainer", ".vscode", ".git", ".git/hooks", ".git/config"}

// PlantedError names a host path the box could have planted, and why it is
// refused.
type PlantedError struct {
	Path string // the file at fault
	Line int    // its line, when the fault is in one; 0 otherwise
	Why  string
}

// Error implements error.
func (e *PlantedError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Why)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Why)
}

// CheckMountSources refuses a symlink at any of MountSources in workspace.
// A missing path is fine: devbox init left its mount out, or will say so.
func CheckMountSources(workspace string) error {
	for _, rel := range MountSources {
		p := filepath.Join(workspace, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) || err != nil && !isDir(filepath.Dir(p)):
			continue // .git/hooks of a .git file: nothing to mount
		case err != nil:
			return fmt.Errorf("check %s: %w", p, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			return &PlantedError{Path: p, Why: fmt.Sprintf("is a symlink (to %q): devbox mounts this path into the box, and Docker would mount whatever it points to on this machine. "+
				"Check how it got there (the box can write the workspace), then replace it with the real folder or file", target)}
		}
	}
	return nil
}

// CheckDotEnv refuses COMPOSE_* settings in workspace/.env, naming the line.
// The Dev Containers CLI reads the compose project's name from there, and the
// agent can write it.
func CheckDotEnv(workspace string) error {
	p := filepath.Join(workspace, ".env")
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check %s: %w", p, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return &PlantedError{Path: p, Why: "is a symlink: the Dev Containers CLI reads compose settings from it; replace it with a plain file"}
	case fi.IsDir():
		return nil // the CLI passes over a folder
	case !fi.Mode().IsRegular(): // a FIFO would hang the CLI and devbox
		return &PlantedError{Path: p, Why: fmt.Sprintf("is not a plain file (%s): the Dev Containers CLI reads compose settings from it; remove it", fi.Mode().Type())}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("check %s: %w", p, err)
	}
	// Lines end where the CLI's regular expression (JavaScript, multiline)
	// ends them: at \n, \r, U+2028 and U+2029, so "A=1\rCOMPOSE_..." is two.
	for i, line := range splitLines(strings.ReplaceAll(string(data), "\r\n", "\n")) {
		n := i + 1
		line = strings.TrimSpace(line)
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		key, _, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if ok && strings.HasPrefix(strings.ToUpper(key), "COMPOSE_") {
			return &PlantedError{Path: p, Line: n, Why: fmt.Sprintf("%s: a COMPOSE_* setting here (the Dev Containers CLI or compose reads it) chooses the box's compose project (and with it the volumes and networks of another box); "+
				"the box can write this file. Remove the line; devbox names the project itself", key)}
		}
	}
	return nil
}

// splitLines splits text at each line terminator of JavaScript: \n, \r,
// U+2028 and U+2029 (\r\n already made one).
func splitLines(text string) []string {
	var lines []string
	start := 0
	for i, r := range text {
		if r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' {
			lines = append(lines, text[start:i])
			start = i + utf8.RuneLen(r)
		}
	}
	return append(lines, text[start:])
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}
