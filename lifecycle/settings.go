package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// The settings that reach past the box: what runs on the host, what of
// the host the box gets, and what weakens the box's own confinement. They
// are read from what the consumers make of the files, not from a second
// parse of them: the Dev Containers CLI's merged configuration
// (`devcontainer read-configuration --include-merged-configuration`,
// which adds each feature's and the image label's settings) and compose's
// own merge (`docker compose config`).
//
// devbox allows only what it sets itself: NET_ADMIN for the firewall's
// container (the gateway; dev in the single-container layout), the
// no-new-privileges security option, bind mounts of the workspace's own
// folders, named volumes. Anything else of the kinds below is refused, from
// a feature, the image's devcontainer.metadata label or the configuration
// itself, naming where it came from.

// Setting is one setting of a box's configuration that a user accepting
// it must know of.
type Setting struct {
	Source string // devcontainer.json, feature "./x", compose service dev, ...
	Name   string // initializeCommand, mounts, privileged, capAdd, ...
	Value  string
	// Refused says why `up` refuses it; empty when devbox allows it.
	Refused string
}

// PrivilegeError refuses settings that add privilege devbox does not set.
type PrivilegeError struct{ Settings []Setting }

// Error implements error.
func (e *PrivilegeError) Error() string {
	var b strings.Builder
	b.WriteString("the box's configuration adds privilege that devbox does not set, and devbox runs no box with it:")
	for _, s := range e.Settings {
		fmt.Fprintf(&b, "\n  %s: %s %s: %s", s.Source, s.Name, s.Value, s.Refused)
	}
	b.WriteString("\n  remove them (a feature that needs them cannot be used in a devbox box)")
	return b.String()
}

// reviewIDLabel is an id label (name=value) that no container carries.
const reviewIDLabel = "dev.devbox.trust-review=none"

// mergedConfig is the part of read-configuration's output devbox reads.
type mergedConfig struct {
	Configuration         map[string]any `json:"configuration"`
	MergedConfiguration   map[string]any `json:"mergedConfiguration"`
	FeaturesConfiguration struct {
		FeatureSets []struct {
			SourceInformation struct {
				UserFeatureID string `json:"userFeatureId"`
			} `json:"sourceInformation"`
			Features []map[string]any `json:"features"`
		} `json:"featureSets"`
	} `json:"featuresConfiguration"`
}

// readMergedConfig runs the CLI's read-configuration on ws, as for a new
// container.
func (m *Manager) readMergedConfig(ctx context.Context, env []string, ws Workspace) (*mergedConfig, error) {
	out, err := m.Runner.Run(ctx, runner.Cmd{Name: "devcontainer", Args: []string{
		"read-configuration", "--workspace-folder", ws.Dir, "--include-merged-configuration", "--include-features-configuration",
		// An id label no container carries: the CLI then merges what the
		// files, their features and the base image's label say, as a build
		// would, not what a running container was made from.
		"--id-label", reviewIDLabel,
	}, Env: env})
	if missing := cliMissing(err); missing != nil {
		return nil, missing
	}
	if err != nil {
		return nil, fmt.Errorf("read the merged configuration: %w", err)
	}
	var mc mergedConfig
	lines := bytes.Split(bytes.TrimSpace(out.Stdout), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &mc); err != nil || mc.MergedConfiguration == nil {
		return nil, fmt.Errorf("read the merged configuration: unexpected output of devcontainer read-configuration: %q", lines[len(lines)-1])
	}
	return &mc, nil
}

// composeService is what devbox reads of one service in compose's merged
// configuration.
type composeService struct {
	Image       string   `yaml:"image"`
	Privileged  bool     `yaml:"privileged"`
	CapAdd      []string `yaml:"cap_add"`
	SecurityOpt []string `yaml:"security_opt"`
	NetworkMode string   `yaml:"network_mode"`
	Pid         string   `yaml:"pid"`
	Ipc         string   `yaml:"ipc"`
	UsernsMode  string   `yaml:"userns_mode"`
	Uts         string   `yaml:"uts"`
	Cgroup      string   `yaml:"cgroup"`
	Devices     []any    `yaml:"devices"`
	Volumes     []any    `yaml:"volumes"`
	Ports       []any    `yaml:"ports"`
}

// readComposeConfig runs compose's own merge of files, as the CLI runs
// compose: `docker compose` when the plugin answers, else docker-compose.
func (m *Manager) readComposeConfig(ctx context.Context, env []string, ws Workspace, files []string) (*composeConfig, error) {
	name, args := "docker", []string{"compose"}
	if _, err := m.Runner.Run(ctx, runner.Cmd{Name: "docker", Args: []string{"compose", "version", "--short"}, Env: env}); err != nil {
		name, args = "docker-compose", nil
	}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	out, err := m.Runner.Run(ctx, runner.Cmd{Name: name, Args: append(args, "config"), Dir: ws.Dir, Env: env})
	if err != nil {
		return nil, fmt.Errorf("read the compose configuration: %w", err)
	}
	var doc composeConfig
	if err := yaml.Unmarshal(out.Stdout, &doc); err != nil {
		return nil, fmt.Errorf("read the compose configuration: %w", err)
	}
	return &doc, nil
}

// composeConfig is what devbox reads of compose's merged configuration.
type composeConfig struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]*composeVolume `yaml:"volumes"`
}

// composeVolume is a top-level named volume: its own name (external, or
// named outside the project) and the local driver's options, with which a
// "volume" binds a folder of the host (o: bind, device: /).
type composeVolume struct {
	External   any               `yaml:"external"`
	Name       string            `yaml:"name"`
	DriverOpts map[string]string `yaml:"driver_opts"`
}

// boxSettings names the settings of a box's configuration that reach past
// it, and marks those devbox refuses. project is the compose project's
// name; singleContainer: the firewall runs in
// dev (the single-container layout), which then holds NET_ADMIN.
func boxSettings(ws Workspace, mc *mergedConfig, compose *composeConfig, project string, singleContainer bool) []Setting {
	var out []Setting
	cfg := mc.Configuration
	if cmd, ok := cfg["initializeCommand"]; ok { // runs on the host
		out = append(out, Setting{Source: "devcontainer.json", Name: "initializeCommand", Value: compact(cmd)})
	}
	if wm, ok := cfg["workspaceMount"].(string); ok && wm != "" {
		typ, source := mountFields(wm)
		out = append(out, Setting{Source: "devcontainer.json", Name: "workspaceMount", Value: wm, Refused: mountRefusal(ws, typ, source)})
	}
	devCaps := []string{}
	if singleContainer {
		devCaps = []string{"NET_ADMIN"}
	}
	out = append(out, sourceSettings(ws, "devcontainer.json", cfg, devCaps, false)...)
	out = append(out, runArgSettings(ws, cfg["runArgs"])...)
	if p, ok := cfg["appPort"]; ok { // published on the host, every address unless said
		out = append(out, Setting{Source: "devcontainer.json", Name: "appPort", Value: compact(p)})
	}
	// What the merged configuration holds beyond the file and the
	// features came from the image's devcontainer.metadata label.
	seen := map[string]bool{}
	for _, s := range out {
		seen[s.Name+"\x00"+s.Value] = true
	}
	for _, set := range mc.FeaturesConfiguration.FeatureSets {
		for _, f := range set.Features {
			src := fmt.Sprintf("feature %q", set.SourceInformation.UserFeatureID)
			for _, s := range sourceSettings(ws, src, f, nil, true) {
				seen[s.Name+"\x00"+s.Value] = true
				out = append(out, s)
			}
		}
	}
	for _, s := range sourceSettings(ws, "the image's devcontainer.metadata label", mc.MergedConfiguration, devCaps, true) {
		if !seen[s.Name+"\x00"+s.Value] {
			out = append(out, s)
		}
	}
	if compose == nil {
		return out
	}
	for _, n := range slices.Sorted(maps.Keys(compose.Services)) {
		out = append(out, serviceSettings(ws, n, compose.Services[n], singleContainer)...)
	}
	for _, n := range slices.Sorted(maps.Keys(compose.Volumes)) {
		out = append(out, volumeSettings(ws, project, n, compose.Volumes[n])...)
	}
	return out
}

// volumeSettings names a compose volume that is not the project's own (an
// external one, or one named outside the project: it could be another
// box's), and refuses one the local driver binds to a folder of the host
// outside the workspace.
func volumeSettings(ws Workspace, project, name string, v *composeVolume) []Setting {
	if v == nil {
		return nil
	}
	src := "compose volume " + name
	var out []Setting
	if v.External != nil && v.External != false { // true, or {name: ...} of old files
		out = append(out, Setting{Source: src, Name: "external", Value: compact(v.External)})
	}
	if v.Name != "" && v.Name != project+"_"+name { // compose v2 names every volume
		out = append(out, Setting{Source: src, Name: "name", Value: v.Name})
	}
	if len(v.DriverOpts) > 0 {
		st := Setting{Source: src, Name: "driver_opts", Value: compact(v.DriverOpts)}
		if dev := v.DriverOpts["device"]; dev != "" && strings.Contains(v.DriverOpts["o"], "bind") {
			st.Refused = mountRefusal(ws, "bind", dev)
		} else if dev != "" {
			st.Refused = "a device or file system of the host"
		}
		out = append(out, st)
	}
	return out
}

// sourceSettings names what one source (the file, a feature, the merged
// whole) sets: privileged, capAdd, securityOpt and mounts.
//
// A feature (or the image's label) may mount only a volume of its own box:
// one whose name holds ${devcontainerId}. Volume names in mounts are not
// scoped to the compose project, so another name could be another box's
// volume (its agent login among them).
func sourceSettings(ws Workspace, src string, m map[string]any, allowedCaps []string, ownVolumesOnly bool) []Setting {
	var out []Setting
	if p, _ := m["privileged"].(bool); p {
		out = append(out, Setting{Source: src, Name: "privileged", Value: "true", Refused: "every capability and device, and no seccomp or AppArmor"})
	}
	for _, c := range strings.Fields(listString(m["capAdd"])) {
		s := Setting{Source: src, Name: "capAdd", Value: c}
		if !slices.Contains(allowedCaps, contract.CapabilityName(c)) {
			s.Refused = "a capability devbox does not give"
		}
		out = append(out, s)
	}
	for _, o := range strings.Fields(listString(m["securityOpt"])) {
		if !noNewPrivileges(o) {
			out = append(out, Setting{Source: src, Name: "securityOpt", Value: o, Refused: "weakens the box's confinement (seccomp, AppArmor, SELinux or similar)"})
		}
	}
	if mounts, ok := m["mounts"].([]any); ok {
		for _, mt := range mounts {
			typ, source := mountFields(mt)
			s := Setting{Source: src, Name: "mounts", Value: compact(mt)}
			s.Refused = mountRefusal(ws, typ, source)
			if s.Refused == "" && ownVolumesOnly && typ == "volume" && !strings.Contains(source, "${devcontainerId}") {
				s.Refused = "a named volume not of this box (its name lacks ${devcontainerId}): it could be another box's"
			}
			out = append(out, s)
		}
	}
	return out
}

// noNewPrivileges reports whether o is Docker's no-new-privileges option,
// the one security option devbox sets.
func noNewPrivileges(o string) bool {
	o = strings.ToLower(o)
	return o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true"
}

// mountFields returns the type and source of a mount, as a string
// (type=bind,source=...) or an object.
func mountFields(mt any) (typ, source string) {
	switch v := mt.(type) {
	case map[string]any:
		typ, _ = v["type"].(string)
		source, _ = v["source"].(string)
	case string:
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "type":
				typ = val
			case "source", "src":
				source = val
			}
		}
	}
	return typ, source
}

// mountRefusal says why a mount is refused: a socket anywhere, a bind
// mount from outside the workspace; "" when allowed.
func mountRefusal(ws Workspace, typ, source string) string {
	if strings.HasSuffix(source, ".sock") || strings.Contains(source, "docker.sock") || strings.HasPrefix(source, `\\.\pipe\`) {
		return "a socket of the host: whoever holds it commands the service behind it (the engine: root on the host)"
	}
	if typ == "bind" && (source == "" || !filepath.IsAbs(source) || !isWithin(filepath.Clean(source), ws.Dir)) {
		return "a folder of the host outside the workspace"
	}
	return ""
}

// runArgSettings names the docker run flags that reach past the box, all
// refused: devbox sets none of them.
func runArgSettings(ws Workspace, v any) []Setting {
	list, _ := v.([]any)
	var args []string
	for _, a := range list {
		if s, ok := a.(string); ok {
			args = append(args, s)
		}
	}
	var out []Setting
	for i := 0; i < len(args); i++ {
		flag, val, hasVal := strings.Cut(args[i], "=")
		takes := map[string]bool{"--cap-add": true, "--security-opt": true, "--pid": true, "--ipc": true, "--userns": true, "--uts": true,
			"--cgroupns": true, "--network": true, "--net": true, "-v": true, "--volume": true, "--mount": true, "--device": true,
			"--env-file": true, "--volumes-from": true}
		if !takes[flag] && flag != "--privileged" {
			continue
		}
		if takes[flag] && !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		s := Setting{Source: "devcontainer.json runArgs", Name: flag, Value: val}
		switch flag {
		case "--security-opt":
			if noNewPrivileges(val) {
				continue
			}
			s.Refused = "weakens the box's confinement"
		case "--network", "--net":
			s.Refused = "the box leaves the gateway's network (host networking reaches the host's services)"
		case "-v", "--volume":
			src, _, _ := strings.Cut(val, ":")
			if s.Refused = mountRefusal(ws, "bind", src); s.Refused == "" && !filepath.IsAbs(src) {
				continue // a named volume
			}
		case "--mount":
			typ, src := mountFields(val)
			if s.Refused = mountRefusal(ws, typ, src); s.Refused == "" {
				continue
			}
		case "--env-file":
			if filepath.IsAbs(val) && isWithin(filepath.Clean(val), ws.Dir) {
				continue
			}
			s.Refused = "reads a file of the host outside the workspace into the box"
		case "--volumes-from":
			s.Refused = "another container's volumes"
		default:
			s.Refused = "adds privilege devbox does not give"
		}
		out = append(out, s)
	}
	return out
}

// serviceSettings names what one compose service sets that reaches past
// the box.
func serviceSettings(ws Workspace, name string, s composeService, singleContainer bool) []Setting {
	src := "compose service " + name
	var out []Setting
	firewall := name == contract.GatewayService || singleContainer && name == contract.DevService
	if name == contract.GatewayService {
		out = append(out, Setting{Source: src, Name: "image", Value: s.Image})
	}
	if s.Privileged {
		out = append(out, Setting{Source: src, Name: "privileged", Value: "true", Refused: "every capability and device, and no seccomp or AppArmor"})
	}
	for _, c := range s.CapAdd {
		st := Setting{Source: src, Name: "cap_add", Value: c}
		if !firewall || contract.CapabilityName(c) != "NET_ADMIN" {
			st.Refused = "a capability devbox does not give"
		}
		out = append(out, st)
	}
	for _, o := range s.SecurityOpt {
		if !noNewPrivileges(o) {
			out = append(out, Setting{Source: src, Name: "security_opt", Value: o, Refused: "weakens the box's confinement (seccomp, AppArmor, SELinux or similar)"})
		}
	}
	for k, v := range map[string]string{"pid": s.Pid, "ipc": s.Ipc, "userns_mode": s.UsernsMode, "uts": s.Uts, "cgroup": s.Cgroup} {
		if v != "" && v != "private" && v != "shareable" {
			out = append(out, Setting{Source: src, Name: k, Value: v, Refused: "shares a namespace of the host or another container"})
		}
	}
	if s.NetworkMode != "" {
		st := Setting{Source: src, Name: "network_mode", Value: s.NetworkMode}
		if s.NetworkMode != "service:"+contract.GatewayService && s.NetworkMode != "bridge" {
			st.Refused = "the service leaves the box's networks (host networking reaches the host's services)"
		}
		out = append(out, st)
	}
	for _, p := range s.Ports {
		out = append(out, Setting{Source: src, Name: "ports", Value: compact(p)})
	}
	for _, d := range s.Devices {
		out = append(out, Setting{Source: src, Name: "devices", Value: compact(d), Refused: "a device of the host"})
	}
	for _, v := range s.Volumes {
		typ, source := mountFields(v)
		if str, ok := v.(string); ok { // short syntax: SOURCE:TARGET[:MODE]
			source, _, _ = strings.Cut(str, ":")
			typ = "volume"
			if filepath.IsAbs(source) || strings.HasPrefix(source, ".") {
				typ = "bind"
			}
		}
		if typ != "bind" && !strings.HasSuffix(source, ".sock") {
			continue
		}
		out = append(out, Setting{Source: src, Name: "volumes", Value: compact(v), Refused: mountRefusal(ws, typ, source)})
	}
	return out
}

// listString joins a JSON list of strings (or one string) with spaces.
func listString(v any) string {
	switch l := v.(type) {
	case string:
		return l
	case []any:
		var parts []string
		for _, x := range l {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// compact is v as one line of JSON (a string as it is).
func compact(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// refused returns the settings devbox refuses.
func refused(settings []Setting) []Setting {
	var out []Setting
	for _, s := range settings {
		if s.Refused != "" {
			out = append(out, s)
		}
	}
	return out
}
