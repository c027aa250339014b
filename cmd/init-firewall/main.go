//go:build linux

// Command init-firewall applies devbox's default-deny egress firewall inside
// the dev container (the Dev Container feature's entrypoint: run as root with
// no arguments at every container start), and reports its status.
//
//	init-firewall [--config PATH] [--dry-run] [--json] [--timeout D]
//	init-firewall gateway [--config PATH] [--timeout D]
//	init-firewall status [--wait D] [--json]
//	init-firewall log [--follow] [--since D] [--blocked]
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
	"syscall"

	"github.com/devbox-sandbox/devbox/firewall"
	"github.com/devbox-sandbox/devbox/firewall/allowlist"
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
	if len(args) > 0 && args[0] == "log" {
		return logCommand(ctx, args[1:], stdout, stderr)
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
		fmt.Fprintln(stderr, "usage: init-firewall [--config PATH] [--dry-run] [--json] [--timeout D]\n       init-firewall gateway [--config PATH] [--timeout D]\n       init-firewall status [--wait D] [--json]\n       init-firewall log [--follow] [--since D] [--blocked]")
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
