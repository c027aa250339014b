//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

func TestMainExitStatus(t *testing.T) {
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "bad.jsonc")
	if err := os.WriteFile(badConfig, []byte("{\n  \"domains\": [\"*.com\"]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownKey := filepath.Join(dir, "unknown.jsonc")
	if err := os.WriteFile(unknownKey, []byte(`{"domain": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"unknown flag", []string{"--bogus"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"apply"}, 2, `unexpected argument "apply"`},
		{"status: unknown flag", []string{"status", "--bogus"}, 2, "flag provided but not defined"},
		{"status: no marker", []string{"status", "--run-dir", dir}, 1, "firewall not ready"},
		{"dry run: missing config", []string{"--dry-run", "--config", dir + "/none.jsonc"}, 1, "none.jsonc"},
		{"dry run: bad entry", []string{"--dry-run", "--config", badConfig}, 2, badConfig + `:2:15: domains[0] "*.com": "com" is a public suffix`},
		{"dry run: unknown key", []string{"--dry-run", "--json", "--config", unknownKey}, 2, ""},
		{"gateway dry run: bad entry", []string{contract.GatewayArg, "--dry-run", "--config", badConfig}, 2, "public suffix"},
		{"help", []string{"--help"}, 0, "usage: init-firewall"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, false, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.code, tc.err)
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"status", "--json", "--run-dir", t.TempDir()}, false, &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), `"ok":false`) || !strings.Contains(stdout.String(), "not ready") {
		t.Errorf("exit %d, stdout %q", code, stdout.String())
	}
}

// TestFailureStatus checks that a bad config exits with 2 however the run
// wrapped its error (a plain run joins it with "firewall closed"), and
// anything else with 1.
func TestFailureStatus(t *testing.T) {
	bad := &allowlist.ConfigError{File: "f.jsonc", Line: 1, Col: 2, Err: errors.New("unknown key")}
	for _, tc := range []struct {
		err  error
		code int
	}{
		{bad, 2},
		{errors.Join(errors.New("apply firewall: no ipset"), fmt.Errorf("firewall closed (empty allowlist): %w", bad)), 2},
		{fmt.Errorf("firewall left as it was (closed): %w", bad), 2},
		{errors.New("gather allowlist: allowed.test: no answer"), 1},
		{fmt.Errorf("load firewall config: %w", os.ErrNotExist), 1},
	} {
		if got := failureStatus(tc.err); got != tc.code {
			t.Errorf("failureStatus(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}
