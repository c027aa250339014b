package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// NoBoxError says a workspace has no container, or no running one.
type NoBoxError struct {
	Workspace string
	Stopped   string // ID of a stopped container, if any
}

// Error implements error.
func (e *NoBoxError) Error() string {
	if e.Stopped != "" {
		return fmt.Sprintf("the box of %s (container %s) is stopped: start it with `devbox start -w %s`",
			e.Workspace, shortID(e.Stopped), e.Workspace)
	}
	return fmt.Sprintf("%s has no box: create it with `devbox up -w %s`", e.Workspace, e.Workspace)
}

// target is a running dev container and how to run commands in it.
type target struct {
	ID        string
	Inspect   container.InspectResponse
	StartedAt time.Time
	State     *boxState
}

// runningTarget finds the workspace's running dev container. The fast path
// is one inspect of the container recorded in the state file; otherwise it
// searches by label and, for a container devbox has not seen (made by VS
// Code or the CLI), works out user, folder and environment once and records
// them.
func (m *Manager) runningTarget(ctx context.Context, eng Engine, ws Workspace) (*target, error) {
	if st := m.loadState(ws, ""); st != nil {
		insp, err := eng.ContainerInspect(ctx, st.ContainerID, client.ContainerInspectOptions{})
		if err == nil && insp.Container.Config != nil &&
			insp.Container.Config.Labels[LabelLocalFolder] == ws.Dir &&
			insp.Container.State != nil && insp.Container.State.Running {
			return newTarget(insp.Container, st)
		}
	}
	box, err := FindBox(ctx, eng, ws)
	if err != nil {
		return nil, err
	}
	if box == nil {
		return nil, &NoBoxError{Workspace: ws.Dir}
	}
	if !box.Running() {
		return nil, &NoBoxError{Workspace: ws.Dir, Stopped: box.Dev.ID}
	}
	insp, err := eng.ContainerInspect(ctx, box.Dev.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", shortID(box.Dev.ID), err)
	}
	st := m.loadState(ws, box.Dev.ID)
	if st == nil {
		st, err = m.learn(ctx, eng, ws, insp.Container, "", "")
		if err != nil {
			return nil, err
		}
	}
	return newTarget(insp.Container, st)
}

func newTarget(c container.InspectResponse, st *boxState) (*target, error) {
	started, err := time.Parse(time.RFC3339Nano, c.State.StartedAt)
	if err != nil {
		return nil, fmt.Errorf("container %s: start time %q: %w", shortID(c.ID), c.State.StartedAt, err)
	}
	return &target{ID: c.ID, Inspect: c, StartedAt: started, State: st}, nil
}

// learn works out how commands run in container c (user, folder, shell,
// environment) and records it. user and folder come from `devcontainer up`
// when known.
func (m *Manager) learn(ctx context.Context, eng Engine, ws Workspace, c container.InspectResponse, user, folder string) (*boxState, error) {
	md, err := parseMetadata(c.Config.Labels[LabelMetadata])
	if err != nil {
		return nil, err
	}
	if user == "" {
		user = remoteUser(md, c)
	}
	if folder == "" {
		folder = remoteFolder(ws, c)
	}
	shell := loginShell(ctx, eng, c.ID, user)
	probed, err := probeEnv(ctx, eng, c.ID, user, shell, md.UserEnvProbe)
	if err != nil {
		return nil, err
	}
	st := &boxState{
		ContainerID: c.ID, Workspace: ws.Dir,
		RemoteUser: user, RemoteWorkspaceFolder: folder, Shell: shell,
		Env:     mergeEnv(probed, md.RemoteEnv, c.Config.Env),
		Project: c.Config.Labels[LabelComposeProject],
	}
	if err := m.saveState(ws, st); err != nil {
		return nil, err
	}
	return st, nil
}

// checkFirewall returns nil when the firewall of t's box is applied for its
// current start, waiting for it when it has not reported yet. The firewall
// runs in the box's gateway when it has one (a StrandedError says t runs
// in an earlier network namespace of it), else in t itself.
func (m *Manager) checkFirewall(ctx context.Context, eng Engine, t *target) error {
	gw, err := devGateway(ctx, eng, t.Inspect)
	if err != nil {
		return err
	}
	if gw == nil {
		return m.checkOwnFirewall(ctx, eng, t)
	}
	if !gw.Running {
		return inDev(gatewayDownError(ctx, eng, gw.Inspect), t.ID)
	}
	started, err := m.awaitFirewall(ctx, eng, gw.Inspect.ID, gw.StartedAt)
	if err != nil {
		return inDev(err, t.ID)
	}
	if stranded(t.StartedAt, started) {
		return &StrandedError{Container: t.ID, Gateway: gw.Inspect.ID, Workspace: t.Inspect.Config.Labels[LabelLocalFolder]}
	}
	// Audit mode's marker: one more HEAD request.
	if until := m.auditUntil(ctx, eng, gw.Inspect.ID); !until.IsZero() {
		fmt.Fprintln(m.errOut(), "devbox: "+AuditWarning(until, m.now()))
	}
	return nil
}

// checkOwnFirewall is checkFirewall for a box without a gateway: the
// firewall feature runs in the dev container t.
func (m *Manager) checkOwnFirewall(ctx context.Context, eng Engine, t *target) error {
	if settled, err := firewallSettled(ctx, eng, t.ID, t.StartedAt); settled || err != nil {
		return err
	}
	md, _ := parseMetadata(t.Inspect.Config.Labels[LabelMetadata])
	if md.Known && !md.HasFirewall {
		return &FirewallError{Container: t.ID, Reason: "its configuration does not install the devbox firewall " +
			"(no \"" + contract.FirewallFeatureRef + "\" feature); regenerate it with `devbox init`"}
	}
	fmt.Fprintf(m.progress(), "devbox: waiting for the firewall of %s (up to %s)...\n", shortID(t.ID), m.firewallTimeout())
	_, err := m.waitFirewall(ctx, eng, t.ID)
	return err
}
