package app

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

// errDoctorFailed is doctor's error when a check failed.
var errDoctorFailed = errors.New("doctor: some checks failed (see the fixes above)")

func newDoctorCommand(env Env) *cli.Command { return doctorCommand(env, newManager(env)) }

func doctorCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check the engine, compose, the devcontainer CLI, NET_ADMIN and the kernel's firewall support",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.StringFlag{Name: "image", Usage: "a local `IMAGE` with iptables for the kernel check (default: the box's image)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("doctor takes no arguments (got %q)", c.Args().First())
			}
			report := m.Doctor(c.Context, lifecycle.DoctorOptions{Workspace: c.String("workspace-folder"), Image: c.String("image")})
			renderDoctor(env.Out, report)
			if report.Failed() {
				return errDoctorFailed
			}
			return nil
		},
	}
}
