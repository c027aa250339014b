package app

import (
	"errors"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

// Exit statuses of devbox (the README's table). report, in app.go, prints
// the error of each but N, once.
//
//	0    success
//	1    an error (engine unreachable, CLI missing, no .devcontainer/, build failed, ...)
//	2    usage error (bad flags, arguments or commands, reset without --yes off a terminal)
//	3    refused: the box's firewall failed, never reported, or is not installed (up, start, reset)
//	N    exec, shell: the command's own exit status, passed through, nothing printed
//	125  exec, shell: devbox itself failed before or while running the command
//	     (including a firewall refusal, or the container going away)
const (
	exitUsage     = 2
	exitFirewall  = 3
	exitExecSetup = 125
)

// newManager gives the lifecycle package the outside world of env: the
// streams of commands run in the box, and stderr for up's progress and
// the notices of waits.
func newManager(env Env) *lifecycle.Manager {
	return &lifecycle.Manager{In: env.In, Out: env.Out, Err: env.Err, Progress: env.Err, Runner: env.Runner, Getenv: env.Getenv}
}

// firewallTimeoutFlag bounds the wait for the firewall's ready marker.
func firewallTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{
		Name:        "firewall-timeout",
		Usage:       "how long to wait for the firewall to report before refusing",
		DefaultText: "$DEVBOX_FIREWALL_TIMEOUT, else " + contract.FirewallWait(),
	}
}

// setFirewallTimeout applies --firewall-timeout, else
// $DEVBOX_FIREWALL_TIMEOUT, else leaves the manager's default.
func setFirewallTimeout(c *cli.Context, env Env, m *lifecycle.Manager) error {
	if d := c.Duration("firewall-timeout"); d > 0 {
		m.FirewallTimeout = d
		return nil
	}
	if s := env.Getenv("DEVBOX_FIREWALL_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Usagef("DEVBOX_FIREWALL_TIMEOUT=%q is not a positive duration such as 90s", s)
		}
		m.FirewallTimeout = d
	}
	return nil
}

// lifecycleStatus gives a lifecycle error its exit status: 3 for a
// firewall refusal, 1 for the rest.
func lifecycleStatus(err error) error {
	var fw *lifecycle.FirewallError
	if errors.As(err, &fw) {
		return &ExitError{Code: exitFirewall, Err: err}
	}
	return err
}

// execStatus passes a command's status through, printing nothing, and
// exits 125 when devbox itself failed, so the two cannot be confused.
func execStatus(code int, err error) error {
	switch {
	case err != nil:
		return &ExitError{Code: exitExecSetup, Err: err}
	case code != 0:
		return &ExitError{Code: code}
	}
	return nil
}

// isTerminal reports whether r is a terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
