package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/firewall/control"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// AllowlistFile is the workspace's firewall.jsonc, the one source of truth
// of its policy: devbox allow and deny edit it, and the gateway reads it
// (contract.GatewayConfigPath).
func AllowlistFile(dir string) (string, error) {
	ws, err := workspaceAt(dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(ws.ConfigFile), filepath.Base(contract.GatewayConfigPath)), nil
}

// PolicyResult is what a change of policy did in the running box.
type PolicyResult struct {
	// Live is the gateway's answer; nil when no box runs.
	Live *control.Response
	// NotLive says why the change was not applied now (no box runs, it
	// has no gateway): firewall.jsonc is read at the next start.
	NotLive string
	// Took is the time from the start of the change to the gateway's
	// answer.
	Took time.Duration
	// Untrusted says the configuration held changes nobody accepted
	// before this edit, so it is still not trusted: `devbox up` refuses
	// it until `devbox trust`.
	Untrusted bool
}

// PolicyError is the gateway refusing a change: the live policy is as
// it was.
type PolicyError struct{ Resp *control.Response }

// Error implements error.
func (e *PolicyError) Error() string {
	return "the gateway did not apply the change (the running box keeps its policy): " + e.Resp.Error
}

// ControlGateway runs `init-firewall ctl --json VERB ARGS` in the
// workspace's running gateway, through the Engine API, and returns its
// answer. It fails with *NoBoxError or *NoGatewayError when no gateway
// runs.
func (m *Manager) ControlGateway(ctx context.Context, dir, verb string, args ...string) (*control.Response, error) {
	var out, errb bytes.Buffer
	code, err := m.GatewayCommand(ctx, dir, &out, &errb, append([]string{"ctl", "--json", verb}, args...)...)
	if err != nil {
		return nil, err
	}
	resp, derr := control.DecodeResponse(&out)
	if derr != nil {
		return nil, fmt.Errorf("ask the gateway to %s: exit status %d: %s", verb, code, strings.TrimSpace(errb.String()))
	}
	return resp, nil
}

// notRunning reports whether err says no gateway runs for the workspace.
func notRunning(err error) bool {
	var nb *NoBoxError
	var ng *NoGatewayError
	return errors.As(err, &nb) || errors.As(err, &ng)
}

// ChangePolicy runs edit (which writes firewall.jsonc and says whether it
// changed anything) and has the running gateway apply the file at once.
// With no gateway running, the file alone changes and NotLive says so.
// When the box was up to date with .devcontainer/ before the edit, its
// recorded fingerprint moves with it: the change is applied, so `up` has
// nothing to report.
func (m *Manager) ChangePolicy(ctx context.Context, dir string, edit func() (bool, error)) (*PolicyResult, error) {
	start := time.Now()
	ws, err := workspaceAt(dir)
	if err != nil {
		return nil, err
	}
	st := m.loadState(ws, "")
	upToDate := false
	if st != nil && st.ConfigHash != "" {
		h, err := configHash(ws)
		upToDate = err == nil && h == st.ConfigHash
	}
	// A configuration trusted before devbox's own edit stays trusted:
	// the user asked for this change (trust on first use).
	var changed bool
	recorded, err := m.EditTrusted(dir, func() error {
		var err error
		changed, err = edit()
		return err
	})
	if err != nil || !changed {
		return nil, err
	}
	if !recorded {
		// The gateway would apply the whole file, with what nobody
		// accepted (a change the agent got in through git) beside the
		// user's entry.
		return &PolicyResult{Untrusted: true, NotLive: "the configuration holds changes nobody accepted: review them with `devbox trust -w " +
			ws.Dir + "`, then apply with `devbox policy reload -w " + ws.Dir + "`"}, nil
	}
	res, err := m.ReloadPolicy(ctx, dir)
	if err != nil || res.Live == nil {
		return res, err
	}
	res.Took = time.Since(start)
	if upToDate {
		if st.ConfigHash, err = configHash(ws); err == nil {
			if st.ConfigStamp, err = configStamp(ws); err == nil {
				err = m.saveState(ws, st)
			}
		}
		if err != nil {
			return res, fmt.Errorf("applied, but recording it failed: %w", err)
		}
	}
	return res, nil
}

// ReloadPolicy has the running gateway apply firewall.jsonc as it is now.
func (m *Manager) ReloadPolicy(ctx context.Context, dir string) (*PolicyResult, error) {
	start := time.Now()
	ws, err := workspaceAt(dir)
	if err != nil {
		return nil, err
	}
	// Only what the user accepted: firewall.jsonc may have changed through
	// git (a checkout of the agent's commit) since.
	if err := m.checkTrusted(ws); err != nil {
		return nil, err
	}
	resp, err := m.ControlGateway(ctx, dir, control.VerbReload)
	switch {
	case notRunning(err):
		return &PolicyResult{NotLive: err.Error()}, nil
	case err != nil:
		return nil, err
	case !resp.OK:
		return &PolicyResult{Live: resp}, &PolicyError{Resp: resp}
	}
	return &PolicyResult{Live: resp, Took: time.Since(start)}, nil
}

// PolicyVerdict is the answer of `devbox policy check`.
type PolicyVerdict struct {
	allowlist.Verdict
	// From says who decided: "gateway" (the running box's live policy)
	// or "firewall.jsonc" (no box runs: the file's policy, without the
	// published ranges and the names answered so far).
	From string `json:"from"`
	// NotLive says why the file decided.
	NotLive string `json:"notLive,omitempty"`
	// AuditUntil is when audit mode ends, when it is on.
	AuditUntil time.Time `json:"auditUntil,omitzero"`
}

// CheckPolicy says whether the box may reach dst (HOST[:PORT]), and by
// which rule: asked of the running gateway, else of firewall.jsonc.
func (m *Manager) CheckPolicy(ctx context.Context, dir, dst string) (*PolicyVerdict, error) {
	d, err := allowlist.ParseDestination(dst)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	resp, err := m.ControlGateway(ctx, dir, control.VerbCheck, dst)
	switch {
	case notRunning(err):
		path, perr := AllowlistFile(dir)
		if perr != nil {
			return nil, perr
		}
		cfg, lerr := allowlist.LoadConfig(path)
		if lerr != nil {
			return nil, lerr
		}
		return &PolicyVerdict{Verdict: cfg.Check(d), From: "firewall.jsonc", NotLive: err.Error()}, nil
	case err != nil:
		return nil, err
	case !resp.OK || resp.Verdict == nil:
		return nil, &PolicyError{Resp: resp}
	}
	v := &PolicyVerdict{Verdict: *resp.Verdict, From: "gateway"}
	if resp.State != nil {
		v.AuditUntil = resp.State.AuditUntil
	}
	return v, nil
}

// InputError is a bad argument (a destination, a duration): a usage
// error.
type InputError struct{ Err error }

// Error implements error.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *InputError) Unwrap() error { return e.Err }

// Audit turns audit mode on for d ("30m") or off ("off") in the running
// gateway, and returns when it ends (zero: off).
func (m *Manager) Audit(ctx context.Context, dir, d string) (time.Time, error) {
	if _, err := control.ParseAuditDuration(d); err != nil {
		return time.Time{}, &InputError{Err: err}
	}
	resp, err := m.ControlGateway(ctx, dir, control.VerbAudit, d)
	if err != nil {
		return time.Time{}, err
	}
	if !resp.OK {
		return time.Time{}, &PolicyError{Resp: resp}
	}
	if resp.State == nil {
		return time.Time{}, nil
	}
	return resp.State.AuditUntil, nil
}

// auditUntil reads the gateway's audit marker (one HEAD request): when
// audit mode ends, or zero when it is off or has ended.
func (m *Manager) auditUntil(ctx context.Context, eng Engine, gatewayID string) time.Time {
	t, err := markerTime(ctx, eng, gatewayID, contract.AuditMarker)
	if err != nil || !t.After(m.now()) {
		return time.Time{}
	}
	return t
}

// AuditWarning is what up, exec and shell say while audit mode lasts.
func AuditWarning(until, now time.Time) string {
	return fmt.Sprintf("AUDIT MODE until %s (%s left): the box may reach anything but the host, its local networks and metadata addresses; `devbox policy audit off` ends it",
		until.Local().Format("15:04:05"), roundDuration(until.Sub(now)))
}
