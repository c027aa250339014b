package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
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
	Project   string              // compose project, "" for a single container
	Services  []container.Summary // the project's other containers
}

// Running reports whether the dev container runs.
func (b *Box) Running() bool { return b.Dev.State == container.StateRunning }

// All returns the dev container and the project's other containers.
func (b *Box) All() []container.Summary {
	return append([]container.Summary{b.Dev}, b.Services...)
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
	sort.SliceStable(items, func(i, j int) bool {
		ri, rj := items[i].State == container.StateRunning, items[j].State == container.StateRunning
		if ri != rj {
			return ri
		}
		return items[i].Created > items[j].Created
	})
	box := &Box{Workspace: ws.Dir, Dev: items[0], Project: items[0].Labels[LabelComposeProject]}
	if box.Project != "" {
		others, err := projectContainers(ctx, eng, box.Project)
		if err != nil {
			return nil, err
		}
		for _, c := range others {
			if c.ID != box.Dev.ID {
				box.Services = append(box.Services, c)
			}
		}
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
		for _, c := range others {
			if c.ID != b.Dev.ID {
				b.Services = append(b.Services, c)
			}
		}
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
