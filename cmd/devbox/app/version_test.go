package app

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/buildinfo"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

func TestVersion(t *testing.T) {
	info := buildinfo.Info{Version: "v0.3.0", Commit: "0cc731e1f2a3b4c5d6e7f8091a2b3c4d5e6f7081",
		Date: "2026-11-29T01:00:00Z", GoVersion: "go1.26.8", Platform: "darwin/arm64"}
	tests := []struct {
		name string
		args []string
	}{
		{name: "version"},
		{name: "version-json", args: []string{"--json"}},
		{name: "version-extra-argument", args: []string{"now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, false)
			cmd := func(env Env, _ *lifecycle.Manager) *cli.Command { return versionCommand(env, info) }
			w.golden(tt.name, w.run(cmd, append([]string{"version"}, tt.args...)...))
		})
	}
}

// TestVersionFlag checks that urfave/cli's --version and `devbox version`
// report the same version.
func TestVersionFlag(t *testing.T) {
	flagOut, err := runApp(t, "--version")
	if err != nil {
		t.Fatalf("devbox --version: %v", err)
	}
	jsonOut, err := runApp(t, "version", "--json")
	if err != nil {
		t.Fatalf("devbox version --json: %v", err)
	}
	var info buildinfo.Info
	if err := json.Unmarshal([]byte(jsonOut), &info); err != nil {
		t.Fatalf("devbox version --json printed %q: %v", jsonOut, err)
	}
	if want := "devbox version " + info.Version + "\n"; flagOut != want {
		t.Errorf("devbox --version printed %q, want %q (the version of `devbox version --json`: %s)", flagOut, want, strings.TrimSpace(jsonOut))
	}
}
