package lifecycle

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/devbox-sandbox/devbox/internal/atomicfile"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/hostcheck"
)

// checkHost refuses what the box could have planted in the workspace for
// host git or VS Code to run (hostcheck.CheckWorkspace), given the box's
// mounts: what is mounted read-only, the agent could not have written.
// mounts nil means no box is known (every box has the workspace mounted).
// It runs before up, exec and shell, and after stop and down, and runs no
// git.
func (m *Manager) checkHost(dir string, mounts []container.MountPoint) error {
	// A volume workspace's box, with no writable bind mount, cannot have
	// written anything of the host's: the host's .git is its clone's
	// read-only source there, submodules and all.
	if volumeBox(mounts) {
		return nil
	}
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

// volumeBox reports whether mounts are a volume workspace's box's: the
// workspace volume, and no writable bind mount at all.
func volumeBox(mounts []container.MountPoint) bool {
	workspace := slices.ContainsFunc(mounts, func(mp container.MountPoint) bool {
		return mp.Type == mount.TypeVolume && (mp.Name == contract.WorkspaceVolume || strings.HasSuffix(mp.Name, "_"+contract.WorkspaceVolume))
	})
	return workspace && !slices.ContainsFunc(mounts, func(mp container.MountPoint) bool { return mp.Type == mount.TypeBind && mp.RW })
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
// relative to the workspace, with slashes. They are read from the mounts'
// targets in the box, under the workspace's own mount: Docker Desktop shows
// a mount's host path its own way (/host_mnt/Users/..., /run/desktop/mnt/host/c/...).
func protectedPaths(dir string, mounts []container.MountPoint) hostcheck.Protected {
	binds := slices.DeleteFunc(slices.Clone(mounts), func(mp container.MountPoint) bool { return mp.Type != mount.TypeBind })
	under := func(parent, dest string) (string, bool) {
		return strings.CutPrefix(path.Clean(dest), path.Clean(parent)+"/")
	}
	ws := ""
	for _, mp := range binds {
		if filepath.Clean(filepath.FromSlash(mp.Source)) == filepath.Clean(dir) {
			ws = mp.Destination
		}
	}
	if ws == "" {
		// The writable bind with the most read-only binds under it.
		best := 0
		for _, mp := range binds {
			if !mp.RW {
				continue
			}
			n := 0
			for _, ro := range binds {
				if _, ok := under(mp.Destination, ro.Destination); ok && !ro.RW {
					n++
				}
			}
			if n > best {
				best, ws = n, mp.Destination
			}
		}
	}
	// A second writable mount of the workspace, of a folder around it, or
	// of a folder in it, elsewhere in the box reaches what the read-only
	// mounts cover at the workspace's own place.
	var wsSrc string
	var exposed []string
	for _, mp := range binds {
		if mp.Destination == ws {
			wsSrc = path.Clean(filepath.ToSlash(mp.Source))
		}
	}
	for _, mp := range binds {
		if _, in := under(ws, mp.Destination); !mp.RW || ws == "" || mp.Destination == ws || in {
			continue
		}
		src := path.Clean(filepath.ToSlash(mp.Source))
		if rel, ok := under(wsSrc, src); ok {
			exposed = append(exposed, rel)
		} else if _, around := under(src, wsSrc); around || src == wsSrc {
			return hostcheck.Protected{}
		}
	}
	// Only a read-only mount whose every folder above, up to the
	// workspace's mount, is a mount point too: root in the box can rename
	// any other folder, taking the mount inside along, and make a new one
	// at the old path.
	points := map[string]bool{}
	for _, mp := range binds {
		if rel, ok := under(ws, mp.Destination); ok {
			points[rel] = true
		}
	}
	prot := hostcheck.Protected{}
	for _, mp := range binds {
		rel, ok := under(ws, mp.Destination)
		if !ok || ws == "" || mp.RW || hostcheck.Protected(exposed).Covers(rel) {
			continue
		}
		fixed := true
		for a := path.Dir(rel); a != "."; a = path.Dir(a) {
			fixed = fixed && points[a]
		}
		if fixed {
			prot = append(prot, rel)
		}
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
