package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newDownCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "down",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("down: not implemented yet") },
	}
}
