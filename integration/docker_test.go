package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/integration/internal/inet"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// run runs a program and returns its stdout, or the error with its output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	res, err := runner.Local{}.Run(ctx, runner.Cmd{Name: name, Args: args})
	return string(res.Stdout), err
}

// docker runs the docker CLI and fails t on error.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := run(ctx, "docker", args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// exitStatus returns the exit status err carries: 0 for nil, -1 when the
// program did not run.
func exitStatus(err error) int {
	var re *runner.RunError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &re):
		return re.ExitCode
	}
	return -1
}

// combined returns everything a command printed.
func combined(res runner.Result) string { return string(res.Stdout) + string(res.Stderr) }

// controlContainer is a container without any firewall, started from image on
// network with the stand-in DNS server: what the box would reach if its
// firewall let everything through.
type controlContainer struct{ id string }

// startControl starts a control container and removes it when t ends.
func startControl(t *testing.T, image, network string) *controlContainer {
	t.Helper()
	id := docker(t, "run", "-d", "--rm", "--label", "dbit.control=1", "--network", network,
		"--dns", inet.Resolver.V4.String(), "--entrypoint", "sleep", image, "infinity")
	t.Cleanup(func() { run(context.Background(), "docker", "rm", "-f", "-v", id) }) //nolint:errcheck // gone is fine
	return &controlContainer{id: id}
}

// exec runs argv in the control container as root.
func (c *controlContainer) exec(argv ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := runner.Local{}.Run(ctx, runner.Cmd{Name: "docker", Args: append([]string{"exec", c.id}, argv...)})
	return combined(res), exitStatus(err)
}
