package generator

import (
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/go-units"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/buildinfo"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// Options are the choices of `devbox init`, as the user typed them; Init
// validates them.
type Options struct {
	// Workspace is the folder that gets .devcontainer/.
	Workspace string
	// Agent is claude, codex, gemini or none; empty means claude.
	Agent string
	// Languages are NAME[@VERSION] entries: node@22, python@system.
	Languages []string
	// Services are backing services: postgres, redis, mysql, mongodb.
	Services []string
	// ServiceImages override a service's image: NAME=REF.
	ServiceImages []string
	// Allow are extra allowlist entries: domains or CIDRs.
	Allow []string
	// Presets are extra allowlist presets; "none" drops the default ones.
	Presets []string
	// BaseImage is the Dockerfile's FROM; empty means debian:bookworm-slim.
	BaseImage string
	// User is the non-root user's name; empty means dev.
	User string
	// Sysctls are K=V kernel parameters for the dev container.
	Sysctls []string
	// Ulimits are NAME=SOFT[:HARD] limits for the dev container.
	Ulimits []string
	// GPU asks for the host's GPUs.
	GPU bool
	// SingleContainer generates the earlier layout: one container whose
	// root applies the firewall (and holds NET_ADMIN) through a local
	// feature. The default is the gateway layout: a compose project whose
	// gateway service owns the network and enforces the allowlist, with
	// dev joined to it and holding no network capability.
	SingleContainer bool
	// Publish are TCP ports of the box published on the host's loopback
	// (127.0.0.1) and allowed in by the firewall.
	Publish []string
	// CPUs and Memory limit the dev container ("2", "1.5"; "4g", "512m").
	CPUs   string
	Memory string
	// Force regenerates existing files (devcontainer.json is edited, not rewritten).
	Force bool
	// DryRun prints the files instead of writing them.
	DryRun bool
	// FirewallBinary is an init-firewall binary for the host architecture,
	// used instead of the embedded one where a binary is written: with
	// VendorGateway or SingleContainer.
	FirewallBinary string
	// GatewayImage is the gateway's image reference in compose.yaml; empty
	// means devbox's own (contract.GatewayImage of this version). A digest
	// (REF@sha256:...) pins a published image, which a teammate's engine
	// pulls.
	GatewayImage string
	// VendorGateway writes the gateway image's Dockerfile and init-firewall
	// binaries into .devcontainer/gateway/, and compose builds it: for teams
	// without a registry. The only layout that puts binaries in the
	// repository (besides SingleContainer's).
	VendorGateway bool
	// Version is devbox's version, which names the default gateway image;
	// empty means this binary's (buildinfo).
	Version string
	// HostArch is the architecture whose binary is required; empty means
	// the one devbox runs on.
	HostArch string
	// WorkspaceMode is where dev's workspace lives: "bind" (the host's
	// folder, the default) or "volume" (the box's own clone in a named
	// volume; the host shares no writable path with dev).
	WorkspaceMode string
	// Sudo gives the non-root user passwordless sudo in dev; allowed only
	// with the volume workspace.
	Sudo bool
	// Out receives the file listing of a dry run.
	Out io.Writer
}

// Defaults used when an option is empty.
const (
	DefaultAgent     = "claude"
	DefaultBaseImage = "debian:bookworm-slim"
	DefaultUser      = "dev"
)

// Workspace modes (Options.WorkspaceMode).
const (
	WorkspaceBind   = "bind"
	WorkspaceVolume = "volume"
)

// spec is Options validated and resolved: everything the files are made of.
type spec struct {
	Workspace    string
	Name         string // the workspace folder's base name
	Agent        *agent
	Features     []feature
	AptPackages  []string
	Extensions   []string
	Services     []service
	Domains      []host
	Optional     []host
	CIDRs        []host
	GitHubKeys   []string
	Verify       []string
	BaseImage    string
	User         string
	Sysctls      []keyValue
	Ulimits      []ulimit
	GPU          bool
	CPUs         string
	Memory       string
	MemoryBytes  int64
	HasGitHooks  bool
	HasGitConfig bool
	HasGit       bool
	GitFile      bool           // .git is a file: a linked worktree
	ReadOnly     []readOnlyPath // more workspace paths mounted read-only
	MountPoints  []string       // folders above them, mount points of their own
	HostArch     string
	FirewallBin  string
	Gateway      bool
	GatewayImage string // compose.yaml's gateway image, unless Vendor
	Vendor       bool   // .devcontainer/gateway/ holds the image's build
	Publish      []int
	GoVersion    string // installed by the Dockerfile from the Go module proxy
	Volume       bool   // the workspace is the box's own clone in a named volume
	Sudo         bool   // the user has passwordless sudo (Volume only)
}

// feature is a Dev Container feature and its options.
type feature struct {
	Ref     string
	Options map[string]string
}

// keyValue is a validated --sysctl.
type keyValue struct{ Key, Value string }

// ulimit is a validated --ulimit; -1 means unlimited.
type ulimit struct {
	Name       string
	Soft, Hard int64
}

// basePackages are installed in every image: the firewall needs iptables
// and iproute2; the rest is what an agent expects to find.
var basePackages = []string{"ca-certificates", "iptables", "iproute2", "procps", "less", "git", "curl"}

var (
	userPattern   = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	sysctlPattern = regexp.MustCompile(`^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$`)
	// Docker accepts only sysctls that are namespaced per container.
	sysctlPrefixes = []string{"net.", "kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."}
	ulimitNames    = []string{"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}
)

// resolve validates o and works out everything the files need. Every error
// it returns is an InputError naming the accepted values.
func resolve(o Options) (*spec, error) {
	s := &spec{Workspace: o.Workspace, BaseImage: o.BaseImage, User: o.User, GPU: o.GPU, HostArch: o.HostArch, FirewallBin: o.FirewallBinary}
	if s.Workspace == "" {
		s.Workspace = "."
	}
	abs, err := filepath.Abs(s.Workspace)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", s.Workspace, err)
	}
	s.Workspace, s.Name = abs, filepath.Base(abs)
	if s.BaseImage == "" {
		s.BaseImage = DefaultBaseImage
	}
	if _, err := reference.ParseNormalizedNamed(s.BaseImage); err != nil {
		return nil, inputErrorf("invalid --base-image %q: %v (expected an image reference such as debian:bookworm-slim)", s.BaseImage, err)
	}
	if s.User == "" {
		s.User = DefaultUser
	}
	if !userPattern.MatchString(s.User) || s.User == "root" {
		return nil, inputErrorf("invalid --user %q: expected a lower-case login name other than root (letters, digits, '_', '-'; at most 32)", s.User)
	}
	if s.HostArch == "" {
		s.HostArch = runtime.GOARCH
	}

	presetNames := []string{}
	name := o.Agent
	if name == "" {
		name = DefaultAgent
	}
	a, err := findAgent(name)
	if err != nil {
		return nil, err
	}
	apt := slices.Clone(basePackages)
	if a.Name != "" {
		s.Agent = &a
		presetNames = append(presetNames, a.Preset)
		s.Extensions = append(s.Extensions, a.Extensions...)
		apt = append(apt, "nodejs", "npm") // the agent's CLI is an npm package
	}
	presetNames = append(presetNames, defaultPresets...)

	seenLang := map[string]bool{}
	for _, entry := range splitList(o.Languages) {
		lname, version, _ := strings.Cut(entry, "@")
		l, err := findLanguage(lname)
		if err != nil {
			return nil, err
		}
		if seenLang[l.Name] {
			return nil, inputErrorf("language %q given twice in --lang", l.Name)
		}
		seenLang[l.Name] = true
		if version == "" {
			version = l.DefaultVersion
		}
		if !l.acceptVersion(version) {
			return nil, inputErrorf("unknown %s version %q in --lang %s: accepted values: %s (a patch level may follow, e.g. %s.1)",
				l.Name, version, entry, l.versionList(), l.DefaultVersion)
		}
		switch {
		case version == systemVersion:
			apt = append(apt, l.SystemPackages...)
		case l.InDockerfile:
			s.GoVersion = version
			apt = append(apt, "curl", "ca-certificates", "unzip")
		default:
			s.Features = append(s.Features, feature{Ref: l.Feature, Options: map[string]string{"version": version}})
		}
		s.Extensions = append(s.Extensions, l.Extensions...)
		presetNames = append(presetNames, l.Preset)
	}
	s.Gateway = !o.SingleContainer
	if s.Gateway { // the firewall lives in the gateway's image
		apt = slices.DeleteFunc(apt, func(p string) bool { return p == "iptables" })
	}
	s.AptPackages = dedupe(apt)
	s.Extensions = dedupe(s.Extensions)
	if err := s.resolveGateway(o); err != nil {
		return nil, err
	}
	if !s.Gateway {
		s.Features = append([]feature{{Ref: contract.FirewallFeatureRef, Options: map[string]string{}}}, s.Features...)
	}

	if err := s.resolveWorkspace(o); err != nil {
		return nil, err
	}
	if err := s.resolveServices(o); err != nil {
		return nil, err
	}
	if err := s.resolveAllowlist(o, presetNames); err != nil {
		return nil, err
	}
	if err := s.resolveLimits(o); err != nil {
		return nil, err
	}
	return s, nil
}

// resolveWorkspace checks --workspace and --sudo.
func (s *spec) resolveWorkspace(o Options) error {
	switch o.WorkspaceMode {
	case "", WorkspaceBind:
	case WorkspaceVolume:
		if !s.Gateway {
			return inputErrorf("--workspace volume needs the gateway layout: drop --single-container")
		}
		s.Volume = true
	default:
		return inputErrorf("invalid --workspace %q: expected %s (the host's folder, shared with the box) or %s (the box's own clone in a named volume)",
			o.WorkspaceMode, WorkspaceBind, WorkspaceVolume)
	}
	if o.Sudo && !s.Volume {
		return inputErrorf("--sudo needs --workspace volume: with the host's folder mounted in the box, root in the box " +
			"could plant setuid-root programs or device files in your repository, which would then work on the host")
	}
	s.Sudo = o.Sudo
	return nil
}

// resolveGateway works out where the gateway's image comes from.
func (s *spec) resolveGateway(o Options) error {
	switch {
	case o.SingleContainer && (o.VendorGateway || o.GatewayImage != ""):
		return inputErrorf("--single-container has no gateway: --vendor-gateway and --gateway-image apply to the gateway layout only")
	case o.VendorGateway && o.GatewayImage != "":
		return inputErrorf("--vendor-gateway builds the gateway's image from .devcontainer/gateway/, so --gateway-image %s would be ignored: give one or the other", o.GatewayImage)
	case o.FirewallBinary != "" && !o.SingleContainer && !o.VendorGateway:
		return inputErrorf("--firewall-binary applies with --vendor-gateway or --single-container only: in the default layout no binary is written, and `devbox up` builds the gateway image")
	}
	s.Vendor = o.VendorGateway
	if !s.Gateway || s.Vendor {
		return nil
	}
	s.GatewayImage = o.GatewayImage
	if s.GatewayImage == "" {
		version := o.Version
		if version == "" {
			version = buildinfo.Current().Version
		}
		s.GatewayImage = contract.GatewayImage(version)
		return nil
	}
	ref, err := reference.ParseNormalizedNamed(s.GatewayImage)
	if err != nil {
		return inputErrorf("invalid --gateway-image %q: %v (expected REF@sha256:DIGEST, such as registry.example/devbox/gateway@sha256:...)", s.GatewayImage, err)
	}
	if _, pinned := ref.(reference.Digested); !pinned {
		if _, tagged := ref.(reference.Tagged); !tagged {
			return inputErrorf("invalid --gateway-image %q: it names no tag or digest; pin the published image with REF@sha256:DIGEST", s.GatewayImage)
		}
	}
	return nil
}

func (s *spec) resolveServices(o Options) error {
	seen := map[string]bool{}
	for _, name := range splitList(o.Services) {
		svc, err := findService(name)
		if err != nil {
			return err
		}
		if !seen[svc.Name] {
			seen[svc.Name] = true
			s.Services = append(s.Services, svc)
			// Debian has no MongoDB shell; the others' clients come from apt.
			s.AptPackages = dedupe(append(s.AptPackages, svc.Clients...))
		}
	}
	for _, entry := range o.ServiceImages {
		name, ref, ok := strings.Cut(entry, "=")
		if !ok || ref == "" {
			return inputErrorf("invalid --service-image %q: expected NAME=IMAGE, e.g. postgres=pgvector/pgvector:pg16", entry)
		}
		if _, err := findService(name); err != nil {
			return err
		}
		i := slices.IndexFunc(s.Services, func(svc service) bool { return svc.Name == name })
		if i < 0 {
			return inputErrorf("--service-image %s: service %q is not in --services", entry, name)
		}
		if _, err := reference.ParseNormalizedNamed(ref); err != nil {
			return inputErrorf("invalid image %q in --service-image %s: %v", ref, entry, err)
		}
		s.Services[i].Image = ref
	}
	return nil
}

func (s *spec) resolveAllowlist(o Options, defaults []string) error {
	var explicit []string
	useDefaults := true
	for _, name := range splitList(o.Presets) {
		if name == noPresets {
			useDefaults = false
			continue
		}
		explicit = append(explicit, name)
	}
	chosen := explicit
	if useDefaults {
		chosen = append(slices.Clone(defaults), explicit...)
	}
	domains := newHostSet()
	optional := newHostSet()
	for _, name := range dedupe(chosen) {
		p, err := findPreset(name)
		if err != nil {
			return err
		}
		for _, h := range p.Domains {
			domains.add(h.Name, p.Name+": "+h.Why)
		}
		for _, h := range p.Optional {
			optional.add(h.Name, p.Name+": "+h.Why)
		}
		s.GitHubKeys = dedupe(append(s.GitHubKeys, p.GitHub...))
		if p.Verify != "" {
			s.Verify = append(s.Verify, p.Verify)
		}
	}
	cidrs := newHostSet()
	for _, entry := range splitAllow(o.Allow) {
		if allowlist.IsCIDREntry(entry) {
			r, err := allowlist.ParseCIDREntry(entry)
			if err != nil {
				return inputErrorf("invalid --allow %q: %v (%s)", entry, err, allowForms)
			}
			cidrs.add(r.String(), "--allow")
			continue
		}
		r, err := allowlist.ParseNameEntry(entry)
		if err != nil {
			return inputErrorf("invalid --allow %q: %v (%s)", entry, err, allowForms)
		}
		domains.add(r.String(), "--allow")
	}
	s.Domains, s.Optional, s.CIDRs = domains.list, optional.without(domains), cidrs.list
	return nil
}

// allowForms is what --allow takes, for its errors.
const allowForms = "expected a name such as example.com, a pattern such as *.example.com or **.example.com, " +
	"a CIDR such as 203.0.113.0/24, each with optional TCP ports: example.com:22, [2001:db8::/32]:80,443"

// portStartSysctl is the sysctl the gateway owns.
const portStartSysctl = "net.ipv4.ip_unprivileged_port_start"

func (s *spec) resolveLimits(o Options) error {
	for _, entry := range splitList(o.Publish) {
		p, err := strconv.Atoi(entry)
		if err != nil || p < 1 || p > 65535 {
			return inputErrorf("invalid --publish %q: a TCP port, 1-65535", entry)
		}
		if !slices.Contains(s.Publish, p) {
			s.Publish = append(s.Publish, p)
		}
	}
	for _, entry := range o.Sysctls {
		k, v, ok := strings.Cut(entry, "=")
		if !ok || v == "" || strings.ContainsAny(v, " \t\n,") || !sysctlPattern.MatchString(k) {
			return inputErrorf("invalid --sysctl %q: expected KEY=VALUE, e.g. net.ipv4.tcp_keepalive_time=600", entry)
		}
		if k == portStartSysctl && s.Gateway {
			return inputErrorf("invalid --sysctl %q: the gateway keeps %s at %d, as dev shares its network namespace and the agent must not bind its low ports", entry, portStartSysctl, contract.UnprivilegedPortStart)
		}
		if !slices.ContainsFunc(sysctlPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			return inputErrorf("invalid --sysctl %q: Docker sets only namespaced sysctls: %s*", entry, strings.Join(sysctlPrefixes, "*, "))
		}
		s.Sysctls = append(s.Sysctls, keyValue{k, v})
	}
	for _, entry := range o.Ulimits {
		u, err := parseUlimit(entry)
		if err != nil {
			return err
		}
		s.Ulimits = append(s.Ulimits, u)
	}
	if o.CPUs != "" {
		n, err := strconv.ParseFloat(o.CPUs, 64)
		if err != nil || n <= 0 || n > 1024 {
			return inputErrorf("invalid --cpus %q: expected a number of CPUs greater than 0, e.g. 2 or 1.5", o.CPUs)
		}
		s.CPUs = strconv.FormatFloat(n, 'f', -1, 64)
	}
	if o.Memory != "" {
		n, err := units.RAMInBytes(o.Memory)
		if err != nil || n < 6<<20 {
			return inputErrorf("invalid --memory %q: expected a size of at least 6m with unit b, k, m or g, e.g. 4g or 512m", o.Memory)
		}
		s.Memory, s.MemoryBytes = strings.ToLower(o.Memory), n
	}
	return nil
}

func parseUlimit(entry string) (ulimit, error) {
	bad := func(why string) (ulimit, error) {
		return ulimit{}, inputErrorf("invalid --ulimit %q: %s (expected NAME=SOFT:HARD, e.g. nofile=1024:4096; names: %s)", entry, why, strings.Join(ulimitNames, ", "))
	}
	name, limits, ok := strings.Cut(entry, "=")
	if !ok {
		return bad("no '='")
	}
	if !slices.Contains(ulimitNames, name) {
		return bad("unknown name " + strconv.Quote(name))
	}
	softS, hardS, hasHard := strings.Cut(limits, ":")
	if !hasHard {
		hardS = softS
	}
	soft, err1 := strconv.ParseInt(softS, 10, 64)
	hard, err2 := strconv.ParseInt(hardS, 10, 64)
	if err1 != nil || err2 != nil || soft < -1 || hard < -1 {
		return bad("limits must be integers (-1 for unlimited)")
	}
	if hard != -1 && (soft == -1 || soft > hard) {
		return bad("the soft limit exceeds the hard limit")
	}
	return ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

// splitList flattens repeated and comma-separated values, trimming blanks.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// splitAllow splits --allow values like splitList, except that the commas
// of a port list stay in their entry: "a.example.com:80,443,b.example.com"
// is two entries. A part that is a number continues the previous entry when
// that one ends with ports (":443" after a name, an IPv4 address or a
// bracketed IPv6 one).
func splitAllow(values []string) []string {
	var out []string
	for _, part := range splitList(values) {
		if n := len(out); n > 0 && isPortNumber(part) && endsWithPorts(out[n-1]) {
			out[n-1] += "," + part
			continue
		}
		out = append(out, part)
	}
	return out
}

// endsWithPorts reports whether entry ends with ":PORT[,PORT...]" that is
// a port list, not the last group of a bare IPv6 address.
func endsWithPorts(entry string) bool {
	i := strings.LastIndexByte(entry, ':')
	if i < 0 || !strings.HasPrefix(entry, "[") && strings.Count(entry, ":") > 1 {
		return false
	}
	for p := range strings.SplitSeq(entry[i+1:], ",") {
		if !isPortNumber(p) {
			return false
		}
	}
	return true
}

func isPortNumber(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// dedupe keeps the first occurrence of each string, in order.
func dedupe(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// hostSet collects allowlist entries in order, merging the reasons of a
// name listed by several presets.
type hostSet struct {
	list  []host
	index map[string]int
}

func newHostSet() *hostSet { return &hostSet{index: map[string]int{}} }

func (hs *hostSet) add(name, why string) {
	if i, ok := hs.index[name]; ok {
		hs.list[i].Why += "; " + why
		return
	}
	hs.index[name] = len(hs.list)
	hs.list = append(hs.list, host{name, why})
}

// without returns the entries not in other: a required name need not also
// be optional.
func (hs *hostSet) without(other *hostSet) []host {
	var out []host
	for _, h := range hs.list {
		if _, ok := other.index[h.Name]; !ok {
			out = append(out, h)
		}
	}
	return out
}
