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

	// layout is what the compose files say of the gateway layout; nil for
	// the single-container layout (or before the firewall was checked).
	layout *devService
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
	ws.layout, err = checkFirewallFeature(ws)
	return ws, err
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

// readConfigJSON reads the workspace's devcontainer.json (JSON with
// comments) into v.
func readConfigJSON(ws Workspace, v any) error {
	data, err := os.ReadFile(ws.ConfigFile)
	if err != nil {
		return fmt.Errorf("read %s: %w", ws.ConfigFile, err)
	}
	std, err := hujson.Standardize(data)
	if err != nil {
		return fmt.Errorf("parse %s: %w", ws.ConfigFile, err)
	}
	if err := json.Unmarshal(std, v); err != nil {
		return fmt.Errorf("parse %s: %w", ws.ConfigFile, err)
	}
	return nil
}

// checkFirewallFeature refuses a configuration without the firewall: the
// single-container feature, or the gateway layout, whose compose files it
// returns what it read of.
func checkFirewallFeature(ws Workspace) (*devService, error) {
	var cfg struct {
		Features          map[string]any `json:"features"`
		DockerComposeFile any            `json:"dockerComposeFile"`
		CapAdd            []string       `json:"capAdd"`
		Privileged        bool           `json:"privileged"`
	}
	if err := readConfigJSON(ws, &cfg); err != nil {
		return nil, err
	}
	for id := range cfg.Features {
		if strings.TrimSuffix(id, "/") == contract.FirewallFeatureRef {
			return nil, nil
		}
	}
	dev, err := gatewayLayout(filepath.Dir(ws.ConfigFile), cfg.DockerComposeFile)
	if err != nil || dev == nil {
		if err == nil {
			err = &NoFirewallError{ConfigFile: ws.ConfigFile}
		}
		return nil, err
	}
	if cfg.Privileged {
		return nil, fmt.Errorf("%s: \"privileged\": true gives dev every capability, and root in dev could change the gateway's rules: remove it", ws.ConfigFile)
	}
	if c := networkCap(cfg.CapAdd); c != "" {
		return nil, fmt.Errorf("%s: capAdd gives dev %s, and root in dev could change the gateway's rules or forge its socket mark: remove it", ws.ConfigFile, c)
	}
	return dev, dev.check()
}

// devService is what the compose files say about dev that matters to the
// gateway layout, and where the gateway's image comes from, merged across
// the files as compose merges them.
type devService struct {
	files      string // the compose files, for messages
	capAdd     []string
	capDrop    []string
	privileged bool

	gatewayImage string // the gateway's image reference
	gatewayBuild bool   // compose builds the gateway (--vendor-gateway)
}

// check refuses a dev service that could reach the gateway's rules: any
// capability over the network, or NET_RAW left in (Docker grants it by
// default; since Linux 5.17 it is enough to set a socket mark).
func (d *devService) check() error {
	if d.privileged {
		return fmt.Errorf("%s: dev is privileged, and root in dev could change the gateway's rules: remove privileged", d.files)
	}
	if c := networkCap(d.capAdd); c != "" {
		return fmt.Errorf("%s: dev's cap_add gives it %s, and root in dev could change the gateway's rules or forge its socket mark: remove it", d.files, c)
	}
	if !slices.ContainsFunc(d.capDrop, func(c string) bool {
		return contract.CapabilityName(c) == "NET_RAW" || contract.CapabilityName(c) == "ALL"
	}) {
		return fmt.Errorf("%s: dev keeps NET_RAW (Docker grants it unless cap_drop lists it), with which root in dev could forge the gateway's socket mark: regenerate with `devbox init --force`", d.files)
	}
	return nil
}

// networkCap returns the first capability of caps that reaches the network
// namespace's configuration, or "".
func networkCap(caps []string) string {
	for _, c := range caps {
		if contract.NetworkCapability(c) {
			return contract.CapabilityName(c)
		}
	}
	return ""
}

// gatewayLayout returns dev's service when the compose files
// (dockerComposeFile, relative to dir) make the gateway layout: a gateway
// service with devbox's healthcheck, and dev in its network namespace; nil
// otherwise.
func gatewayLayout(dir string, files any) (*devService, error) {
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
	dev := &devService{}
	for _, name := range names {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		var doc struct {
			Services map[string]struct {
				NetworkMode string   `yaml:"network_mode"`
				CapAdd      []string `yaml:"cap_add"`
				CapDrop     []string `yaml:"cap_drop"`
				Privileged  bool     `yaml:"privileged"`
				Entrypoint  any      `yaml:"entrypoint"`
				Image       string   `yaml:"image"`
				Build       any      `yaml:"build"`
				Command     any      `yaml:"command"`
				Healthcheck *struct {
					Test []string `yaml:"test"`
				} `yaml:"healthcheck"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		// A later file overrides an earlier one, as compose merges them.
		if gw, ok := doc.Services[contract.GatewayService]; ok {
			if gw.Healthcheck != nil {
				gateway = slices.Equal(gw.Healthcheck.Test, contract.GatewayHealthcheck())
			}
			if gw.Image != "" {
				dev.gatewayImage = gw.Image
			}
			if gw.Build != nil {
				dev.gatewayBuild = true
			}
			if gw.Entrypoint != nil || gw.Command != nil {
				return nil, fmt.Errorf("%s: the gateway's entrypoint or command is set, so it may not run init-firewall: remove it (the gateway's image runs `%s %s`)", path, contract.FirewallBinary, contract.GatewayArg)
			}
		}
		if d, ok := doc.Services[contract.DevService]; ok {
			if d.NetworkMode != "" {
				joined = d.NetworkMode == "service:"+contract.GatewayService
			}
			dev.capAdd = append(dev.capAdd, d.CapAdd...)
			dev.capDrop = append(dev.capDrop, d.CapDrop...)
			dev.privileged = dev.privileged || d.Privileged
		}
		if dev.files != "" {
			dev.files += ", "
		}
		dev.files += path
	}
	if !gateway || !joined {
		return nil, nil
	}
	return dev, nil
}
