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
	// DiscardWork lets a reset without Confirm delete a volume
	// workspace's unpulled commits and uncommitted files; without it that
	// reset is refused with a WorkAtRiskError.
	DiscardWork bool
}

// ErrResetDeclined is returned when the user answers no.
var ErrResetDeclined = errors.New("reset cancelled: nothing was removed")

// ResetResult is what Reset removed.
type ResetResult struct {
	Workspace string     // the workspace's absolute folder
	Removed   []Resource // containers, networks, volumes, then images
	// KeptImages are built images that could not be removed (in use by
	// another container, for example); the rebuild goes on without them.
	KeptImages []KeptImage
}

// KeptImage is a built image Reset could not remove, and why.
type KeptImage struct {
	Image string
	Err   error
}

// Reset removes the box's containers, volumes and built images and
// forgets its state, after asking Confirm. It does not bring the box back:
// `devbox reset` follows it with Up{Rebuild, NoCache}. A workspace whose
// configuration lacks the firewall is refused before anything is removed.
// On an error the result says what was removed before it.
func (m *Manager) Reset(ctx context.Context, opts ResetOptions) (*ResetResult, error) {
	ws, err := openFirewalledWorkspace(opts.Workspace)
	if err != nil {
		return nil, err
	}
	// Before anything is removed: the up that follows would refuse.
	if err := m.checkTrusted(ws); err != nil {
		return nil, err
	}
	eng, _, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	box, err := FindBox(ctx, eng, ws)
	if err != nil {
		return nil, err
	}
	images := builtImages(box)
	work := m.workAtRisk(ctx, eng, ws, box)
	if opts.Confirm == nil && !opts.DiscardWork && !work.Empty() {
		return nil, &WorkAtRiskError{Work: work}
	}
	if opts.Confirm != nil {
		what := "nothing exists yet; it will be built from scratch"
		if box != nil {
			what = fmt.Sprintf("%d container(s), their volumes and %d built image(s) will be removed", len(box.All()), len(images))
		}
		if !work.Empty() {
			what += "; LOST with them: " + work.String()
		}
		ok, err := opts.Confirm(fmt.Sprintf("Reset the box of %s? %s, then it is rebuilt without cache. [y/N] ", ws.Dir, what))
		if err != nil {
			return nil, fmt.Errorf("read the answer: %w", err)
		}
		if !ok {
			return nil, ErrResetDeclined
		}
	}
	res := &ResetResult{Workspace: ws.Dir}
	if box != nil {
		var vols []string
		res.Removed, vols, err = m.removeBox(ctx, eng, box)
		if err != nil {
			return res, err
		}
		gone, err := removeVolumes(ctx, eng, vols)
		res.Removed = append(res.Removed, gone...)
		if err != nil {
			return res, err
		}
	}
	for _, img := range images {
		_, err := eng.ImageRemove(ctx, img, client.ImageRemoveOptions{PruneChildren: true})
		switch {
		case err == nil:
			res.Removed = append(res.Removed, Resource{Kind: "image", Name: img})
		case !cerrdefs.IsNotFound(err):
			res.KeptImages = append(res.KeptImages, KeptImage{Image: img, Err: err})
		}
	}
	m.dropState(ws)
	return res, nil
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
