package integration

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
	"github.com/devbox-sandbox/devbox/integration/internal/inet"
	"github.com/devbox-sandbox/devbox/integration/internal/registry"
	"github.com/devbox-sandbox/devbox/internal/runner"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

// verbose streams image builds and devbox's own output to the test log.
var verbose = flag.Bool("integration.verbose", false, "stream image builds and devbox output")

// suite is what the integration tests share: the binaries under test, the
// image maker and the stand-in internet. The first test that needs it makes
// it; TestMain removes it after the last test.
type suite struct {
	bin            string // folder of the built binaries
	devbox         string // the devbox binary under test
	firewallBinary string // init-firewall built from source, for --firewall-binary
	images         *images.Maker
	net            *inet.Internet

	// The loopback registry's binary, built in the background from the Go
	// module proxy (minutes on a cold machine) while other tests run.
	registryBin     string
	registryBinErr  error
	registryBinDone chan struct{}
}

var (
	shared     *suite
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if shared != nil {
		if err := shared.close(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: cleanup: %v\n", err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// requireSuite skips t under -short and otherwise returns the shared suite,
// failing t when there is no Docker or the suite cannot be made: an
// integration test that cannot run is a failure, never a silent skip.
func requireSuite(t *testing.T) *suite {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real Docker Engine and kernel): skipped under -short")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("integration test needs the Docker Engine, and there is no docker on PATH (.ci/setup installs it; -short skips these tests)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("integration tests run as root: they make a network namespace and host routes")
	}
	sharedOnce.Do(func() { shared, sharedErr = newSuite() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// newSuite builds the binaries, starts making the trixie base in the
// background (only the two-version tests need it), removes what a killed
// earlier run left and starts the stand-in internet.
func newSuite() (_ *suite, err error) {
	ctx := context.Background()
	s := &suite{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.bin, err = os.MkdirTemp("", "dbit-bin-"); err != nil {
		return nil, err
	}
	// Without -trimpath, as a plain `go build` makes it: it embeds no
	// init-firewall, so `devbox up` builds the gateway image's from this
	// source tree, which the binary records.
	s.devbox = filepath.Join(s.bin, "devbox")
	if err := goBuild(ctx, s.devbox, "./cmd/devbox", "-ldflags=-s -w"); err != nil {
		return nil, err
	}
	// Always from source, even when devbox embeds one: a binary left in
	// generator/firewallbin/ by an earlier `task build` may be stale.
	s.firewallBinary = filepath.Join(s.bin, "init-firewall")
	if err := goBuild(ctx, s.firewallBinary, "./cmd/init-firewall", "-trimpath", "-ldflags=-s -w"); err != nil {
		return nil, err
	}
	// devbox builds its gateway image on the local base: no registry here.
	if err := os.Setenv(lifecycle.GatewayBaseEnv, images.Bookworm); err != nil {
		return nil, err
	}
	s.images = &images.Maker{Dir: filepath.Join(repoRoot(), "integration", "images"), Runner: runner.Local{}, Log: buildLog()}
	if err := s.images.Ensure(ctx, images.Bookworm); err != nil {
		return nil, err
	}
	go s.images.Ensure(ctx, images.Trixie) //nolint:errcheck // the test that needs it asks again and sees the error
	s.registryBinDone = make(chan struct{})
	go func() {
		defer close(s.registryBinDone)
		s.registryBin, s.registryBinErr = registry.Binary(ctx, runner.Local{}, "")
	}()
	s.removeStaleBoxes(ctx)
	if s.net, err = inet.Start(ctx, runner.Local{}); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *suite) close() error {
	var errs []error
	if s.net != nil {
		errs = append(errs, s.net.Close())
	}
	if s.bin != "" {
		errs = append(errs, os.RemoveAll(s.bin))
	}
	return errors.Join(errs...)
}

// goBuild builds a static binary of pkg (relative to the repository root)
// with the build flags given.
func goBuild(ctx context.Context, out, pkg string, flags ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	_, err := runner.Local{}.Run(ctx, runner.Cmd{
		Name: "go", Args: slices.Concat([]string{"build"}, flags, []string{"-o", out, pkg}),
		Dir: repoRoot(), Env: []string{"CGO_ENABLED=0"},
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	return nil
}

// repoRoot is the repository's root: the tests run in integration/.
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Dir(wd)
}

// buildLog is where image builds write: the test output with
// -integration.verbose, else nowhere (a failed build's error carries its
// last lines).
func buildLog() io.Writer {
	if *verbose {
		return os.Stderr
	}
	return nil
}
