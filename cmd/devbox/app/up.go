package app

import (
	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/firewall/control"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newUpCommand(env Env) *cli.Command { return upCommand(env, newManager(env)) }

func upCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "build and start the box (returns at once when it runs and .devcontainer/ is unchanged)",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.BoolFlag{Name: "rebuild", Usage: "remove the container and make it again"},
			&cli.BoolFlag{Name: "no-cache", Usage: "rebuild the image without the build cache (implies --rebuild)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
			&cli.StringFlag{Name: "audit", Usage: "then turn audit mode on for `DURATION` (at most 24h): everything but the host and local networks is let through and logged; it ends by itself"},
			firewallTimeoutFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("up takes no arguments (got %q)", c.Args().First())
			}
			if err := setFirewallTimeout(c, env, m); err != nil {
				return err
			}
			if d := c.String("audit"); d != "" {
				if _, err := control.ParseAuditDuration(d); err != nil || d == control.AuditOff {
					return Usagef("up --audit: want a duration such as 30m (at most %s)", control.MaxAudit)
				}
			}
			res, err := m.Up(c.Context, lifecycle.UpOptions{
				Workspace: c.String("workspace-folder"), Rebuild: c.Bool("rebuild"), NoCache: c.Bool("no-cache"),
			})
			if err != nil {
				return lifecycleStatus(err)
			}
			if d := c.String("audit"); d != "" {
				until, err := m.Audit(c.Context, c.String("workspace-folder"), d)
				if err != nil {
					return policyStatus(err)
				}
				renderAudit(env.Out, env.Err, until)
			}
			return renderUp(env.Out, env.Err, res, c.Bool("json"))
		},
	}
}
