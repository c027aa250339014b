package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newDownCommand(env Env) *cli.Command { return downCommand(env, newManager(env)) }

func downCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "stop and remove the box (its whole compose project); named volumes stay unless --volumes",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.BoolFlag{Name: "volumes", Usage: "also remove the named volumes the box uses"},
			&cli.BoolFlag{Name: "discard-work", Usage: "with --volumes: delete a volume workspace's unpulled commits and uncommitted files too"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("down takes no arguments (got %q)", c.Args().First())
			}
			res, err := m.Down(c.Context, lifecycle.DownOptions{Workspace: c.String("workspace-folder"), Volumes: c.Bool("volumes"), DiscardWork: c.Bool("discard-work")})
			renderDown(env.Out, res) // what was removed, even when down failed part way
			return err
		},
	}
}
