//go:build linux

package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/firewall/control"
)

// serveControl listens on the control socket at path and answers one
// request per connection until ctx ends. The socket is a path in the
// gateway's own file system (dev shares the network namespace, never the
// file system), mode 0600, and only peers with uid 0 are answered.
func (l *live) serveControl(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("control socket: %w", err)
	}
	// Made 0600 from the start: no moment where another user could connect.
	old := syscall.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(10 * time.Millisecond) // out of descriptors: let it pass
				continue
			}
			go l.answer(ctx, c)
		}
	}()
	return nil
}

// answer serves one connection, bounded by control.Timeout.
func (l *live) answer(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(control.Timeout))
	var resp *control.Response
	if uid, err := peerUID(c); err != nil || uid != 0 {
		resp = &control.Response{Error: "only root may use the control socket"}
	} else if req, err := control.ReadRequest(c); err != nil {
		resp = &control.Response{Error: err.Error()}
	} else {
		start := time.Now()
		resp = l.handle(ctx, req)
		resp.TookMS = float64(time.Since(start).Microseconds()) / 1000
	}
	resp.State = l.state()
	_ = json.NewEncoder(c).Encode(resp)
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}

// handle runs one request.
func (l *live) handle(ctx context.Context, req control.Request) *control.Response {
	args := func(n int) error {
		if len(req.Args) != n {
			return fmt.Errorf("%s takes %d argument(s), got %d", req.Verb, n, len(req.Args))
		}
		return nil
	}
	switch req.Verb {
	case control.VerbReload:
		if err := args(0); err != nil {
			return &control.Response{Error: err.Error()}
		}
		return l.reload(ctx)
	case control.VerbState:
		return &control.Response{OK: true}
	case control.VerbCheck:
		if err := args(1); err != nil {
			return &control.Response{Error: err.Error()}
		}
		dst, err := allowlist.ParseDestination(req.Args[0])
		if err != nil {
			return &control.Response{Error: err.Error()}
		}
		return &control.Response{OK: true, Verdict: l.check(dst)}
	case control.VerbAudit:
		if err := args(1); err != nil {
			return &control.Response{Error: err.Error()}
		}
		d, err := control.ParseAuditDuration(req.Args[0])
		switch {
		case err != nil:
			return &control.Response{Error: err.Error()}
		case d == 0:
			return l.stopAudit()
		}
		return l.startAudit(d)
	}
	return &control.Response{Error: fmt.Sprintf("unknown verb %q (want %s)", req.Verb,
		strings.Join([]string{control.VerbReload, control.VerbCheck, control.VerbState, control.VerbAudit}, ", "))}
}
