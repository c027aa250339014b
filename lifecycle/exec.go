package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"

	"github.com/moby/moby/client"
	"golang.org/x/term"
)

// ExecOptions says what `devbox exec` runs.
type ExecOptions struct {
	Workspace string
	User      string   // "" means the remote user
	Cmd       []string // the command and its arguments
}

// ShellOptions says where `devbox shell` opens a login shell.
type ShellOptions struct {
	Workspace string
	User      string
}

// execIDVar marks every process of one `devbox exec` so that a signal
// devbox receives can be forwarded to them (the Engine API cannot signal an
// exec).
const execIDVar = "DEVBOX_EXEC_ID"

// Exec runs a command in the workspace's box as `devcontainer exec` would
// (remote user, remote workspace folder, probed environment + remoteEnv),
// after checking the firewall, and returns its exit status. It allocates a
// TTY when stdin and stdout are terminals.
func (m *Manager) Exec(ctx context.Context, opts ExecOptions) (int, error) {
	if len(opts.Cmd) == 0 {
		return -1, fmt.Errorf("exec: no command given")
	}
	return m.exec(ctx, opts.Workspace, opts.User, func(*target) []string { return opts.Cmd })
}

// Shell opens an interactive login shell in the workspace's box.
func (m *Manager) Shell(ctx context.Context, opts ShellOptions) (int, error) {
	return m.exec(ctx, opts.Workspace, opts.User, func(t *target) []string { return []string{t.State.Shell, "-l"} })
}

func (m *Manager) exec(ctx context.Context, dir, user string, cmd func(*target) []string) (int, error) {
	ws, err := workspaceAt(dir)
	if err != nil {
		return -1, err
	}
	eng, _, err := m.engine(ctx)
	if err != nil {
		return -1, err
	}
	defer eng.Close()
	t, err := m.runningTarget(ctx, eng, ws)
	if err != nil {
		return -1, err
	}
	// The host check reads the workspace while the engine works: it must
	// pass before the process starts (process.Ready), not before the
	// firewall check and the exec's creation.
	checked := make(chan error, 1)
	go func() { checked <- m.checkHost(ws.Dir, t.Inspect.Mounts) }()
	if err := m.checkFirewall(ctx, eng, t); err != nil {
		if herr := <-checked; herr != nil {
			return -1, herr
		}
		return -1, err
	}
	env := t.State.Env
	if user == "" {
		user = t.State.RemoteUser
	} else if user != t.State.RemoteUser {
		// Another user (root, most often) gets the container's own
		// environment and a fixed PATH: the probed one is what the remote
		// user's login shell left, and the agent writes that shell's files
		// (a PATH to its own folders, LD_PRELOAD, BASH_ENV).
		env = []string{"PATH=" + OtherUserPATH}
	}
	var token [8]byte
	rand.Read(token[:])
	id := hex.EncodeToString(token[:])
	p := process{
		User: user, WorkingDir: t.State.RemoteWorkspaceFolder,
		Env: append(append([]string(nil), env...), execIDVar+"="+id),
		Cmd: cmd(t), Stdin: m.In, Stdout: m.Out, Stderr: m.Err,
		Ready: func() error { return <-checked },
	}
	// The exec outlives a cancelled ctx: signals are forwarded instead.
	runCtx := context.WithoutCancel(ctx)
	in, inOK := m.In.(*os.File)
	out, outOK := m.Out.(*os.File)
	if inOK && outOK && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd())) {
		p.TTY = true
		if t := m.Getenv("TERM"); t != "" {
			p.Env = append(p.Env, "TERM="+t) // what docker exec -t leaves as xterm
		}
		if w, h, err := terminalSize(out); err == nil {
			p.Width, p.Height = uint(w), uint(h)
		}
		old, err := term.MakeRaw(int(in.Fd()))
		if err != nil {
			return -1, fmt.Errorf("exec: set the terminal to raw mode: %w", err)
		}
		defer term.Restore(int(in.Fd()), old)
		restoreOut, err := prepareTerminalOutput(out)
		if err != nil {
			return -1, fmt.Errorf("exec: %w", err)
		}
		defer restoreOut()
	}
	stop := m.forwardSignals(runCtx, eng, t.ID, user, id, p.TTY)
	defer stop()
	resizeCtx, stopResize := context.WithCancel(runCtx)
	defer stopResize()
	p.Started = func(execID string) { m.startResize(resizeCtx, eng, execID, p.TTY, out) }
	return run(runCtx, eng, t.ID, p)
}

// OtherUserPATH is the PATH of `exec -u USER` and `shell -u USER` for a user
// other than the remote user: system folders only.
const OtherUserPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// forwardSignals relays the signals devbox gets to the processes of the
// exec marked with token, by running kill in the container as the same
// user (root could not read their environment without CAP_SYS_PTRACE).
// With a TTY, Ctrl-C reaches the container as a keystroke instead.
func (m *Manager) forwardSignals(ctx context.Context, eng Engine, id, user, token string, tty bool) func() {
	ch := make(chan os.Signal, 4)
	for sig := range forwardedSignals {
		signal.Notify(ch, sig)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-ch:
				if tty && sig == os.Interrupt {
					continue
				}
				script := fmt.Sprintf(`for p in /proc/[0-9]*; do `+
					`tr '\0' '\n' < "$p/environ" 2>/dev/null | grep -qx '%s=%s' && kill -%d "${p#/proc/}" 2>/dev/null; done; true`,
					execIDVar, token, forwardedSignals[sig])
				capture(ctx, eng, id, process{User: user, Cmd: []string{"/bin/sh", "-c", script}})
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// startResize keeps the exec's TTY the size of the terminal until ctx is
// done.
func (m *Manager) startResize(ctx context.Context, eng Engine, execID string, tty bool, out *os.File) {
	if !tty || out == nil {
		return
	}
	watchResize(ctx, out, func(w, h int) {
		eng.ExecResize(ctx, execID, client.ExecResizeOptions{Height: uint(h), Width: uint(w)})
	})
}
