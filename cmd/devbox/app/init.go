package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newInitCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "init",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("init: not implemented yet") },
	}
}
