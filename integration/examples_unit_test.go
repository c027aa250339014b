package integration

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
)

func TestLocalFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{
			name:  "agent only",
			flags: []string{"--agent", "claude"},
			want:  []string{"--agent", "claude", "--base-image", images.Bookworm},
		},
		{
			name:  "versioned languages become system",
			flags: []string{"--lang", "python@3.12,node@22"},
			want:  []string{"--lang", "python@system,node@system", "--base-image", images.Bookworm},
		},
		{
			name:  "services get the stand-in images",
			flags: []string{"--services", "postgres,redis"},
			want: []string{"--services", "postgres,redis", "--service-image", "postgres=" + images.Postgres,
				"--service-image", "redis=" + images.Redis, "--base-image", images.Bookworm},
		},
		{
			name:  "a base image is replaced",
			flags: []string{"--base-image", "ubuntu:24.04", "--lang", "go@1.26"},
			want:  []string{"--lang", "go@system", "--base-image", images.Bookworm},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := localFlags(tt.flags, images.Bookworm); !slices.Equal(got, tt.want) {
				t.Errorf("localFlags(%q) = %q, want %q", tt.flags, got, tt.want)
			}
		})
	}
}

// TestExampleReadmes checks that every example's README names the command
// that made it the way the examples test reads it.
func TestExampleReadmes(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			cmds := readInitCommands(t, filepath.Join(repoRoot(), "examples", ex.name, "README.md"))
			for _, c := range cmds {
				if _, err := os.Stat(filepath.Join(repoRoot(), "examples", ex.name, c.workspace, ".devcontainer", "devcontainer.json")); err != nil {
					t.Errorf("README command for %q: no committed workspace: %v", c.workspace, err)
				}
			}
		})
	}
}
