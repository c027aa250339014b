//go:build linux

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestMainExitStatus(t *testing.T) {
	dir := t.TempDir()
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
