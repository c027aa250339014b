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
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"

	"github.com/devbox-sandbox/devbox/internal/atomicfile"
)

// Trust on first use. The host runs what a box's configuration says
// (initializeCommand on the host itself; mounts, capabilities and images
// for the box), and the agent can change that configuration through git
// (a staged or committed devcontainer.json that a later checkout makes
// real) or through files outside .devcontainer/ that it refers to. So
// devbox records, per workspace, every file the configuration refers to,
// and `up` refuses a workspace whose files differ from the record, or
// that has none, until `devbox trust` has shown the change and the user
// accepted it. `devbox init` records what it wrote.

// Bounds of what a record keeps and walks.
const (
	trustTextMax  = 64 << 10 // a file's content is kept for the diff up to this size
	trustTextSum  = 1 << 20  // and up to this much in all
	trustFilesMax = 5000     // files in the configuration's set
	trustBytesMax = 64 << 20 // bytes hashed in all
)

// TrustedFile is one file of a workspace's configuration as recorded or
// as found now.
type TrustedFile struct {
	// Path is relative to the workspace, slash-separated; files outside
	// it start with ../.
	Path   string `json:"path"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256"`
	// Text is the content, kept for the diff when the file is small text.
	Text *string `json:"text,omitempty"`
}

// trustRecord is what `devbox trust` (or init) accepted for a workspace.
type trustRecord struct {
	Workspace string        `json:"workspace"`
	Files     []TrustedFile `json:"files"`
}

// FileChange is one file that differs from the record: added (Old nil),
// removed (New nil) or changed.
type FileChange struct {
	Path string
	Old  *TrustedFile
	New  *TrustedFile
}

// UntrustedError refuses a workspace whose configuration was never
// accepted, or changed since.
type UntrustedError struct {
	Dir     string
	Missing bool     // no record at all
	Changed []string // paths added, removed or changed
}

// Error implements error.
func (e *UntrustedError) Error() string {
	what := "devbox has no record of this workspace's configuration (a clone, or a box made without `devbox init`)"
	if !e.Missing {
		what = "the box's configuration changed since it was trusted: " + strings.Join(e.Changed, ", ")
	}
	return fmt.Sprintf("%s. The host runs what it says (initializeCommand, mounts, images), and the agent can change it through git: "+
		"review and accept it with `devbox trust -w %s`", what, e.Dir)
}

// trustPath is one small JSON file per workspace, beside boxes/.
func (m *Manager) trustPath(ws Workspace) string {
	sum := sha256.Sum256([]byte(ws.Dir))
	return filepath.Join(m.stateDir(), "trust", hex.EncodeToString(sum[:8])+".json")
}

func (m *Manager) loadTrust(ws Workspace) (*trustRecord, error) {
	data, err := os.ReadFile(m.trustPath(ws))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the trust record: %w", err)
	}
	var rec trustRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("read the trust record %s: %w", m.trustPath(ws), err)
	}
	if rec.Workspace != ws.Dir {
		return nil, nil
	}
	return &rec, nil
}

func (m *Manager) saveTrust(ws Workspace, files []TrustedFile) error {
	p := m.trustPath(ws)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("record trust: %w", err)
	}
	data, err := json.MarshalIndent(trustRecord{Workspace: ws.Dir, Files: files}, "", "  ")
	if err != nil {
		return fmt.Errorf("record trust: %w", err)
	}
	if err := atomicfile.Write(p, data, 0o600); err != nil {
		return fmt.Errorf("record trust: %w", err)
	}
	return nil
}

// EditTrusted runs edit, devbox's own change of the workspace's files at
// the user's command (`devbox init`, `devbox allow` and `deny`), and
// records the result as trusted when the configuration was trusted (or
// absent) before: what the user asked for is all that changed. Otherwise
// the edit stands but nothing is recorded, and recorded is false: the
// caller tells the user to run `devbox trust`, as files nobody accepted
// lie beside the edit.
func (m *Manager) EditTrusted(dir string, edit func() error) (recorded bool, err error) {
	trusted, err := m.TrustedOrAbsent(dir)
	if err != nil {
		return false, err
	}
	if err := edit(); err != nil {
		return false, err
	}
	if !trusted {
		return false, nil
	}
	return true, m.RecordTrust(dir)
}

// RecordTrust records the configuration of the workspace at dir as it is
// now, as trusted, without showing anything. Only for what the user has
// seen or asked for: devbox's own edits go through EditTrusted, which
// checks the record first.
func (m *Manager) RecordTrust(dir string) error {
	ws, err := OpenWorkspace(dir)
	if err != nil {
		return err
	}
	files, err := configFiles(ws)
	if err != nil {
		return err
	}
	return m.saveTrust(ws, files)
}

// TrustedOrAbsent reports whether the workspace at dir has no (or an
// empty) .devcontainer/, or one whose configuration matches its trust
// record: then what `devbox init` writes there is all the user asked for,
// and can be recorded as trusted.
func (m *Manager) TrustedOrAbsent(dir string) (bool, error) {
	ws, err := workspaceAt(dir)
	if err != nil {
		return false, err
	}
	entries, err := os.ReadDir(filepath.Dir(ws.ConfigFile))
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0:
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read %s: %w", filepath.Dir(ws.ConfigFile), err)
	}
	if _, err := os.Lstat(ws.ConfigFile); err != nil {
		return false, nil // files beside a missing devcontainer.json: nobody accepted them
	}
	err = m.checkTrusted(ws)
	var untrusted *UntrustedError
	var noConfig *NoConfigError
	if errors.As(err, &untrusted) || errors.As(err, &noConfig) {
		return false, nil
	}
	return err == nil, err
}

// checkTrusted refuses ws unless its configuration is what was trusted.
func (m *Manager) checkTrusted(ws Workspace) error {
	files, err := configFiles(ws)
	if err != nil {
		return err
	}
	rec, err := m.loadTrust(ws)
	if err != nil {
		return err
	}
	if rec == nil {
		return &UntrustedError{Dir: ws.Dir, Missing: true}
	}
	if changes := diffFiles(rec.Files, files); len(changes) > 0 {
		e := &UntrustedError{Dir: ws.Dir}
		for _, c := range changes {
			e.Changed = append(e.Changed, c.Path)
		}
		return e
	}
	return nil
}

// diffFiles lists the files of now that differ from rec, in path order.
func diffFiles(rec, now []TrustedFile) []FileChange {
	old := map[string]*TrustedFile{}
	for i := range rec {
		old[rec[i].Path] = &rec[i]
	}
	var changes []FileChange
	for i := range now {
		f := &now[i]
		o := old[f.Path]
		delete(old, f.Path)
		if o == nil || o.SHA256 != f.SHA256 || o.Mode != f.Mode {
			changes = append(changes, FileChange{Path: f.Path, Old: o, New: f})
		}
	}
	for p, o := range old {
		changes = append(changes, FileChange{Path: p, Old: o})
	}
	slices.SortFunc(changes, func(a, b FileChange) int { return strings.Compare(a.Path, b.Path) })
	return changes
}

// SymlinkError refuses a symlink among the configuration's files: the
// host would read (or Docker mount or build) whatever it points to.
type SymlinkError struct{ Path, Target string }

// Error implements error.
func (e *SymlinkError) Error() string {
	return fmt.Sprintf("%s is a symlink (to %q): the box's configuration may not go through symlinks, as the host would read whatever they point to. "+
		"Check how it got there (the box can write the workspace), then replace it with the real file or folder", e.Path, e.Target)
}

// configFiles hashes every file the configuration of ws refers to:
// everything in .devcontainer/, and what devcontainer.json and the
// compose files name outside it (Dockerfiles, build contexts, compose
// files, env files, local features). A build context that holds the
// whole workspace is not walked (it changes with every edit and reaches
// only the image); its Dockerfile is.
func configFiles(ws Workspace) ([]TrustedFile, error) {
	c := &collector{ws: ws, seen: map[string]bool{}}
	configDir := filepath.Dir(ws.ConfigFile)
	if err := c.addTree(configDir); err != nil {
		return nil, err
	}
	refs, err := configRefs(ws)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if err := c.add(r); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(c.files, func(a, b TrustedFile) int { return strings.Compare(a.Path, b.Path) })
	return c.files, nil
}

type collector struct {
	ws        Workspace
	seen      map[string]bool
	files     []TrustedFile
	bytes     int64
	textBytes int
}

// add records path (a file or folder), refusing a symlink on the way to
// it below the workspace's own ancestors.
func (c *collector) add(path string) error {
	path = filepath.Clean(path)
	if err := c.checkPath(path); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // its later appearance is a change like any other
	}
	if err != nil {
		return fmt.Errorf("read %s (named by the box's configuration): %w", path, err)
	}
	if fi.IsDir() {
		if isWithin(c.ws.Dir, path) { // the workspace, or above it
			return nil
		}
		return c.addTree(path)
	}
	return c.addFile(path, fi)
}

// checkPath refuses a symlink at path or at any folder on the way to it,
// other than the folders that hold the workspace itself.
func (c *collector) checkPath(path string) error {
	vol := filepath.VolumeName(path)
	cur := vol + string(filepath.Separator)
	for _, part := range strings.Split(strings.TrimPrefix(path[len(vol):], string(filepath.Separator)), string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		if isWithin(c.ws.Dir, cur) {
			continue
		}
		fi, err := os.Lstat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // said when it is read
			}
			return fmt.Errorf("check %s: %w", cur, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(cur)
			return &SymlinkError{Path: cur, Target: target}
		}
	}
	return nil
}

// isWithin reports whether inner is dir or a folder holding it.
func isWithin(inner, dir string) bool {
	rel, err := filepath.Rel(dir, inner)
	return err == nil && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// addTree records every file under root, refusing symlinks and anything
// but files and folders.
func (c *collector) addTree(root string) error {
	if err := c.checkPath(root); err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return &NoConfigError{Dir: c.ws.Dir}
			}
			return fmt.Errorf("read %s: %w", p, err)
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			return &SymlinkError{Path: p, Target: target}
		case fi.IsDir():
			return nil
		case isFeatureLock(p):
			// The CLI writes it at every up with registry features; it
			// pins features the recorded devcontainer.json names, whose
			// settings up checks as the CLI resolves them.
			return nil
		}
		return c.addFile(p, fi)
	})
}

// isFeatureLock reports whether p is the CLI's feature lock file beside
// devcontainer.json (devcontainer-lock.json, or .devcontainer-lock.json
// beside .devcontainer.json).
func isFeatureLock(p string) bool {
	b := filepath.Base(p)
	return b == "devcontainer-lock.json" || b == ".devcontainer-lock.json"
}

func (c *collector) addFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s): the box's configuration holds only files and folders", path, fi.Mode().Type())
	}
	rel, err := filepath.Rel(c.ws.Dir, path)
	if err != nil {
		return fmt.Errorf("record %s: %w", path, err)
	}
	rel = filepath.ToSlash(rel)
	if c.seen[rel] {
		return nil
	}
	c.seen[rel] = true
	if len(c.files) >= trustFilesMax || c.bytes+fi.Size() > trustBytesMax {
		return fmt.Errorf("the box's configuration refers to more than %d files or %d MB (at %s): keep build contexts small, or inside .devcontainer/", trustFilesMax, trustBytesMax>>20, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	var keep strings.Builder
	w := io.Writer(h)
	small := fi.Size() <= trustTextMax && c.textBytes+int(fi.Size()) <= trustTextSum

	if small {
		w = io.MultiWriter(h, &keep)
	}
	n, err := io.Copy(w, f)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	c.bytes += n
	tf := TrustedFile{Path: rel, Mode: fi.Mode().Perm().String(), SHA256: hex.EncodeToString(h.Sum(nil))}
	// (n, not the size stat gave: the file may have grown since.)
	if text := keep.String(); small && n <= trustTextMax && utf8.ValidString(text) && !strings.ContainsRune(text, 0) {
		c.textBytes += len(text)
		tf.Text = &text
	}
	c.files = append(c.files, tf)
	return nil
}

// configRefs lists the files and folders (absolute) that devcontainer.json
// and the compose files refer to: Dockerfiles, build contexts, compose
// files, env files, extended files and local features.
func configRefs(ws Workspace) ([]string, error) {
	dir := filepath.Dir(ws.ConfigFile)
	var cfg struct {
		Build struct {
			Dockerfile string `json:"dockerfile"`
			Context    string `json:"context"`
		} `json:"build"`
		DockerFile        string         `json:"dockerFile"`
		Context           string         `json:"context"`
		DockerComposeFile any            `json:"dockerComposeFile"`
		Features          map[string]any `json:"features"`
	}
	if err := readConfigJSON(ws, &cfg); err != nil {
		return nil, err
	}
	r := refList{base: dir, file: ws.ConfigFile}
	r.add(cfg.Build.Dockerfile, cfg.DockerFile, cfg.Build.Context, cfg.Context)
	for id := range cfg.Features {
		if strings.HasPrefix(id, "./") || strings.HasPrefix(id, "../") {
			r.add(id)
		}
	}
	composeFiles := composeFileList(cfg.DockerComposeFile)
	r.add(composeFiles...)
	if r.err != nil {
		return nil, r.err
	}
	// Compose resolves relative paths against the first file's folder, and
	// reads the .env there.
	if len(composeFiles) > 0 {
		cr := refList{base: filepath.Dir(filepath.Join(dir, composeFiles[0]))}
		cr.add(".env")
		for _, name := range composeFiles {
			cr.file = filepath.Join(dir, name)
			if err := cr.compose(cr.file); err != nil {
				return nil, err
			}
		}
		if cr.err != nil {
			return nil, cr.err
		}
		r.paths = append(r.paths, cr.paths...)
	}
	return r.paths, nil
}

// composeFileList is dockerComposeFile as a list of names.
func composeFileList(v any) []string {
	switch f := v.(type) {
	case string:
		return []string{f}
	case []any:
		var out []string
		for _, n := range f {
			if s, ok := n.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// refList gathers paths relative to base, refusing interpolated ones.
type refList struct {
	base, file string
	paths      []string
	err        error
}

func (r *refList) add(names ...string) {
	for _, n := range names {
		switch {
		case n == "" || r.err != nil:
		case strings.Contains(n, "$"):
			r.err = fmt.Errorf("%s: the path %q is interpolated, so devbox cannot tell which file it names: write it out", r.file, n)
		case filepath.IsAbs(n):
			r.paths = append(r.paths, filepath.Clean(n))
		default:
			r.paths = append(r.paths, filepath.Join(r.base, n))
		}
	}
}

// compose adds what one compose file refers to.
func (r *refList) compose(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var doc struct {
		Include []any `yaml:"include"`
		// Files compose mounts into the containers.
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
		Configs map[string]struct {
			File string `yaml:"file"`
		} `yaml:"configs"`
		Services map[string]struct {
			Build   any `yaml:"build"`
			EnvFile any `yaml:"env_file"`
			Extends struct {
				File string `yaml:"file"`
			} `yaml:"extends"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	if len(doc.Include) > 0 {
		return fmt.Errorf("%s: include is not supported by devbox's record of the configuration: merge the included files into dockerComposeFile", path)
	}
	for _, x := range doc.Secrets {
		r.add(x.File)
	}
	for _, x := range doc.Configs {
		r.add(x.File)
	}
	for _, s := range doc.Services {
		b, ok := s.Build.(map[string]any)
		if ctx, short := s.Build.(string); short {
			b, ok = map[string]any{"context": ctx}, true
		}
		if ok {
			ctx, _ := b["context"].(string)
			if ctx == "" {
				ctx = "."
			}
			if strings.Contains(ctx, "://") {
				return fmt.Errorf("%s: a remote build context (%s) cannot be recorded: build from a folder", path, ctx)
			}
			r.add(ctx)
			if df, _ := b["dockerfile"].(string); df != "" {
				if !filepath.IsAbs(df) {
					df = filepath.Join(ctx, df)
				}
				r.add(df)
			} else {
				r.add(filepath.Join(ctx, "Dockerfile"))
			}
		}
		switch e := s.EnvFile.(type) {
		case string:
			r.add(e)
		case []any:
			for _, item := range e {
				switch v := item.(type) {
				case string:
					r.add(v)
				case map[string]any:
					p, _ := v["path"].(string)
					r.add(p)
				}
			}
		}
		r.add(s.Extends.File)
	}
	return nil
}

// composeFilesOf returns the compose files of ws (absolute, in order), or
// none for a single-container configuration.
func composeFilesOf(ws Workspace) ([]string, error) {
	var cfg struct {
		DockerComposeFile any `json:"dockerComposeFile"`
	}
	if err := readConfigJSON(ws, &cfg); err != nil {
		return nil, err
	}
	r := refList{base: filepath.Dir(ws.ConfigFile), file: ws.ConfigFile}
	r.add(composeFileList(cfg.DockerComposeFile)...)
	return r.paths, r.err
}
