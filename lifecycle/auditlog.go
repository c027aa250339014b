package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/devbox-sandbox/devbox/firewall/audit"
)

// LogOptions selects what AuditLog reads.
type LogOptions struct {
	// Follow goes on with the records written after the last one, until
	// ctx ends.
	Follow bool
	// Since is a duration back from now ("30m") or an RFC 3339 time, as
	// the gateway's clock reads it; empty reads the whole log.
	Since string
	// Blocked reads refusals and lost records only.
	Blocked bool
}

// AuditLog reads the audit log of the running gateway of the workspace at
// dir (`init-firewall log` through the Engine API, as root) and calls fn
// for each record, oldest first. With Follow it returns when ctx ends.
func (m *Manager) AuditLog(ctx context.Context, dir string, o LogOptions, fn func(audit.Record) error) error {
	if _, err := audit.ParseSince(o.Since, m.now()); err != nil {
		return err
	}
	args := []string{"log"}
	if o.Follow {
		args = append(args, "--follow")
	}
	if o.Since != "" {
		args = append(args, "--since", o.Since)
	}
	if o.Blocked {
		args = append(args, "--blocked")
	}
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := m.GatewayCommand(ctx, dir, pw, &limitedWriter{w: &stderr, n: 16 << 10}, args...)
		pw.Close()
		done <- result{code, err}
	}()
	decoded := make(chan error, 1)
	go func() {
		err := audit.Decode(pr, fn)
		pr.CloseWithError(err) // stops the copy when fn failed
		decoded <- err
	}()
	select {
	case err := <-decoded:
		res := <-done
		if err != nil {
			return err
		}
		if res.err != nil {
			return fmt.Errorf("read the audit log: %w", res.err)
		}
		if res.code != 0 && strings.Contains(stderr.String(), `unexpected argument "log"`) {
			return fmt.Errorf("read the audit log: the gateway of %s predates the audit log: run `devbox init --force` and `devbox up --rebuild` there", dir)
		}
		if res.code != 0 {
			return fmt.Errorf("read the audit log: init-firewall log exited with status %d: %s", res.code, strings.TrimSpace(stderr.String()))
		}
		return nil
	case <-ctx.Done():
		// The exec's stream ends only with the command; the user asked to stop.
		pr.CloseWithError(ctx.Err())
		if o.Follow {
			return nil
		}
		return ctx.Err()
	}
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
