//go:build linux

package firewall

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// SafePATH is the only PATH init-firewall runs with, and passes on to the
// programs it starts: system folders only. The image's own PATH may name
// folders the agent can write (a Dev Container feature's
// /usr/local/share/nvm/current/bin, /go/bin), and init-firewall runs as
// root at every start.
const SafePATH = "/usr/sbin:/usr/bin:/sbin:/bin"

// toolDirs are the folders init-firewall takes its programs from, in order.
var toolDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// ResetEnvironment clears the process's environment but for PATH, set to
// SafePATH, so that nothing the image or its caller put there (LD_PRELOAD,
// XTABLES_LIBDIR, proxies, resolver options) reaches init-firewall or the
// iptables tools it starts. Call it first thing.
func ResetEnvironment() {
	os.Clearenv()
	_ = os.Setenv("PATH", SafePATH)
}

// FindTool returns the absolute path of the program name in toolDirs. The
// program, each symlink on the way to it and every folder above each of
// them must be owned by root and writable by no one else, so that nobody
// but root could have put it there.
func FindTool(name string) (string, error) {
	var errs []error
	for _, dir := range toolDirs {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := checkRootOwned(p); err != nil {
			errs = append(errs, err)
			continue
		}
		return p, nil
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%s: no trusted copy in %s: %w", name, SafePATH, errors.Join(errs...))
	}
	return "", fmt.Errorf("%s not installed (looked in %s)", name, SafePATH)
}

// checkRootOwned follows p through its symlinks to a regular file and
// checks every name it passes: see FindTool.
func checkRootOwned(p string) error {
	for hops := 0; hops < 40; hops++ {
		for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
			if err := checkOwner(dir, true); err != nil {
				return err
			}
			if dir == "/" {
				break
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file", p)
			}
			return checkOwner(p, false)
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
	return fmt.Errorf("%s: too many symlinks", p)
}

// checkOwner refuses p unless root owns it and neither its group nor others
// may write it. A folder that is not a symlink is checked as itself; Lstat
// is used throughout, so a symlinked folder on the way is refused rather
// than followed unchecked.
func checkOwner(p string, wantDir bool) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner information", p)
	}
	switch {
	case wantDir && !fi.IsDir():
		return fmt.Errorf("%s is not a folder (a symlinked folder is not trusted)", p)
	case st.Uid != 0:
		return fmt.Errorf("%s is owned by uid %d, not root", p, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by its group or by others (%v)", p, fi.Mode().Perm())
	}
	return nil
}
