package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newStartCommand(env Env) *cli.Command { return startCommand(env, newManager(env)) }

func startCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "start the stopped box; returns once its firewall is back",
		Flags: []cli.Flag{workspaceFlag(), firewallTimeoutFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("start takes no arguments (got %q)", c.Args().First())
			}
			if err := setFirewallTimeout(c, env, m); err != nil {
				return err
			}
			res, err := m.Start(c.Context, lifecycle.StartOptions{Workspace: c.String("workspace-folder")})
			if err != nil {
				return lifecycleStatus(err)
			}
			return renderStart(env.Out, res)
		},
	}
}
