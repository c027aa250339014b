package lifecycle

import (
	"context"
	"strconv"
	"strings"

	"github.com/devbox-sandbox/devbox/internal/gitsafe"
)

// maxCommits bounds the commits a pull lists.
const maxCommits = 200

// describePull fills what the box changed: its commits since it left the
// host's HEAD, the paths that differ, and the patch when asked for. The
// host's git reads only objects index-pack checked.
func describePull(ctx context.Context, g hostGit, res *PullResult, patch bool) error {
	from := ""
	if res.Head != "" {
		if hostHead, err := g.out(ctx, nil, "rev-parse", "-q", "--verify", "HEAD^{commit}"); err == nil && hostHead != "" {
			if base, err := g.out(ctx, nil, "merge-base", hostHead, res.Head); err == nil {
				res.Base = base
			}
		}
		rng := res.Head
		if res.Base != "" {
			rng = res.Base + ".." + res.Head
		}
		log, err := g.out(ctx, nil, "log", "-z", "--no-show-signature", "-n", strconv.Itoa(maxCommits), "--format=%H %s", rng)
		if err != nil {
			return err
		}
		for _, entry := range gitsafe.SplitZ([]byte(log)) {
			oid, subject, _ := strings.Cut(entry, " ")
			res.Commits = append(res.Commits, Commit{OID: oid, Subject: gitsafe.Sanitize([]byte(subject))})
		}
	}
	from = res.Base
	if from == "" {
		empty, err := g.out(ctx, strings.NewReader(""), "mktree")
		if err != nil {
			return err
		}
		from = empty
	}
	raw, err := g.raw(ctx, nil, "diff-tree", "-r", "-z", "--no-renames", from, res.Worktree)
	if err != nil {
		return err
	}
	res.Changed = parseRawDiff(raw)
	if err := flagRefs(ctx, g, res, from); err != nil {
		return err
	}
	committed := res.Head
	if committed == "" {
		committed = from
	}
	names, err := g.raw(ctx, nil, "diff-tree", "-r", "-z", "--no-renames", "--name-only", committed, res.Worktree)
	if err != nil {
		return err
	}
	res.Uncommitted = len(gitsafe.SplitZ(names))
	if patch {
		out, err := g.raw(ctx, nil, "diff", "--no-ext-diff", "--no-textconv", "--no-color", "--stat", "--patch", from, res.Worktree)
		if err != nil {
			return err
		}
		res.Patch = gitsafe.Sanitize(out)
	}
	return nil
}

// flagRefs adds to res.AlsoFlagged the flagged paths of each pulled ref
// but the working tree (diffed from where it meets the host's HEAD, else
// from empty) that res.Changed does not flag already: what --branch or a
// merge would bring is looked at, not only the checked-out state.
func flagRefs(ctx context.Context, g hostGit, res *PullResult, empty string) error {
	seen := map[string]bool{}
	for _, c := range res.Changed {
		if c.Flag != "" {
			seen[c.Path+"\x00"+c.Status] = true
		}
	}
	hostHead, _ := g.out(ctx, nil, "rev-parse", "-q", "--verify", "HEAD^{commit}")
	for _, r := range res.Refs {
		if r.Name == PullWorktreeRef {
			continue
		}
		from := empty
		if hostHead != "" {
			if base, err := g.out(ctx, nil, "merge-base", hostHead, r.OID); err == nil && base != "" {
				from = base
			}
		}
		raw, err := g.raw(ctx, nil, "diff-tree", "-r", "-z", "--no-renames", from, r.OID)
		if err != nil {
			return err
		}
		for _, c := range parseRawDiff(raw) {
			if key := c.Path + "\x00" + c.Status; c.Flag != "" && !seen[key] {
				seen[key] = true
				res.AlsoFlagged = append(res.AlsoFlagged, FlaggedPath{ChangedPath: c, Ref: r.Name})
			}
		}
	}
	return nil
}

// parseRawDiff reads `git diff-tree -r -z` output: ":OLDMODE NEWMODE OLD
// NEW STATUS\0PATH\0" per path.
func parseRawDiff(raw []byte) []ChangedPath {
	fields := gitsafe.SplitZ(raw)
	var out []ChangedPath
	for i := 0; i+1 < len(fields); i += 2 {
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		if len(meta) < 5 {
			continue
		}
		status, path := meta[4], fields[i+1]
		mode := meta[1]
		if status == "D" {
			mode = ""
		}
		out = append(out, ChangedPath{Status: status, Path: gitsafe.Sanitize([]byte(path)), Flag: gitsafe.FlagPath(path, mode)})
	}
	return out
}
