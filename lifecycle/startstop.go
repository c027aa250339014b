package lifecycle

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// StopOptions names the workspace whose box `devbox stop` stops.
type StopOptions struct{ Workspace string }

// StartOptions names the workspace whose box `devbox start` starts.
type StartOptions struct{ Workspace string }

// StopResult is what `devbox stop` stopped.
type StopResult struct {
	Stopped []Resource // the dev container first, then the gateway, then the project's others
}

// StartResult is what `devbox start` started.
type StartResult struct {
	Container Resource // the dev container, whose firewall is applied
	// Gateway is the gateway whose firewall the dev container is behind;
	// nil for a box without one.
	Gateway *Resource
	// DevRestarted: the dev container was running without a network (its
	// gateway had restarted) and was restarted into the gateway's network.
	DevRestarted bool
}

// Stop stops the workspace's box (its whole compose project) and keeps it:
// the dev container first, then the gateway and the other services. On an
// error the result says what was stopped before it.
func (m *Manager) Stop(ctx context.Context, opts StopOptions) (*StopResult, error) {
	eng, box, err := m.openExistingBox(ctx, opts.Workspace)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	res := &StopResult{}
	for _, c := range box.All() { // the dev container first: it uses the others
		if _, err := eng.ContainerStop(ctx, c.ID, client.ContainerStopOptions{}); err != nil {
			return res, fmt.Errorf("stop container %s: %w", containerName(c), err)
		}
		res.Stopped = append(res.Stopped, containerResource(c))
	}
	// After: what the box left for host git must not wait for the next
	// command to be noticed.
	return res, m.checkHost(box.Workspace, box.Dev.Mounts)
}

// Start starts the workspace's stopped box and returns once its firewall
// is back: the services first, then the gateway, whose firewall must be
// applied before the dev container starts (docker start ignores compose's
// depends_on), then the dev container. A box without a gateway re-applies
// its firewall in the dev container at every start. A dev container left
// without a network by a gateway restart is restarted.
func (m *Manager) Start(ctx context.Context, opts StartOptions) (*StartResult, error) {
	eng, box, err := m.openExistingBox(ctx, opts.Workspace)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	// Docker resolves bind-mount sources again at every start.
	if err := m.checkHost(box.Workspace, box.Dev.Mounts); err != nil {
		return nil, err
	}
	// The gateway reads firewall.jsonc at every start: only as accepted.
	if ws, err := workspaceAt(opts.Workspace); err != nil {
		return nil, err
	} else if err := m.checkTrusted(ws); err != nil {
		return nil, err
	}
	for _, c := range box.Services {
		if err := startContainer(ctx, eng, c); err != nil {
			return nil, err
		}
	}
	res := &StartResult{Container: containerResource(box.Dev)}
	if box.Gateway != nil {
		gw := containerResource(*box.Gateway)
		res.Gateway = &gw
		if err := m.startGateway(ctx, eng, *box.Gateway); err != nil {
			return nil, inDev(err, box.Dev.ID)
		}
	}
	if err := startContainer(ctx, eng, box.Dev); err != nil {
		return nil, err
	}
	insp, err := eng.ContainerInspect(ctx, box.Dev.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", containerName(box.Dev), err)
	}
	t, err := newTarget(insp.Container, nil)
	if err != nil {
		return nil, err
	}
	if _, res.DevRestarted, err = m.checkFirewallOrRejoin(ctx, eng, t); err != nil {
		return nil, err
	}
	return res, nil
}

// startGateway starts the gateway c (a running one is left as it is) and
// waits until its firewall is applied.
func (m *Manager) startGateway(ctx context.Context, eng Engine, c container.Summary) error {
	if err := startContainer(ctx, eng, c); err != nil {
		return err
	}
	gw, err := inspectGateway(ctx, eng, c.ID)
	if err != nil {
		return err
	}
	if !gw.Running {
		return gatewayDownError(ctx, eng, gw.Inspect)
	}
	_, err = m.awaitFirewall(ctx, eng, c.ID, gw.StartedAt)
	return err
}

// startContainer starts c; starting a running container does nothing.
func startContainer(ctx context.Context, eng Engine, c container.Summary) error {
	if _, err := eng.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", containerName(c), err)
	}
	return nil
}

// openBox finds the box of the workspace at dir (nil when it has none) on a
// connected engine, which the caller closes.
func (m *Manager) openBox(ctx context.Context, dir string) (Workspace, Engine, *Box, error) {
	ws, err := workspaceAt(dir)
	if err != nil {
		return ws, nil, nil, err
	}
	eng, _, err := m.engine(ctx)
	if err != nil {
		return ws, nil, nil, err
	}
	box, err := FindBox(ctx, eng, ws)
	if err != nil {
		eng.Close()
		return ws, nil, nil, err
	}
	return ws, eng, box, nil
}

// openExistingBox is openBox for commands that need a box: no box is a
// NoBoxError.
func (m *Manager) openExistingBox(ctx context.Context, dir string) (Engine, *Box, error) {
	ws, eng, box, err := m.openBox(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	if box == nil {
		eng.Close()
		return nil, nil, &NoBoxError{Workspace: ws.Dir}
	}
	return eng, box, nil
}
