package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newStopCommand(env Env) *cli.Command { return stopCommand(env, newManager(env)) }

func stopCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "stop",
		Usage: "stop the box (and its services) and keep it",
		Flags: []cli.Flag{workspaceFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("stop takes no arguments (got %q)", c.Args().First())
			}
			res, err := m.Stop(c.Context, lifecycle.StopOptions{Workspace: c.String("workspace-folder")})
			renderStop(env.Out, res) // what was stopped, even when stop failed part way
			return err
		},
	}
}
