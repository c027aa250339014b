// Package control is the protocol of the running gateway's control
// socket (contract.ControlSocket): one JSON request line in, one JSON
// response out, per connection. The host never dials the socket: it runs
// `init-firewall ctl --json VERB ARGS` in the gateway through the Engine
// API (lifecycle.GatewayCommand) and decodes what that prints. The socket
// is a path socket, root-only (0600), in the gateway's own file system,
// which dev does not share; dev shares the network namespace only, so no
// abstract socket or port is ever used.
//
// The package is portable: the host decodes Response.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// Verbs.
const (
	// VerbReload re-reads firewall.jsonc and applies the difference live.
	VerbReload = "reload"
	// VerbCheck says whether HOST[:PORT] is allowed, and by which rule.
	VerbCheck = "check"
	// VerbState reports audit mode and the config in force.
	VerbState = "state"
	// VerbAudit turns audit mode on for a duration ("30m"), or "off".
	VerbAudit = "audit"
)

// Bounds of one exchange.
const (
	// MaxRequest is the longest request line accepted, in bytes.
	MaxRequest = 4 << 10
	// MaxResponse is the longest response read, in bytes.
	MaxResponse = 1 << 20
	// Timeout bounds one exchange, server and client side.
	Timeout = 10 * time.Second
	// MaxAudit is the longest audit mode that can be asked for.
	MaxAudit = 24 * time.Hour
	// AuditOff is the argument of VerbAudit that ends audit mode.
	AuditOff = "off"
)

// Request is one command.
type Request struct {
	Verb string   `json:"verb"`
	Args []string `json:"args,omitempty"`
}

// Response is the gateway's answer.
type Response struct {
	OK bool `json:"ok"`
	// Error says what failed; the live policy is then as it was.
	Error string `json:"error,omitempty"`
	// BadConfig says Error is firewall.jsonc's fault (file:line:col).
	BadConfig bool `json:"badConfig,omitempty"`
	// Message is one line for the user.
	Message string `json:"message,omitempty"`
	// Changes lists what a reload changed, one entry each.
	Changes []string `json:"changes,omitempty"`
	// Warnings are what a reload could not apply live.
	Warnings []string `json:"warnings,omitempty"`
	// Cut counts the connections a reload or audit's end cut.
	Cut uint `json:"cut,omitempty"`
	// Verdict answers VerbCheck.
	Verdict *allowlist.Verdict `json:"verdict,omitempty"`
	// State answers every verb.
	State *State `json:"state,omitempty"`
	// TookMS is how long the gateway took, in milliseconds.
	TookMS float64 `json:"tookMs"`
}

// State is the gateway's live state.
type State struct {
	// AuditUntil is when audit mode ends by itself; zero when it is off.
	AuditUntil time.Time `json:"auditUntil,omitzero"`
	// Config is the allowlist file in force.
	Config string `json:"config,omitempty"`
}

// ParseAuditDuration parses VerbAudit's argument: AuditOff gives 0, a
// duration (Go syntax: "30m", "1h30m") must lie in [1s, MaxAudit].
func ParseAuditDuration(s string) (time.Duration, error) {
	if s == AuditOff {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("audit duration %q: want a duration such as 30m, or %q", s, AuditOff)
	}
	if d < time.Second || d > MaxAudit {
		return 0, fmt.Errorf("audit duration %q: must be between 1s and %s", s, MaxAudit)
	}
	return d, nil
}

// ReadRequest reads one request line of at most MaxRequest bytes.
func ReadRequest(r io.Reader) (Request, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, MaxRequest+1), 512).ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull), err == nil && len(line) > MaxRequest,
		errors.Is(err, io.EOF) && len(line) > MaxRequest:
		return Request{}, fmt.Errorf("request longer than %d bytes", MaxRequest)
	case err != nil && !errors.Is(err, io.EOF):
		return Request{}, fmt.Errorf("read request: %w", err)
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return Request{}, fmt.Errorf("read request: %w", err)
	}
	return req, nil
}

// Call sends req to the socket at path and returns the response.
func Call(ctx context.Context, path string, req Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("reach the gateway's control socket: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if len(data) >= MaxRequest {
		return nil, fmt.Errorf("request longer than %d bytes", MaxRequest)
	}
	if _, err := c.Write(append(data, '\n')); err != nil {
		return nil, fmt.Errorf("send %s: %w", req.Verb, err)
	}
	return DecodeResponse(io.LimitReader(c, MaxResponse))
}

// DecodeResponse reads one response (what `init-firewall ctl --json`
// prints).
func DecodeResponse(r io.Reader) (*Response, error) {
	var resp Response
	if err := json.NewDecoder(r).Decode(&resp); err != nil {
		return nil, fmt.Errorf("read the gateway's answer: %w", err)
	}
	return &resp, nil
}
