package hostcheck

import (
	"bytes"
	"encoding/gob"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// TreeCache remembers the folders of a work tree, each with its change
// stamp (inode and ctime), its subfolders and its .git entries, so that the
// search for nested repositories reads only folders that changed since the
// last check: a new entry changes its folder's ctime, and the box cannot
// set a ctime back (utimes sets it to now; only the host's clock could).
// Folders changed in the last RacyWindow are read again every time, as git
// does with racily clean files. Where no change stamp exists (Windows),
// nothing is cached.
type TreeCache struct {
	Dirs    map[string]cachedDir // relative to the workspace, with slashes; "" is the top
	changed bool
}

// Changed reports whether the last check changed the cache, so that it is
// worth keeping again.
func (c *TreeCache) Changed() bool { return c.changed }

// clock is the time racy folders are judged by; tests move it on.
var clock = time.Now

type cachedDir struct {
	Stamp  stamp
	Subs   []string // names of subfolders to descend into
	Nested []nestedEntry
}

type nestedEntry struct {
	Name string
	Dir  bool
}

// RacyWindow: a folder whose ctime is this recent is not trusted to the
// cache (file systems keep coarse times: 2 s on FAT, 1 s on HFS+).
const RacyWindow = 3 * time.Second

// Encode returns the cache's bytes, for the caller to keep.
func (c *TreeCache) Encode() ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(c)
	return b.Bytes(), err
}

// DecodeTreeCache reads what Encode wrote; an empty or unreadable cache is
// an empty one.
func DecodeTreeCache(data []byte) *TreeCache {
	c := &TreeCache{}
	if len(data) == 0 || gob.NewDecoder(bytes.NewReader(data)).Decode(c) != nil || c.Dirs == nil {
		c.Dirs = map[string]cachedDir{}
	}
	return c
}

// nestedGitCached is nestedGit with cache (nil: no cache), which it
// updates. Folders are visited by several goroutines at once: the check is
// a stat per folder, and waiting on them one by one is most of its time.
func nestedGitCached(workspace string, cache *TreeCache, now time.Time) []nested {
	if cache == nil {
		return nestedGit(workspace)
	}
	modules := filepath.Join(workspace, ".git", "modules")
	var (
		mu      sync.Mutex
		seen    = make(map[string]cachedDir, len(cache.Dirs))
		changed bool
		out     []nested
		wg      sync.WaitGroup
		slots   = make(chan struct{}, 8)
	)
	var visit func(dir, rel string)
	visit = func(dir, rel string) {
		defer wg.Done()
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() {
			return
		}
		st, ok := stampOf(fi)
		c, hit := cache.Dirs[rel] // read only while the walk runs
		fresh := !ok || !hit || c.Stamp != st
		if fresh {
			c = readDir(dir, rel)
			c.Stamp = st
		}
		var found []nested
		for _, n := range c.Nested {
			e := nested{rel: join(rel, n.Name), dir: n.Dir}
			if !n.Dir {
				// A file's content changes without its folder's ctime.
				gd, err := ReadGitFile(filepath.Join(dir, n.Name))
				e.submodule = err == nil && inside(modules, gd)
			}
			found = append(found, e)
		}
		mu.Lock()
		changed = changed || fresh
		if ok && now.Sub(time.Unix(0, st.Ctime)) > RacyWindow {
			seen[rel] = c
		}
		out = append(out, found...)
		mu.Unlock()
		for _, s := range c.Subs {
			wg.Add(1)
			select {
			case slots <- struct{}{}:
				go func() {
					visit(filepath.Join(dir, s), join(rel, s))
					<-slots
				}()
			default:
				visit(filepath.Join(dir, s), join(rel, s))
			}
		}
	}
	wg.Add(1)
	visit(workspace, "")
	wg.Wait()
	cache.changed = changed || len(seen) != len(cache.Dirs)
	cache.Dirs = seen
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

func join(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// readDir lists a folder: the subfolders to descend into and its .git
// entries (any case).
func readDir(dir, rel string) cachedDir {
	var c cachedDir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return c // unreadable: host git cannot read it either
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.EqualFold(name, ".git"):
			if rel != "" {
				c.Nested = append(c.Nested, nestedEntry{Name: name, Dir: e.IsDir()})
			}
		case e.IsDir() && !(rel == "" && name == ".devcontainer"):
			c.Subs = append(c.Subs, name)
		}
	}
	return c
}
