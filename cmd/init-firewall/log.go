//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/devbox-sandbox/devbox/firewall"
	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// logCommand prints the gateway's audit log as JSON lines (ASCII only):
// `init-firewall log [--follow] [--since D] [--blocked]`. The host runs it
// in the gateway through the Engine API (`devbox log`).
func logCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init-firewall log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var follow, blocked bool
	var since, dir string
	fs.BoolVar(&follow, "follow", false, "go on printing records as they are written")
	fs.BoolVar(&blocked, "blocked", false, "refusals only (names, connections), and records lost")
	fs.StringVar(&since, "since", "", "records from this long ago (30m) or this time (RFC 3339) on")
	fs.StringVar(&dir, "dir", firewall.DefaultAuditDir, "directory of the audit log (tests)")
	if err := fs.Parse(args); err != nil {
		return usageStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "init-firewall log: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	from, err := audit.ParseSince(since, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "init-firewall log: "+err.Error())
		return 2
	}
	f := audit.Filter{Since: from, Blocked: blocked}
	path := filepath.Join(dir, filepath.Base(contract.AuditLog))
	emit := func(r audit.Record) error {
		line, err := audit.Marshal(r)
		if err != nil {
			return err
		}
		_, err = stdout.Write(line)
		return err
	}
	if follow {
		err = audit.Follow(ctx, path, f, emit)
	} else {
		err = audit.Read(path, f, emit)
	}
	if err != nil {
		fmt.Fprintln(stderr, "init-firewall log: "+err.Error())
		return 1
	}
	return 0
}
