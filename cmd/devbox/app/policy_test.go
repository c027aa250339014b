package app

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

func allowCmd(env Env, m *lifecycle.Manager) *cli.Command  { return allowCommand(env, m, false) }
func denyCmd(env Env, m *lifecycle.Manager) *cli.Command   { return allowCommand(env, m, true) }
func policyCmd(env Env, m *lifecycle.Manager) *cli.Command { return policyCommand(env, m) }

const testAllowlist = "{\n  // ours\n  \"domains\": [\"api.example.com\"]\n}\n"

// stable hides what changes from run to run: the time taken, the user and
// the date of a comment.
func (w *world) stable() {
	s := regexp.MustCompile(`in \d+ ms`).ReplaceAllString(w.out.String(), "in N ms")
	w.out.Reset()
	w.out.WriteString(s)
}

func TestAllowLive(t *testing.T) {
	w := newWorld(t, true)
	w.withGateway()
	path := filepath.Join(w.ws, ".devcontainer", "firewall.jsonc")
	writeFile(t, path, testAllowlist)
	w.trust()
	w.execOut = `{"ok":true,"changes":["+ allow sibling.example.org:22"],"tookMs":3.2}` + "\n"
	code := w.run(allowCmd, "allow", "-w", w.ws, "sibling.example.org:22")
	if want := []string{contract.FirewallBinary, "ctl", "--json", "reload"}; !slices.Equal(w.lastExec.Cmd, want) || w.lastExec.User != "root" {
		t.Errorf("ran %q as %q in the gateway, want %q as root", w.lastExec.Cmd, w.lastExec.User, want)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "// ours") || !strings.Contains(string(data), `"sibling.example.org:22"`) || !strings.Contains(string(data), "// devbox allow, ") {
		t.Errorf("firewall.jsonc:\n%s", data)
	}
	w.stable()
	w.golden("allow-live", code)
}

// TestAllowUntrusted: a firewall.jsonc with changes nobody accepted (the
// agent's, through git) is edited but not applied live, where the gateway
// would take the whole file; the output says how to review it.
func TestAllowUntrusted(t *testing.T) {
	w := newWorld(t, true)
	w.withGateway()
	path := filepath.Join(w.ws, ".devcontainer", "firewall.jsonc")
	writeFile(t, path, testAllowlist) // changed since trusted
	code := w.run(allowCmd, "allow", "-w", w.ws, "sibling.example.org:22")
	if w.lastExec.Cmd != nil {
		t.Errorf("asked the gateway %q with an untrusted configuration", w.lastExec.Cmd)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"sibling.example.org:22"`) {
		t.Errorf("firewall.jsonc not edited:\n%s", data)
	}
	if code != 0 || !strings.Contains(w.out.String(), "devbox trust -w "+w.ws) || !strings.Contains(w.out.String(), "devbox policy reload -w "+w.ws) {
		t.Errorf("exit %d, stdout %q: want the edit kept, not applied, and the way to review and apply it", code, w.out.String())
	}
	w.err.Reset()
	if code := w.run(policyCmd, "policy", "reload", "-w", w.ws); code == 0 || !strings.Contains(w.err.String(), "devbox trust -w "+w.ws) || w.lastExec.Cmd != nil {
		t.Errorf("policy reload of an untrusted configuration: exit %d, stderr %q, ran %q", code, w.err.String(), w.lastExec.Cmd)
	}
}

func TestAllowWithoutBox(t *testing.T) {
	w := newWorld(t, true)
	w.boxes = nil
	path := filepath.Join(w.ws, ".devcontainer", "firewall.jsonc")
	writeFile(t, path, testAllowlist)
	w.trust()
	code := w.run(denyCmd, "deny", "-w", w.ws, "api.example.com")
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), `"domains": ["api.example.com"]`) || !strings.Contains(string(data), `"deny"`) {
		t.Errorf("firewall.jsonc after the deny:\n%s", data)
	}
	w.golden("deny-no-box", code)
}

func TestAllowRefused(t *testing.T) {
	w := newWorld(t, true)
	path := filepath.Join(w.ws, ".devcontainer", "firewall.jsonc")
	writeFile(t, path, testAllowlist)
	code := w.run(allowCmd, "allow", "-w", w.ws, "**.github.io")
	if data, _ := os.ReadFile(path); string(data) != testAllowlist {
		t.Errorf("firewall.jsonc changed:\n%s", data)
	}
	if w.lastExec.Cmd != nil {
		t.Errorf("asked the gateway %q for a refused entry", w.lastExec.Cmd)
	}
	w.golden("allow-refused", code)
	w = newWorld(t, true)
	writeFile(t, filepath.Join(w.ws, ".devcontainer", "firewall.jsonc"), testAllowlist)
	w.withGateway()
	code = w.run(allowCmd, "allow", "-w", w.ws, "API.example.com")
	if w.lastExec.Cmd != nil {
		t.Errorf("asked the gateway %q for a duplicate", w.lastExec.Cmd)
	}
	w.golden("allow-duplicate", code)
}

func TestPolicyCheckWithoutBox(t *testing.T) {
	w := newWorld(t, true)
	w.boxes = nil
	writeFile(t, filepath.Join(w.ws, ".devcontainer", "firewall.jsonc"), testAllowlist)
	code := w.run(policyCmd, "policy", "check", "-w", w.ws, "api.example.com:443")
	w.golden("policy-check-no-box", code)
}

func TestAuditModeSaidLoudly(t *testing.T) {
	w := newWorld(t, true)
	w.withGateway()
	w.markers[contract.AuditMarker] = started.Add(2 * time.Hour) // Now is started+90m
	w.execOut = "hello\n"
	code := w.run(execCmd, "exec", "-w", w.ws, "--", "echo", "hello")
	if code != 0 || !strings.Contains(w.err.String(), "AUDIT MODE until") || w.out.String() != "hello\n" {
		t.Errorf("exec in audit mode: exit %d, stdout %q, stderr %q", code, w.out.String(), w.err.String())
	}
	w.out.Reset()
	w.err.Reset()
	code = w.run(statusCmd, "status")
	if code != 0 || !strings.Contains(w.out.String(), "AUDIT") || !strings.Contains(w.out.String(), "AUDIT MODE until") {
		t.Errorf("status in audit mode: exit %d, stdout %q", code, w.out.String())
	}
	// Ended (its time is past): nothing said.
	w.markers[contract.AuditMarker] = started.Add(time.Hour)
	w.out.Reset()
	w.err.Reset()
	if code := w.run(execCmd, "exec", "-w", w.ws, "--", "true"); code != 0 || strings.Contains(w.err.String(), "AUDIT") {
		t.Errorf("exec after audit mode: exit %d, stderr %q", code, w.err.String())
	}
}

func TestUpAuditRefusesBadDurations(t *testing.T) {
	for _, d := range []string{"off", "25h", "soon"} {
		w := newWorld(t, true)
		if code := w.run(upCmd, "up", "-w", w.ws, "--audit", d); code != exitUsage || !strings.Contains(w.err.String(), "--audit") {
			t.Errorf("up --audit %s: exit %d, stderr %q", d, code, w.err.String())
		}
	}
}

// TestAllowSymlink: a firewall.jsonc that is a symlink (a checkout can make
// one) is refused, and what it points to is neither read into the file nor
// changed.
func TestAllowSymlink(t *testing.T) {
	w := newWorld(t, true)
	w.withGateway()
	target := filepath.Join(t.TempDir(), "secret")
	writeFile(t, target, testAllowlist)
	path := filepath.Join(w.ws, ".devcontainer", "firewall.jsonc")
	os.Remove(path)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	code := w.run(allowCmd, "allow", "-w", w.ws, "sibling.example.org:22")
	if data, _ := os.ReadFile(target); string(data) != testAllowlist {
		t.Errorf("the symlink's target changed:\n%s", data)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("firewall.jsonc is no longer the symlink: %v", err)
	}
	if code == 0 || w.lastExec.Cmd != nil || !strings.Contains(w.err.String(), "symlink") {
		t.Errorf("allow through a symlinked firewall.jsonc: exit %d, ran %q, stderr %q", code, w.lastExec.Cmd, w.err.String())
	}
}
