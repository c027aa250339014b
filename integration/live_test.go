package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/integration/internal/inet"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// testLivePolicy: `devbox allow` opens the blocked test host in the
// running box within a second and keeps firewall.jsonc's comments;
// `devbox deny` closes it again; audit mode lets the blocked host through
// while the Docker host stays closed, and ends by itself. The file and
// the live policy are put back at the end.
func testLivePolicy(t *testing.T, w *workspace, kind boxKind) {
	if kind.services {
		t.Skip("run on the plain box only")
	}
	path := filepath.Join(w.dir, ".devcontainer", "firewall.jsonc")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(path, orig, 0o644)
		w.trust(t) // a hand edit, as the user accepts it
		if res, err := w.policy("reload"); err != nil {
			t.Errorf("put the policy back: %v\n%s", err, combined(res))
		}
	})
	byName := inet.URL(inet.Blocked.Name)
	byAddr := inet.URL(inet.Blocked.V4.String())
	curl := func(url string) (string, int) {
		return w.exec("curl", "-sS", "--max-time", "3", "--connect-timeout", "2", url)
	}
	if out, code := curl(byName); code == 0 {
		t.Fatalf("%s reached before the allow: %s", byName, out)
	}

	t.Run("dev cannot reach the control socket", func(t *testing.T) {
		// The path resolves in dev's own file system; the namespace's
		// /proc/net/unix names it, and no abstract socket of the gateway.
		script := `import socket,sys
found=[l.split()[-1] for l in open('/proc/net/unix').read().splitlines()[1:] if len(l.split()) == 8]
print('sockets', found)
for p in found + ['/run/devbox/control.sock']:
    s=socket.socket(socket.AF_UNIX)
    try:
        s.connect('\0'+p[1:] if p.startswith('@') else p); print('connected', p); sys.exit(0)
    except OSError as e:
        pass
sys.exit(2)`
		res, err := w.devbox("exec", "-u", "root", "--", "python3", "-c", script)
		if out, code := combined(res), exitStatus(err); code != 2 {
			t.Errorf("root in dev and the namespace's unix sockets: exit %d: %s", code, out)
		}
	})

	t.Run("allow reaches the host within 1s, comments kept", func(t *testing.T) {
		start := time.Now()
		out := w.mustDevbox(t, "allow", inet.Blocked.Name+":"+strconv.Itoa(inet.HTTPPort))
		took := time.Since(start)
		reach := time.Now()
		if got, code := curl(byName); code != 0 || !strings.Contains(got, "dbit-inet") {
			t.Fatalf("%s right after `devbox allow` (%v): exit %d: %s\n%s", byName, took, code, got, out)
		}
		t.Logf("devbox allow: %v as a whole process, then reached by the next devbox exec (%v)", took, time.Since(reach))
		if took > time.Second {
			t.Errorf("devbox allow took %v, want the change in effect within 1s", took)
		}
		data, _ := os.ReadFile(path)
		for line := range strings.Lines(string(orig)) {
			if i := strings.Index(line, "//"); i >= 0 && !strings.Contains(string(data), strings.TrimSpace(line[i:])) {
				t.Errorf("comment %q lost:\n%s", strings.TrimSpace(line[i:]), data)
			}
		}
		if !strings.Contains(string(data), "// devbox allow, ") {
			t.Errorf("no comment for the new entry:\n%s", data)
		}
	})

	t.Run("deny closes it, by name and by address", func(t *testing.T) {
		start := time.Now()
		w.mustDevbox(t, "deny", inet.Blocked.Name)
		took := time.Since(start)
		for _, url := range []string{byName, byAddr} {
			if got, code := curl(url); code == 0 {
				t.Errorf("%s after `devbox deny`: %s", url, got)
			}
		}
		t.Logf("devbox deny: %v as a whole process", took)
	})

	t.Run("audit mode: through, not the host, ends by itself", func(t *testing.T) {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		w.trust(t)
		if res, err := w.policy("reload"); err != nil {
			t.Fatalf("devbox policy reload: %v\n%s", err, combined(res))
		}
		port := hostListener(t)
		res, err := w.policy("audit", "5s")
		if err != nil || !strings.Contains(combined(res), "AUDIT MODE") {
			t.Fatalf("devbox policy audit 5s: %v\n%s", err, combined(res))
		}
		until := time.Now().Add(5 * time.Second)
		for _, url := range []string{byAddr, byName} {
			if got, code := curl(url); code != 0 {
				t.Errorf("%s in audit mode: exit %d: %s", url, code, got)
			}
		}
		for _, gw := range strings.Fields(docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.Gateway}} {{end}}", w.gatewayContainer(t))) {
			if out, code := w.exec("python3", "-c", connectScript, gw, port); code != 2 {
				t.Errorf("the Docker host %s:%s in audit mode: exit %d (%s), want refused", gw, port, code, out)
			}
		}
		if st := w.s.status(t); !strings.Contains(st, "AUDIT") {
			t.Errorf("devbox status in audit mode says nothing:\n%s", st)
		}
		res, err = w.devbox("exec", "--", "true")
		if err != nil || !strings.Contains(string(res.Stderr), "AUDIT MODE") {
			t.Errorf("devbox exec in audit mode: %v, stderr %q", err, res.Stderr)
		}
		for {
			if _, code := curl(byAddr); code != 0 {
				t.Logf("audit mode ended %v after its end", time.Since(until).Round(time.Millisecond))
				break
			}
			if time.Now().After(until.Add(3 * time.Second)) {
				t.Fatal("audit mode did not end by itself")
			}
		}
		if got, code := curl(byName); code == 0 {
			t.Errorf("%s after audit mode: %s", byName, got)
		}
	})
}

// policy runs `devbox policy SUB -w DIR ARGS...` (the workspace flag is
// the subcommand's).
func (w *workspace) policy(sub string, args ...string) (runner.Result, error) {
	return w.s.run(nil, slices.Concat([]string{"policy", sub, "-w", w.dir}, args)...)
}
