package app

import (
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/generator"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

// policySuggestCommand is `devbox policy suggest`: the entries that would
// have allowed what the audit log shows refused (or let through by audit
// mode), as a snippet to paste; it writes no file.
func policySuggestCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "suggest",
		Usage: "print firewall.jsonc entries that would have allowed what the audit log shows was refused",
		Flags: []cli.Flag{
			workspaceFlag(),
			&cli.StringFlag{Name: "since", Usage: "read the log from `D` ago (30m, 2h) or a time (2026-12-02T10:00:00Z) on"},
			&cli.BoolFlag{Name: "json", Usage: "print the suggestion as JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return Usagef("policy suggest takes no arguments (got %q)", c.Args().First())
			}
			if _, err := audit.ParseSince(c.String("since"), time.Now()); err != nil {
				return usageError(err)
			}
			dir := c.String("workspace-folder")
			s := audit.NewSuggester()
			// The config's verify.blocked hosts are refused on purpose. A
			// config that does not load is the gateway's to report.
			if cfg, err := allowlist.LoadConfig(filepath.Join(dir, generator.DirName, filepath.Base(contract.GatewayConfigPath))); err == nil {
				s.ExpectBlocked(cfg.Verify.Blocked)
			}
			err := m.AuditLog(c.Context, dir, lifecycle.LogOptions{Since: c.String("since")},
				func(r audit.Record) error { s.Add(r); return nil })
			if err != nil {
				return err
			}
			return renderSuggestion(env.Out, s.Result(), c.Bool("json"))
		},
	}
}
