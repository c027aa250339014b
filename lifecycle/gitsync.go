package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/gitsafe"
)

// Where `devbox pull` puts what it brings back, in the host's repository.
// Nothing of the box goes anywhere else unless --branch asks.
const (
	// PullRefPrefix holds the box's branches that have commits the host
	// lacked: refs/devbox/heads/NAME.
	PullRefPrefix = "refs/devbox/heads/"
	// PullHeadRef is the commit the box had checked out.
	PullHeadRef = "refs/devbox/head"
	// PullWorktreeRef is a commit of the box's working tree (uncommitted
	// and untracked files, not ignored ones) on top of its HEAD.
	PullWorktreeRef = "refs/devbox/worktree"
)

// Defaults of PullOptions.
const (
	DefaultPullMaxBytes = 1 << 30
	DefaultPullTimeout  = 5 * time.Minute
)

// PullOptions says what `devbox pull` and `devbox diff` bring back.
type PullOptions struct {
	Workspace string
	// Branch, when set (NAME, or BOX:HOST), also makes the host's branch
	// NAME (HOST) the box's branch NAME (BOX): only as a new branch or a
	// fast-forward, and never the branch checked out in a worktree of the
	// host.
	Branch string
	// MaxBytes caps the bundle; 0 means DefaultPullMaxBytes.
	MaxBytes int64
	// Timeout caps the whole pull; 0 means DefaultPullTimeout.
	Timeout time.Duration
	// Patch asks for the diff's text (devbox diff).
	Patch bool
}

// PullResult is what Pull brought back. Every string that came from the
// box (subjects, paths, the patch) is sanitised for a terminal.
type PullResult struct {
	Workspace string `json:"workspace"`
	Bytes     int64  `json:"bytes"` // the bundle's size
	// Refs are the refs Pull set in the host's repository.
	Refs []PulledRef `json:"refs"`
	// Skipped are the bundle's refs Pull refused, and why.
	Skipped []string `json:"skipped,omitempty"`
	// Head and Worktree are the box's HEAD and working-tree commits
	// (Head is "" for a box without commits); Base is where Head's
	// history meets the host's HEAD ("" when it does not).
	Head     string `json:"head,omitempty"`
	Worktree string `json:"worktree"`
	Base     string `json:"base,omitempty"`
	// Commits are the box's commits since Base, newest first.
	Commits []Commit `json:"commits"`
	// Changed are the paths that differ between Base and Worktree.
	Changed []ChangedPath `json:"changed"`
	// Uncommitted counts the paths that differ between Head and Worktree.
	Uncommitted int `json:"uncommitted"`
	// AlsoFlagged are flagged paths of the pulled refs (branches, Head)
	// that Changed does not show: changed in a commit, then back in the
	// working tree, or on another branch of the box's.
	AlsoFlagged []FlaggedPath `json:"alsoFlagged,omitempty"`
	// Branch is the host branch --branch set, if any.
	Branch *BranchUpdate `json:"branch,omitempty"`
	// Patch is the text of the diff Base..Worktree, when asked for.
	Patch string `json:"patch,omitempty"`
}

// PulledRef is one ref Pull set.
type PulledRef struct {
	Name string `json:"name"` // refs/devbox/...
	OID  string `json:"oid"`
}

// Commit is one commit of the box's.
type Commit struct {
	OID     string `json:"oid"`
	Subject string `json:"subject"`
}

// ChangedPath is one path the box changed, with its git status letter (A,
// M, D, T) and why the host should look before checking it out, if it
// should.
type ChangedPath struct {
	Status string `json:"status"`
	Path   string `json:"path"`
	Flag   string `json:"flag,omitempty"`
}

// FlaggedPath is a flagged path of one pulled ref.
type FlaggedPath struct {
	ChangedPath
	Ref string `json:"ref"`
}

// BranchUpdate is what --branch did to a host branch.
type BranchUpdate struct {
	Name string `json:"name"`          // refs/heads/NAME
	Old  string `json:"old,omitempty"` // "" for a new branch
	New  string `json:"new"`
}

// NotVolumeError says a box shares the host's folder, so there is nothing
// to pull: the host already has every file and commit.
type NotVolumeError struct{ Workspace string }

// Error implements error.
func (e *NotVolumeError) Error() string {
	return fmt.Sprintf("the box of %s works in your folder (bind workspace): its commits and files are already yours; "+
		"pull, push and diff are for boxes made with `devbox init --workspace volume`", e.Workspace)
}

// exportScript runs in the box, as its user, in the workspace: it commits
// the working tree (a temporary index: the box's own index and refs are
// left alone, but for refs/devbox/worktree) and writes a bundle of what
// the host lacks to stdout (through a file: git before 2.31 cannot write
// a bundle to stdout). None of it is trusted: the host checks the bundle.
const exportScript = `set -eu
idx=$(mktemp); out=$(mktemp); trap 'rm -f "$idx" "$out"' EXIT
cp "$(git rev-parse --git-path index)" "$idx" 2>/dev/null || true
export GIT_INDEX_FILE="$idx" GIT_AUTHOR_NAME=devbox GIT_AUTHOR_EMAIL=devbox@localhost GIT_COMMITTER_NAME=devbox GIT_COMMITTER_EMAIL=devbox@localhost
if head=$(git rev-parse -q --verify 'HEAD^{commit}'); then set -- -p "$head"; else set --; git read-tree --empty; fi
git add -A
tree=$(git write-tree)
snap=$(git commit-tree "$tree" "$@" -m "devbox: the box's working tree")
git update-ref ` + PullWorktreeRef + ` "$snap"
git bundle create "$out" --branches ` + PullWorktreeRef + ` --not --remotes=` + contract.HostRemote + `
cat "$out"
`

// Pull brings the box's work into the host's repository as git objects,
// checked before any ref points at them: a bundle made in the box is
// copied out through the Engine API (capped in size and time), its header
// parsed by devbox, its pack indexed by the host's git with every object
// checked (index-pack --strict, fsck's rules: .gitmodules, .git paths,
// symlinks), its refs checked for connectivity and set only under
// refs/devbox/ (an earlier pull's branch refs cleared first, then one
// transaction). No git transport is involved (so no
// remote URL, protocol or submodule recursion), no hook or fsmonitor runs,
// and nothing is checked out.
func (m *Manager) Pull(ctx context.Context, opts PullOptions) (*PullResult, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultPullTimeout
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultPullMaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	ws, err := workspaceAt(opts.Workspace)
	if err != nil {
		return nil, err
	}
	boxBranch, hostBranch, hasHost := strings.Cut(opts.Branch, ":")
	if !hasHost {
		hostBranch = boxBranch
	}
	if opts.Branch != "" {
		for _, b := range []string{boxBranch, hostBranch} {
			if err := gitsafe.CheckRefName("refs/heads/" + b); err != nil {
				return nil, fmt.Errorf("--branch: %w", err)
			}
		}
	}
	bundle, size, err := m.exportBundle(ctx, ws, opts.MaxBytes)
	if bundle != "" {
		defer os.RemoveAll(bundle)
	}
	if err != nil {
		return nil, timedOut(ctx, opts.Timeout, err)
	}
	g := m.hostGit(ws.Dir)
	format, err := g.out(ctx, nil, "rev-parse", "--show-object-format")
	if err != nil {
		return nil, fmt.Errorf("%s is not a git repository: %w", ws.Dir, err)
	}
	res := &PullResult{Workspace: ws.Dir, Bytes: size}
	if err := m.importBundle(ctx, g, bundle, format, opts.MaxBytes, res); err != nil {
		return nil, timedOut(ctx, opts.Timeout, err)
	}
	if err := describePull(ctx, g, res, opts.Patch); err != nil {
		return nil, timedOut(ctx, opts.Timeout, err)
	}
	if opts.Branch != "" {
		if res.Branch, err = updateBranch(ctx, g, boxBranch, hostBranch); err != nil {
			return res, err
		}
	}
	return res, nil
}

// timedOut names the time cap when it is what ended err.
func timedOut(ctx context.Context, limit time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("gave up after %s: %w", limit, err)
	}
	return err
}

// errTooBig ends the copy of a bundle over the cap.
var errTooBig = errors.New("bundle over the size cap")

// cappedWriter writes to w until max bytes, then fails.
type cappedWriter struct {
	w      io.Writer
	n, max int64
}

// Write implements io.Writer.
func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.max {
		return 0, errTooBig
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// boxOutput keeps the last max bytes a box writes, so that what it
// prints cannot fill the host's memory.
type boxOutput struct {
	lockedBuffer
	max int
}

// Write implements io.Writer.
func (b *boxOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// maxBoxOutput bounds what devbox keeps of a box command's messages.
const maxBoxOutput = 64 << 10

// exportBundle runs exportScript in the running dev container of a volume
// workspace and copies the bundle into a temporary file of the host.
func (m *Manager) exportBundle(ctx context.Context, ws Workspace, max int64) (string, int64, error) {
	eng, _, err := m.engine(ctx)
	if err != nil {
		return "", 0, err
	}
	defer eng.Close()
	t, err := m.runningTarget(ctx, eng, ws)
	if err != nil {
		return "", 0, err
	}
	if !isVolumeWorkspace(t) {
		return "", 0, &NotVolumeError{Workspace: ws.Dir}
	}
	f, err := os.CreateTemp("", "devbox-pull-*.bundle")
	if err != nil {
		return "", 0, fmt.Errorf("pull: %w", err)
	}
	defer f.Close()
	out := &cappedWriter{w: f, max: max}
	errOut := &boxOutput{max: maxBoxOutput}
	code, err := run(ctx, eng, t.ID, process{
		User: t.State.RemoteUser, WorkingDir: t.State.RemoteWorkspaceFolder,
		Env: []string{"PATH=" + OtherUserPATH, "LC_ALL=C"},
		Cmd: []string{"/bin/sh", "-c", exportScript}, Stdout: out, Stderr: errOut,
	})
	switch {
	case errors.Is(err, errTooBig):
		return f.Name(), out.n, fmt.Errorf("the box's bundle is over %d bytes: raise --max-size if that is expected", max)
	case err != nil:
		return f.Name(), out.n, fmt.Errorf("make the bundle in the box: %w", err)
	case code != 0:
		return f.Name(), out.n, fmt.Errorf("make the bundle in the box: exit status %d: %s", code, boxText(errOut.Bytes()))
	}
	return f.Name(), out.n, nil
}

// isVolumeWorkspace reports whether t's workspace folder is a volume.
func isVolumeWorkspace(t *target) bool {
	for _, mnt := range t.Inspect.Mounts {
		if mnt.Destination == t.State.RemoteWorkspaceFolder {
			return mnt.Type == "volume"
		}
	}
	return false
}

// boxText is what the box printed, for an error: its last KiB, sanitised.
func boxText(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 1024 {
		b = append([]byte("..."), b[len(b)-1024:]...)
	}
	return gitsafe.Sanitize(b)
}

// importBundle checks the bundle at path and sets its accepted refs.
func (m *Manager) importBundle(ctx context.Context, g hostGit, path, format string, max int64, res *PullResult) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	defer f.Close()
	b, err := gitsafe.ReadBundleHeader(f)
	if err != nil {
		return fmt.Errorf("the box's bundle: %w", err)
	}
	if b.ObjectFormat != format {
		return fmt.Errorf("the box's bundle holds %s objects, this repository %s", b.ObjectFormat, format)
	}
	if len(b.Prerequisites) > 0 {
		out, err := g.out(ctx, strings.NewReader(strings.Join(b.Prerequisites, "\n")+"\n"), "cat-file", "--batch-check=%(objecttype)")
		if err != nil {
			return err
		}
		for i, line := range strings.Split(out, "\n") {
			if line != "commit" && i < len(b.Prerequisites) {
				return fmt.Errorf("the box's commits build on %s, which this repository lacks (or is not a commit): "+
					"fetch it from where the box's clone came from, or `devbox push` first", b.Prerequisites[i])
			}
		}
	}
	want := map[string]string{} // host ref -> oid
	for _, r := range b.Refs {
		name, ok := strings.CutPrefix(r.Name, "refs/heads/")
		switch {
		case r.Name == PullWorktreeRef:
			want[PullWorktreeRef] = r.OID
		case ok && gitsafe.CheckRefName(r.Name) == nil:
			want[PullRefPrefix+name] = r.OID
		case ok:
			res.Skipped = append(res.Skipped, gitsafe.CheckRefName(r.Name).Error())
		default:
			res.Skipped = append(res.Skipped, fmt.Sprintf("ref %q: only the box's branches are taken", gitsafe.Sanitize([]byte(r.Name))))
		}
	}
	if want[PullWorktreeRef] == "" {
		return errors.New("the box's bundle has no working-tree commit: it was not made by devbox's export")
	}
	if _, err := f.Seek(b.PackOffset, io.SeekStart); err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	if _, err := g.out(ctx, f, "index-pack", "--stdin", "--fix-thin", "--strict", "--max-input-size="+strconv.FormatInt(max, 10)); err != nil {
		return fmt.Errorf("check the box's objects: %w", err)
	}
	oids := make([]string, 0, len(want))
	for _, oid := range want {
		oids = append(oids, oid)
	}
	types, err := g.out(ctx, strings.NewReader(strings.Join(oids, "\n")+"\n"), "cat-file", "--batch-check=%(objecttype)")
	if err != nil {
		return err
	}
	for i, typ := range strings.Split(types, "\n") {
		if i < len(oids) && typ != "commit" {
			return fmt.Errorf("the box's ref to %s is not a commit (%s)", oids[i], gitsafe.Sanitize([]byte(typ)))
		}
	}
	if _, err := g.out(ctx, nil, append(append([]string{"rev-list", "--objects", "--quiet"}, oids...), "--not", "--all")...); err != nil {
		return fmt.Errorf("the box's bundle is not complete: %w", err)
	}
	// An earlier pull's branches go first (a box branch a/b may follow a
	// branch a), then the refs of this pull are set in one transaction.
	var stale strings.Builder
	old, err := g.out(ctx, nil, "for-each-ref", "--format=%(refname)", PullRefPrefix)
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(old) {
		if gitsafe.CheckRefName(name) == nil {
			fmt.Fprintf(&stale, "delete %s\n", name)
		}
	}
	if stale.Len() > 0 {
		if _, err := g.out(ctx, strings.NewReader(stale.String()), "update-ref", "--stdin"); err != nil {
			return fmt.Errorf("clear %s: %w", PullRefPrefix, err)
		}
	}
	var tx strings.Builder
	for name, oid := range want {
		fmt.Fprintf(&tx, "update %s %s\n", name, oid)
		res.Refs = append(res.Refs, PulledRef{Name: name, OID: oid})
	}
	head, err := g.out(ctx, nil, "rev-parse", "-q", "--verify", want[PullWorktreeRef]+"^1")
	if err == nil && gitsafe.ValidOID(head) {
		fmt.Fprintf(&tx, "update %s %s\n", PullHeadRef, head)
		res.Refs = append(res.Refs, PulledRef{Name: PullHeadRef, OID: head})
		res.Head = head
	} else {
		fmt.Fprintf(&tx, "delete %s\n", PullHeadRef)
	}
	if _, err := g.out(ctx, strings.NewReader(tx.String()), "update-ref", "--stdin"); err != nil {
		return fmt.Errorf("set refs/devbox/: %w", err)
	}
	res.Worktree = want[PullWorktreeRef]
	slices.SortFunc(res.Refs, func(a, b PulledRef) int { return strings.Compare(a.Name, b.Name) })
	return nil
}
