package lifecycle

import (
	"context"
	"fmt"
	"sort"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// DownOptions says what `devbox down` removes.
type DownOptions struct {
	Workspace string
	Volumes   bool // also remove the named volumes the box uses
}

// Down stops and removes the workspace's container, or its whole compose
// project (containers and networks). Named volumes stay unless Volumes.
// Running it on a workspace without a box is not an error.
func (m *Manager) Down(ctx context.Context, opts DownOptions) error {
	ws, err := workspaceAt(opts.Workspace)
	if err != nil {
		return err
	}
	eng, _, err := m.engine(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	box, err := FindBox(ctx, eng, ws)
	if err != nil {
		return err
	}
	if box == nil {
		m.dropState(ws)
		fmt.Fprintf(m.Out, "no box for %s: nothing to remove\n", ws.Dir)
		return nil
	}
	removed, err := m.removeBox(ctx, eng, box, opts.Volumes)
	m.dropState(ws)
	if err != nil {
		return err
	}
	for _, r := range removed {
		fmt.Fprintln(m.Out, "removed "+r)
	}
	return nil
}

// removeBox removes the box's containers, its compose networks and, with
// volumes, the named volumes it mounts (and its project's volumes). It
// returns what it removed, for the user.
func (m *Manager) removeBox(ctx context.Context, eng Engine, box *Box, volumes bool) ([]string, error) {
	var removed []string
	vols := map[string]bool{}
	for _, c := range box.All() {
		for _, mp := range c.Mounts {
			if mp.Type == mount.TypeVolume && mp.Name != "" {
				vols[mp.Name] = true
			}
		}
		_, err := eng.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			return removed, fmt.Errorf("remove container %s: %w", shortID(c.ID), err)
		}
		removed = append(removed, "container "+containerName(c))
	}
	if box.Project != "" {
		f := make(client.Filters).Add("label", LabelComposeProject+"="+box.Project)
		nets, err := eng.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			return removed, fmt.Errorf("list networks of compose project %s: %w", box.Project, err)
		}
		for _, n := range nets.Items {
			if _, err := eng.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				return removed, fmt.Errorf("remove network %s: %w", n.Name, err)
			}
			removed = append(removed, "network "+n.Name)
		}
		if volumes {
			vl, err := eng.VolumeList(ctx, client.VolumeListOptions{Filters: f})
			if err != nil {
				return removed, fmt.Errorf("list volumes of compose project %s: %w", box.Project, err)
			}
			for _, v := range vl.Items {
				vols[v.Name] = true
			}
		}
	}
	if !volumes {
		return removed, nil
	}
	names := make([]string, 0, len(vols))
	for v := range vols {
		names = append(names, v)
	}
	sort.Strings(names)
	for _, v := range names {
		if _, err := eng.VolumeRemove(ctx, v, client.VolumeRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return removed, fmt.Errorf("remove volume %s: %w", v, err)
		}
		removed = append(removed, "volume "+v)
	}
	return removed, nil
}

func containerName(c container.Summary) string {
	if len(c.Names) > 0 {
		return fmt.Sprintf("%s (%s)", trimSlash(c.Names[0]), shortID(c.ID))
	}
	return shortID(c.ID)
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}
