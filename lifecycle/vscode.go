package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tailscale/hujson"
)

// vscodeSettingsPath is where VS Code keeps the user's settings on goos, or
// "" when the environment does not say.
func vscodeSettingsPath(goos string, getenv func(string) string) string {
	switch goos {
	case "windows":
		if d := getenv("APPDATA"); d != "" {
			return filepath.Join(d, "Code", "User", "settings.json")
		}
	case "darwin":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support", "Code", "User", "settings.json")
		}
	default:
		d := getenv("XDG_CONFIG_HOME")
		if d == "" && getenv("HOME") != "" {
			d = filepath.Join(getenv("HOME"), ".config")
		}
		if d != "" {
			return filepath.Join(d, "Code", "User", "settings.json")
		}
	}
	return ""
}

// vscodeForward is a setting of the Dev Containers extension that forwards
// something of this machine into the box, and the value that stops it.
type vscodeForward struct {
	Key  string // without the dev.containers. / remote.containers. prefix
	Off  any    // the value that turns it off
	What string
}

var vscodeForwards = []vscodeForward{
	{"gitCredentialHelperConfigLocation", "none", "forwards your git credentials: a credential helper in the box asks this machine for them"},
	{"copyGitConfig", false, "copies your ~/.gitconfig into the box"},
	{"dockerCredentialHelper", false, "forwards your Docker registry credentials"},
	{"mountWaylandSocket", false, "mounts your Wayland/X11 display socket (screen and keyboard) into the box"},
}

// checkVSCode reads the user's VS Code settings, where present, and warns
// about what the Dev Containers extension forwards into the box when VS
// Code attaches to it, naming the settings to change. VS Code's own
// settings are the user's: a project cannot turn these off.
func (m *Manager) checkVSCode() []Check {
	p := vscodeSettingsPath(runtime.GOOS, m.Getenv)
	if p == "" {
		return nil
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // VS Code is not used here
	}
	if err != nil {
		return []Check{{Name: "vscode", OK: true, Warning: true, Detail: err.Error()}}
	}
	settings, err := parseSettings(data)
	if err != nil {
		return []Check{{Name: "vscode", OK: true, Warning: true, Detail: fmt.Sprintf("%s: %v", p, err), Fix: "fix the file so devbox can check what VS Code forwards into the box"}}
	}
	var fixes, found []string
	for _, f := range vscodeForwards {
		key := "dev.containers." + f.Key
		v, ok := settings[key]
		if !ok {
			v, ok = settings["remote.containers."+f.Key]
		}
		if ok && v == f.Off {
			continue
		}
		off, _ := json.Marshal(f.Off)
		found = append(found, f.What)
		fixes = append(fixes, fmt.Sprintf("%q: %s", key, off))
	}
	var checks []Check
	if len(fixes) > 0 {
		checks = append(checks, Check{Name: "vscode", OK: true, Warning: true,
			Detail: "with VS Code attached to a box, the Dev Containers extension " + strings.Join(found, "; ") + " (" + p + ")",
			Fix:    "add to your VS Code settings:\n  " + strings.Join(fixes, ",\n  ")})
	}
	if m.Getenv("SSH_AUTH_SOCK") != "" {
		checks = append(checks, Check{Name: "vscode", OK: true, Warning: true,
			Detail: "SSH_AUTH_SOCK is set: VS Code started from this environment forwards your SSH agent into the box it attaches to (the box can then sign with your keys)",
			Fix:    "start VS Code without SSH_AUTH_SOCK (or without keys in the agent) when you attach to a box; devbox knows no setting that turns this off"})
	}
	checks = append(checks, Check{Name: "vscode", OK: true, Warning: true,
		Detail: "VS Code's server sets BROWSER in the box's terminals: a program there can open a URL in your browser",
		Fix:    "devbox knows no setting that turns this off; `devbox shell` has none of it"})
	return checks
}

// parseSettings reads VS Code's settings.json (HuJSON: comments, trailing
// commas) into its flat keys.
func parseSettings(data []byte) (map[string]any, error) {
	std, err := hujson.Standardize(data)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(std, &out); err != nil {
		return nil, err
	}
	return out, nil
}
