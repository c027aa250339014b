package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newStartCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "start",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("start: not implemented yet") },
	}
}
