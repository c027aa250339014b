package lifecycle

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// gitIn runs git in dir for a test, with a fixed identity.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v in %s: %v\n%s", args, dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeTestFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// hostAndBox makes a host repository with one commit and the box's clone
// of it, as dev's first start makes it.
func hostAndBox(t *testing.T) (host, box string) {
	dir := t.TempDir()
	host, box = filepath.Join(dir, "host"), filepath.Join(dir, "box")
	gitIn(t, dir, "init", "-q", "-b", "main", host)
	writeTestFile(t, filepath.Join(host, "README"), "hello\n", 0o644)
	gitIn(t, host, "add", "README")
	gitIn(t, host, "commit", "-qm", "first")
	gitIn(t, dir, "clone", "-q", "--origin", "host", host, box)
	return host, box
}

// exportIn runs the export script in box, as the box would, and returns
// the bundle's path.
func exportIn(t *testing.T, box string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "box.bundle")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("/bin/sh", "-c", exportScript)
	cmd.Dir = box
	cmd.Stdout = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	return path
}

// snapshot is what the host's git keeps that a box must not change.
func snapshot(t *testing.T, host string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{".git/config", ".git/HEAD"} {
		data, _ := os.ReadFile(filepath.Join(host, p))
		b.Write(data)
	}
	entries, _ := os.ReadDir(filepath.Join(host, ".git", "hooks"))
	for _, e := range entries {
		b.WriteString(e.Name() + "\n")
	}
	b.WriteString(gitIn(t, host, "for-each-ref", "refs/heads", "refs/tags", "refs/remotes"))
	b.WriteString(gitIn(t, host, "status", "--porcelain"))
	return b.String()
}

// TestImportBundle: what a hostile box commits and plants comes back as
// checked objects under refs/devbox/ only; nothing it planted runs on the
// host, whose config, hooks, branches and files stay as they were.
func TestImportBundle(t *testing.T) {
	host, box := hostAndBox(t)
	marker := filepath.Join(t.TempDir(), "planted-ran")
	// The agent commits, plants config and hooks in its clone, adds an
	// ext:: submodule and leaves uncommitted and untracked work.
	writeTestFile(t, filepath.Join(box, "feature.go"), "package feature\n", 0o644)
	writeTestFile(t, filepath.Join(box, ".gitmodules"), "[submodule \"x\"]\n\tpath = x\n\turl = ext::sh -c touch% "+marker+"\n", 0o644)
	writeTestFile(t, filepath.Join(box, ".vscode", "tasks.json"), "{}\n", 0o644)
	gitIn(t, box, "add", ".")
	gitIn(t, box, "update-index", "--add", "--cacheinfo", "160000,"+gitIn(t, box, "rev-parse", "HEAD")+",sub")
	gitIn(t, box, "commit", "-qm", "feature \x1b]0;pwned\x07 done")
	gitIn(t, box, "checkout", "-qb", "side")
	writeTestFile(t, filepath.Join(box, "side.txt"), "side\n", 0o644)
	writeTestFile(t, filepath.Join(box, ".envrc"), "touch "+marker+"\n", 0o644)
	gitIn(t, box, "add", ".")
	gitIn(t, box, "commit", "-qm", "side work")
	gitIn(t, box, "checkout", "-q", "main")
	for _, k := range []string{"core.fsmonitor", "core.hooksPath", "core.sshCommand", "diff.external"} {
		gitIn(t, box, "config", k, "sh -c 'touch "+marker+"' -")
	}
	writeTestFile(t, filepath.Join(box, ".git", "hooks", "reference-transaction"), "#!/bin/sh\ntouch "+marker+"\n", 0o755)
	writeTestFile(t, filepath.Join(box, "README"), "hello, changed\n", 0o644)
	writeTestFile(t, filepath.Join(box, "untracked.txt"), "new\n", 0o644)
	if err := os.Symlink("/etc/passwd", filepath.Join(box, "link")); err != nil {
		t.Fatal(err)
	}
	bundle := exportIn(t, box)
	// What the box's own git ran in the box (its fsmonitor) is the box's
	// business: from here on, the marker may only come from the host.
	if err := os.Remove(marker); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	before := snapshot(t, host)

	m := &Manager{}
	g := m.hostGit(host)
	ctx := context.Background()
	res := &PullResult{}
	if err := m.importBundle(ctx, g, bundle, "sha1", DefaultPullMaxBytes, res); err != nil {
		t.Fatal(err)
	}
	if err := describePull(ctx, g, res, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("something the box planted ran on the host")
	}
	if after := snapshot(t, host); after != before {
		t.Errorf("the host's config, hooks, branches or files changed:\nbefore %s\nafter  %s", before, after)
	}
	// The host's own git, with its own config, finds nothing planted either.
	gitIn(t, host, "status")
	gitIn(t, host, "log", "--all", "-p")
	if _, err := os.Stat(marker); err == nil {
		t.Error("something the box planted ran when the host ran git")
	}
	refs := gitIn(t, host, "for-each-ref", "--format=%(refname)", "refs/devbox/")
	for _, want := range []string{PullRefPrefix + "main", PullRefPrefix + "side", PullHeadRef, PullWorktreeRef} {
		if !strings.Contains(refs, want) {
			t.Errorf("refs/devbox/ lacks %s: %s", want, refs)
		}
	}
	if len(res.Commits) != 1 || !strings.Contains(res.Commits[0].Subject, `\x1b]0;pwned\x07`) {
		t.Errorf("commits %+v: want the one commit, its subject's escapes shown escaped", res.Commits)
	}
	if res.Uncommitted != 3 { // README, untracked.txt, link
		t.Errorf("uncommitted = %d, want 3: %+v", res.Uncommitted, res.Changed)
	}
	flags := map[string]string{}
	for _, c := range res.Changed {
		flags[c.Path] = c.Flag
	}
	for _, p := range []string{".gitmodules", ".vscode/tasks.json", "link"} {
		if flags[p] == "" {
			t.Errorf("%s not flagged: %+v", p, res.Changed)
		}
	}
	also := map[string]string{}
	for _, f := range res.AlsoFlagged {
		also[f.Path] = f.Ref
	}
	if also[".envrc"] != PullRefPrefix+"side" || flags["sub"] == "" {
		t.Errorf("flagged %+v, also %+v: want the gitlink sub, and the .envrc of the branch side", res.Changed, res.AlsoFlagged)
	}
	if flags["feature.go"] != "" || flags["README"] != "" {
		t.Errorf("ordinary files flagged: %+v", res.Changed)
	}
	if !strings.Contains(res.Patch, "hello, changed") || strings.Contains(res.Patch, "\x1b") {
		t.Errorf("patch lacks the uncommitted change or carries an escape:\n%s", res.Patch)
	}

	t.Run("a branch below an earlier pull's", func(t *testing.T) {
		gitIn(t, box, "branch", "-D", "side")
		gitIn(t, box, "checkout", "-qb", "side/deep")
		gitIn(t, box, "commit", "-q", "--allow-empty", "-m", "deeper")
		gitIn(t, box, "checkout", "-q", "main")
		res := &PullResult{}
		if err := m.importBundle(ctx, g, exportIn(t, box), "sha1", DefaultPullMaxBytes, res); err != nil {
			t.Fatal(err)
		}
		refs := gitIn(t, host, "for-each-ref", "--format=%(refname)", PullRefPrefix)
		if !strings.Contains(refs, PullRefPrefix+"side/deep") || strings.Contains(refs, PullRefPrefix+"side\n") {
			t.Errorf("refs after the box's side became side/deep:\n%s", refs)
		}
	})
	t.Run("branch", func(t *testing.T) {
		if _, err := updateBranch(ctx, g, "main", "main"); err == nil || !strings.Contains(err.Error(), "checked out") {
			t.Errorf("the checked-out branch: %v", err)
		}
		up, err := updateBranch(ctx, g, "side/deep", "side/deep")
		if err != nil || up.Old != "" {
			t.Fatalf("a new branch: %+v, %v", up, err)
		}
		if up, err := updateBranch(ctx, g, "main", "review/agent"); err != nil || up.Name != "refs/heads/review/agent" {
			t.Errorf("BOX:HOST: %+v, %v", up, err)
		}
		gitIn(t, host, "branch", "-f", "side/deep", "main")
		if up, err := updateBranch(ctx, g, "side/deep", "side/deep"); err != nil || up.Old == "" {
			t.Fatalf("a fast-forward: %+v, %v", up, err)
		}
		gitIn(t, host, "branch", "-f", "side/deep", "main")
		gitIn(t, host, "checkout", "-q", "side/deep")
		gitIn(t, host, "commit", "-q", "--allow-empty", "-m", "host diverges")
		gitIn(t, host, "checkout", "-q", "main")
		if _, err := updateBranch(ctx, g, "side/deep", "side/deep"); err == nil || !strings.Contains(err.Error(), "fast-forward") {
			t.Errorf("a diverged branch: %v", err)
		}
	})
}

// TestImportBundleRefuses: bundles that are not what devbox's export
// makes are refused, or their odd refs skipped, before any ref is set.
func TestImportBundleRefuses(t *testing.T) {
	host, box := hostAndBox(t)
	writeTestFile(t, filepath.Join(box, "a.txt"), "a\n", 0o644)
	gitIn(t, box, "add", ".")
	gitIn(t, box, "commit", "-qm", "a")
	good, err := os.ReadFile(exportIn(t, box))
	if err != nil {
		t.Fatal(err)
	}
	header, pack, _ := bytes.Cut(good, []byte("\n\n"))
	lines := strings.Split(string(header), "\n")
	var worktree string
	for _, l := range lines {
		if strings.HasSuffix(l, " "+PullWorktreeRef) {
			worktree, _, _ = strings.Cut(l, " ")
		}
	}
	withRefs := func(extra ...string) []byte {
		h := append(append([]string{}, lines...), extra...)
		return append([]byte(strings.Join(h, "\n")+"\n\n"), pack...)
	}
	// A tree holding ".GIT": fsck's hasDotgit.
	evilTree := func() []byte {
		cmd := exec.Command("git", "mktree")
		cmd.Dir = box
		blobID := gitIn(t, box, "rev-parse", "HEAD:a.txt")
		cmd.Stdin = strings.NewReader("100644 blob " + blobID + "\t.GIT\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		tree := strings.TrimSpace(string(out))
		c := gitIn(t, box, "commit-tree", tree, "-m", "dotgit")
		gitIn(t, box, "update-ref", "refs/heads/evil", c)
		defer gitIn(t, box, "update-ref", "-d", "refs/heads/evil")
		data, err := os.ReadFile(exportIn(t, box))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}()

	tests := []struct {
		name    string
		data    []byte
		max     int64
		want    string // in the error; "" means accepted
		skipped int
	}{
		{name: "not a bundle", data: []byte("\x1b[2Jhello\n"), want: "not a git bundle"},
		{name: "truncated pack", data: good[:len(good)-30], want: "check the box's objects"},
		{name: "over the size cap", data: good, max: 64, want: "check the box's objects"},
		{name: "a .GIT entry", data: evilTree, want: "check the box's objects"},
		{name: "no worktree commit", data: bytes.Replace(good, []byte(PullWorktreeRef), []byte("refs/heads/wt"), 1), want: "no working-tree commit"},
		{
			name: "odd refs skipped", skipped: 5,
			data: withRefs(worktree+" refs/heads/a..b", worktree+" refs/tags/v1", worktree+" refs/remotes/host/main",
				worktree+" refs/heads/x\x1b[31m", worktree+" HEAD"),
		},
		{name: "a ref to a missing object", data: withRefs(strings.Repeat("e", 40) + " refs/heads/ghost"), want: "not a commit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			before := gitIn(t, host, "for-each-ref")
			max := tc.max
			if max == 0 {
				max = DefaultPullMaxBytes
			}
			m := &Manager{}
			res := &PullResult{}
			err := m.importBundle(context.Background(), m.hostGit(host), path, "sha1", max, res)
			if tc.want == "" {
				if err != nil || len(res.Skipped) != tc.skipped {
					t.Fatalf("err %v, skipped %q; want %d skipped", err, res.Skipped, tc.skipped)
				}
				for _, s := range res.Skipped {
					if strings.Contains(s, "\x1b") {
						t.Errorf("a skipped ref's message carries an escape: %q", s)
					}
				}
				gitIn(t, host, "update-ref", "-d", PullWorktreeRef) // as before
				gitIn(t, host, "update-ref", "-d", PullHeadRef)
				for _, r := range res.Refs {
					if !strings.HasPrefix(r.Name, "refs/devbox/") {
						t.Errorf("set %s", r.Name)
					}
				}
				return
			}
			t.Logf("refused: %v", err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\x1b") {
				t.Errorf("the error carries an escape: %q", err)
			}
			if after := gitIn(t, host, "for-each-ref"); after != before {
				t.Errorf("refs changed on a refused bundle:\n%s", after)
			}
		})
	}
}

// BenchmarkPullLocal measures what `devbox pull` does outside the Engine
// API on a repository of 2,000 files: the box's export (a working-tree
// commit and a bundle of 20 new commits touching 200 files, plus
// uncommitted edits) and the host's import (header, index-pack --strict,
// checks, refs) and description (log, changed paths, flags). The
// integration test logs the whole `devbox pull` through the engine.
func BenchmarkPullLocal(b *testing.B) {
	dir := b.TempDir()
	host, box := filepath.Join(dir, "host"), filepath.Join(dir, "box")
	run := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@example.com", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run(dir, "init", "-q", "-b", "main", host)
	for i := range 2000 {
		p := filepath.Join(host, "pkg"+strconv.Itoa(i%40), "f"+strconv.Itoa(i)+".go")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(strings.Repeat("package x // line\n", 40+i%20)), 0o644)
	}
	run(host, "add", "-A")
	run(host, "commit", "-qm", "base")
	run(dir, "clone", "-q", "--origin", "host", host, box)
	for c := range 20 {
		for i := range 10 {
			n := c*10 + i
			p := filepath.Join(box, "pkg"+strconv.Itoa(n%40), "f"+strconv.Itoa(n)+".go")
			os.WriteFile(p, []byte("package x // changed "+strconv.Itoa(c)+"\n"), 0o644)
		}
		run(box, "commit", "-qam", "change "+strconv.Itoa(c))
	}
	os.WriteFile(filepath.Join(box, "pkg0", "f0.go"), []byte("uncommitted\n"), 0o644)
	m := &Manager{}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "box.bundle")
		f, _ := os.Create(path)
		cmd := exec.Command("/bin/sh", "-c", exportScript)
		cmd.Dir, cmd.Stdout = box, f
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		res := &PullResult{}
		g := m.hostGit(host)
		if err := m.importBundle(ctx, g, path, "sha1", DefaultPullMaxBytes, res); err != nil {
			b.Fatal(err)
		}
		if err := describePull(ctx, g, res, false); err != nil {
			b.Fatal(err)
		}
		if len(res.Commits) != 20 {
			b.Fatalf("%d commits", len(res.Commits))
		}
	}
}

// TestBoxOutputBounded: what a box prints is kept up to a bound (its
// end), and a capped copy fails past its cap.
func TestBoxOutputBounded(t *testing.T) {
	out := &boxOutput{max: 10}
	for range 1000 {
		out.Write([]byte("0123456789abcdef"))
	}
	if got := string(out.Bytes()); got != "6789abcdef" {
		t.Errorf("kept %q, want the last 10 bytes", got)
	}
	var sink bytes.Buffer
	c := &cappedWriter{w: &sink, max: 8}
	if _, err := c.Write([]byte("12345678")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("9")); err != errTooBig || sink.Len() != 8 {
		t.Errorf("past the cap: %v, %d bytes", err, sink.Len())
	}
}
