package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newUpCommand(env Env) *cli.Command { return upCommand(env, newManager(env)) }

func upCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "build and start the box (returns at once when it runs and .devcontainer/ is unchanged)",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.BoolFlag{Name: "rebuild", Usage: "remove the container and make it again"},
			&cli.BoolFlag{Name: "no-cache", Usage: "rebuild the image without the build cache (implies --rebuild)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
			firewallTimeoutFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("up takes no arguments (got %q)", c.Args().First())
			}
			if err := setFirewallTimeout(c, env, m); err != nil {
				return err
			}
			res, err := m.Up(c.Context, lifecycle.UpOptions{
				Workspace: c.String("workspace-folder"), Rebuild: c.Bool("rebuild"), NoCache: c.Bool("no-cache"),
			})
			if err != nil {
				return lifecycleStatus(err)
			}
			return renderUp(env.Out, env.Err, res, c.Bool("json"))
		},
	}
}
