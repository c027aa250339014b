package lifecycle

import (
	"context"
	"fmt"
	"strings"
)

// BranchError says --branch could not set the host's branch.
type BranchError struct {
	Box, Host string // the branches' short names
	Why       string
}

// Error implements error.
func (e *BranchError) Error() string {
	return fmt.Sprintf("--branch %s:%s: %s; the box's commits are in %s%s", e.Box, e.Host, e.Why, PullRefPrefix, e.Box)
}

// updateBranch makes the host's branch host the box's branch box, as a
// new branch or a fast-forward, with a compare-and-swap; a branch checked
// out in any worktree of the host is refused (its files would no longer
// match it).
func updateBranch(ctx context.Context, g hostGit, box, host string) (*BranchUpdate, error) {
	name := "refs/heads/" + host
	src, err := g.out(ctx, nil, "rev-parse", "-q", "--verify", PullRefPrefix+box+"^{commit}")
	if err != nil || src == "" {
		return nil, &BranchError{Box: box, Host: host, Why: "the box has no new commits on a branch of that name"}
	}
	wt, err := g.out(ctx, nil, "worktree", "list", "--porcelain")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(wt, "\n") {
		if line == "branch "+name {
			return nil, &BranchError{Box: box, Host: host, Why: "your " + host + " is checked out; switch to another branch, or merge it yourself with `git merge --ff-only " + PullRefPrefix + box + "`"}
		}
	}
	up := &BranchUpdate{Name: name, New: src}
	old, err := g.out(ctx, nil, "rev-parse", "-q", "--verify", name)
	if err == nil && old != "" {
		if _, err := g.out(ctx, nil, "merge-base", "--is-ancestor", old, src); err != nil {
			return nil, &BranchError{Box: box, Host: host, Why: "not a fast-forward of your branch"}
		}
		up.Old = old
	} else {
		old = strings.Repeat("0", len(src)) // must not exist yet
	}
	if _, err := g.out(ctx, nil, "update-ref", "-m", "devbox pull", name, src, old); err != nil {
		return nil, fmt.Errorf("set %s: %w", name, err)
	}
	return up, nil
}
