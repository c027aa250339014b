package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testTrust: the agent, root in dev, commits a changed devcontainer.json
// (an initializeCommand that would touch a marker on the host) and a local
// feature that turns seccomp off, through git's objects and index, as
// .devcontainer/ is read-only in the box. The host's later `git reset
// --hard` makes them real. `devbox up` then refuses the change, naming the
// files and `devbox trust`; trust off a terminal shows the diff and the
// settings and refuses without --yes; once accepted, up still refuses the
// feature's seccomp=unconfined before building or running anything. A
// symlink in the configuration, a workspace with no record and a .env
// choosing the compose project are refused. The marker never appears.
// It runs on the plain box only: none of it depends on services.
func testTrust(t *testing.T, w *workspace, kind boxKind) {
	if kind.name != "plain" {
		t.Skip("the trust routes run once, on the plain box")
	}
	marker := filepath.Join(t.TempDir(), "dbit-host-marker")
	hostGit := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", w.dir, "-c", "user.name=dbit", "-c", "user.email=dbit@example.invalid"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("host git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	checkMarker := func() {
		t.Helper()
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s exists: the changed configuration ran on the host", marker)
		}
	}
	expect := func(code int, args []string, wants ...string) string {
		t.Helper()
		res, err := w.devbox(args[0], args[1:]...)
		out := combined(res)
		if got := exitStatus(err); got != code {
			t.Fatalf("devbox %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, out)
		}
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("devbox %s does not say %q:\n%s", strings.Join(args, " "), want, out)
			}
		}
		return out
	}

	hostGit("add", "-A")
	hostGit("commit", "-qm", "the box as devbox init wrote it")
	initial := hostGit("rev-parse", "HEAD")
	t.Cleanup(func() {
		hostGit("reset", "-q", "--hard", initial)
		w.trust(t)
	})

	ws := "/workspaces/dbit-" + kind.name
	script := `set -e; cd ` + ws + `; g() { git -c safe.directory='*' -c user.name=agent -c user.email=agent@example.invalid "$@"; }
blob=$(sed 's|"features": *{}|"features": {"./evil": {}}, "initializeCommand": "touch ` + marker + `"|' .devcontainer/devcontainer.json | g hash-object -w --stdin)
g update-index --cacheinfo "100644,$blob,.devcontainer/devcontainer.json"
feature=$(printf '{"id": "evil", "version": "1.0.0", "name": "evil", "securityOpt": ["seccomp=unconfined"]}' | g hash-object -w --stdin)
g update-index --add --cacheinfo "100644,$feature,.devcontainer/evil/devcontainer-feature.json"
install=$(printf '#!/bin/sh\ntrue\n' | g hash-object -w --stdin)
g update-index --add --cacheinfo "100755,$install,.devcontainer/evil/install.sh"
g commit -qm "tidy up"`
	if res, err := w.devbox("exec", "-u", "root", "--", "sh", "-c", script); err != nil {
		t.Fatalf("the agent's commit through git's objects and index: %v\n%s", err, combined(res))
	}
	hostGit("reset", "-q", "--hard") // the host's checkout makes it real
	if data, _ := os.ReadFile(filepath.Join(w.dir, ".devcontainer", "devcontainer.json")); !strings.Contains(string(data), "initializeCommand") {
		t.Fatalf("the agent's commit did not reach the host's work tree:\n%s", data)
	}

	expect(1, []string{"up"}, "changed since it was trusted", ".devcontainer/devcontainer.json", ".devcontainer/evil/devcontainer-feature.json", "devbox trust -w "+w.dir)
	checkMarker()
	expect(2, []string{"trust"}, "devbox trust --yes -w "+w.dir,
		`"features": {"./evil": {}}, "initializeCommand": "touch `+marker+`"`,
		"devcontainer.json: initializeCommand touch "+marker,
		`feature "./evil": securityOpt seccomp=unconfined   REFUSED by up`,
		"compose service gateway: image ")
	expect(1, []string{"up"}, "changed since it was trusted")
	expect(0, []string{"trust", "--yes"}, "devbox: trusted")
	before := w.devContainer(t)
	expect(1, []string{"up"}, `feature "./evil": securityOpt seccomp=unconfined`)
	expect(1, []string{"up", "--rebuild"}, `feature "./evil": securityOpt seccomp=unconfined`)
	checkMarker()
	if after := w.devContainer(t); after != before {
		t.Errorf("the refused up replaced the dev container (%s, then %s)", before, after)
	}

	t.Run("symlink", func(t *testing.T) {
		f := filepath.Join(w.dir, ".devcontainer", "evil", "devcontainer-feature.json")
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/hostname", f); err != nil {
			t.Fatal(err)
		}
		expect(1, []string{"trust", "--yes"}, f+` is a symlink (to "/etc/hostname")`)
		expect(1, []string{"up"}, f+" is a symlink")
	})

	hostGit("reset", "-q", "--hard", initial)
	expect(1, []string{"up"}, "changed since it was trusted")
	w.trust(t)
	expect(0, []string{"up"})

	t.Run(".env", func(t *testing.T) {
		env := filepath.Join(w.dir, ".env")
		if err := os.WriteFile(env, []byte("# the box wrote this\nCOMPOSE_PROJECT_NAME=dbit-compose_devcontainer\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(env)
		expect(1, []string{"up"}, env+":2: COMPOSE_PROJECT_NAME")
	})

	t.Run("no record", func(t *testing.T) {
		copied := filepath.Join(t.TempDir(), "dbit-copied")
		if err := os.CopyFS(filepath.Join(copied, ".devcontainer"), os.DirFS(filepath.Join(w.dir, ".devcontainer"))); err != nil {
			t.Fatal(err)
		}
		res, err := w.s.run(nil, "up", "-w", copied)
		if exitStatus(err) != 1 || !strings.Contains(combined(res), "devbox has no record of this workspace's configuration") {
			t.Errorf("up of a workspace with no record: exit %d\n%s", exitStatus(err), combined(res))
		}
	})
}
