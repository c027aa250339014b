package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/firewall/audit"
)

// BoxStatus is one devbox environment on the engine. Its JSON form is what
// `devbox status --json` prints.
type BoxStatus struct {
	Workspace string   `json:"workspace"`
	State     string   `json:"state"`
	Container string   `json:"container"` // the short ID
	Name      string   `json:"name"`
	Image     string   `json:"image"`
	Project   string   `json:"composeProject,omitempty"`
	Services  []string `json:"services,omitempty"` // SERVICE:STATE of the project's other containers
	StartedAt string   `json:"startedAt,omitempty"`
	Uptime    string   `json:"uptime,omitempty"`
	Firewall  string   `json:"firewall"` // applied, FAILED, pending, stopped (the gateway), none (not installed), "-" when dev is stopped
	// FirewallReason says why the firewall is FAILED or stopped.
	FirewallReason string `json:"firewallReason,omitempty"`
	// Gateway is the box's gateway, which runs its firewall; nil for a
	// box made before the gateway layout.
	Gateway *GatewayStatus `json:"gateway,omitempty"`
	// DevStranded: the dev container started before its gateway's
	// current start, so it runs in the gateway's old network namespace
	// with a closed loopback only, until it restarts (`devbox start`).
	DevStranded bool `json:"devStranded,omitempty"`
	// AuditUntil is when the gateway's audit mode ends (RFC 3339), while
	// it lasts: the box may then reach anything but the host, its local
	// networks and metadata addresses.
	AuditUntil string   `json:"auditUntil,omitempty"`
	Volumes    []string `json:"volumes"`
}

// GatewayStatus is a box's gateway container.
type GatewayStatus struct {
	Container string `json:"container"` // the short ID
	Name      string `json:"name"`
	State     string `json:"state"`
	StartedAt string `json:"startedAt,omitempty"`
	// Log is the last lines of the log of a gateway that is not running
	// while the dev container is.
	Log []string `json:"log,omitempty"`
	// Audit are the running gateway's totals of names and packets
	// allowed and refused since it started (`devbox log` shows each).
	Audit *audit.Counts `json:"audit,omitempty"`
}

// Status lists every devbox environment on the engine, running or stopped.
func (m *Manager) Status(ctx context.Context) ([]BoxStatus, error) {
	eng, _, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	boxes, err := listBoxes(ctx, eng)
	if err != nil {
		return nil, err
	}
	out := make([]BoxStatus, 0, len(boxes))
	for _, b := range boxes {
		s, err := m.boxStatus(ctx, eng, b)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (m *Manager) boxStatus(ctx context.Context, eng Engine, b *Box) (BoxStatus, error) {
	s := BoxStatus{
		Workspace: b.Workspace, State: string(b.Dev.State), Container: shortID(b.Dev.ID),
		Name: trimSlash(firstName(b.Dev)), Image: b.Dev.Image, Project: b.Project, Firewall: "-",
		Volumes: []string{},
	}
	vols := map[string]bool{}
	for _, c := range b.All() {
		for _, mp := range c.Mounts {
			if mp.Type == mount.TypeVolume && mp.Name != "" {
				vols[mp.Name] = true
			}
		}
	}
	for _, c := range b.Services {
		s.Services = append(s.Services, fmt.Sprintf("%s:%s", c.Labels[LabelComposeService], c.State))
	}
	for v := range vols {
		s.Volumes = append(s.Volumes, v)
	}
	sort.Strings(s.Volumes)
	if b.Gateway != nil {
		s.Gateway = &GatewayStatus{Container: shortID(b.Gateway.ID), Name: trimSlash(firstName(*b.Gateway)), State: string(b.Gateway.State)}
	}
	if b.Dev.State != container.StateRunning {
		return s, nil
	}
	insp, err := eng.ContainerInspect(ctx, b.Dev.ID, client.ContainerInspectOptions{})
	if err != nil {
		return s, fmt.Errorf("inspect container %s: %w", shortID(b.Dev.ID), err)
	}
	started, err := time.Parse(time.RFC3339Nano, insp.Container.State.StartedAt)
	if err != nil {
		return s, fmt.Errorf("container %s: start time: %w", shortID(b.Dev.ID), err)
	}
	s.StartedAt = started.UTC().Format(time.RFC3339)
	s.Uptime = roundDuration(m.now().Sub(started))
	if b.Gateway != nil {
		if err := gatewayStatus(ctx, eng, &s, b.Gateway.ID, started); err != nil || s.Firewall != FirewallReady.String() {
			return s, err
		}
		if until := m.auditUntil(ctx, eng, b.Gateway.ID); !until.IsZero() {
			s.AuditUntil = until.UTC().Format(time.RFC3339)
		}
		return s, nil
	}
	state, reason, err := firewallState(ctx, eng, b.Dev.ID, started)
	if err != nil {
		return s, err
	}
	s.Firewall, s.FirewallReason = state.String(), reason
	if md, _ := parseMetadata(insp.Container.Config.Labels[LabelMetadata]); state == FirewallPending && md.Known && !md.HasFirewall {
		s.Firewall = "none" // not a devbox configuration: exec and shell refuse it
	}
	return s, nil
}

// gatewayStatus fills in the firewall of s from its gateway id, and
// whether its running dev container, started at devStarted, is stranded.
func gatewayStatus(ctx context.Context, eng Engine, s *BoxStatus, id string, devStarted time.Time) error {
	gw, err := inspectGateway(ctx, eng, id)
	if err != nil {
		return err
	}
	if gw.Inspect.State != nil {
		s.Gateway.State = string(gw.Inspect.State.Status)
	}
	if !gw.Running {
		state, reason, log := gatewayDown(ctx, eng, gw.Inspect)
		s.Firewall, s.FirewallReason, s.Gateway.Log = state.String(), reason, log
		return nil
	}
	s.Gateway.StartedAt = gw.StartedAt.UTC().Format(time.RFC3339)
	state, reason, err := firewallState(ctx, eng, id, gw.StartedAt)
	if err != nil {
		return err
	}
	s.Firewall, s.FirewallReason = state.String(), reason
	s.DevStranded = stranded(devStarted, gw.StartedAt)
	s.Gateway.Audit = auditCounts(ctx, eng, id)
	return nil
}

func firstName(c container.Summary) string {
	if len(c.Names) > 0 {
		return c.Names[0]
	}
	return ""
}

// roundDuration prints an uptime the way people read it: 42s, 5m, 3h12m, 2d4h.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
