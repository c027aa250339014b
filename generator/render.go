package generator

import (
	"fmt"
	"io/fs"
	"path"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/templates"
)

// File is one file of .devcontainer/.
type File struct {
	// Path is relative to .devcontainer/, with slashes.
	Path string
	Data []byte
	Mode fs.FileMode
	// Binary files are listed, not printed, by a dry run.
	Binary bool
}

// historyDir holds the shell history, under the user's home, on a named volume.
const historyDir = ".devbox-history"

// userVolume is a named volume mounted in the user's home.
type userVolume struct {
	Name    string // compose volume name; devcontainer.json adds ${devcontainerId}
	Dir     string // under the home directory
	Comment string
}

// userVolumes are the directories that must survive a rebuild: the agent's
// login and settings, and the shell history.
func (s *spec) userVolumes() []userVolume {
	var out []userVolume
	if s.Agent != nil {
		out = append(out, userVolume{
			Name: "devbox-" + s.Agent.Name, Dir: s.Agent.ConfigDir,
			Comment: s.Agent.Title + "'s login and settings survive a rebuild (one volume per environment).",
		})
	}
	return append(out, userVolume{Name: "devbox-history", Dir: historyDir, Comment: "Shell history survives a rebuild."})
}

// box is what the templates say about the image that the host and the box
// must agree on, taken from package contract so no template spells it out.
type box struct {
	FeatureID      string // the local firewall feature's id (and folder)
	FirewallBinary string // init-firewall in the image, the feature's entrypoint
	ConfigDir      string
	ConfigPath     string // the allowlist in the image
	CacheDir       string
	RunDir         string // the status markers
	StatusCommand  string // postStartCommand: wait for the firewall in the box
	GatewayArg     string // init-firewall's subcommand in the gateway
}

// theBox fills box from package contract.
var theBox = box{
	FeatureID: contract.FirewallFeatureID, FirewallBinary: contract.FirewallBinary,
	ConfigDir: contract.ConfigDir, ConfigPath: contract.ConfigPath, CacheDir: contract.CacheDir, RunDir: contract.RunDir,
	StatusCommand: contract.StatusCommand(), GatewayArg: contract.GatewayArg,
}

// gatewayDockerfile is the gateway image's Dockerfile in .devcontainer/,
// as devbox wrote it before the gateway became an image of its own; an
// upgrade removes it.
const gatewayDockerfile = "gateway.Dockerfile"

// mount is one entry of devcontainer.json's "mounts".
type mount struct {
	Spec    string
	Comment string
}

// devcontainerData fills devcontainer.json.tmpl.
type devcontainerData struct {
	box
	Name            string
	Compose         bool
	Gateway         bool
	WorkspaceFolder string
	Features        []feature
	User            string
	Mounts          []mount
	NoGitNote       string
	RunArgs         []string
	GPU             bool
	Extensions      []string
	Volume          bool
	Sudo            bool
}

// gitNote explains a missing protection instead of silently leaving it
// out; "" when .git is a folder.
func (s *spec) gitNote() string {
	switch {
	case s.HasGit:
		return ""
	case s.GitFile:
		return "A linked worktree: .git is a file, mounted read-only, naming a git folder in the main repository, outside the workspace. " +
			"Its config and hooks are out of the box's reach, and git in the box does not work here (that folder is not in the box)."
	default:
		return "No .git directory when devbox init ran, so .git/hooks and .git/config are not mounted read-only; run `devbox init --force` after `git init` " +
			"(until then devbox exec and up refuse a .git the box could write)."
	}
}

func (s *spec) devcontainerData() devcontainerData {
	d := devcontainerData{
		box:  theBox,
		Name: s.Name, Compose: s.compose(), Gateway: s.Gateway, WorkspaceFolder: "/workspaces/" + s.Name,
		Features: s.Features, User: s.User, GPU: s.GPU, Extensions: s.Extensions,
		Volume: s.Volume, Sudo: s.Sudo,
	}
	if d.Extensions == nil {
		d.Extensions = []string{}
	}
	if !s.Volume {
		d.NoGitNote = s.gitNote()
	}
	if d.Compose {
		return d // mounts and limits are in compose.yaml
	}
	for _, v := range s.userVolumes() {
		d.Mounts = append(d.Mounts, mount{
			Spec:    fmt.Sprintf("source=%s-${devcontainerId},target=/home/%s/%s,type=volume", v.Name, s.User, v.Dir),
			Comment: v.Comment,
		})
	}
	readOnly := func(rel, why string) mount {
		return mount{
			Spec:    fmt.Sprintf("source=${localWorkspaceFolder}/%s,target=${containerWorkspaceFolder}/%s,type=bind,readonly", rel, rel),
			Comment: why,
		}
	}
	d.Mounts = append(d.Mounts, readOnly(".devcontainer", "Read-only: the agent cannot change the configuration the next rebuild uses."))
	if s.HasGit {
		d.Mounts = append(d.Mounts, mount{
			Spec:    "source=${localWorkspaceFolder}/.git,target=${containerWorkspaceFolder}/.git,type=bind",
			Comment: "A mount point of its own: the agent cannot rename .git, and the read-only mounts in it, to put a folder of its own in its place.",
		})
	}
	if s.HasGitHooks {
		d.Mounts = append(d.Mounts, readOnly(".git/hooks", "Read-only: the agent cannot plant a git hook that would run on the host."))
	}
	if s.HasGitConfig {
		d.Mounts = append(d.Mounts, readOnly(".git/config", "Read-only: the agent cannot set core.hooksPath, core.fsmonitor or similar, which run programs on the host."))
	}
	for _, mp := range s.MountPoints {
		d.Mounts = append(d.Mounts, mount{
			Spec:    fmt.Sprintf("source=${localWorkspaceFolder}/%s,target=${containerWorkspaceFolder}/%s,type=bind", mp, mp),
			Comment: "A mount point of its own, so that the agent cannot rename it with the read-only mount in it.",
		})
	}
	for _, ro := range s.ReadOnly {
		d.Mounts = append(d.Mounts, readOnly(ro.Rel, ro.Why))
	}
	for _, kv := range s.Sysctls {
		d.RunArgs = append(d.RunArgs, "--sysctl="+kv.Key+"="+kv.Value)
	}
	for _, p := range s.Publish {
		d.RunArgs = append(d.RunArgs, fmt.Sprintf("--publish=127.0.0.1:%d:%d", p, p))
	}
	for _, u := range s.Ulimits {
		d.RunArgs = append(d.RunArgs, fmt.Sprintf("--ulimit=%s=%d:%d", u.Name, u.Soft, u.Hard))
	}
	if s.CPUs != "" {
		d.RunArgs = append(d.RunArgs, "--cpus="+s.CPUs)
	}
	if s.Memory != "" {
		d.RunArgs = append(d.RunArgs, "--memory="+s.Memory)
	}
	return d
}

// compose reports whether the box is a compose project: it has services,
// or the gateway.
func (s *spec) compose() bool { return len(s.Services) > 0 || s.Gateway }

// dockerfileData fills Dockerfile.tmpl and gateway.Dockerfile.tmpl.
type dockerfileData struct {
	box
	Gateway     bool
	BaseImage   string
	User        string
	AptPackages []string
	GoVersion   string
	UserDirs    []string
	HistoryDir  string
	Agent       *agent
	Sudo        bool
	SourceDir   string // the volume workspace's root-only clone source folder
}

func (s *spec) dockerfileData() dockerfileData {
	d := dockerfileData{box: theBox, Gateway: s.Gateway, BaseImage: s.BaseImage, User: s.User, AptPackages: s.AptPackages, GoVersion: s.GoVersion, HistoryDir: historyDir, Agent: s.Agent, Sudo: s.Sudo}
	if s.Volume {
		d.SourceDir = contract.WorkspaceSourceDir
	}
	for _, v := range s.userVolumes() {
		d.UserDirs = append(d.UserDirs, v.Dir)
	}
	return d
}

// firewallData fills firewall.jsonc.tmpl.
type firewallData struct {
	box
	Domains, OptionalDomains, CIDRs []host
	GitHubMetaURL                   string
	GitHubKeys                      []string
	AllowLocalNetworks              bool
	Gateway                         bool
	ServicePorts                    []int
	InboundPorts                    []int
	VerifyReachable, VerifyBlocked  []string
}

// blockedProbe is a destination no preset allows; init-firewall checks it is
// refused after applying the rules.
const blockedProbe = "https://example.com"

func (s *spec) firewallData() firewallData {
	d := firewallData{
		box:           theBox,
		GitHubMetaURL: allowlist.DefaultGitHubMetaURL,
		Domains:       s.Domains, OptionalDomains: s.Optional, CIDRs: s.CIDRs, GitHubKeys: s.GitHubKeys,
		AllowLocalNetworks: len(s.Services) > 0,
		Gateway:            s.Gateway,
		InboundPorts:       s.Publish,
		VerifyReachable:    s.Verify, VerifyBlocked: []string{},
	}
	if d.InboundPorts == nil {
		d.InboundPorts = []int{}
	}
	if s.Gateway {
		for _, svc := range s.Services {
			d.ServicePorts = append(d.ServicePorts, svc.Port)
		}
	}
	if d.VerifyReachable == nil {
		d.VerifyReachable = []string{}
	}
	if len(s.Domains)+len(s.CIDRs) > 0 && !s.allows("example.com") {
		d.VerifyBlocked = []string{blockedProbe}
	}
	return d
}

// allows reports whether a required or optional name entry matches name.
func (s *spec) allows(name string) bool {
	for _, list := range [][]host{s.Domains, s.Optional} {
		for _, h := range list {
			if r, err := allowlist.ParseNameEntry(h.Name); err == nil && r.Pattern.Match(name) {
				return true
			}
		}
	}
	return false
}

// render makes every file except the init-firewall binaries, from scratch.
func (s *spec) render() ([]File, error) {
	var files []File
	add := func(path string, mode fs.FileMode, data []byte, err error) error {
		if err != nil {
			return fmt.Errorf("render %s: %w", path, err)
		}
		files = append(files, File{Path: path, Data: data, Mode: mode})
		return nil
	}
	dc, err := templates.Execute("devcontainer.json.tmpl", s.devcontainerData())
	if err := add("devcontainer.json", 0o644, dc, err); err != nil {
		return nil, err
	}
	df, err := templates.Execute("Dockerfile.tmpl", s.dockerfileData())
	if err := add("Dockerfile", 0o644, df, err); err != nil {
		return nil, err
	}
	fw, err := templates.Execute("firewall.jsonc.tmpl", s.firewallData())
	if err := add("firewall.jsonc", 0o644, fw, err); err != nil {
		return nil, err
	}
	if s.Vendor {
		gf, err := GatewayDockerfile(s.BaseImage, generatedMarker+" --vendor-gateway; `devbox init --force` regenerates it.")
		if err := add(vendorDir+"/Dockerfile", 0o644, gf, err); err != nil {
			return nil, err
		}
	}
	if s.compose() {
		cf, err := composeFile(s)
		if err := add("compose.yaml", 0o644, cf, err); err != nil {
			return nil, err
		}
		for _, svc := range s.Services {
			for _, f := range svc.Files {
				data, err := templates.Static(f.Name)
				if err := add(f.Name, 0o644, data, err); err != nil {
					return nil, err
				}
			}
		}
	}
	if s.Gateway {
		return files, nil // no feature: the gateway runs init-firewall
	}
	for _, f := range []struct {
		name string
		mode fs.FileMode
	}{{"devcontainer-feature.json", 0o644}, {"install.sh", 0o755}} {
		data, err := templates.Execute(f.name+".tmpl", theBox)
		if err := add(path.Join(contract.FirewallFeatureID, f.name), f.mode, data, err); err != nil {
			return nil, err
		}
	}
	return files, nil
}
