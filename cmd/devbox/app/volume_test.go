package app

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

// withWorkspaceVolume makes the box's workspace a volume (init --workspace
// volume) whose clone has a branch the host lacks and two uncommitted
// paths.
func (w *world) withWorkspaceVolume() {
	w.boxes[0].Mounts = append(w.boxes[0].Mounts, container.MountPoint{Type: mount.TypeVolume, Name: "ws_devcontainer_" + contract.WorkspaceVolume})
	w.execOut = strings.Repeat("a", 40) + " refs/heads/agent-work\n--\n2\n"
}

// TestResetVolumeWork: reset --yes on a volume workspace with work the
// host lacks is refused, naming it; --discard-work lets it go on.
func TestResetVolumeWork(t *testing.T) {
	w := newWorld(t, true)
	w.withWorkspaceVolume()
	code := w.run(resetCmd, "reset", "-w", w.ws, "--yes")
	w.golden("reset-volume-refused", code)
	if n := len(w.runner.calls); n > 0 && strings.Contains(w.runner.calls[n-1], "devcontainer up") {
		t.Errorf("the refused reset went on to %q", w.runner.calls[n-1])
	}

	w.out.Reset()
	w.err.Reset()
	if code := w.run(resetCmd, "reset", "-w", w.ws, "--yes", "--discard-work"); code != 0 {
		t.Fatalf("reset --yes --discard-work: exit %d: %s", code, w.err.String())
	}
	if !strings.Contains(w.err.String(), "removed volume ws_devcontainer_"+contract.WorkspaceVolume) {
		t.Errorf("reset --discard-work kept the workspace volume:\n%s", w.err.String())
	}
}

// TestResetVolumeStopped: a stopped box's work cannot be listed, so it is
// named as unknown, and refused all the same.
func TestResetVolumeStopped(t *testing.T) {
	w := newWorld(t, true)
	w.withWorkspaceVolume()
	w.running = false
	code := w.run(resetCmd, "reset", "-w", w.ws, "--yes")
	if code != 1 || !strings.Contains(w.err.String(), "whatever it holds (the box is stopped") {
		t.Errorf("exit %d, stderr:\n%s", code, w.err.String())
	}
}

func pullCmd(env Env, m *lifecycle.Manager) *cli.Command { return pullCommand(env, m, false) }

// TestPullBindWorkspace: pull on a box that works in the host's folder
// says there is nothing to pull, and why.
func TestPullBindWorkspace(t *testing.T) {
	w := newWorld(t, true)
	code := w.run(pullCmd, "pull", "-w", w.ws)
	if code != 1 || !strings.Contains(w.err.String(), "works in your folder (bind workspace)") {
		t.Errorf("exit %d, stderr:\n%s", code, w.err.String())
	}
}

// TestResetVolumeAsks: on a terminal, reset's question names the work it
// would delete; a no removes nothing.
func TestResetVolumeAsks(t *testing.T) {
	w := newWorld(t, true)
	w.withWorkspaceVolume()
	var prompt string
	removed := false
	w.eng.VolumeRemoveFunc = func(context.Context, string, client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
		removed = true
		return client.VolumeRemoveResult{}, nil
	}
	ask := func(_ Env, m *lifecycle.Manager) *cli.Command {
		return &cli.Command{Name: "ask", Action: func(c *cli.Context) error {
			_, err := m.Reset(c.Context, lifecycle.ResetOptions{Workspace: w.ws, Confirm: func(p string) (bool, error) {
				prompt = p
				return false, nil
			}})
			return err
		}}
	}
	if code := w.run(ask, "ask"); code != 1 || removed {
		t.Errorf("declined: exit %d, a volume removed: %v", code, removed)
	}
	for _, want := range []string{"LOST with them", contract.WorkspaceVolume, "not pulled (agent-work)", "2 uncommitted path(s)"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the question %q does not say %q", prompt, want)
		}
	}
}

// TestRenderPull pins what pull and diff print: the refs set, the box's
// commits, the changed paths with the flagged ones marked, and --branch.
func TestRenderPull(t *testing.T) {
	w := newWorld(t, true)
	oid := func(c string) string { return strings.Repeat(c, 40) }
	renderPull(&w.out, &lifecycle.PullResult{
		Bytes: 2048, Base: oid("b"), Head: oid("c"), Worktree: oid("d"),
		Refs: []lifecycle.PulledRef{
			{Name: lifecycle.PullHeadRef, OID: oid("c")},
			{Name: lifecycle.PullRefPrefix + "main", OID: oid("c")},
			{Name: lifecycle.PullWorktreeRef, OID: oid("d")},
		},
		Skipped: []string{`ref name "refs/heads/x\x1b[31m": character '\x1b' not allowed`},
		Commits: []lifecycle.Commit{{OID: oid("c"), Subject: `agent: feature \x1b]0;pwned\x07`}},
		Changed: []lifecycle.ChangedPath{
			{Status: "A", Path: ".vscode/tasks.json", Flag: "VS Code settings and tasks: run on the host when the folder is opened"},
			{Status: "M", Path: "README"},
		},
		Uncommitted: 1,
		AlsoFlagged: []lifecycle.FlaggedPath{{ChangedPath: lifecycle.ChangedPath{Status: "A", Path: "sub", Flag: "a submodule commit"}, Ref: lifecycle.PullHeadRef}},
		Branch:      &lifecycle.BranchUpdate{Name: "refs/heads/work", New: oid("c")},
	})
	w.golden("pull", 0)
}

// TestDownVolumesAfterDown: `down` keeps the workspace volume; a later
// `down --volumes`, with no dev container left to look into, names it and
// refuses without --discard-work.
func TestDownVolumesAfterDown(t *testing.T) {
	w := newWorld(t, true)
	w.withWorkspaceVolume()
	if code := w.run(downCmd, "down", "-w", w.ws); code != 0 {
		t.Fatalf("down: exit %d: %s", code, w.err.String())
	}
	w.boxes = nil // removed
	w.out.Reset()
	w.err.Reset()
	code := w.run(downCmd, "down", "-w", w.ws, "--volumes")
	if code != 1 || !strings.Contains(w.err.String(), "ws_devcontainer_"+contract.WorkspaceVolume+": whatever it holds (its dev container is gone") {
		t.Errorf("down --volumes after down: exit %d, stderr:\n%s", code, w.err.String())
	}
	w.out.Reset()
	w.err.Reset()
	if code := w.run(downCmd, "down", "-w", w.ws, "--volumes", "--discard-work"); code != 0 ||
		!strings.Contains(w.out.String(), "removed volume ws_devcontainer_"+contract.WorkspaceVolume) {
		t.Errorf("down --volumes --discard-work: exit %d, stdout:\n%s\nstderr:\n%s", code, w.out.String(), w.err.String())
	}
}
