package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tailscale/hujson"
)

// Workspace is a folder holding .devcontainer/devcontainer.json.
type Workspace struct {
	Dir        string // absolute
	ConfigFile string // Dir/.devcontainer/devcontainer.json
}

// NoConfigError says a folder has no .devcontainer/devcontainer.json.
type NoConfigError struct{ Dir string }

// Error implements error.
func (e *NoConfigError) Error() string {
	return fmt.Sprintf("%s has no .devcontainer/devcontainer.json: create one with `devbox init -w %s`", e.Dir, e.Dir)
}

// OpenWorkspace resolves dir and checks that it holds a dev container
// configuration.
func OpenWorkspace(dir string) (Workspace, error) {
	ws, err := workspaceAt(dir)
	if err != nil {
		return ws, err
	}
	if _, err := os.Stat(ws.ConfigFile); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ws, &NoConfigError{Dir: ws.Dir}
		}
		return ws, fmt.Errorf("open workspace: %w", err)
	}
	return ws, nil
}

// workspaceAt resolves dir without requiring a configuration (down and
// status work on workspaces whose files are gone).
func workspaceAt(dir string) (Workspace, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Workspace{}, fmt.Errorf("resolve workspace %s: %w", dir, err)
	}
	return Workspace{Dir: abs, ConfigFile: filepath.Join(abs, ".devcontainer", "devcontainer.json")}, nil
}

// firewallFeature is the local feature the generator writes; its entrypoint
// applies the firewall at every container start.
const firewallFeature = "./devbox-firewall"

// NoFirewallError says a configuration does not install devbox's firewall.
type NoFirewallError struct{ ConfigFile string }

// Error implements error.
func (e *NoFirewallError) Error() string {
	return fmt.Sprintf("%s does not install the devbox firewall (no %q feature), and devbox runs no box without it:\n"+
		"  regenerate the configuration with `devbox init`, or add \"features\": {%q: {}}", e.ConfigFile, firewallFeature, firewallFeature)
}

// openFirewalledWorkspace opens the workspace at dir for a build, refusing
// a configuration without the firewall feature.
func openFirewalledWorkspace(dir string) (Workspace, error) {
	ws, err := OpenWorkspace(dir)
	if err != nil {
		return ws, err
	}
	return ws, checkFirewallFeature(ws)
}

// checkFirewallFeature refuses a configuration without the firewall feature.
func checkFirewallFeature(ws Workspace) error {
	data, err := os.ReadFile(ws.ConfigFile)
	if err != nil {
		return fmt.Errorf("read %s: %w", ws.ConfigFile, err)
	}
	std, err := hujson.Standardize(data)
	if err != nil {
		return fmt.Errorf("parse %s: %w", ws.ConfigFile, err)
	}
	var cfg struct {
		Features map[string]any `json:"features"`
	}
	if err := json.Unmarshal(std, &cfg); err != nil {
		return fmt.Errorf("parse %s: %w", ws.ConfigFile, err)
	}
	for id := range cfg.Features {
		if strings.TrimSuffix(id, "/") == firewallFeature {
			return nil
		}
	}
	return &NoFirewallError{ConfigFile: ws.ConfigFile}
}
