package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newStopCommand(env Env) *cli.Command { return stopCommand(newManager(env)) }

func stopCommand(m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "stop",
		Usage: "stop the box (and its services) and keep it",
		Flags: []cli.Flag{workspaceFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("stop takes no arguments (got %q)", c.Args().First())
			}
			return m.Stop(c.Context, lifecycle.StopOptions{Workspace: c.String("workspace-folder")})
		},
	}
}
