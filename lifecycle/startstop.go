package lifecycle

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/hostcheck"
)

// StopOptions names the workspace whose box `devbox stop` stops.
type StopOptions struct{ Workspace string }

// StartOptions names the workspace whose box `devbox start` starts.
type StartOptions struct{ Workspace string }

// StopResult is what `devbox stop` stopped.
type StopResult struct {
	Stopped []Resource // the dev container first, then the project's others
}

// StartResult is what `devbox start` started.
type StartResult struct {
	Container Resource // the dev container, whose firewall is applied
}

// Stop stops the workspace's box (its whole compose project) and keeps it.
// On an error the result says what was stopped before it.
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
	return res, nil
}

// Start starts the workspace's stopped box (services first) and returns
// once its firewall is back: the firewall feature's entrypoint re-applies
// the rules at every start, and nothing is run before its ready marker.
func (m *Manager) Start(ctx context.Context, opts StartOptions) (*StartResult, error) {
	eng, box, err := m.openExistingBox(ctx, opts.Workspace)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	// Docker resolves bind-mount sources again at every start.
	if err := hostcheck.CheckMountSources(box.Workspace); err != nil {
		return nil, err
	}
	for _, c := range append(box.Services, box.Dev) {
		if _, err := eng.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
			return nil, fmt.Errorf("start container %s: %w", containerName(c), err)
		}
	}
	insp, err := eng.ContainerInspect(ctx, box.Dev.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", containerName(box.Dev), err)
	}
	t, err := newTarget(insp.Container, nil)
	if err != nil {
		return nil, err
	}
	if err := m.checkFirewall(ctx, eng, t); err != nil {
		return nil, err
	}
	return &StartResult{Container: containerResource(box.Dev)}, nil
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
