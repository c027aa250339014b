package lifecycle

import (
	"context"
	"runtime"
	"strings"
)

// TrustReview is what `devbox trust` shows before the user accepts a
// workspace's configuration: the files that changed since the record (all
// of them when there is none) and the settings that reach past the box.
type TrustReview struct {
	Workspace string
	// Recorded: a record existed, and Changes are relative to it.
	Recorded bool
	Changes  []FileChange
	Settings []Setting
	// ComposeProject is the compose project devbox names the box (and VS
	// Code derives), for a compose configuration.
	ComposeProject string

	ws    Workspace
	files []TrustedFile // exactly what was shown, recorded on accept
}

// ReviewTrust gathers what the user must see to trust the workspace at
// dir. It refuses, as `up` does, symlinks among the configuration's files
// and COMPOSE_* settings in .env; the settings come from the CLI's and
// compose's own merge of the configuration.
func (m *Manager) ReviewTrust(ctx context.Context, dir string) (*TrustReview, error) {
	ws, err := OpenWorkspace(dir)
	if err != nil {
		return nil, err
	}
	if err := checkPlanted(ws); err != nil {
		return nil, err
	}
	files, err := configFiles(ws)
	if err != nil {
		return nil, err
	}
	rec, err := m.loadTrust(ws)
	if err != nil {
		return nil, err
	}
	r := &TrustReview{Workspace: ws.Dir, ws: ws, files: files, Recorded: rec != nil}
	var old []TrustedFile
	if rec != nil {
		old = rec.Files
	}
	r.Changes = diffFiles(old, files)
	ws.layout, err = checkFirewallFeature(ws)
	if err != nil {
		return nil, err
	}
	eng, ep, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	eng.Close()
	r.Settings, r.ComposeProject, err = m.readSettings(ctx, ep, ws)
	for _, f := range files {
		if strings.HasPrefix(f.Path, "../") { // read on the host, or built or mounted into the box
			r.Settings = append(r.Settings, Setting{Source: "the configuration", Name: "a file outside the workspace", Value: f.Path})
		}
	}
	return r, err
}

// AcceptTrust records the files r showed as trusted. A file changed since
// the review is then a change again, for the next `up` to refuse.
func (m *Manager) AcceptTrust(r *TrustReview) error {
	return m.saveTrust(r.ws, r.files)
}

// readSettings reads the settings of ws that reach past the box, from the
// CLI's merged configuration and compose's, and the compose project's name.
func (m *Manager) readSettings(ctx context.Context, ep Endpoint, ws Workspace) ([]Setting, string, error) {
	env, project, err := cliEnv(ep, ws)
	if err != nil {
		return nil, "", err
	}
	mc, err := m.readMergedConfig(ctx, env, ws)
	if err != nil {
		return nil, "", err
	}
	files, err := composeFilesOf(ws)
	if err != nil {
		return nil, "", err
	}
	var compose *composeConfig
	if len(files) > 0 {
		if compose, err = m.readComposeConfig(ctx, env, ws, files); err != nil {
			return nil, "", err
		}
	}
	return boxSettings(ws, mc, compose, project, ws.layout == nil), project, nil
}

// cliEnv is the environment of the CLIs for ws: the engine (when the CLI
// could not find it itself) and the compose project's name, as devbox and
// VS Code derive it.
func cliEnv(ep Endpoint, ws Workspace) ([]string, string, error) {
	env := ep.cliEnv()
	files, err := composeFilesOf(ws)
	if err != nil {
		return nil, "", err
	}
	project, err := projectName(runtime.GOOS, ws, files)
	if err != nil {
		return nil, "", err
	}
	if project != "" {
		env = append(env, "COMPOSE_PROJECT_NAME="+project)
	}
	return env, project, nil
}
