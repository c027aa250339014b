package lifecycle

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/generator"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// UpOptions says how `devbox up` brings a box up.
type UpOptions struct {
	Workspace string
	Rebuild   bool // remove the container and make it again
	NoCache   bool // build the image without cache
}

// UpResult is the box `devbox up` brought up. Its JSON form is what
// `devbox up --json` prints.
type UpResult struct {
	// Workspace is the workspace's absolute folder.
	Workspace             string `json:"-"`
	ContainerID           string `json:"containerId"`
	RemoteUser            string `json:"remoteUser"`
	RemoteWorkspaceFolder string `json:"remoteWorkspaceFolder"`
	ComposeProject        string `json:"composeProjectName,omitempty"`
	// Reused: the running container was kept without calling the CLI.
	Reused bool `json:"reused"`
	// ConfigChanged: .devcontainer/ differs from what the container was
	// made from (and it was not rebuilt): it still runs the old
	// configuration until `up --rebuild`.
	ConfigChanged bool `json:"configChanged"`
	// DevRestarted: the dev container had no network since its gateway
	// restarted, and was restarted into the gateway's network.
	DevRestarted bool `json:"devRestarted,omitempty"`
}

// CLIMissingError says the devcontainer CLI is not installed.
type CLIMissingError struct{ Err error }

// Error implements error.
func (e *CLIMissingError) Error() string {
	return "the Dev Containers CLI (`devcontainer`) is not on PATH: install it with `" + contract.CLIInstall + "`"
}

// Unwrap returns the underlying error.
func (e *CLIMissingError) Unwrap() error { return e.Err }

// UpError is a failed `devcontainer up`: its message, last lines and log.
type UpError struct {
	Message string
	Last    []string
	LogPath string
}

// Error implements error.
func (e *UpError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "devcontainer up failed: %s", e.Message)
	if len(e.Last) > 0 {
		b.WriteString("\n  last lines of its log:")
		for _, l := range e.Last {
			b.WriteString("\n    " + l)
		}
	}
	fmt.Fprintf(&b, "\n  full log: %s", e.LogPath)
	return b.String()
}

// Up brings the workspace's box up and waits for its firewall. A running
// box whose .devcontainer/ has not changed since devbox made it is returned
// at once, without starting the devcontainer CLI.
func (m *Manager) Up(ctx context.Context, opts UpOptions) (*UpResult, error) {
	ws, err := openFirewalledWorkspace(opts.Workspace)
	if err != nil {
		return nil, err
	}
	if err := m.checkTrusted(ws); err != nil {
		return nil, err
	}
	eng, ep, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	if err := m.checkBoxHost(ctx, eng, ws); err != nil {
		return nil, err
	}
	if err := generator.MakeVSCodeDir(ws.Dir); err != nil {
		return nil, err
	}
	if !opts.Rebuild && !opts.NoCache {
		res, err := m.upFast(ctx, eng, ws)
		if err == nil && res != nil && res.ConfigChanged {
			// The box keeps running as it was made, but the next rebuild
			// would use what is refused: say so now.
			err = m.checkPrivilege(ctx, ep, ws)
		}
		if res != nil || err != nil {
			return withWorkspace(res, ws), err
		}
	}
	res, err := m.upSlow(ctx, eng, ep, ws, opts)
	return withWorkspace(res, ws), err
}

// withWorkspace fills in the workspace of res, when there is one.
func withWorkspace(res *UpResult, ws Workspace) *UpResult {
	if res != nil {
		res.Workspace = ws.Dir
	}
	return res
}

// upFast returns the running box when devbox recorded it and its
// configuration is unchanged or merely changed (said, not rebuilt). It
// returns nil, nil when the CLI has to run.
func (m *Manager) upFast(ctx context.Context, eng Engine, ws Workspace) (*UpResult, error) {
	st := m.loadState(ws, "")
	if st == nil || st.ConfigHash == "" {
		return nil, nil
	}
	insp, err := eng.ContainerInspect(ctx, st.ContainerID, client.ContainerInspectOptions{})
	if err != nil || insp.Container.Config == nil || insp.Container.Config.Labels[LabelLocalFolder] != ws.Dir ||
		insp.Container.State == nil || !insp.Container.State.Running {
		return nil, nil
	}
	changed, err := m.configChanged(ws, st)
	if err != nil {
		return nil, err
	}
	t, err := newTarget(insp.Container, st)
	if err != nil {
		return nil, err
	}
	_, restarted, err := m.checkFirewallOrRejoin(ctx, eng, t)
	if err != nil {
		return nil, err
	}
	return &UpResult{
		ContainerID: st.ContainerID, RemoteUser: st.RemoteUser, RemoteWorkspaceFolder: st.RemoteWorkspaceFolder,
		ComposeProject: insp.Container.Config.Labels[LabelComposeProject], Reused: true, ConfigChanged: changed,
		DevRestarted: restarted,
	}, nil
}

// configChanged compares .devcontainer/ with the recorded fingerprints:
// the cheap stat stamp first, the content hash only when the stamp moved.
func (m *Manager) configChanged(ws Workspace, st *boxState) (bool, error) {
	stamp, err := configStamp(ws)
	if err != nil || stamp == st.ConfigStamp {
		return false, err
	}
	hash, err := configHash(ws)
	if err != nil {
		return false, err
	}
	if hash != st.ConfigHash {
		return true, nil
	}
	st.ConfigStamp = stamp // touched, not changed
	return false, m.saveState(ws, st)
}

func (m *Manager) upSlow(ctx context.Context, eng Engine, ep Endpoint, ws Workspace, opts UpOptions) (*UpResult, error) {
	before := map[string]bool{}
	if box, err := FindBox(ctx, eng, ws); err == nil && box != nil {
		for _, c := range box.All() {
			before[c.ID] = true
		}
	}
	if err := m.checkPrivilege(ctx, ep, ws); err != nil {
		return nil, err
	}
	env, _, err := cliEnv(ep, ws)
	if err != nil {
		return nil, err
	}
	if err := m.ensureGatewayImage(ctx, eng, ep, ws); err != nil {
		return nil, err
	}
	res, err := m.runCLIUp(ctx, env, ws, opts)
	if err != nil {
		var waited *LockWaitInterruptedError
		if ctx.Err() != nil && !errors.As(err, &waited) {
			return nil, m.interrupted(ws, eng, before)
		}
		return nil, err
	}
	insp, err := eng.ContainerInspect(ctx, res.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect the new container %s: %w", shortID(res.ContainerID), err)
	}
	t, err := newTarget(insp.Container, &boxState{})
	if err != nil {
		return nil, err
	}
	// The CLI keeps a running dev container as it is, stranded or not.
	if _, res.DevRestarted, err = m.checkFirewallOrRejoin(ctx, eng, t); err != nil {
		return nil, err
	}
	// The CLI reuses an existing (stopped) container as it is: it was made
	// from the configuration recorded then, not from today's files.
	prev := m.loadState(ws, res.ContainerID)
	st, err := m.learn(ctx, eng, ws, insp.Container, res.RemoteUser, res.RemoteWorkspaceFolder)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.ConfigHash != "" && !opts.Rebuild && !opts.NoCache {
		st.ConfigHash, st.ConfigStamp = prev.ConfigHash, prev.ConfigStamp
		if res.ConfigChanged, err = m.configChanged(ws, st); err != nil {
			return nil, err
		}
	} else { // a new container: fingerprint what it was made from
		if st.ConfigHash, err = configHash(ws); err != nil {
			return nil, err
		}
		if st.ConfigStamp, err = configStamp(ws); err != nil {
			return nil, err
		}
	}
	if err := m.saveState(ws, st); err != nil {
		return nil, err
	}
	return res, nil
}

// checkPrivilege refuses, before anything is built or run, what the
// features, the image's label and the files add that devbox does not set,
// as the CLI and compose merge them.
func (m *Manager) checkPrivilege(ctx context.Context, ep Endpoint, ws Workspace) error {
	settings, _, err := m.readSettings(ctx, ep, ws)
	if err != nil {
		return err
	}
	if bad := refused(settings); len(bad) > 0 {
		return &PrivilegeError{Settings: bad}
	}
	return nil
}

// runCLIUp runs `devcontainer up` with env (see cliEnv), showing its
// progress, and parses the JSON line it prints.
func (m *Manager) runCLIUp(ctx context.Context, env []string, ws Workspace, opts UpOptions) (*UpResult, error) {
	logPath := filepath.Join(m.stateDir(), "logs",
		fmt.Sprintf("up-%s-%s.log", filepath.Base(ws.Dir), m.now().UTC().Format("20060102-150405")))
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, fmt.Errorf("create the log directory: %w", err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create the log file: %w", err)
	}
	defer logFile.Close()
	args := []string{"up", "--workspace-folder", ws.Dir}
	if opts.Rebuild || opts.NoCache {
		args = append(args, "--remove-existing-container")
	}
	if opts.NoCache {
		args = append(args, "--build-no-cache")
	}
	release, err := m.lockBuilds(ctx, m.progress())
	if err != nil {
		return nil, err
	}
	prog := newProgress(m.progress(), logFile)
	out, runErr := m.Runner.Run(ctx, runner.Cmd{Name: "devcontainer", Args: args, Env: env, Stderr: prog})
	prog.done()
	release()
	var res struct {
		UpResult
		Outcome     string `json:"outcome"`
		Message     string `json:"message"`
		Description string `json:"description"`
	}
	lines := bytes.Split(bytes.TrimSpace(out.Stdout), []byte("\n"))
	parseErr := json.Unmarshal(lines[len(lines)-1], &res)
	if runErr != nil {
		if missing := cliMissing(runErr); missing != nil {
			return nil, missing
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := res.Message
		if msg == "" {
			msg = runErr.Error()
		}
		if res.Description != "" && res.Description != msg {
			msg += ": " + res.Description
		}
		return nil, &UpError{Message: msg, Last: prog.lastLines(15), LogPath: logPath}
	}
	if parseErr != nil || res.Outcome != "success" || res.ContainerID == "" {
		return nil, &UpError{Message: fmt.Sprintf("unexpected result %q", lines[len(lines)-1]), Last: prog.lastLines(15), LogPath: logPath}
	}
	return &res.UpResult, nil
}

// cliMissing is err as a CLIMissingError when the devcontainer CLI could
// not be started for want of it, else nil.
func cliMissing(err error) error {
	var re *runner.RunError
	if errors.As(err, &re) && re.ExitCode == -1 && errors.Is(re.Err, exec.ErrNotFound) {
		return &CLIMissingError{Err: err}
	}
	return nil
}

// interrupted says what an interrupted `up` left behind.
func (m *Manager) interrupted(ws Workspace, eng Engine, before map[string]bool) error {
	// A `docker run` the CLI had started may still be creating its
	// container: give it a moment before looking.
	time.Sleep(cmp.Or(m.settle, time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	box, err := FindBox(ctx, eng, ws)
	if err != nil {
		return fmt.Errorf("up interrupted; could not check what it left: %w", err)
	}
	if box != nil {
		for _, c := range box.All() {
			if !before[c.ID] {
				return fmt.Errorf("up interrupted: it left container %s (%s) half made; remove it with `devbox down -w %s`",
					shortID(c.ID), c.State, ws.Dir)
			}
		}
	}
	return errors.New("up interrupted: no new container was left behind")
}
