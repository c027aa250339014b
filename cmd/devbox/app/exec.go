package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newExecCommand(env Env) *cli.Command { return execCommand(env, newManager(env)) }

func execCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command in the box as the remote user, in the workspace folder",
		ArgsUsage: "-- CMD [ARGS...]",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as `USER` instead of the remote user"},
			firewallTimeoutFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return Usagef("exec needs a command: devbox exec [-w DIR] -- CMD [ARGS...]")
			}
			if err := setFirewallTimeout(c, env, m); err != nil {
				return err
			}
			code, err := m.Exec(c.Context, lifecycle.ExecOptions{
				Workspace: c.String("workspace-folder"), User: c.String("user"), Cmd: c.Args().Slice(),
			})
			return execStatus(code, err)
		},
	}
}
