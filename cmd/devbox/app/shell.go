package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newShellCommand(env Env) *cli.Command { return shellCommand(env, newManager(env)) }

func shellCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "shell",
		Usage: "open an interactive login shell in the box",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as `USER` instead of the remote user"},
			firewallTimeoutFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("shell takes no arguments; use `devbox exec -- CMD` to run a command")
			}
			if err := setFirewallTimeout(c, env, m); err != nil {
				return err
			}
			code, err := m.Shell(c.Context, lifecycle.ShellOptions{Workspace: c.String("workspace-folder"), User: c.String("user")})
			return execStatus(code, err)
		},
	}
}
