package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/gitsafe"
)

// PushOptions says which of the host's branches `devbox push` sends into
// the box.
type PushOptions struct {
	Workspace string
	// Branch is the host's branch NAME; "" means the one checked out.
	Branch string
	// Timeout caps the push; 0 means DefaultPullTimeout.
	Timeout time.Duration
}

// PushResult is what Push sent.
type PushResult struct {
	Workspace string
	Branch    string // refs/heads/NAME on the host
	OID       string
	BoxRef    string // refs/remotes/host/NAME in the box
	// UpToDate: the box had every commit already; its ref was set all
	// the same.
	UpToDate bool
}

// pushScript runs in the box, as its user: it reads a bundle on stdin and
// fetches the one ref it names into refs/remotes/host/, the same refs the
// clone made. The box's branches and working tree are left alone.
const pushScript = `set -eu
t=$(mktemp); trap 'rm -f "$t"' EXIT
cat > "$t"
git fetch --quiet --no-tags --no-write-fetch-head --no-recurse-submodules "$t" "+$1:$2"
`

// Push sends the host's branch into the box as refs/remotes/host/NAME: a
// bundle of the commits the box lacks (all but those an earlier pull
// brought back), made by the host's git and fetched by the box's with an
// explicit refspec. The agent merges or rebases it itself.
func (m *Manager) Push(ctx context.Context, opts PushOptions) (*PushResult, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultPullTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	ws, err := workspaceAt(opts.Workspace)
	if err != nil {
		return nil, err
	}
	g := m.hostGit(ws.Dir)
	ref := "refs/heads/" + opts.Branch
	if opts.Branch == "" {
		if ref, err = g.out(ctx, nil, "symbolic-ref", "-q", "HEAD"); err != nil {
			return nil, fmt.Errorf("push: the host's HEAD is not on a branch: name one with --branch")
		}
	}
	if err := gitsafe.CheckRefName(ref); err != nil || !strings.HasPrefix(ref, "refs/heads/") {
		return nil, fmt.Errorf("push: %s is not a branch name", gitsafe.Sanitize([]byte(ref)))
	}
	oid, err := g.out(ctx, nil, "rev-parse", "-q", "--verify", ref+"^{commit}")
	if err != nil || oid == "" {
		return nil, fmt.Errorf("push: no branch %s in %s", strings.TrimPrefix(ref, "refs/heads/"), ws.Dir)
	}
	short := strings.TrimPrefix(ref, "refs/heads/")
	res := &PushResult{Workspace: ws.Dir, Branch: ref, OID: oid, BoxRef: "refs/remotes/" + contract.HostRemote + "/" + short}

	dir, err := os.MkdirTemp("", "devbox-push-")
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	defer os.RemoveAll(dir)
	bundle := filepath.Join(dir, "push.bundle")
	args := []string{"bundle", "create", "--quiet", bundle, ref}
	known, err := g.out(ctx, nil, "for-each-ref", "--format=%(objectname)", "refs/devbox/")
	if err != nil {
		return nil, err
	}
	if known != "" {
		args = append(append(args, "--not"), strings.Fields(known)...)
	}
	if _, err := g.raw(ctx, nil, args...); err != nil {
		if !strings.Contains(err.Error(), "empty bundle") {
			return nil, fmt.Errorf("push: %w", err)
		}
		// The box has every commit: a bundle of the tip alone sets its ref.
		res.UpToDate = true
		if _, err := g.raw(ctx, nil, "bundle", "create", "--quiet", bundle, ref, "--not", oid+"^@"); err != nil {
			return nil, fmt.Errorf("push: %w", err)
		}
	}
	f, err := os.Open(bundle)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	defer f.Close()

	eng, _, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	t, err := m.runningTarget(ctx, eng, ws)
	if err != nil {
		return nil, err
	}
	if !isVolumeWorkspace(t) {
		return nil, &NotVolumeError{Workspace: ws.Dir}
	}
	out := &boxOutput{max: maxBoxOutput}
	code, err := run(ctx, eng, t.ID, process{
		User: t.State.RemoteUser, WorkingDir: t.State.RemoteWorkspaceFolder,
		Env: []string{"PATH=" + OtherUserPATH, "LC_ALL=C"},
		Cmd: []string{"/bin/sh", "-c", pushScript, "sh", ref, res.BoxRef}, Stdin: f, Stdout: out, Stderr: out,
	})
	switch {
	case err != nil:
		return nil, timedOut(ctx, opts.Timeout, fmt.Errorf("fetch in the box: %w", err))
	case code != 0:
		return nil, fmt.Errorf("fetch in the box: exit status %d: %s", code, boxText(out.Bytes()))
	}
	return res, nil
}
