package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newShellCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "shell",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("shell: not implemented yet") },
	}
}
