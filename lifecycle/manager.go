package lifecycle

import (
	"context"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// DefaultFirewallTimeout is how long exec, shell, up and start wait for the
// firewall's ready marker before refusing: as long as the box's own wait
// (contract.FirewallTimeout).
const DefaultFirewallTimeout = contract.FirewallTimeout

// Manager runs lifecycle operations. Its fields are the outside world; the
// zero values of the optional ones pick the real thing.
type Manager struct {
	// In, Out and Err are the standard streams of the command that Exec
	// and Shell run in the box; nothing else reads or writes them.
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Progress receives what long operations show while they run: the
	// devcontainer CLI's log during Up (one rewritten line on a terminal),
	// and a "devbox: waiting for ..." line before each wait. nil discards
	// it. Results and errors are returned, never written here.
	Progress io.Writer

	// Runner runs the devcontainer CLI and other programs.
	Runner runner.Runner
	// Getenv reads the environment (DOCKER_HOST, XDG_STATE_HOME, LOCALAPPDATA, ...).
	Getenv func(string) string
	// Connect opens the engine; nil means the real engine (Connect).
	Connect func(ctx context.Context, getenv func(string) string) (Engine, Endpoint, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// FirewallTimeout bounds the wait for the ready marker; 0 means
	// DefaultFirewallTimeout.
	FirewallTimeout time.Duration
	// PollInterval is how often markers are checked while waiting; 0 means
	// 200ms.
	PollInterval time.Duration

	// Version is devbox's version, which names its gateway image; empty
	// means this binary's (buildinfo).
	Version string

	// settle is how long an interrupted up waits before looking at what
	// it left (a second; tests shorten it).
	settle time.Duration
}

func (m *Manager) engine(ctx context.Context) (Engine, Endpoint, error) {
	if m.Connect != nil {
		return m.Connect(ctx, m.Getenv)
	}
	return Connect(ctx, m.Getenv)
}

// progress is where long operations show their progress.
func (m *Manager) progress() io.Writer {
	if m.Progress != nil {
		return m.Progress
	}
	return io.Discard
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) firewallTimeout() time.Duration {
	if m.FirewallTimeout > 0 {
		return m.FirewallTimeout
	}
	return DefaultFirewallTimeout
}

func (m *Manager) pollInterval() time.Duration {
	if m.PollInterval > 0 {
		return m.PollInterval
	}
	return 200 * time.Millisecond
}

// stateDir is $XDG_STATE_HOME/devbox, else the OS's place for it
// (~/.local/state/devbox, ~/Library/Application Support/devbox on macOS,
// %LOCALAPPDATA%\devbox on Windows).
func (m *Manager) stateDir() string {
	return hostPlatform(m.Getenv).stateDir()
}

// isTerminal reports whether s is a terminal.
func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// errOut is where warnings go: the command's standard error.
func (m *Manager) errOut() io.Writer {
	if m.Err != nil {
		return m.Err
	}
	return io.Discard
}
