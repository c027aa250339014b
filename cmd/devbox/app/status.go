package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newStatusCommand(env Env) *cli.Command { return statusCommand(env, newManager(env)) }

func statusCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:    "status",
		Aliases: []string{"ls"},
		Usage:   "list every devbox environment on the engine, running or stopped",
		Flags:   []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the list as JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("status takes no arguments (got %q)", c.Args().First())
			}
			boxes, err := m.Status(c.Context)
			if err != nil {
				return err
			}
			return renderStatus(env.Out, boxes, c.Bool("json"))
		},
	}
}
