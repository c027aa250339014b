package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// TestTrustCommand: off a terminal, trust shows the change and refuses
// without --yes, naming the command; with --yes it records, and up runs.
func TestTrustCommand(t *testing.T) {
	w := newWorld(t, true)
	// A change that arrived through git: devcontainer.json with an
	// initializeCommand, and a line with a terminal escape.
	writeFile(t, filepath.Join(w.ws, ".devcontainer", "devcontainer.json"),
		"{\"image\": \"devbox-test/debian:bookworm\", \"features\": {\"./devbox-firewall\": {}},\n  \"remoteUser\": \"dev\", \"initializeCommand\": \"touch /tmp/x\" // \x1b[1A\x1b[2K\n}\n")
	if code := w.run(upCmd, "up", "-w", w.ws); code != 1 || !strings.Contains(w.err.String(), "devbox trust -w "+w.ws) {
		t.Fatalf("up of a changed configuration: exit %d, %s", code, w.err.String())
	}
	w.out.Reset()
	w.err.Reset()
	code := w.run(trustCommand, "trust", "-w", w.ws)
	if code != exitUsage || !strings.Contains(w.err.String(), "devbox trust --yes -w "+w.ws) {
		t.Errorf("trust off a terminal: exit %d, %s", code, w.err.String())
	}
	out := w.out.String()
	for _, want := range []string{"changed .devcontainer/devcontainer.json", `+   "remoteUser": "dev", "initializeCommand": "touch /tmp/x" // \x1b[1A\x1b[2K`} {
		if !strings.Contains(out, want) {
			t.Errorf("trust output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("trust printed a raw escape:\n%q", out)
	}
	w.out.Reset()
	w.err.Reset()
	if code := w.run(trustCommand, "trust", "-w", w.ws, "--yes"); code != 0 || !strings.Contains(w.out.String(), "devbox: trusted") {
		t.Fatalf("trust --yes: exit %d, %s%s", code, w.out.String(), w.err.String())
	}
	w.out.Reset()
	w.err.Reset()
	if code := w.run(upCmd, "up", "-w", w.ws); code != 0 {
		t.Errorf("up after trust: exit %d, %s", code, w.err.String())
	}
}

// TestResetRefusesUntrustedFirst: reset of a changed, unaccepted
// configuration removes nothing, as the up that follows would refuse it.
func TestResetRefusesUntrustedFirst(t *testing.T) {
	w := newWorld(t, true)
	writeFile(t, filepath.Join(w.ws, ".devcontainer", "firewall.jsonc"), `{"domains": ["example.org"]}`)
	removed := 0
	w.eng.ContainerRemoveFunc = func(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
		removed++
		return client.ContainerRemoveResult{}, nil
	}
	if code := w.run(resetCmd, "reset", "-w", w.ws, "--yes"); code != 1 || !strings.Contains(w.err.String(), "devbox trust -w "+w.ws) {
		t.Errorf("reset of a changed configuration: exit %d, %s", code, w.err.String())
	}
	if removed > 0 {
		t.Errorf("reset removed %d containers before refusing", removed)
	}
}
