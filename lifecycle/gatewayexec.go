package lifecycle

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/container"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// NoGatewayError says a workspace's box has no running gateway: it was made
// before the gateway layout (its firewall runs in dev, where nothing the
// host asks of it could be trusted), or the gateway is stopped.
type NoGatewayError struct {
	Workspace string
	Stopped   bool
}

// Error implements error.
func (e *NoGatewayError) Error() string {
	if e.Stopped {
		return fmt.Sprintf("the gateway of %s is not running: start the box with `devbox start -w %s`", e.Workspace, e.Workspace)
	}
	return fmt.Sprintf("the box of %s has no gateway (it predates the gateway layout): "+
		"run `devbox init --force` and `devbox up --rebuild` there", e.Workspace)
}

// GatewayCommand runs init-firewall with args in the running gateway of the
// workspace at dir, as root, through the Engine API: the only way the host
// controls the gateway (audit log, live policy, audit mode); nothing in dev
// can reach it. stdout and stderr receive the command's output; it returns
// the command's exit status.
func (m *Manager) GatewayCommand(ctx context.Context, dir string, stdout, stderr io.Writer, args ...string) (int, error) {
	ws, err := workspaceAt(dir)
	if err != nil {
		return -1, err
	}
	eng, _, err := m.engine(ctx)
	if err != nil {
		return -1, err
	}
	defer eng.Close()
	id, err := runningGateway(ctx, eng, ws)
	if err != nil {
		return -1, err
	}
	p := process{
		User: "root", Env: []string{"PATH=" + OtherUserPATH},
		Cmd:    append([]string{contract.FirewallBinary}, args...),
		Stdout: stdout, Stderr: stderr,
	}
	return run(ctx, eng, id, p)
}

// runningGateway returns the ID of the workspace's running gateway.
func runningGateway(ctx context.Context, eng Engine, ws Workspace) (string, error) {
	box, err := FindBox(ctx, eng, ws)
	if err != nil {
		return "", err
	}
	if box == nil {
		return "", &NoBoxError{Workspace: ws.Dir}
	}
	if box.Gateway == nil {
		return "", &NoGatewayError{Workspace: ws.Dir}
	}
	if box.Gateway.State != container.StateRunning {
		return "", &NoGatewayError{Workspace: ws.Dir, Stopped: true}
	}
	return box.Gateway.ID, nil
}
