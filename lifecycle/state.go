package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/devbox-sandbox/devbox/internal/atomicfile"
)

// boxState is what devbox remembers about a workspace's container after a
// successful `up`: enough for `up` to return without starting Node and for
// `exec` to run without probing the user's environment each time.
type boxState struct {
	ContainerID           string   `json:"containerId"`
	Workspace             string   `json:"workspace"`
	ConfigHash            string   `json:"configHash"` // content of .devcontainer/
	ConfigStamp           string   `json:"configStamp"`
	RemoteUser            string   `json:"remoteUser"`
	RemoteWorkspaceFolder string   `json:"remoteWorkspaceFolder"`
	Shell                 string   `json:"shell"`
	Env                   []string `json:"env"` // probed environment + remoteEnv
	// KeptVolumes are the named volumes `down` left, for `down --volumes`.
	KeptVolumes []string `json:"keptVolumes,omitempty"`
	// Project is the box's compose project: `down` finds the gateway and
	// services by it when the dev container is gone (they carry no
	// workspace label).
	Project string `json:"composeProject,omitempty"`
}

// statePath is one small JSON file per workspace.
func (m *Manager) statePath(ws Workspace) string {
	sum := sha256.Sum256([]byte(ws.Dir))
	return filepath.Join(m.stateDir(), "boxes", hex.EncodeToString(sum[:8])+".json")
}

// loadState returns the state recorded for ws, or nil when there is none or
// it belongs to another container.
func (m *Manager) loadState(ws Workspace, containerID string) *boxState {
	data, err := os.ReadFile(m.statePath(ws))
	if err != nil {
		return nil
	}
	var st boxState
	if json.Unmarshal(data, &st) != nil || st.Workspace != ws.Dir {
		return nil
	}
	if containerID != "" && st.ContainerID != containerID {
		return nil
	}
	return &st
}

func (m *Manager) saveState(ws Workspace, st *boxState) error {
	p := m.statePath(ws)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := atomicfile.Write(p, data, 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

func (m *Manager) dropState(ws Workspace) {
	_ = os.Remove(m.statePath(ws))
}

// configStamp fingerprints .devcontainer/ from names, sizes, modes and
// mtimes only: a stat per file, cheap enough for the fast path of `up`.
func configStamp(ws Workspace) (string, error) {
	h := sha256.New()
	err := walkConfig(ws, func(rel string, fi fs.FileInfo, _ string) error {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00%d\n", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// configHash fingerprints .devcontainer/ from names, modes and contents:
// the change detection that decides whether a container is out of date.
func configHash(ws Workspace) (string, error) {
	h := sha256.New()
	err := walkConfig(ws, func(rel string, fi fs.FileInfo, path string) error {
		fmt.Fprintf(h, "%s\x00%o\x00", rel, fi.Mode().Perm()|fi.Mode().Type())
		if fi.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
		} else if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			h.Write([]byte(target))
		}
		h.Write([]byte("\n"))
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func walkConfig(ws Workspace, fn func(rel string, fi fs.FileInfo, path string) error) error {
	root := filepath.Dir(ws.ConfigFile)
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &NoConfigError{Dir: ws.Dir}
		}
		return fmt.Errorf("read %s: %w", root, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if filepath.Base(p) == "devcontainer-lock.json" {
			continue // written by the CLI itself (feature lock), not an input
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		if err := fn(rel, fi, p); err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
	}
	return nil
}
