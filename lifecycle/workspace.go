package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/tailscale/hujson"
	"go.yaml.in/yaml/v4"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/hostcheck"
)

// Workspace is a folder holding .devcontainer/devcontainer.json.
type Workspace struct {
	// Dir is absolute, spelled as the Dev Containers CLI spells it in the
	// devcontainer.local_folder label (see cliPath).
	Dir string
	// ConfigFile is Dir/.devcontainer/devcontainer.json, spelled as in the
	// devcontainer.config_file label.
	ConfigFile string
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
	return workspaceFor(runtime.GOOS, abs), nil
}

// workspaceFor is the workspace at the absolute, clean path abs on goos.
func workspaceFor(goos, abs string) Workspace {
	d := cliPath(goos, abs)
	sep := "/"
	if goos == "windows" {
		sep = `\`
	}
	return Workspace{Dir: d, ConfigFile: strings.TrimSuffix(d, sep) + sep + ".devcontainer" + sep + "devcontainer.json"}
}

// cliPath spells the absolute, clean host path abs as the Dev Containers
// CLI writes it into its labels on goos, so that devbox finds the CLI's
// containers by label. On Unix that is abs itself. On Windows the CLI
// (0.89.0, dist/spec-node/devContainersSpecCLI.js) passes the workspace
// folder through path.win32.resolve and the config file through a file
// URI's fsPath, and normalises both labels with path.win32.normalize and a
// lower-case drive letter: C:\Users\me\app becomes c:\Users\me\app. UNC
// paths (\\server\share\app) keep their form.
func cliPath(goos, abs string) string {
	if goos != "windows" {
		return abs
	}
	p := strings.ReplaceAll(abs, "/", `\`)
	if hasDriveLetter(p) {
		p = strings.ToLower(p[:1]) + p[1:]
	}
	return p
}

// hasDriveLetter reports whether p starts with a Windows drive, as C:.
func hasDriveLetter(p string) bool {
	return len(p) >= 2 && p[1] == ':' && ('a' <= p[0] && p[0] <= 'z' || 'A' <= p[0] && p[0] <= 'Z')
}

// NoFirewallError says a configuration does not install devbox's firewall.
type NoFirewallError struct{ ConfigFile string }

// Error implements error.
func (e *NoFirewallError) Error() string {
	return fmt.Sprintf("%s does not install the devbox firewall (no %q feature), and devbox runs no box without it:\n"+
		"  regenerate the configuration with `devbox init`, or add \"features\": {%q: {}}", e.ConfigFile, contract.FirewallFeatureRef, contract.FirewallFeatureRef)
}

// openFirewalledWorkspace opens the workspace at dir for a build, refusing
// a configuration without the firewall feature.
func openFirewalledWorkspace(dir string) (Workspace, error) {
	ws, err := OpenWorkspace(dir)
	if err != nil {
		return ws, err
	}
	if err := checkPlanted(ws); err != nil {
		return ws, err
	}
	return ws, checkFirewallFeature(ws)
}

// checkPlanted refuses what the box could have planted in the workspace for
// the host to act on when a box is made or started: a symlink where devbox
// mounts a path, and COMPOSE_* settings in the workspace's .env.
func checkPlanted(ws Workspace) error {
	if err := hostcheck.CheckMountSources(ws.Dir); err != nil {
		return err
	}
	return hostcheck.CheckDotEnv(ws.Dir)
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
		Features          map[string]any `json:"features"`
		DockerComposeFile any            `json:"dockerComposeFile"`
	}
	if err := json.Unmarshal(std, &cfg); err != nil {
		return fmt.Errorf("parse %s: %w", ws.ConfigFile, err)
	}
	for id := range cfg.Features {
		if strings.TrimSuffix(id, "/") == contract.FirewallFeatureRef {
			return nil
		}
	}
	if ok, err := gatewayLayout(filepath.Dir(ws.ConfigFile), cfg.DockerComposeFile); ok || err != nil {
		return err
	}
	return &NoFirewallError{ConfigFile: ws.ConfigFile}
}

// gatewayLayout reports whether the compose files (dockerComposeFile,
// relative to dir) make the gateway layout: a gateway service with
// devbox's healthcheck, and dev in its network namespace.
func gatewayLayout(dir string, files any) (bool, error) {
	var names []string
	switch f := files.(type) {
	case string:
		names = []string{f}
	case []any:
		for _, n := range f {
			if s, ok := n.(string); ok {
				names = append(names, s)
			}
		}
	}
	var gateway, joined bool
	for _, name := range names {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return false, fmt.Errorf("read %s: %w", path, err)
		}
		var doc struct {
			Services map[string]struct {
				NetworkMode string `yaml:"network_mode"`
				Healthcheck struct {
					Test []string `yaml:"test"`
				} `yaml:"healthcheck"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return false, fmt.Errorf("parse %s: %w", path, err)
		}
		if gw, ok := doc.Services[contract.GatewayService]; ok && slices.Equal(gw.Healthcheck.Test, contract.GatewayHealthcheck()) {
			gateway = true
		}
		if dev, ok := doc.Services[contract.DevService]; ok && dev.NetworkMode != "" {
			joined = dev.NetworkMode == "service:"+contract.GatewayService
		}
	}
	return gateway && joined, nil
}
