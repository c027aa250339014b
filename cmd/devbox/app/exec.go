package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newExecCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "exec",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("exec: not implemented yet") },
	}
}
