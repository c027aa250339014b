package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/devbox-sandbox/devbox/internal/atomicfile"
	"github.com/devbox-sandbox/devbox/internal/hostcheck"
)

// checkHost refuses what the box could have planted in the workspace for
// host git or VS Code to run (hostcheck.CheckWorkspace), given the box's
// mounts: what is mounted read-only, the agent could not have written.
// mounts nil means no box is known (every box has the workspace mounted).
// It runs before up, exec and shell, and after stop and down, and runs no
// git.
func (m *Manager) checkHost(dir string, mounts []container.MountPoint) error {
	var prot hostcheck.Protected
	if mounts != nil {
		prot = protectedPaths(dir, mounts)
	}
	cachePath := m.treeCachePath(dir)
	data, _ := os.ReadFile(cachePath)
	cache := hostcheck.DecodeTreeCache(data)
	err := hostcheck.CheckWorkspace(dir, m.home(), prot, cache)
	if cache.Changed() {
		m.saveTreeCache(cachePath, cache) // a cache lost is only a slower check
	}
	return err
}

// treeCachePath is where devbox keeps the workspace's hostcheck.TreeCache,
// in its host state folder (out of the box's reach).
func (m *Manager) treeCachePath(dir string) string {
	return strings.TrimSuffix(m.statePath(Workspace{Dir: dir}), ".json") + ".tree"
}

func (m *Manager) saveTreeCache(p string, c *hostcheck.TreeCache) {
	data, err := c.Encode()
	if err != nil || os.MkdirAll(filepath.Dir(p), 0o700) != nil {
		return
	}
	if tmp, err := atomicfile.WriteTempUnsynced(filepath.Dir(p), ".tree.*.tmp", data, 0o600); err == nil {
		if os.Rename(tmp, p) != nil {
			os.Remove(tmp)
		}
	}
}

// checkBoxHost is checkHost with the mounts of the workspace's box, if it
// has one.
func (m *Manager) checkBoxHost(ctx context.Context, eng Engine, ws Workspace) error {
	box, err := FindBox(ctx, eng, ws)
	if err != nil {
		return err
	}
	var mounts []container.MountPoint
	if box != nil {
		mounts = box.Dev.Mounts
	}
	return m.checkHost(ws.Dir, mounts)
}

// protectedPaths returns the workspace paths the box has mounted read-only,
// relative to the workspace, with slashes.
func protectedPaths(dir string, mounts []container.MountPoint) hostcheck.Protected {
	prot := hostcheck.Protected{}
	for _, mp := range mounts {
		if mp.RW || mp.Type != mount.TypeBind {
			continue
		}
		rel, err := filepath.Rel(dir, filepath.FromSlash(mp.Source))
		if err != nil || rel == "." || rel == ".." || filepath.IsAbs(rel) || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
			continue
		}
		prot = append(prot, filepath.ToSlash(rel))
	}
	return prot
}

// home is the user's home folder, for git's global configuration; "" (no
// HOME in the environment) skips it.
func (m *Manager) home() string {
	if h := m.Getenv("HOME"); h != "" {
		return h
	}
	return m.Getenv("USERPROFILE")
}
