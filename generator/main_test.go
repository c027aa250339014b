package generator

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// firewallBin is an init-firewall binary for the host architecture, built
// once for all tests. firewallBuildErr says why the real one did not build;
// then firewallBin is a tiny static stand-in, good for the unit tests only.
var (
	firewallBin      string
	firewallBuildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "devbox-generator-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	firewallBin, firewallBuildErr = buildFirewall(dir)
	if firewallBuildErr != nil {
		fmt.Fprintf(os.Stderr, "generator tests: cmd/init-firewall does not build (%v); unit tests use a stand-in, docker tests fail\n", firewallBuildErr)
		var err error
		if firewallBin, err = buildStandIn(dir); err != nil {
			fmt.Fprintln(os.Stderr, "build a stand-in init-firewall:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildFirewall builds the real cmd/init-firewall, static and stripped, as
// `task build` does.
func buildFirewall(dir string) (string, error) {
	out := filepath.Join(dir, "init-firewall")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/init-firewall")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, b)
	}
	return out, nil
}

// buildStandIn builds a static program that does nothing. It never ships:
// it only lets unit tests run while cmd/init-firewall does not build.
func buildStandIn(dir string) (string, error) {
	src := filepath.Join(dir, "standin")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module standin\n\ngo 1.22\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "init-firewall-standin")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, b)
	}
	return out, nil
}
