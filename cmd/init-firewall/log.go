//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/devbox-sandbox/devbox/firewall"
	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// keepalive is how often `log --follow` checks that someone still reads
// (a variable for tests).
var keepalive = 15 * time.Second

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
	var mu sync.Mutex
	emit := func(r audit.Record) error {
		line, err := audit.Marshal(r)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		_, err = stdout.Write(line)
		return err
	}
	if follow {
		// The host reads through an Engine API exec, which goes on when the
		// host stops reading: an empty line now and then (readers skip
		// them) fails once no one reads, and ends this process.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			tick := time.NewTicker(keepalive)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				mu.Lock()
				_, werr := stdout.Write([]byte("\n"))
				mu.Unlock()
				if werr != nil {
					cancel()
					return
				}
			}
		}()
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
