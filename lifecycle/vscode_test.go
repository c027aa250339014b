package lifecycle

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVSCodeSettingsPath(t *testing.T) {
	env := envMapGetter{"HOME": "/home/u", "APPDATA": `C:\Users\u\AppData\Roaming`}
	for goos, want := range map[string]string{
		"linux":   filepath.Join("/home/u", ".config", "Code", "User", "settings.json"),
		"darwin":  filepath.Join("/home/u", "Library", "Application Support", "Code", "User", "settings.json"),
		"windows": filepath.Join(`C:\Users\u\AppData\Roaming`, "Code", "User", "settings.json"),
	} {
		if got := vscodeSettingsPath(goos, env.get); got != want {
			t.Errorf("%s: got %q, want %q", goos, got, want)
		}
	}
	if got := vscodeSettingsPath("linux", envMapGetter{"XDG_CONFIG_HOME": "/x"}.get); got != filepath.Join("/x", "Code", "User", "settings.json") {
		t.Errorf("XDG_CONFIG_HOME: got %q", got)
	}
}

func TestCheckVSCode(t *testing.T) {
	for _, tt := range []struct {
		name, settings string
		env            envMapGetter
		want, not      []string
	}{
		{name: "no VS Code", want: nil},
		{name: "defaults", settings: "{}", want: []string{
			`"dev.containers.gitCredentialHelperConfigLocation": "none"`, `"dev.containers.copyGitConfig": false`,
			`"dev.containers.dockerCredentialHelper": false`, "BROWSER"}},
		{name: "turned off, with comments and the old prefix", settings: `{
  // mine
  "dev.containers.gitCredentialHelperConfigLocation": "none",
  "remote.containers.copyGitConfig": false,
  "dev.containers.dockerCredentialHelper": false,
  "dev.containers.mountWaylandSocket": false,
}`, want: []string{"BROWSER"}, not: []string{"gitCredentialHelperConfigLocation", "copyGitConfig", "dockerCredentialHelper"}},
		{name: "SSH agent", settings: "{}", env: envMapGetter{"SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1"}, want: []string{"forwards your SSH agent"}},
		{name: "unreadable", settings: `{"a": `, want: []string{"settings.json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := t.TempDir()
			env := envMapGetter{"XDG_CONFIG_HOME": cfg, "HOME": cfg, "APPDATA": cfg}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.settings != "" {
				p := vscodeSettingsPath(runtime.GOOS, env.get)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tt.settings), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m := &Manager{Getenv: env.get}
			var got strings.Builder
			for _, c := range m.checkVSCode() {
				if !c.OK || !c.Warning {
					t.Errorf("%+v is not a warning", c)
				}
				got.WriteString(c.Detail + "\n" + c.Fix + "\n")
			}
			if tt.want == nil && got.Len() > 0 {
				t.Errorf("warned without VS Code settings:\n%s", got.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(got.String(), w) {
					t.Errorf("does not say %q:\n%s", w, got.String())
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got.String(), n) {
					t.Errorf("says %q:\n%s", n, got.String())
				}
			}
		})
	}
}
