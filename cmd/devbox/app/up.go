package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newUpCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "up",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("up: not implemented yet") },
	}
}
