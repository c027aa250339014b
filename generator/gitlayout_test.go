package generator

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGitLayouts: what devbox init mounts read-only, or says, for each
// layout of git in the workspace, in both layouts of the box.
func TestGitLayouts(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, ws string)
		want  []string // in devcontainer.json (single) and compose.yaml (gateway), as workspace paths
		// mountPoints are mounted writable at the same place: folders
		// above a read-only mount, which must not be renamed.
		mountPoints []string
		note        string
		err         string
	}{
		{name: "missing .git", setup: func(*testing.T, string) {}, want: []string{".vscode"}, note: "No .git directory when devbox init ran"},
		{name: "worktree", setup: func(t *testing.T, ws string) {
			put(t, ws, ".git", "gitdir: /srv/main/.git/worktrees/wt\n")
		}, want: []string{".vscode", ".git"}, note: "A linked worktree: .git is a file, mounted read-only"},
		{name: "worktree, not a .git file", setup: func(t *testing.T, ws string) {
			put(t, ws, ".git", "hello\n")
		}, err: `.git: is not a .git file git understands`},
		{name: "submodule, alternates, hooksPath, nested repository", setup: func(t *testing.T, ws string) {
			put(t, ws, ".git/HEAD", "ref: refs/heads/main\n")
			put(t, ws, ".git/config", "[core]\n\thooksPath = .husky/_\n")
			put(t, ws, ".git/hooks/pre-commit.sample", "")
			put(t, ws, ".git/objects/info/alternates", "/srv/objects\n")
			put(t, ws, ".git/modules/lib/HEAD", "x")
			put(t, ws, ".git/modules/lib/config", "[core]\n")
			put(t, ws, ".git/modules/lib/hooks/x.sample", "")
			put(t, ws, "lib/.git", "gitdir: ../.git/modules/lib\n")
			put(t, ws, ".husky/_/pre-commit", "")
			put(t, ws, "third_party/x/.git/HEAD", "x")
		}, want: []string{".git/hooks", ".git/config", ".vscode", ".git/objects/info", ".git/modules/lib/config", ".git/modules/lib/hooks", ".husky", "third_party/x/.git"},
			mountPoints: []string{".git/objects", ".git/modules", ".git/modules/lib", "third_party", "third_party/x"}},
		{name: "submodule config a symlink", setup: func(t *testing.T, ws string) {
			put(t, ws, ".git/HEAD", "ref: refs/heads/main\n")
			put(t, ws, ".git/modules/lib/HEAD", "x")
			if err := os.Symlink("/root/.ssh/id_ed25519", filepath.Join(ws, ".git/modules/lib/config")); err != nil {
				t.Skip(err)
			}
		}, err: ".git/modules/lib/config is a symlink"},
		{name: ".git a symlink", setup: func(t *testing.T, ws string) {
			if err := os.Symlink("/etc", filepath.Join(ws, ".git")); err != nil {
				t.Skip(err)
			}
		}, err: ".git: is a symlink"},
		{name: ".vscode a symlink", setup: func(t *testing.T, ws string) {
			if err := os.Symlink("/etc", filepath.Join(ws, ".vscode")); err != nil {
				t.Skip(err)
			}
		}, err: ".vscode: is a symlink"},
	} {
		for _, layout := range []struct {
			name   string
			opts   Options
			file   string
			format string
		}{
			{"single", Options{Agent: "none", SingleContainer: true}, "devcontainer.json", "source=${localWorkspaceFolder}/%s,target=${containerWorkspaceFolder}/%s,type=bind,readonly"},
			{"gateway", Options{Agent: "none"}, "compose.yaml", "source: ../%s\n        target: /workspaces/ws/%s\n        read_only: true"},
		} {
			t.Run(tt.name+"/"+layout.name, func(t *testing.T) {
				ws := filepath.Join(t.TempDir(), "ws")
				if err := os.Mkdir(ws, 0o755); err != nil {
					t.Fatal(err)
				}
				tt.setup(t, ws)
				o := layout.opts
				o.Workspace = ws
				r, err := Generate(withBinary(o))
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("got %v, want an error saying %q", err, tt.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got := fileOf(t, r, layout.file)
				for _, rel := range tt.want {
					if m := strings.ReplaceAll(layout.format, "%s", rel); !strings.Contains(got, m) {
						t.Errorf("%s does not mount %s read-only (want %q):\n%s", layout.file, rel, m, got)
					}
				}
				for _, rel := range tt.mountPoints {
					m := strings.ReplaceAll(strings.TrimSuffix(strings.TrimSuffix(layout.format, ",readonly"), "\n        read_only: true"), "%s", rel)
					if i := strings.Index(got, m); i < 0 || strings.HasPrefix(got[i+len(m):], ",readonly") || strings.HasPrefix(got[i+len(m):], "\n        read_only") {
						t.Errorf("%s does not make %s a writable mount point of its own (want %q)", layout.file, rel, m)
					}
				}
				if n := len(workspaceReadOnly.FindAllString(got, -1)); n != len(tt.want)+1 { // + .devcontainer
					t.Errorf("%s has %d read-only mounts, want %d", layout.file, n, len(tt.want)+1)
				}
				if tt.note != "" && !strings.Contains(strings.Join(strings.Fields(strings.NewReplacer("#", " ", "//", " ").Replace(got)), " "), tt.note) {
					t.Errorf("%s does not say %q", layout.file, tt.note)
				}
			})
		}
	}
}

// workspaceReadOnly matches a read-only mount of a workspace path in
// devcontainer.json or compose.yaml.
var workspaceReadOnly = regexp.MustCompile(`target=\$\{containerWorkspaceFolder\}/[^,]*,type=bind,readonly|target: /workspaces/ws/\S*\n\s*read_only: true`)

func put(t *testing.T, ws, rel, data string) {
	t.Helper()
	p := filepath.Join(ws, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileOf(t *testing.T, r *Result, name string) string {
	t.Helper()
	for _, f := range r.Files {
		if f.Path == name {
			return string(f.Data)
		}
	}
	t.Fatalf("no %s generated", name)
	return ""
}
