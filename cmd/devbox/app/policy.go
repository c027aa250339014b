package app

import (
	"errors"
	"fmt"
	"io"
	"os/user"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/generator"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

func newAllowCommand(env Env) *cli.Command { return allowCommand(env, newManager(env), false) }
func newDenyCommand(env Env) *cli.Command  { return allowCommand(env, newManager(env), true) }

// allowCommand is `devbox allow` or, with deny, `devbox deny`: edit
// firewall.jsonc, then have the running gateway apply it.
func allowCommand(env Env, m *lifecycle.Manager, deny bool) *cli.Command {
	name, args, usage := "allow", "PATTERN[:PORTS] | CIDR[:PORTS]", "allow a name, pattern or CIDR: written to firewall.jsonc and applied to the running box at once"
	if deny {
		name, args, usage = "deny", "PATTERN | CIDR", "deny a name, pattern or CIDR (its live connections are cut): written to firewall.jsonc and applied at once"
	}
	return &cli.Command{
		Name: name, ArgsUsage: args, Usage: usage,
		Flags: []cli.Flag{workspaceFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return Usagef("%s takes one entry: devbox %s [-w DIR] %s", name, name, args)
			}
			path, err := lifecycle.AllowlistFile(c.String("workspace-folder"))
			if err != nil {
				return err
			}
			edit := generator.AllowlistEdit{Deny: deny, Entry: c.Args().First(), Comment: entryComment(name, time.Now())}
			var message string
			res, err := m.ChangePolicy(c.Context, c.String("workspace-folder"), func() (bool, error) {
				r, err := generator.EditAllowlist(path, edit)
				message = r.Message
				return r.Changed, err
			})
			if message != "" {
				fmt.Fprintln(env.Out, message)
			}
			renderPolicy(env.Out, env.Err, res)
			return policyStatus(err)
		},
	}
}

// entryComment says who added an entry, and when.
func entryComment(verb string, now time.Time) string {
	who := "unknown user"
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username
	}
	return fmt.Sprintf("devbox %s, %s, %s", verb, who, now.UTC().Format("2006-01-02 15:04 UTC"))
}

// renderPolicy says whether a change is in force in the running box.
func renderPolicy(out, errOut io.Writer, res *lifecycle.PolicyResult) {
	if res != nil && res.Untrusted {
		fmt.Fprintln(errOut, "devbox: warning: .devcontainer/ holds changes nobody accepted, so it is still untrusted: `devbox up` refuses it until `devbox trust`")
	}
	switch {
	case res == nil:
	case res.Live == nil:
		fmt.Fprintf(out, "not applied now (%s): the box reads firewall.jsonc at its next start\n", res.NotLive)
	default:
		for _, c := range res.Live.Changes {
			fmt.Fprintln(out, "  "+c)
		}
		for _, w := range res.Live.Warnings {
			fmt.Fprintln(errOut, "devbox: warning: "+w)
		}
		if res.Live.OK {
			fmt.Fprintf(out, "applied to the running box in %d ms", res.Took.Milliseconds())
			if res.Live.Cut > 0 {
				fmt.Fprintf(out, "; %d connection(s) cut", res.Live.Cut)
			}
			fmt.Fprintln(out)
		}
	}
}

// policyStatus makes a bad entry or argument a usage error.
func policyStatus(err error) error {
	var in *lifecycle.InputError
	if generator.IsInputError(err) || errors.As(err, &in) {
		return usageError(err)
	}
	return err
}

func newPolicyCommand(env Env) *cli.Command { return policyCommand(env, newManager(env)) }

func policyCommand(env Env, m *lifecycle.Manager) *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "ask or change the running box's egress policy",
		Subcommands: []*cli.Command{
			policySuggestCommand(env, m),
			{
				Name: "check", ArgsUsage: "HOST[:PORT]", Usage: "whether the box may reach HOST (TCP 443 unless PORT), and by which rule",
				Flags: []cli.Flag{workspaceFlag(), &cli.BoolFlag{Name: "json", Usage: "print the verdict as JSON"}},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return Usagef("policy check takes one destination: devbox policy check [-w DIR] HOST[:PORT]")
					}
					v, err := m.CheckPolicy(c.Context, c.String("workspace-folder"), c.Args().First())
					if err != nil {
						return policyStatus(err)
					}
					return renderVerdict(env.Out, v, c.Bool("json"))
				},
			},
			{
				Name: "audit", ArgsUsage: "DURATION | off", Usage: "let everything but the host and local networks through, and log it, for DURATION (at most 24h); it ends by itself",
				Flags: []cli.Flag{workspaceFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return Usagef("policy audit takes a duration (30m) or off")
					}
					until, err := m.Audit(c.Context, c.String("workspace-folder"), c.Args().First())
					if err != nil {
						return policyStatus(err)
					}
					renderAudit(env.Out, env.Err, until)
					return nil
				},
			},
			{
				Name: "reload", Usage: "apply firewall.jsonc as it is now to the running box",
				Flags: []cli.Flag{workspaceFlag()},
				Action: func(c *cli.Context) error {
					res, err := m.ReloadPolicy(c.Context, c.String("workspace-folder"))
					renderPolicy(env.Out, env.Err, res)
					return policyStatus(err)
				},
			},
		},
	}
}

// renderVerdict prints whether a destination is allowed and why.
func renderVerdict(w io.Writer, v *lifecycle.PolicyVerdict, asJSON bool) error {
	if asJSON {
		return renderJSON(w, v)
	}
	verdict := "refused"
	if v.Allowed {
		verdict = "allowed"
	}
	rule := v.Rule
	if rule == "" {
		rule = "no entry"
	}
	fmt.Fprintf(w, "%s: %s by %s rule (%s)\n", v.Destination, verdict, v.By, rule)
	if v.Note != "" {
		fmt.Fprintf(w, "  %s\n", v.Note)
	}
	if v.From != "gateway" {
		fmt.Fprintf(w, "  decided by firewall.jsonc, not the running box (%s)\n", v.NotLive)
	}
	if !v.AuditUntil.IsZero() {
		fmt.Fprintf(w, "  %s\n", lifecycle.AuditWarning(v.AuditUntil, time.Now()))
	}
	return nil
}

// renderAudit says audit mode's state, loudly when it is on.
func renderAudit(out, errOut io.Writer, until time.Time) {
	if until.IsZero() {
		fmt.Fprintln(out, "audit mode off")
		return
	}
	fmt.Fprintln(errOut, "devbox: "+lifecycle.AuditWarning(until, time.Now()))
}
