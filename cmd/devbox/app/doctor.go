package app

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// TODO(skeleton): replaced by the real command.
func newDoctorCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:   "doctor",
		Flags:  []cli.Flag{workspaceFlag()},
		Action: func(*cli.Context) error { return errors.New("doctor: not implemented yet") },
	}
}
