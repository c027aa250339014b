package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/devbox-sandbox/devbox/internal/runner"
)

// Binary returns the path of the registry binary at Version, building it
// with `go install` from the Go module proxy unless cacheDir already holds
// it. cacheDir may be empty (see Options.CacheDir).
//
// A cold build downloads about a hundred modules (the registry links the
// S3, GCS and Azure storage drivers) and takes minutes, so the binary is kept
// across runs; concurrent runs each build into their own folder and rename
// the result into place, so a half-written binary is never used.
func Binary(ctx context.Context, run runner.Runner, cacheDir string) (string, error) {
	if cacheDir == "" {
		cacheDir = defaultCacheDir()
	}
	dir := filepath.Join(cacheDir, "registry-"+Version)
	bin := filepath.Join(dir, "registry")
	if isVersion(ctx, run, bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build registry %s: %w", Version, err)
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("build registry %s: %w", Version, err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	_, err = run.Run(ctx, runner.Cmd{
		Name: "go", Args: []string{"install", "-trimpath", "-ldflags=-s -w", Module + "/cmd/registry@" + Version},
		// Outside any module, so only the registry's own go.mod counts.
		// GOTOOLCHAIN=local: a release that wants a newer Go fails here,
		// naming the version, rather than fetching a toolchain.
		Dir: tmp, Env: []string{"GOBIN=" + tmp, "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOWORK=off"},
	})
	if err != nil {
		return "", fmt.Errorf("build registry %s (pick an older release in registry.Version if it needs a newer Go): %w", Version, err)
	}
	if err := os.Rename(filepath.Join(tmp, "registry"), bin); err != nil {
		return "", fmt.Errorf("build registry %s: %w", Version, err)
	}
	if !isVersion(ctx, run, bin) {
		return "", fmt.Errorf("build registry %s: %s --version does not report %s", Version, bin, Version)
	}
	return bin, nil
}

// defaultCacheDir is devbox-test/ in the user's cache folder, shared with
// nothing but these tests.
func defaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "devbox-test")
}

// isVersion reports whether bin runs and says it is Version; a missing,
// truncated or other binary is rebuilt.
func isVersion(ctx context.Context, run runner.Runner, bin string) bool {
	res, err := run.Run(ctx, runner.Cmd{Name: bin, Args: []string{"--version"}})
	if err != nil {
		return false
	}
	// "/path/to/registry github.com/distribution/distribution/v3 v3.1.2+unknown"
	return strings.Contains(string(res.Stdout), " "+Module+" "+Version+"+")
}
