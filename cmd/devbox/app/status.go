package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newStatusCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "status",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("status: not implemented yet") },
	}
}
