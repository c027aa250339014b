package app

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newLogCommand(env Env) *cli.Command { return logCommand(env, newManager(env)) }

func logCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "show the gateway's audit log: the names asked (allowed or refused) and the connections refused",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "go on showing records as they come"},
			&cli.BoolFlag{Name: "json", Usage: "print the records as JSON lines"},
			&cli.BoolFlag{Name: "blocked", Usage: "refusals only (and records the log lost)"},
			&cli.StringFlag{Name: "since", Usage: "records from `D` ago (30m, 2h) or a time (2026-12-02T10:00:00Z) on"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("log takes no arguments (got %q)", c.Args().First())
			}
			if _, err := audit.ParseSince(c.String("since"), time.Now()); err != nil {
				return usageError(err)
			}
			opts := lifecycle.LogOptions{Follow: c.Bool("follow"), Since: c.String("since"), Blocked: c.Bool("blocked")}
			render := logRecordRenderer(env.Out, c.Bool("json"))
			return m.AuditLog(c.Context, c.String("workspace-folder"), opts, render)
		},
	}
}
