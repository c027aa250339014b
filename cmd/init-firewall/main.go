//go:build linux

// Command init-firewall applies devbox's default-deny egress firewall inside
// the dev container (the Dev Container feature's entrypoint: run as root with
// no arguments at every container start), and reports its status.
//
//	init-firewall [--config PATH] [--dry-run] [--json] [--timeout D]
//	init-firewall gateway [--config PATH] [--timeout D]
//	init-firewall status [--wait D] [--json]
//	init-firewall log [--follow] [--since D] [--blocked]
//	init-firewall ctl [--json] reload | state | check HOST[:PORT] | audit DURATION|off
//
// `ctl` asks the running gateway over its control socket (root only):
// reload firewall.jsonc and apply the difference live, say whether a
// destination is allowed and by which rule, report or change audit mode.
//
// `gateway` is the gateway container's main process: it closes the network
// namespace first, applies and verifies the allowlist, and then stays up
// until it is stopped (status 0). When the firewall fails it exits with 1
// (2 for a bad config): the gateway stops, and dev, which joins its
// namespace, has no network.
//
// Exit status: 0 applied and verified (status: ready), 1 failed, closed
// (status: failed or not ready in time), 2 usage error or a bad config
// (firewall.jsonc's syntax, keys or entries; the firewall is closed all
// the same). All logic lives in package firewall; this is wiring.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/devbox-sandbox/devbox/firewall"
	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/firewall/control"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

func main() {
	// Whether a non-root user started it is read before the environment,
	// which tells it (SUDO_UID), is cleared for good.
	sudo := firewall.SudoInvoked()
	firewall.ResetEnvironment()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], sudo, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Main runs init-firewall with args and returns the exit status. sudo says
// a non-root user started it (firewall.SudoInvoked, read before main
// cleared the environment).
func Main(ctx context.Context, args []string, sudo bool, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "status" {
		return status(ctx, args[1:], stdout, stderr)
	}
	// log and ctl are the host's, run as root in the gateway through the
	// Engine API; a user who reaches init-firewall through sudo (the
	// single-container layout) gets neither: log reads a directory it is
	// given, and ctl changes the policy.
	if len(args) > 0 && (args[0] == "log" || args[0] == "ctl") && sudo {
		fmt.Fprintf(stderr, "init-firewall %s: started by a non-root user: refused\n", args[0])
		return 1
	}
	if len(args) > 0 && args[0] == "log" {
		return logCommand(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "ctl" {
		return ctl(ctx, args[1:], stdout, stderr)
	}
	gateway := len(args) > 0 && args[0] == contract.GatewayArg
	if gateway {
		args = args[1:]
	}
	fs := flag.NewFlagSet("init-firewall", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts firewall.Options
	var asJSON bool
	// The gateway reads the workspace's allowlist where compose mounts
	// .devcontainer/ (contract.GatewayConfigDir); its image holds none.
	defaultConfig := allowlist.DefaultConfigPath
	if gateway {
		defaultConfig = contract.GatewayConfigPath
	}
	fs.StringVar(&opts.ConfigPath, "config", defaultConfig, "allowlist `file` (HuJSON)")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print the rules and set contents instead of applying them (no privilege needed)")
	fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	fs.DurationVar(&opts.Timeout, "timeout", firewall.DefaultTimeout, "bound on gathering the allowlist (DNS, GitHub, AWS)")
	fs.StringVar(&opts.RunDir, "run-dir", firewall.DefaultRunDir, "directory of the status markers (tests)")
	fs.IntVar(&opts.NFLogGroup, "nflog-group", firewall.DefaultNFLogGroup, "NFLOG group that receives rejected packets")
	fs.StringVar(&opts.AuditDir, "audit-dir", firewall.DefaultAuditDir, "directory of the gateway's audit log (tests)")
	fs.BoolVar(&opts.NoAudit, "no-audit", false, "write no audit log (benchmarks)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: init-firewall [--config PATH] [--dry-run] [--json] [--timeout D]\n       init-firewall gateway [--config PATH] [--timeout D]\n       init-firewall status [--wait D] [--json]\n       init-firewall log [--follow] [--since D] [--blocked]\n       init-firewall ctl [--json] reload | state | check HOST[:PORT] | audit DURATION|off")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "init-firewall: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if sudo {
		fmt.Fprintln(stderr, "init-firewall: started by a non-root user: using "+allowlist.DefaultConfigPath+" and ignoring --config and the environment")
		opts = opts.Restrict()
	}
	opts.Runner = runner.Local{}
	opts.Out = stdout
	if asJSON {
		opts.Out = stderr // stdout carries the JSON summary alone
	}
	if gateway && !opts.DryRun {
		return serve(ctx, opts, asJSON, stdout, stderr)
	}
	s, err := firewall.Run(ctx, opts)
	return report(s, err, asJSON, stdout, stderr)
}

// serve runs the gateway: apply, report, then stay up until ctx ends (the
// container is stopped). A firewall that failed ends the process.
func serve(ctx context.Context, opts firewall.Options, asJSON bool, stdout, stderr io.Writer) int {
	s, err := firewall.Gateway(ctx, opts)
	if code := report(s, err, asJSON, stdout, stderr); code != 0 {
		return code
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "init-firewall: gateway stopping")
	return 0
}

func status(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init-firewall status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts firewall.StatusOptions
	var asJSON bool
	fs.DurationVar(&opts.Wait, "wait", 0, "wait up to this long for the firewall of this container start")
	fs.BoolVar(&asJSON, "json", false, "print the status as JSON")
	fs.StringVar(&opts.Dir, "run-dir", firewall.DefaultRunDir, "directory of the status markers (tests)")
	if err := fs.Parse(args); err != nil {
		return usageStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "init-firewall status: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	s, err := firewall.Status(ctx, opts)
	if s == nil && asJSON {
		s = &firewall.Summary{Error: err.Error()}
	}
	return report(s, err, asJSON, stdout, stderr)
}

// ctl sends one request to the running gateway and prints its answer.
func ctl(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init-firewall ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	runDir := fs.String("run-dir", firewall.DefaultRunDir, "directory of the control socket (tests)")
	if err := fs.Parse(args); err != nil {
		return usageStatus(err)
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: init-firewall ctl [--json] reload | state | check HOST[:PORT] | audit DURATION|off")
		return 2
	}
	socket := filepath.Join(*runDir, filepath.Base(contract.ControlSocket))
	resp, err := control.Call(ctx, socket, control.Request{Verb: fs.Arg(0), Args: fs.Args()[1:]})
	if err != nil {
		fmt.Fprintln(stderr, "init-firewall ctl: "+err.Error())
		return 1
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(resp)
	} else {
		for _, c := range resp.Changes {
			fmt.Fprintln(stdout, c)
		}
		if v := resp.Verdict; v != nil {
			fmt.Fprintf(stdout, "%s: allowed=%t by=%s rule=%q %s\n", v.Destination, v.Allowed, v.By, v.Rule, v.Note)
		}
		if resp.Message != "" {
			fmt.Fprintln(stdout, resp.Message)
		}
		for _, w := range resp.Warnings {
			fmt.Fprintln(stderr, "warning: "+w)
		}
		if resp.Error != "" {
			fmt.Fprintln(stderr, "init-firewall ctl: "+resp.Error)
		}
	}
	switch {
	case resp.OK:
		return 0
	case resp.BadConfig:
		return 2
	}
	return 1
}

// report prints the summary line (or JSON) and picks the exit status.
func report(s *firewall.Summary, err error, asJSON bool, stdout, stderr io.Writer) int {
	if s != nil && s.Error == "" && err != nil {
		s.Error = err.Error()
	}
	if asJSON && s != nil {
		enc := json.NewEncoder(stdout)
		_ = enc.Encode(s)
	} else if s != nil {
		out := stdout
		if err != nil {
			out = stderr
		}
		fmt.Fprintln(out, "init-firewall: "+s.Line())
	}
	if err != nil {
		if s == nil && !asJSON {
			fmt.Fprintln(stderr, "init-firewall: "+err.Error())
		}
		return failureStatus(err)
	}
	return 0
}

// failureStatus is the exit status of a failed run: 2 when the config is
// at fault, which only its writer can fix, 1 otherwise.
func failureStatus(err error) int {
	if _, bad := errors.AsType[*allowlist.ConfigError](err); bad {
		return 2
	}
	return 1
}

func usageStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
