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
	// DiscardWork lets Volumes delete a volume workspace's unpulled
	// commits and uncommitted files; without it that is refused with a
	// WorkAtRiskError.
	DiscardWork bool
}

// Resource is a thing on the engine that an operation stopped or
// removed.
type Resource struct {
	Kind string // container, network, volume or image
	Name string
	ID   string // a container's short ID; empty for the other kinds
}

// DownResult is what `devbox down` did.
type DownResult struct {
	Workspace string     // the workspace's absolute folder
	Removed   []Resource // containers and networks, then volumes, in the order removed
	// KeptVolumes are the named volumes left in place (without Volumes);
	// devbox remembers them for a later `down --volumes`.
	KeptVolumes []string
}

// Down stops and removes the workspace's container, or its whole compose
// project (containers and networks). Named volumes stay unless Volumes;
// devbox remembers the kept ones so that a later `down --volumes` still
// removes them. Running it on a workspace without a box is not an error.
// On an error the result says what was removed before it.
func (m *Manager) Down(ctx context.Context, opts DownOptions) (*DownResult, error) {
	ws, eng, box, err := m.openBox(ctx, opts.Workspace)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	res := &DownResult{Workspace: ws.Dir}
	var mounts []container.MountPoint
	if box != nil {
		mounts = box.Dev.Mounts
	}
	res, err = m.down(ctx, eng, ws, box, opts, res)
	if err != nil {
		return res, err
	}
	// After: what the box left for host git must not wait for the next
	// command to be noticed.
	return res, m.checkHost(ws.Dir, mounts)
}

func (m *Manager) down(ctx context.Context, eng Engine, ws Workspace, box *Box, opts DownOptions, res *DownResult) (*DownResult, error) {
	var err error
	var vols []string
	if box == nil {
		// dev removed by hand: its project's gateway and services remain.
		if box, err = orphanedProject(ctx, eng, ws, m.loadState(ws, "")); err != nil {
			return res, err
		}
	}
	if opts.Volumes && !opts.DiscardWork {
		work := m.workAtRisk(ctx, eng, ws, box)
		if work == nil { // no dev container mounts one: a volume may be left all the same
			if name := m.leftWorkspaceVolume(ctx, eng, ws, box); name != "" {
				work = &WorkAtRisk{Volume: name, Unknown: "its dev container is gone, so devbox cannot look into it"}
			}
		}
		if !work.Empty() {
			return nil, &WorkAtRiskError{Work: work}
		}
	}
	if box != nil {
		res.Removed, vols, err = m.removeBox(ctx, eng, box)
		if err != nil {
			return res, err
		}
	} else if st := m.loadState(ws, ""); st != nil {
		vols = st.KeptVolumes
	}
	m.dropState(ws)
	switch {
	case opts.Volumes:
		gone, err := removeVolumes(ctx, eng, vols)
		res.Removed = append(res.Removed, gone...)
		if err != nil {
			return res, err
		}
	case len(vols) > 0:
		if err := m.saveState(ws, &boxState{Workspace: ws.Dir, KeptVolumes: vols}); err != nil {
			return res, err
		}
		res.KeptVolumes = vols
	}
	return res, nil
}

// removeBox removes the box's containers (with their anonymous volumes)
// and its compose networks. It returns what it removed, for the user, and
// the named volumes the box uses (mounted, or labelled with its project).
func (m *Manager) removeBox(ctx context.Context, eng Engine, box *Box) (removed []Resource, volumes []string, err error) {
	vols := map[string]bool{}
	for _, c := range box.All() {
		for _, mp := range c.Mounts {
			if mp.Type == mount.TypeVolume && mp.Name != "" {
				vols[mp.Name] = true
			}
		}
		_, err := eng.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			return removed, nil, fmt.Errorf("remove container %s: %w", shortID(c.ID), err)
		}
		removed = append(removed, containerResource(c))
	}
	if box.Project != "" {
		f := make(client.Filters).Add("label", LabelComposeProject+"="+box.Project)
		nets, err := eng.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			return removed, nil, fmt.Errorf("list networks of compose project %s: %w", box.Project, err)
		}
		for _, n := range nets.Items {
			if _, err := eng.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				return removed, nil, fmt.Errorf("remove network %s: %w", n.Name, err)
			}
			removed = append(removed, Resource{Kind: "network", Name: n.Name})
		}
		vl, err := eng.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		if err != nil {
			return removed, nil, fmt.Errorf("list volumes of compose project %s: %w", box.Project, err)
		}
		for _, v := range vl.Items {
			vols[v.Name] = true
		}
	}
	for v := range vols {
		volumes = append(volumes, v)
	}
	sort.Strings(volumes)
	return removed, volumes, nil
}

// removeVolumes removes named volumes; ones already gone are skipped.
func removeVolumes(ctx context.Context, eng Engine, names []string) ([]Resource, error) {
	var removed []Resource
	for _, v := range names {
		_, err := eng.VolumeRemove(ctx, v, client.VolumeRemoveOptions{})
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("remove volume %s: %w", v, err)
		}
		removed = append(removed, Resource{Kind: "volume", Name: v})
	}
	return removed, nil
}

func containerResource(c container.Summary) Resource {
	name := ""
	if len(c.Names) > 0 {
		name = trimSlash(c.Names[0])
	}
	return Resource{Kind: "container", Name: name, ID: shortID(c.ID)}
}

// containerName names c in messages: its name and short ID.
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

// orphanedProject returns the containers of the compose project recorded in
// st as a box, when the project still has any: a box whose dev container
// was removed by hand. nil when there is nothing to remove.
func orphanedProject(ctx context.Context, eng Engine, ws Workspace, st *boxState) (*Box, error) {
	if st == nil || st.Project == "" {
		return nil, nil
	}
	cs, err := projectContainers(ctx, eng, st.Project)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	return &Box{Workspace: ws.Dir, Dev: cs[0], Project: st.Project, Services: cs[1:]}, nil
}
