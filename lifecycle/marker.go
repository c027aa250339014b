package lifecycle

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// FirewallState is what the markers say about the current container start.
type FirewallState int

// Firewall states.
const (
	FirewallPending FirewallState = iota // no fresh marker yet
	FirewallReady                        // rules applied and verified
	FirewallFailed                       // applying or verifying failed
	FirewallStopped                      // the gateway was stopped: the box has no network
)

// String implements fmt.Stringer.
func (s FirewallState) String() string {
	return [...]string{"pending", "applied", "FAILED", "stopped"}[s]
}

// FirewallError refuses to run anything in a box whose firewall is not
// known to be in place.
type FirewallError struct {
	// Container is where the firewall runs: the gateway, or the dev
	// container of a box without one.
	Container string
	// Dev is the dev container refused, when the firewall runs in its
	// gateway (Container).
	Dev    string
	Reason string
	// Log is the last lines of the log of a gateway that exited, when
	// they could be read.
	Log []string
	// Fix says what to do; "" means fix the allowlist and rebuild.
	Fix string
}

// Error implements error.
func (e *FirewallError) Error() string {
	var b strings.Builder
	where := shortID(e.Container)
	if e.Dev != "" {
		where = fmt.Sprintf("%s (gateway %s)", shortID(e.Dev), shortID(e.Container))
	}
	fmt.Fprintf(&b, "refusing to run in container %s: %s", where, e.Reason)
	if len(e.Log) > 0 {
		b.WriteString("\n  last lines of its log:")
		for _, l := range e.Log {
			b.WriteString("\n    " + l)
		}
	}
	fix := e.Fix
	if fix == "" {
		fix = "fix the allowlist (.devcontainer/firewall.jsonc), then `devbox up --rebuild`"
	}
	fmt.Fprintf(&b, "\n  see `docker logs %s`; %s", shortID(e.Container), fix)
	return b.String()
}

// firewallState checks the markers with HEAD requests (no process runs in
// the container). A marker counts only if written since startedAt, by
// contract.Fresh: the host knows no PID 1 start, only times.
func firewallState(ctx context.Context, eng Engine, id string, startedAt time.Time) (FirewallState, string, error) {
	fresh := func(t time.Time) bool {
		return contract.Fresh(contract.Start{Time: t}, contract.Start{Time: startedAt})
	}
	// init-firewall writes one marker per start, so a fresh ready marker
	// settles it with a single request.
	ready, err := markerTime(ctx, eng, id, contract.ReadyMarker)
	if err != nil {
		return FirewallPending, "", err
	}
	if fresh(ready) {
		return FirewallReady, "", nil
	}
	failed, err := markerTime(ctx, eng, id, contract.FailedMarker)
	if err != nil {
		return FirewallPending, "", err
	}
	if fresh(failed) {
		return FirewallFailed, failureReason(ctx, eng, id), nil
	}
	return FirewallPending, "", nil
}

// firewallSettled reports whether the markers settle the firewall of the
// current start: applied (nil error) or failed (a FirewallError).
func firewallSettled(ctx context.Context, eng Engine, id string, startedAt time.Time) (bool, error) {
	state, reason, err := firewallState(ctx, eng, id, startedAt)
	switch {
	case err != nil:
		return true, err
	case state == FirewallReady:
		return true, nil
	case state == FirewallFailed:
		return true, &FirewallError{Container: id, Reason: reason}
	}
	return false, nil
}

// markerTime returns the marker's mtime, or zero when it does not exist.
func markerTime(ctx context.Context, eng Engine, id, path string) (time.Time, error) {
	res, err := eng.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: path})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return time.Time{}, nil
		}
		return time.Time{}, fmt.Errorf("check firewall marker %s in %s: %w", path, shortID(id), err)
	}
	return res.Stat.Mtime, nil
}

// failureReason reads the "error" of the failed marker.
func failureReason(ctx context.Context, eng Engine, id string) string {
	data, err := readContainerFile(ctx, eng, id, contract.FailedMarker)
	if err != nil {
		return "the firewall failed to apply (reason unreadable: " + err.Error() + ")"
	}
	var m struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &m) != nil || m.Error == "" {
		return "the firewall failed to apply: " + string(data)
	}
	return "the firewall failed to apply: " + m.Error
}

// auditCounts reads the audit totals of the running gateway id; nil when
// it has none (a gateway older than the audit log) or they are unreadable.
func auditCounts(ctx context.Context, eng Engine, id string) *audit.Counts {
	data, err := readContainerFile(ctx, eng, id, contract.AuditCounts)
	if err != nil {
		return nil
	}
	return audit.ParseCounts(data)
}

// readContainerFile returns the first 64 KiB of the file at path in
// container id.
func readContainerFile(ctx context.Context, eng Engine, id, path string) ([]byte, error) {
	res, err := eng.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, err
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(tr, 64<<10))
}

// awaitFirewall returns nil once the firewall of container id (started at
// startedAt, as last seen) is applied for its current start, announcing a
// wait when it has not reported yet. It returns the start it settled,
// which is later than startedAt when the container restarted meanwhile.
func (m *Manager) awaitFirewall(ctx context.Context, eng Engine, id string, startedAt time.Time) (time.Time, error) {
	if settled, err := firewallSettled(ctx, eng, id, startedAt); settled || err != nil {
		return startedAt, err
	}
	fmt.Fprintf(m.progress(), "devbox: waiting for the firewall of %s (up to %s)...\n", shortID(id), m.firewallTimeout())
	return m.waitFirewall(ctx, eng, id)
}

// waitFirewall waits until the firewall of container id reports for its
// current start, and returns a FirewallError when it failed, its container
// stopped, or it never reported within the timeout. It returns the start
// it waited for.
func (m *Manager) waitFirewall(ctx context.Context, eng Engine, id string) (time.Time, error) {
	deadline := time.Now().Add(m.firewallTimeout())
	for {
		insp, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return time.Time{}, fmt.Errorf("wait for the firewall of %s: %w", shortID(id), err)
		}
		st := insp.Container.State
		if st == nil || !st.Running {
			if isGateway(insp.Container) {
				return time.Time{}, gatewayDownError(ctx, eng, insp.Container)
			}
			return time.Time{}, &FirewallError{Container: id, Reason: "the container stopped before its firewall reported"}
		}
		startedAt, err := time.Parse(time.RFC3339Nano, st.StartedAt)
		if err != nil {
			return time.Time{}, fmt.Errorf("wait for the firewall of %s: start time %q: %w", shortID(id), st.StartedAt, err)
		}
		if settled, err := firewallSettled(ctx, eng, id, startedAt); settled || err != nil {
			return startedAt, err
		}
		if !time.Now().Before(deadline) {
			return time.Time{}, &FirewallError{Container: id, Reason: fmt.Sprintf(
				"the firewall never reported: no %s written since the container started (waited %s)", contract.ReadyMarker, m.firewallTimeout())}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("wait for the firewall of %s: %w", shortID(id), ctx.Err())
		case <-time.After(m.pollInterval()):
		}
	}
}
