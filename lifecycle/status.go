package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
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
	Firewall  string   `json:"firewall"` // applied, FAILED, pending, none (not installed), "-" when stopped
	Volumes   []string `json:"volumes"`
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
	state, _, err := firewallState(ctx, eng, b.Dev.ID, started)
	if err != nil {
		return s, err
	}
	s.Firewall = state.String()
	if md, _ := parseMetadata(insp.Container.Config.Labels[LabelMetadata]); state == FirewallPending && md.Known && !md.HasFirewall {
		s.Firewall = "none" // not a devbox configuration: exec and shell refuse it
	}
	return s, nil
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
