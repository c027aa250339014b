package hostcheck

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckMountSources(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, ws string)
		want  string // "" means accepted
	}{
		{"no .git", func(*testing.T, string) {}, ""},
		{"real folders", func(t *testing.T, ws string) {
			mkdir(t, ws, ".git/hooks")
			write(t, ws, ".git/config", "[core]\n")
			mkdir(t, ws, ".devcontainer")
		}, ""},
		{"hooks a symlink", func(t *testing.T, ws string) {
			mkdir(t, ws, ".git")
			symlink(t, "/etc", filepath.Join(ws, ".git", "hooks"))
		}, `.git/hooks: is a symlink (to "/etc")`},
		{"config a symlink", func(t *testing.T, ws string) {
			mkdir(t, ws, ".git/hooks")
			symlink(t, "../../secret", filepath.Join(ws, ".git", "config"))
		}, `.git/config: is a symlink (to "../../secret")`},
		{".git a symlink", func(t *testing.T, ws string) {
			mkdir(t, ws, "elsewhere/hooks")
			symlink(t, filepath.Join(ws, "elsewhere"), filepath.Join(ws, ".git"))
		}, `.git: is a symlink`},
		{".devcontainer a symlink", func(t *testing.T, ws string) {
			mkdir(t, ws, "dc")
			symlink(t, "dc", filepath.Join(ws, ".devcontainer"))
		}, `.devcontainer: is a symlink`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			tt.setup(t, ws)
			err := CheckMountSources(ws)
			check(t, err, tt.want)
		})
	}
}

func TestCheckDotEnv(t *testing.T) {
	for _, tt := range []struct {
		name, env, want string
	}{
		{"no .env", "", ""},
		{"plain settings", "DATABASE_URL=postgres://app@db/app\n# COMPOSE_PROJECT_NAME=x\nFOO=COMPOSE_X\n", ""},
		{"project name", "A=1\nCOMPOSE_PROJECT_NAME=other-box\n", ".env:2: COMPOSE_PROJECT_NAME: a COMPOSE_* setting"},
		{"exported, spaced, lower case", "\n\n  export compose_file = x.yml\n", ".env:3: compose_file: a COMPOSE_* setting"},
		{"profiles", "COMPOSE_PROFILES=all", ".env:1: COMPOSE_PROFILES"},
		// The CLI's regular expression (JavaScript, multiline) starts a line
		// after \r, U+2028 and U+2029 too.
		{"after a carriage return", "A=1\rCOMPOSE_PROJECT_NAME=evil\n", ".env:2: COMPOSE_PROJECT_NAME"},
		{"after a line separator", "A=1\u2028COMPOSE_PROJECT_NAME=evil", ".env:2: COMPOSE_PROJECT_NAME"},
		{"after a paragraph separator", "A=1\u2029COMPOSE_PROJECT_NAME=evil", ".env:2: COMPOSE_PROJECT_NAME"},
		{"CRLF counts once", "A=1\r\nB=2\r\nCOMPOSE_PROJECT_NAME=x\r\n", ".env:3: COMPOSE_PROJECT_NAME"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			if tt.env != "" {
				write(t, ws, ".env", tt.env)
			}
			check(t, CheckDotEnv(ws), tt.want)
		})
	}
	t.Run("symlink", func(t *testing.T) {
		ws := t.TempDir()
		symlink(t, "/etc/hostname", filepath.Join(ws, ".env"))
		check(t, CheckDotEnv(ws), ".env: is a symlink")
	})
	t.Run("folder", func(t *testing.T) {
		ws := t.TempDir()
		mkdir(t, ws, ".env")
		check(t, CheckDotEnv(ws), "")
	})
}

func check(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var pe *PlantedError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want a PlantedError containing %q", err, want)
	}
}

func mkdir(t *testing.T, ws, rel string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(ws, rel), 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, ws, rel, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(ws, rel), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks: %v", err)
	}
}
