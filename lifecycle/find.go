package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// Labels the Dev Containers CLI (and VS Code) put on a workspace's
// container, single or compose, and the compose labels of its project.
const (
	LabelLocalFolder    = "devcontainer.local_folder"
	LabelConfigFile     = "devcontainer.config_file"
	LabelMetadata       = "devcontainer.metadata"
	LabelComposeProject = "com.docker.compose.project"
	LabelComposeService = "com.docker.compose.service"
)

// Box is a workspace's environment on the engine: its dev container and,
// for compose configurations, the other containers of its project.
type Box struct {
	Workspace string
	Dev       container.Summary
	Project   string // compose project, "" for a single container
	// Gateway is the project's gateway container (compose service
	// contract.GatewayService): it owns the box's network and runs its
	// firewall. nil for a box made before the gateway layout, whose
	// firewall runs in Dev.
	Gateway  *container.Summary
	Services []container.Summary // the project's other containers
}

// Running reports whether the dev container runs.
func (b *Box) Running() bool { return b.Dev.State == container.StateRunning }

// All returns the dev container, the gateway and the project's other
// containers, in the order they are stopped: dev uses the others.
func (b *Box) All() []container.Summary {
	all := []container.Summary{b.Dev}
	if b.Gateway != nil {
		all = append(all, *b.Gateway)
	}
	return append(all, b.Services...)
}

// addProject sorts the containers of the box's compose project (dev among
// them) into the gateway and the other services.
func (b *Box) addProject(items []container.Summary) {
	var gateways []container.Summary
	for _, c := range items {
		switch {
		case c.ID == b.Dev.ID:
		case c.Labels[LabelComposeService] == contract.GatewayService:
			gateways = append(gateways, c)
		default:
			b.Services = append(b.Services, c)
		}
	}
	if g := pick(gateways); g != nil {
		b.Gateway = g
		for _, c := range gateways {
			if c.ID != g.ID {
				b.Services = append(b.Services, c)
			}
		}
	}
}

// pick returns the container that stands for several of one role (a
// leftover from an interrupted rebuild): the running one, else the newest;
// nil when there is none.
func pick(items []container.Summary) *container.Summary {
	if len(items) == 0 {
		return nil
	}
	sort.SliceStable(items, func(i, j int) bool { return preferred(items[i], items[j]) })
	return &items[0]
}

// findGateway returns the gateway container of compose project, or nil
// when the project has none (a box made before the gateway layout).
func findGateway(ctx context.Context, eng Engine, project string) (*container.Summary, error) {
	if project == "" {
		return nil, nil
	}
	f := make(client.Filters).
		Add("label", LabelComposeProject+"="+project).
		Add("label", LabelComposeService+"="+contract.GatewayService)
	res, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("find the gateway of compose project %s: %w", project, err)
	}
	return pick(res.Items), nil
}

// preferred reports whether a is preferred over b among containers of the
// same role: the running one, else the newest.
func preferred(a, b container.Summary) bool {
	ra, rb := a.State == container.StateRunning, b.State == container.StateRunning
	if ra != rb {
		return ra
	}
	return a.Created > b.Created
}

// FindBox returns the workspace's box, or nil when it has no container.
// Several matches (a leftover from an interrupted rebuild) resolve to the
// running one, else the newest.
func FindBox(ctx context.Context, eng Engine, ws Workspace) (*Box, error) {
	f := make(client.Filters).
		Add("label", LabelLocalFolder+"="+ws.Dir).
		Add("label", LabelConfigFile+"="+ws.ConfigFile)
	res, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", ws.Dir, err)
	}
	items := res.Items
	if len(items) == 0 && (hasDriveLetter(ws.Dir) || strings.HasPrefix(ws.Dir, `\\`)) {
		if items, err = windowsLabelled(ctx, eng, ws); err != nil {
			return nil, err
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	dev := pick(items)
	box := &Box{Workspace: ws.Dir, Dev: *dev, Project: dev.Labels[LabelComposeProject]}
	if box.Project != "" {
		others, err := projectContainers(ctx, eng, box.Project)
		if err != nil {
			return nil, err
		}
		box.addProject(others)
	}
	return box, nil
}

// windowsLabelled finds the containers of a Windows workspace whose labels
// spell its paths in another way, for example with the drive letter in
// upper case as older CLIs wrote it. The CLI itself falls back to the same
// comparison there.
func windowsLabelled(ctx context.Context, eng Engine, ws Workspace) ([]container.Summary, error) {
	f := make(client.Filters).Add("label", LabelLocalFolder)
	res, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", ws.Dir, err)
	}
	var items []container.Summary
	for _, c := range res.Items {
		if cliPath("windows", c.Labels[LabelLocalFolder]) == ws.Dir && cliPath("windows", c.Labels[LabelConfigFile]) == ws.ConfigFile {
			items = append(items, c)
		}
	}
	return items, nil
}

func projectContainers(ctx context.Context, eng Engine, project string) ([]container.Summary, error) {
	f := make(client.Filters).Add("label", LabelComposeProject+"="+project)
	res, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers of compose project %s: %w", project, err)
	}
	return res.Items, nil
}

// listBoxes returns every devbox environment on the engine, by workspace.
func listBoxes(ctx context.Context, eng Engine) ([]*Box, error) {
	f := make(client.Filters).Add("label", LabelLocalFolder)
	res, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list dev containers: %w", err)
	}
	byWorkspace := map[string]*Box{}
	var boxes []*Box
	for _, c := range res.Items {
		ws := c.Labels[LabelLocalFolder]
		if b, ok := byWorkspace[ws]; ok {
			// A second container for one workspace: keep the running one.
			if b.Dev.State != container.StateRunning && c.State == container.StateRunning {
				b.Dev = c
			}
			continue
		}
		b := &Box{Workspace: ws, Dev: c, Project: c.Labels[LabelComposeProject]}
		byWorkspace[ws] = b
		boxes = append(boxes, b)
	}
	for _, b := range boxes {
		if b.Project == "" {
			continue
		}
		others, err := projectContainers(ctx, eng, b.Project)
		if err != nil {
			return nil, err
		}
		b.addProject(others)
	}
	sort.Slice(boxes, func(i, j int) bool { return boxes[i].Workspace < boxes[j].Workspace })
	return boxes, nil
}

// shortID is the 12-character form docker prints.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
