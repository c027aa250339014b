package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newStopCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "stop",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("stop: not implemented yet") },
	}
}
