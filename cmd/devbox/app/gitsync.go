package app

import (
	"fmt"
	"io"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newPullCommand(env Env) *cli.Command { return pullCommand(env, newManager(env), false) }
func newDiffCommand(env Env) *cli.Command { return pullCommand(env, newManager(env), true) }

// pullCommand is `devbox pull` and, with diff, `devbox diff`: both bring
// the box's work into refs/devbox/; diff prints it, pull can set a branch.
func pullCommand(env Env, m *lifecycle.Manager, diff bool) *cli.Command {
	flags := []cli.Flag{
		workspaceFlag(),
		&cli.StringFlag{Name: "max-size", Value: "1g", Usage: "refuse a bundle larger than `SIZE` from the box"},
		&cli.DurationFlag{Name: "timeout", Value: lifecycle.DefaultPullTimeout, Usage: "give up after `DURATION`"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
	}
	cmd := &cli.Command{
		Name:  "pull",
		Usage: "bring the box's commits into refs/devbox/ of your repository (volume workspace), checked as hostile",
		Description: "Makes a git bundle in the box, copies it out, checks every object (git index-pack --strict) and sets\n" +
			"refs/devbox/heads/NAME (the box's branches with new commits), refs/devbox/head and refs/devbox/worktree (its\n" +
			"uncommitted work as a commit). Your branches, config and files are not touched unless --branch NAME asks:\n" +
			"then NAME becomes the box's NAME (BOX:HOST: your HOST the box's BOX), as a new branch or a fast-forward\n" +
			"of one not checked out.",
		Flags: append(flags, &cli.StringFlag{Name: "branch", Usage: "also set your branch `NAME` to the box's NAME, or with BOX:HOST your HOST to the box's BOX (new or fast-forward only)"}),
	}
	if diff {
		cmd.Name = "diff"
		cmd.Usage = "show what the agent committed and changed in the box (volume workspace); sets refs/devbox/ as pull does"
		cmd.Description = ""
		cmd.Flags = append(flags, &cli.BoolFlag{Name: "stat", Usage: "list the changed paths only"})
	}
	cmd.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return Usagef("%s takes no arguments (got %q)", cmd.Name, c.Args().First())
		}
		max, err := units.RAMInBytes(c.String("max-size"))
		if err != nil || max <= 0 {
			return Usagef("invalid --max-size %q: a size such as 512m or 2g", c.String("max-size"))
		}
		opts := lifecycle.PullOptions{
			Workspace: c.String("workspace-folder"), MaxBytes: max, Timeout: c.Duration("timeout"),
			Patch: diff && !c.Bool("stat"),
		}
		if !diff {
			opts.Branch = c.String("branch")
		}
		res, err := m.Pull(c.Context, opts)
		switch {
		case res != nil && c.Bool("json"):
			if res.Commits == nil {
				res.Commits = []lifecycle.Commit{} // [], not null
			}
			if res.Changed == nil {
				res.Changed = []lifecycle.ChangedPath{}
			}
			if jerr := renderJSON(env.Out, res); jerr != nil && err == nil {
				err = jerr
			}
		case res != nil:
			renderPull(env.Out, res)
		}
		return err
	}
	return cmd
}

// renderPull prints what a pull brought; its strings from the box are
// already sanitised by lifecycle.
func renderPull(w io.Writer, res *lifecycle.PullResult) {
	if res.Patch != "" {
		fmt.Fprint(w, res.Patch)
		if res.Patch[len(res.Patch)-1] != '\n' {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	base := "none: no history in common with your HEAD"
	if res.Base != "" {
		base = res.Base[:12]
	}
	fmt.Fprintf(w, "devbox: %s from the box; base %s\n", units.HumanSize(float64(res.Bytes)), base)
	for _, r := range res.Refs {
		fmt.Fprintf(w, "  %s  %s\n", r.OID[:12], r.Name)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "devbox: skipped %s\n", s)
	}
	fmt.Fprintf(w, "commits (%d):\n", len(res.Commits))
	for _, c := range res.Commits {
		fmt.Fprintf(w, "  %s %s\n", c.OID[:12], c.Subject)
	}
	fmt.Fprintf(w, "changed paths (%d, %d of them not committed in the box):\n", len(res.Changed), res.Uncommitted)
	flagged := 0
	for _, p := range res.Changed {
		line := fmt.Sprintf("  %s %s", p.Status, p.Path)
		if p.Flag != "" {
			line += "    <- LOOK: " + p.Flag
			flagged++
		}
		fmt.Fprintln(w, line)
	}
	if len(res.AlsoFlagged) > 0 {
		fmt.Fprintln(w, "flagged in the box's commits, not in its working tree as shown above:")
		for _, p := range res.AlsoFlagged {
			fmt.Fprintf(w, "  %s %s (%s)    <- LOOK: %s\n", p.Status, p.Path, p.Ref, p.Flag)
			flagged++
		}
	}
	if flagged > 0 {
		fmt.Fprintf(w, "devbox: %d path(s) the host runs or obeys changed: read them before you check out, merge or open these commits\n", flagged)
	}
	if b := res.Branch; b != nil {
		if b.Old == "" {
			fmt.Fprintf(w, "devbox: created %s at %s\n", b.Name, b.New[:12])
		} else {
			fmt.Fprintf(w, "devbox: fast-forwarded %s %s..%s\n", b.Name, b.Old[:12], b.New[:12])
		}
	}
}

func newPushCommand(env Env) *cli.Command { return pushCommand(env, newManager(env)) }

func pushCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "push",
		Usage: "send your branch into the box as host/NAME (volume workspace); the agent merges it",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.StringFlag{Name: "branch", Usage: "your branch `NAME` to send (default: the one checked out)"},
			&cli.DurationFlag{Name: "timeout", Value: lifecycle.DefaultPullTimeout, Usage: "give up after `DURATION`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("push takes no arguments (got %q)", c.Args().First())
			}
			res, err := m.Push(c.Context, lifecycle.PushOptions{
				Workspace: c.String("workspace-folder"), Branch: c.String("branch"), Timeout: c.Duration("timeout"),
			})
			if err != nil {
				return err
			}
			note := ""
			if res.UpToDate {
				note = " (the box had its commits)"
			}
			fmt.Fprintf(env.Out, "devbox: %s %s is %s in the box%s\n", res.Branch, res.OID[:12], res.BoxRef, note)
			return nil
		},
	}
}
