package app

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newResetCommand(env Env) *cli.Command { return resetCommand(env, newManager(env)) }

func resetCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "reset",
		Usage: "remove the box's containers, volumes and built images, then rebuild it without cache",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"},
			&cli.BoolFlag{Name: "discard-work", Usage: "with --yes: delete a volume workspace's unpulled commits and uncommitted files too"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
			firewallTimeoutFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("reset takes no arguments (got %q)", c.Args().First())
			}
			opts := lifecycle.ResetOptions{Workspace: c.String("workspace-folder"), DiscardWork: c.Bool("discard-work")}
			if !c.Bool("yes") {
				if !isTerminal(env.In) {
					return Usagef("reset removes containers, volumes and images: pass --yes when not on a terminal")
				}
				opts.Confirm = func(prompt string) (bool, error) {
					fmt.Fprint(env.Err, prompt)
					answer, err := bufio.NewReader(env.In).ReadString('\n')
					a := strings.ToLower(strings.TrimSpace(answer))
					return a == "y" || a == "yes", err
				}
			}
			if err := setFirewallTimeout(c, env, m); err != nil {
				return err
			}
			reset, err := m.Reset(c.Context, opts)
			renderReset(env.Err, reset) // what was removed, even when reset failed part way
			if err != nil {
				return err
			}
			up, err := m.Up(c.Context, lifecycle.UpOptions{Workspace: reset.Workspace, Rebuild: true, NoCache: true})
			if err != nil {
				return lifecycleStatus(err)
			}
			return renderUp(env.Out, env.Err, up, c.Bool("json"))
		},
	}
}
