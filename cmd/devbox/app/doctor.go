package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newDoctorCommand(env Env) *cli.Command { return doctorCommand(newManager(env)) }

func doctorCommand(m *lifecycle.Manager) *cli.Command {
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
			return m.Doctor(c.Context, lifecycle.DoctorOptions{Workspace: c.String("workspace-folder"), Image: c.String("image")})
		},
	}
}
