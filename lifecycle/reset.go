package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// ResetOptions says which workspace `devbox reset` rebuilds from scratch.
type ResetOptions struct {
	Workspace string
	// Confirm asks the user; nil means yes (--yes).
	Confirm func(prompt string) (bool, error)
	JSON    bool
}

// ErrResetDeclined is returned when the user answers no.
var ErrResetDeclined = errors.New("reset cancelled: nothing was removed")

// Reset removes the box's containers, volumes and built images, then
// brings it up again built without cache.
func (m *Manager) Reset(ctx context.Context, opts ResetOptions) (*UpResult, error) {
	ws, err := openFirewalledWorkspace(opts.Workspace)
	if err != nil {
		return nil, err
	}
	eng, _, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	box, err := FindBox(ctx, eng, ws)
	if err != nil {
		eng.Close()
		return nil, err
	}
	images := builtImages(box)
	if opts.Confirm != nil {
		what := "nothing exists yet; it will be built from scratch"
		if box != nil {
			what = fmt.Sprintf("%d container(s), their volumes and %d built image(s) will be removed", len(box.All()), len(images))
		}
		ok, err := opts.Confirm(fmt.Sprintf("Reset the box of %s? %s, then it is rebuilt without cache. [y/N] ", ws.Dir, what))
		if err != nil || !ok {
			eng.Close()
			if err == nil {
				err = ErrResetDeclined
			}
			return nil, err
		}
	}
	if box != nil {
		removed, vols, err := m.removeBox(ctx, eng, box)
		if err == nil {
			var gone []string
			gone, err = removeVolumes(ctx, eng, vols)
			removed = append(removed, gone...)
		}
		for _, r := range removed {
			fmt.Fprintln(m.Err, "removed "+r)
		}
		if err != nil {
			eng.Close()
			return nil, err
		}
	}
	for _, img := range images {
		_, err := eng.ImageRemove(ctx, img, client.ImageRemoveOptions{PruneChildren: true})
		switch {
		case err == nil:
			fmt.Fprintln(m.Err, "removed image "+img)
		case !cerrdefs.IsNotFound(err):
			fmt.Fprintf(m.Err, "devbox: warning: keep image %s: %v\n", img, err)
		}
	}
	m.dropState(ws)
	eng.Close()
	return m.Up(ctx, UpOptions{Workspace: ws.Dir, Rebuild: true, NoCache: true, JSON: opts.JSON})
}

// builtImages are the images the CLI (or compose) built for the box:
// vsc-* (with their -features/-uid variants) and <project>[_-]<service>.
// Base images a service merely uses are never removed.
func builtImages(box *Box) []string {
	if box == nil {
		return nil
	}
	set := map[string]bool{}
	for _, c := range box.All() {
		img := strings.TrimSuffix(c.Image, ":latest")
		switch {
		case strings.HasPrefix(img, "vsc-"):
			set[img] = true
			base := strings.TrimSuffix(strings.TrimSuffix(img, "-uid"), "-features")
			set[base] = true
			set[base+"-features"] = true
		case box.Project != "" && (strings.HasPrefix(img, box.Project+"_") || strings.HasPrefix(img, box.Project+"-")):
			set[img] = true
		}
	}
	out := make([]string, 0, len(set))
	for img := range set {
		out = append(out, img)
	}
	// Children (-uid, -features) before the images they were built from.
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}
