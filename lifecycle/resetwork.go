package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/gitsafe"
)

// WorkAtRisk is what `devbox reset` would delete of a volume workspace:
// the box's own clone.
type WorkAtRisk struct {
	Volume string
	// Unpulled are the box's branches whose tip this repository lacks.
	Unpulled []string
	// Uncommitted counts the paths `git status` lists in the box.
	Uncommitted int
	// Unknown says why devbox could not look (the box is stopped, or git
	// failed in it); the volume may hold anything.
	Unknown string
}

// Empty reports whether nothing would be lost.
func (w *WorkAtRisk) Empty() bool {
	return w == nil || len(w.Unpulled) == 0 && w.Uncommitted == 0 && w.Unknown == ""
}

// String names what would be lost, for a prompt or an error.
func (w *WorkAtRisk) String() string {
	var parts []string
	if w.Unknown != "" {
		parts = append(parts, "whatever it holds ("+w.Unknown+")")
	}
	if n := len(w.Unpulled); n > 0 {
		parts = append(parts, fmt.Sprintf("%d branch(es) with commits not pulled (%s)", n, strings.Join(w.Unpulled, ", ")))
	}
	if w.Uncommitted > 0 {
		parts = append(parts, strconv.Itoa(w.Uncommitted)+" uncommitted path(s)")
	}
	return fmt.Sprintf("the box's workspace volume %s: %s", w.Volume, strings.Join(parts, "; "))
}

// WorkAtRiskError refuses a reset that was not asked (--yes), or a `down
// --volumes`, that would delete work of the box's.
type WorkAtRiskError struct{ Work *WorkAtRisk }

// Error implements error.
func (e *WorkAtRiskError) Error() string {
	return fmt.Sprintf("this would delete %s: `devbox pull` it first, or pass --discard-work", e.Work)
}

// workspaceVolume returns the name of box's workspace volume, or "" for a
// bind workspace.
func workspaceVolume(box *Box) string {
	if box == nil {
		return ""
	}
	for _, mp := range box.Dev.Mounts {
		if mp.Type == "volume" && isWorkspaceVolume(mp.Name) {
			return mp.Name
		}
	}
	return ""
}

// isWorkspaceVolume reports whether a volume's name is a compose
// project's workspace volume.
func isWorkspaceVolume(name string) bool {
	return name == contract.WorkspaceVolume || strings.HasSuffix(name, "_"+contract.WorkspaceVolume)
}

// leftWorkspaceVolume finds a workspace volume no dev container mounts:
// one a `down` kept (in the state), or one of the compose project of a
// box whose dev container was removed by hand. "" when there is none.
func (m *Manager) leftWorkspaceVolume(ctx context.Context, eng Engine, ws Workspace, box *Box) string {
	var names []string
	if st := m.loadState(ws, ""); st != nil {
		names = append(names, st.KeptVolumes...)
	}
	if box != nil && box.Project != "" {
		f := make(client.Filters).Add("label", LabelComposeProject+"="+box.Project)
		if vl, err := eng.VolumeList(ctx, client.VolumeListOptions{Filters: f}); err == nil {
			for _, v := range vl.Items {
				names = append(names, v.Name)
			}
		}
	}
	for _, n := range names {
		if isWorkspaceVolume(n) {
			return n
		}
	}
	return ""
}

// workScript lists, in the box, its branches and the paths git status
// shows. Its output is the box's: checked, never trusted.
const workScript = `git for-each-ref --format='%(objectname) %(refname)' refs/heads/ && echo -- && git status --porcelain -z | tr '\0' '\n' | grep -c . || true`

// workTimeout bounds the look into the box before a reset.
const workTimeout = 30 * time.Second

// workAtRisk looks at what a reset would delete of a volume box: its
// branches whose tips this repository lacks and its uncommitted paths.
func (m *Manager) workAtRisk(ctx context.Context, eng Engine, ws Workspace, box *Box) *WorkAtRisk {
	w := &WorkAtRisk{Volume: workspaceVolume(box)}
	if w.Volume == "" {
		return nil
	}
	if !box.Running() {
		w.Unknown = "the box is stopped: start it to see, and pull"
		return w
	}
	t, err := m.runningTarget(ctx, eng, ws)
	if err != nil {
		w.Unknown = "cannot look into the box: " + err.Error()
		return w
	}
	// The box answers within a bound, in a bound: it may be hostile.
	ctx, cancel := context.WithTimeout(ctx, workTimeout)
	defer cancel()
	var out bytes.Buffer
	code, err := run(ctx, eng, t.ID, process{
		User: t.State.RemoteUser, WorkingDir: t.State.RemoteWorkspaceFolder,
		Env: []string{"PATH=" + OtherUserPATH, "LC_ALL=C"}, Cmd: []string{"/bin/sh", "-c", workScript},
		Stdout: &cappedWriter{w: &out, max: 1 << 20}, Stderr: io.Discard,
	})
	refs, status, found := strings.Cut(out.String(), "--\n")
	if err != nil || code != 0 || !found {
		w.Unknown = "git failed in the box"
		return w
	}
	if w.Uncommitted, err = strconv.Atoi(strings.TrimSpace(status)); err != nil {
		w.Unknown = "git failed in the box"
		return w
	}
	g := m.hostGit(ws.Dir)
	for _, line := range strings.Split(strings.TrimSpace(refs), "\n") {
		oid, name, ok := strings.Cut(line, " ")
		if line == "" {
			continue
		}
		if !ok || !gitsafe.ValidOID(oid) || gitsafe.CheckRefName(name) != nil {
			w.Unknown = "the box lists a ref devbox refuses to read"
			continue
		}
		if _, err := g.out(ctx, nil, "cat-file", "-e", oid+"^{commit}"); err != nil {
			w.Unpulled = append(w.Unpulled, strings.TrimPrefix(name, "refs/heads/"))
		}
	}
	return w
}
