package app

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/termsafe"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newTrustCommand(env Env) *cli.Command { return trustCommand(env, newManager(env)) }

func trustCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "trust",
		Usage: "show what changed in the box's configuration, and what of it reaches past the box, and accept it",
		Description: "`devbox up` refuses a workspace whose configuration (.devcontainer/ and the files it refers to) devbox has no\n" +
			"record of, or that changed since: the host runs what it says, and the agent can change it through git.\n" +
			"trust shows the difference and the settings that reach past the box (initializeCommand, mounts, privileges,\n" +
			"networking, the gateway's image), then asks.",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "accept without asking (for scripts: read the output)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("trust takes no arguments (got %q)", c.Args().First())
			}
			r, err := m.ReviewTrust(c.Context, c.String("workspace-folder"))
			if err != nil {
				return err
			}
			renderTrustReview(env.Out, r)
			if r.Recorded && len(r.Changes) == 0 {
				fmt.Fprintln(env.Out, "devbox: nothing changed since the configuration was trusted")
				return nil
			}
			if !c.Bool("yes") {
				if !isTerminal(env.In) {
					return Usagef("not a terminal: read the above, then accept it with `devbox trust --yes -w %s`", r.Workspace)
				}
				fmt.Fprint(env.Out, "Trust this configuration? [y/N] ")
				line, _ := bufio.NewReader(env.In).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return fmt.Errorf("not trusted: `devbox up` keeps refusing %s", r.Workspace)
				}
			}
			if err := m.AcceptTrust(r); err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "devbox: trusted the configuration of %s\n", r.Workspace)
			return nil
		},
	}
}

// renderTrustReview shows the changed files, with a diff where their
// text is known, and the settings. Everything from the files is escaped:
// control characters could rewrite the terminal to hide a line.
func renderTrustReview(w io.Writer, r *lifecycle.TrustReview) {
	if !r.Recorded {
		fmt.Fprintf(w, "devbox has no record of %s: every file of its configuration is new.\n", termsafe.Escape(r.Workspace))
	}
	for _, c := range r.Changes {
		switch {
		case c.Old == nil:
			fmt.Fprintf(w, "added %s (%s)\n", termsafe.Escape(c.Path), c.New.Mode)
		case c.New == nil:
			fmt.Fprintf(w, "removed %s\n", termsafe.Escape(c.Path))
		default:
			fmt.Fprintf(w, "changed %s", termsafe.Escape(c.Path))
			if c.Old.Mode != c.New.Mode {
				fmt.Fprintf(w, " (mode %s -> %s)", c.Old.Mode, c.New.Mode)
			}
			fmt.Fprintln(w)
		}
		if c.New != nil && c.New.Text == nil {
			fmt.Fprintf(w, "  (binary or large: sha256 %s)\n", c.New.SHA256)
			continue
		}
		if c.Old != nil && c.Old.Text == nil && c.New != nil {
			fmt.Fprintln(w, "  (the earlier content was not kept: all of it shown)")
		}
		for _, l := range c.Lines() {
			fmt.Fprintf(w, "  %c %s\n", l.Op, termsafe.Escape(l.Text))
		}
	}
	if r.ComposeProject != "" {
		fmt.Fprintf(w, "compose project: %s\n", r.ComposeProject)
	}
	fmt.Fprintln(w, "settings that reach past the box:")
	if len(r.Settings) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, s := range r.Settings {
		line := fmt.Sprintf("  %s: %s %s", s.Source, s.Name, s.Value)
		if s.Refused != "" {
			line += "   REFUSED by up: " + s.Refused
		}
		fmt.Fprintln(w, termsafe.Escape(line))
	}
}
