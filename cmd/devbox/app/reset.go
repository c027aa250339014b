package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newResetCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "reset",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("reset: not implemented yet") },
	}
}
