package app

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

// initFirewallStandIn builds a static program that does nothing, as the
// init-firewall binary: these tests check the command's wiring, not the
// firewall (package generator tests the real one).
func initFirewallStandIn(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"go.mod":  "module standin\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "init-firewall")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build stand-in: %v\n%s", err, b)
	}
	return out
}

// runInit runs `devbox init ARGS` as main would and returns the exit status
// and what the user saw.
func runInit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	state := stateDirFor(t)
	env := Env{Streams: Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, Getenv: func(k string) string {
		if k == "XDG_STATE_HOME" {
			return state // init records trust: never in the real state folder
		}
		return ""
	}}
	err := Run(context.Background(), env, append([]string{"devbox", "init"}, args...))
	code = report(&errOut, err)
	return code, out.String(), errOut.String()
}

func TestInitCommand(t *testing.T) {
	fw := initFirewallStandIn(t)
	ws := t.TempDir()

	code, out, errOut := runInit(t, "-w", ws, "--vendor-gateway", "--firewall-binary", fw, "--lang", "node@system", "--services", "postgres", "--allow", "example.org")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "wrote") || !strings.Contains(out, filepath.Join(ws, ".devcontainer")) {
		t.Errorf("output does not say what was written: %q", out)
	}
	for _, f := range []string{"devcontainer.json", "Dockerfile", "compose.yaml", "firewall.jsonc", "postgres-init.sql",
		"gateway/Dockerfile", "gateway/init-firewall-linux-" + runtime.GOARCH} {
		if _, err := os.Stat(filepath.Join(ws, ".devcontainer", f)); err != nil {
			t.Error(err)
		}
	}

	// Again without --force: a usage error naming the files, nothing changed.
	code, _, errOut = runInit(t, "-w", ws, "--vendor-gateway", "--firewall-binary", fw)
	if code != 2 || !strings.Contains(errOut, "already has") || !strings.Contains(errOut, "--force") {
		t.Errorf("re-run without --force: exit %d, %q", code, errOut)
	}

	code, out, errOut = runInit(t, "-w", ws, "--vendor-gateway", "--firewall-binary", fw, "--force")
	if code != 0 || !strings.Contains(out, "edited in place") {
		t.Errorf("--force: exit %d, %q %q", code, out, errOut)
	}
}

func TestInitCommandErrors(t *testing.T) {
	fw := initFirewallStandIn(t)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--agent", "copilot"}, 2, `unknown agent "copilot": accepted values: claude, codex, gemini, none`},
		{[]string{"--lang", "ruby@3"}, 2, `unknown language "ruby"`},
		{[]string{"--allow", "0.0.0.0/0"}, 2, "catch-all"},
		{[]string{"--allow", "*.co.uk:443"}, 2, `invalid --allow "*.co.uk:443": "co.uk" is a public suffix`},
		{[]string{"--allow", "example.com:0"}, 2, `invalid --allow "example.com:0"`}, // parsed only, never dialed
		{[]string{"--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"extra-arg"}, 2, "takes no arguments"},
		{[]string{"--single-container", "--firewall-binary", "/nonexistent"}, 2, "/nonexistent"},
		{[]string{"--firewall-binary", "/nonexistent"}, 2, "applies with --vendor-gateway or --single-container"},
		{[]string{"--gateway-image", "registry.test/gateway"}, 2, "pin the published image"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ws := t.TempDir()
			args := append([]string{"-w", ws}, tc.args...)
			if joined := strings.Join(tc.args, " "); !strings.Contains(joined, "firewall-binary") && !strings.Contains(joined, "gateway-image") {
				args = append([]string{"--vendor-gateway", "--firewall-binary", fw}, args...)
			}
			code, _, errOut := runInit(t, args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.want)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 && tc.want != "no-such-flag" {
				t.Errorf("error is %d lines, want one: %q", n+1, errOut)
			}
			if entries, _ := os.ReadDir(ws); len(entries) != 0 {
				t.Errorf("the workspace changed: %v", entries)
			}
		})
	}
}

func TestInitCommandDryRun(t *testing.T) {
	fw := initFirewallStandIn(t)
	ws := t.TempDir()
	code, out, errOut := runInit(t, "-w", ws, "--vendor-gateway", "--firewall-binary", fw, "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "devcontainer.json") || !strings.Contains(out, "FROM debian:bookworm-slim") {
		t.Errorf("dry run output: %q", out)
	}
	if entries, _ := os.ReadDir(ws); len(entries) != 0 {
		t.Errorf("a dry run wrote %v", entries)
	}
}

// TestInitCommandUpgrade: `init --force` on a --single-container workspace
// prints what it moved and removed (the dry run the same, as what it would
// do), and refuses, with exit 2, a setting it cannot carry.
func TestInitCommandUpgrade(t *testing.T) {
	fw := initFirewallStandIn(t)
	ws := t.TempDir()
	if code, _, errOut := runInit(t, "-w", ws, "--firewall-binary", fw, "--single-container", "--publish", "5173"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	moved := `moved runArgs "--publish=127.0.0.1:5173:5173" to compose.yaml (the gateway publishes 127.0.0.1:5173), as --publish 5173`
	code, _, errOut := runInit(t, "-w", ws, "--force", "--dry-run")
	if code != 0 || !strings.Contains(errOut, "devbox: dry run, would have "+moved+"\n") || !strings.Contains(errOut, "would have removed the local feature .devcontainer/devbox-firewall/") {
		t.Errorf("--force --dry-run: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := runInit(t, "-w", ws, "--force")
	if code != 0 || !strings.Contains(out, "devbox: "+moved+"\n") || !strings.Contains(out, "devbox: removed the local feature .devcontainer/devbox-firewall/") {
		t.Errorf("--force: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	ws = t.TempDir()
	if code, _, errOut := runInit(t, "-w", ws, "--firewall-binary", fw, "--single-container"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	path := filepath.Join(ws, ".devcontainer", "devcontainer.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(`"customizations"`), []byte(`"runArgs": ["--add-host=db.test:198.51.100.7"], "customizations"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runInit(t, "-w", ws, "--force")
	if code != 2 || !strings.Contains(errOut, `runArgs entry "--add-host=db.test:198.51.100.7"`) || !strings.Contains(errOut, "nothing was written") {
		t.Errorf("--force with a runArgs entry of the user's: exit %d, stderr %q", code, errOut)
	}
}

// stateDirFor is t's state folder, one per test, so that a test's runs
// share their trust records.
func stateDirFor(t *testing.T) string {
	t.Helper()
	if d, ok := testStates[t.Name()]; ok {
		return d
	}
	d := t.TempDir()
	testStates[t.Name()] = d
	return d
}

var testStates = map[string]string{}

// TestInitRecordsTrust: what init writes is trusted; init --force over a
// configuration changed since (as a checkout would change it) edits it but
// records nothing, and says to run devbox trust.
func TestInitRecordsTrust(t *testing.T) {
	ws := t.TempDir()
	if code, _, errOut := runInit(t, "-w", ws, "--agent", "none"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	m := &lifecycle.Manager{Getenv: func(k string) string { return map[string]string{"XDG_STATE_HOME": stateDirFor(t)}[k] }}
	if ok, err := m.TrustedOrAbsent(ws); !ok || err != nil {
		t.Fatalf("after init: trusted %v, %v", ok, err)
	}
	dc := filepath.Join(ws, ".devcontainer", "devcontainer.json")
	data, err := os.ReadFile(dc)
	if err != nil {
		t.Fatal(err)
	}
	planted := strings.Replace(string(data), `"features": {},`, `"features": {}, "initializeCommand": "touch /tmp/dbit-planted",`, 1)
	if planted == string(data) {
		t.Fatalf("no features line in:\n%s", data)
	}
	if err := os.WriteFile(dc, []byte(planted), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runInit(t, "-w", ws, "--agent", "none", "--force")
	if code != 0 || !strings.Contains(errOut, "not trusted before init") {
		t.Fatalf("init --force: exit %d: %s", code, errOut)
	}
	if ok, err := m.TrustedOrAbsent(ws); ok || err != nil {
		t.Errorf("init --force recorded a configuration nobody accepted: %v, %v", ok, err)
	}
	if data, _ := os.ReadFile(dc); !strings.Contains(string(data), "initializeCommand") {
		t.Errorf("the edit dropped the user's setting (the test expects it kept):\n%s", data)
	}
}
