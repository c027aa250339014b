package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/termsafe"
)

// In the gateway layout a box's firewall runs in its gateway container,
// which owns the network namespace dev joins: the markers are read there,
// against the gateway's own start. A `docker restart` of the gateway makes
// a new namespace and leaves dev in the old one, with a closed loopback
// only, until dev itself restarts; the host sees that from the two start
// times. A box without a gateway (made before the layout) keeps its
// firewall, and its markers, in dev.

// gatewayLogLines is how many lines of an exited gateway's log are shown.
const gatewayLogLines = 10

// gateway is a box's gateway container as inspected.
type gateway struct {
	Inspect   container.InspectResponse
	Running   bool
	StartedAt time.Time
}

// inspectGateway inspects the gateway container id.
func inspectGateway(ctx context.Context, eng Engine, id string) (*gateway, error) {
	insp, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect the gateway %s: %w", shortID(id), err)
	}
	c := insp.Container
	g := &gateway{Inspect: c}
	if c.State != nil {
		g.Running = c.State.Running
		if g.StartedAt, err = time.Parse(time.RFC3339Nano, c.State.StartedAt); err != nil {
			return nil, fmt.Errorf("gateway %s: start time %q: %w", shortID(id), c.State.StartedAt, err)
		}
	}
	return g, nil
}

// devGateway returns the gateway of the box whose dev container is dev, or
// nil for a box without one.
func devGateway(ctx context.Context, eng Engine, dev container.InspectResponse) (*gateway, error) {
	if dev.Config == nil {
		return nil, nil
	}
	s, err := findGateway(ctx, eng, dev.Config.Labels[LabelComposeProject])
	if err != nil || s == nil {
		return nil, err
	}
	return inspectGateway(ctx, eng, s.ID)
}

// isGateway reports whether c is a gateway container.
func isGateway(c container.InspectResponse) bool {
	return c.Config != nil && c.Config.Labels[LabelComposeService] == contract.GatewayService
}

// gatewayDown says why the gateway c, which is not running, leaves its box
// without a firewall (and dev without a network): the failed marker of its
// last start when it left one, else its exit status. It returns the last
// lines of its log too, when they can be read.
func gatewayDown(ctx context.Context, eng Engine, c container.InspectResponse) (FirewallState, string, []string) {
	exit, started := 0, time.Time{}
	if c.State != nil {
		exit = c.State.ExitCode
		started, _ = time.Parse(time.RFC3339Nano, c.State.StartedAt)
	}
	log := logTail(ctx, eng, c, gatewayLogLines)
	failed, err := markerTime(ctx, eng, c.ID, contract.FailedMarker)
	if err == nil && contract.Fresh(contract.Start{Time: failed}, contract.Start{Time: started}) {
		return FirewallFailed, fmt.Sprintf("the gateway exited with status %d: %s", exit, failureReason(ctx, eng, c.ID)), log
	}
	if exit == 0 || exit >= 128 { // stopped, or ended by a signal
		return FirewallStopped, fmt.Sprintf("the gateway is not running (it exited with status %d), so the box has no network", exit), log
	}
	return FirewallFailed, fmt.Sprintf("the gateway exited with status %d: its firewall failed", exit), log
}

// gatewayDownError is the refusal for a box whose gateway c is not
// running.
func gatewayDownError(ctx context.Context, eng Engine, c container.InspectResponse) error {
	state, reason, log := gatewayDown(ctx, eng, c)
	e := &FirewallError{Container: c.ID, Reason: reason, Log: log}
	if state == FirewallStopped {
		e.Fix = "start the box again with `devbox start`"
	}
	return e
}

// inDev names dev in a FirewallError about its gateway.
func inDev(err error, dev string) error {
	var fe *FirewallError
	if errors.As(err, &fe) && fe.Container != dev {
		fe.Dev = dev
	}
	return err
}

// logTail returns the last n lines of container c's log, with control
// characters made visible; nil when the log cannot be read.
func logTail(ctx context.Context, eng Engine, c container.InspectResponse, n int) []string {
	rc, err := eng.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return nil
	}
	defer rc.Close()
	var buf bytes.Buffer
	r := io.LimitReader(rc, 64<<10)
	if c.Config != nil && c.Config.Tty {
		_, err = io.Copy(&buf, r)
	} else {
		_, err = stdcopy.StdCopy(&buf, &buf, r)
	}
	if err != nil && buf.Len() == 0 {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		lines = append(lines, termsafe.Escape(strings.TrimRight(l, "\r")))
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines
}

// StrandedError says the dev container runs in the network namespace of an
// earlier start of its gateway, with a closed loopback only: the gateway
// restarted after dev started.
type StrandedError struct {
	Container string // the dev container
	Gateway   string
	Workspace string
}

// Error implements error.
func (e *StrandedError) Error() string {
	return fmt.Sprintf("refusing to run in container %s: it has no network since its gateway %s restarted "+
		"(it stays in the gateway's old network namespace, loopback only)\n"+
		"  `devbox start -w %s` or `devbox up -w %s` repairs it by restarting the container",
		shortID(e.Container), shortID(e.Gateway), e.Workspace, e.Workspace)
}

// stranded reports whether a dev container started at devStarted runs in
// an earlier network namespace of a gateway started at gatewayStarted.
func stranded(devStarted, gatewayStarted time.Time) bool {
	return devStarted.Before(gatewayStarted)
}

// checkFirewallOrRejoin is checkFirewall for the commands that repair a
// box (up, start): a stranded dev container is restarted into its
// gateway's current network namespace and checked again. It returns the
// target as it runs now, and whether it was restarted.
func (m *Manager) checkFirewallOrRejoin(ctx context.Context, eng Engine, t *target) (*target, bool, error) {
	err := m.checkFirewall(ctx, eng, t)
	var se *StrandedError
	if !errors.As(err, &se) {
		return t, false, err
	}
	fmt.Fprintf(m.progress(), "devbox: container %s has had no network since its gateway restarted; restarting it...\n", shortID(t.ID))
	if _, err := eng.ContainerRestart(ctx, t.ID, client.ContainerRestartOptions{}); err != nil {
		return t, false, fmt.Errorf("restart container %s into its gateway's network: %w", shortID(t.ID), err)
	}
	insp, err := eng.ContainerInspect(ctx, t.ID, client.ContainerInspectOptions{})
	if err != nil {
		return t, true, fmt.Errorf("inspect container %s after its restart: %w", shortID(t.ID), err)
	}
	nt, err := newTarget(insp.Container, t.State)
	if err != nil {
		return t, true, err
	}
	return nt, true, m.checkFirewall(ctx, eng, nt)
}
