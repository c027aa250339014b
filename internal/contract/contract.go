package contract

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The local Dev Container feature the generator writes next to
// devcontainer.json. Its entrypoint applies the firewall as root at every
// container start, and devbox refuses a configuration without it.
const (
	// FirewallFeatureID is the feature's id, and the name of its folder
	// in .devcontainer/.
	FirewallFeatureID = "devbox-firewall"
	// FirewallFeatureRef is how devcontainer.json's "features" names it
	// (a local feature is a path relative to devcontainer.json).
	FirewallFeatureRef = "./" + FirewallFeatureID
)

// Paths inside the image. The Dockerfile creates them root-owned, the
// feature's install.sh checks them, init-firewall reads and writes them,
// and the host looks at the run directory's markers from outside.
const (
	// FirewallBinary is where the image installs init-firewall; it is the
	// feature's entrypoint.
	FirewallBinary = "/usr/local/sbin/init-firewall"
	// ConfigDir holds the allowlist and the optional GitHub token
	// (root:root 0755).
	ConfigDir = "/etc/devbox"
	// ConfigPath is the allowlist (root:root 0644), a copy of
	// .devcontainer/firewall.jsonc made at build time.
	ConfigPath = ConfigDir + "/firewall.jsonc"
	// TokenFile is the only place a GitHub token is read from.
	TokenFile = ConfigDir + "/github-token"
	// CacheDir keeps the last good answers of the GitHub and AWS sources
	// (root:root 0700).
	CacheDir = "/var/lib/devbox"
	// RunDir holds the status markers; only init-firewall writes it
	// (root:root 0755).
	RunDir = "/run/devbox"
)

// Status markers: init-firewall removes both first thing at every run and
// writes one of them, atomically, when it is done. The host reads only their
// modification time and the failed marker's "error".
const (
	// ReadyMarkerName is the marker of a firewall applied and verified,
	// in RunDir.
	ReadyMarkerName = "firewall.ready"
	// FailedMarkerName is the marker of a failed run (the box stays
	// closed), in RunDir.
	FailedMarkerName = "firewall.failed"
	// ReadyMarker is the ready marker's path in the box.
	ReadyMarker = RunDir + "/" + ReadyMarkerName
	// FailedMarker is the failed marker's path in the box.
	FailedMarker = RunDir + "/" + FailedMarkerName
)

// FirewallTimeout is how long anything waits for the firewall of a
// container start to report before refusing the box: the host before exec,
// shell, up and start, and the generated postStartCommand inside the box.
const FirewallTimeout = 120 * time.Second

// FirewallWait spells FirewallTimeout in whole seconds ("120s"), as the
// generated postStartCommand and the help text give it.
func FirewallWait() string {
	return strconv.FormatInt(int64(FirewallTimeout/time.Second), 10) + "s"
}

// StatusCommand is the command the generated devcontainer.json runs as its
// postStartCommand: init-firewall waits in the box for the firewall of the
// current start, so no tool starts before it is applied.
func StatusCommand() string {
	return FirewallBinary + " status --wait " + FirewallWait()
}

// The Dev Containers CLI devbox drives and is tested with. .ci/setup (shell)
// and the README spell the version too; a test keeps them in step.
const (
	// CLIPackage is the CLI's npm package.
	CLIPackage = "@devcontainers/cli"
	// CLIVersion is the version devbox is tested with.
	CLIVersion = "0.89.0"
	// CLIInstall is the command that installs that version.
	CLIInstall = "npm install -g " + CLIPackage + "@" + CLIVersion
)

// CapabilityName is a capability as Docker reads it: any case, CAP_
// optional ("cap_net_raw" is NET_RAW).
func CapabilityName(c string) string { return strings.TrimPrefix(strings.ToUpper(c), "CAP_") }

// NetworkCapability reports whether the capability c reaches a network
// namespace's configuration (NET_ADMIN, NET_RAW, SYS_ADMIN or ALL): in the
// gateway layout dev shares the gateway's namespace, so root in dev holding
// one could change the gateway's rules or forge its socket mark.
func NetworkCapability(c string) bool {
	switch CapabilityName(c) {
	case "NET_ADMIN", "NET_RAW", "SYS_ADMIN", "ALL":
		return true
	}
	return false
}

// The compose layout of every box: the gateway owns the network namespace
// and enforces the allowlist; dev, the agent's container, joins it with
// `network_mode: service:gateway` and holds no network capability.
const (
	// GatewayService is the compose service of the gateway container.
	GatewayService = "gateway"
	// DevService is the compose service the agent works in.
	DevService = "dev"
	// GatewayArg is init-firewall's subcommand that runs as the gateway's
	// main process: deny-all first, then apply and verify, then stay up.
	GatewayArg = "gateway"
	// GatewayMark is the socket mark of the gateway's own traffic (its
	// lookups and fetches). A socket mark needs CAP_NET_ADMIN, or
	// CAP_NET_RAW since Linux 5.17; dev has neither, so dev cannot forge it.
	GatewayMark = 0x6462780a
	// UnprivilegedPortStart is the value the gateway keeps for
	// net.ipv4.ip_unprivileged_port_start (Docker sets 0): dev shares the
	// gateway's loopback, and must not bind its low ports as a non-root user.
	UnprivilegedPortStart = 1024
)

// GatewayHealthcheck is the gateway's healthcheck: it passes once the
// firewall of the current start is applied and verified (it reads the
// markers; it probes nothing).
func GatewayHealthcheck() []string {
	return []string{"CMD", FirewallBinary, "status"}
}

// The gateway's image: init-firewall and iptables on a small Debian base,
// the same for every workspace. compose.yaml names it by tag; `devbox up`
// builds it into the local engine when the engine lacks it, and a teammate
// without devbox pulls the published one (or a digest the workspace pins).
const (
	// GatewayImageRepo is where the gateway image is published.
	GatewayImageRepo = "ghcr.io/devbox-sandbox/gateway"
	// GatewayDevelTag is the tag of a gateway image built by a devbox that
	// is not a release: it is never published, and devbox rebuilds it when
	// what it would build differs (GatewayContextLabel).
	GatewayDevelTag = "devel"
	// GatewayContextLabel is the image label holding the SHA-256 of the
	// build context (the Dockerfile, with its base, and init-firewall) of
	// a gateway image devbox built.
	GatewayContextLabel = "dev.devbox.gateway.context.sha256"
	// GatewayConfigDir is where the gateway sees the workspace's
	// .devcontainer/, read-only: init-firewall reads the allowlist there at
	// every start, so an edit to firewall.jsonc takes effect at the next
	// start of the gateway, without a rebuild. A folder rather than the file
	// alone: a bind-mounted file keeps the inode it had, and editors (and
	// devbox init) replace firewall.jsonc by renaming a new file over it.
	GatewayConfigDir = "/etc/devbox/workspace"
	// GatewayConfigPath is the allowlist the gateway reads.
	GatewayConfigPath = GatewayConfigDir + "/firewall.jsonc"
)

// The gateway's audit log and its control socket: both live only in the
// gateway's file system, which dev does not share. The socket is a path,
// never an abstract socket: dev shares the gateway's network namespace, and
// with it every abstract unix socket.
const (
	// AuditDir holds the audit log (JSON lines, rotated); compose mounts the
	// volume AuditVolume there, in the gateway alone.
	AuditDir = "/var/log/devbox"
	// AuditLog is the current audit log; rotated files are AuditLog + ".1" ...
	AuditLog = AuditDir + "/audit.jsonl"
	// AuditCounts holds the gateway's running totals (names allowed and
	// refused, packets refused), rewritten every second or so while they
	// change; `devbox status` reads them.
	AuditCounts = RunDir + "/" + AuditCountsName
	// AuditCountsName is AuditCounts' name in RunDir.
	AuditCountsName = "audit.counts.json"
	// AuditVolume is the compose volume that keeps the audit log across
	// restarts of the gateway.
	AuditVolume = "devbox-audit"
	// ControlSocket is where the running gateway takes commands (live
	// allow/deny, audit mode). Only root in the gateway can open it; the
	// host reaches it through an Engine API exec of FirewallBinary.
	ControlSocket = RunDir + "/control.sock"
	// AuditMarkerName is the file, in RunDir, that says audit mode is on:
	// its modification time is when audit mode ends by itself (the
	// kernel's timeout). The gateway writes it at `ctl audit` and removes
	// it at the end and at each start; the host reads its time with one
	// HEAD request (status, exec), as it does the firewall markers.
	AuditMarkerName = "audit.until"
	// AuditMarker is the audit marker's path in the gateway.
	AuditMarker = RunDir + "/" + AuditMarkerName
	// AuditNFLogGroup is the NFLOG group that receives the first packet of
	// every connection let through by audit mode; rejected packets go to
	// firewall.DefaultNFLogGroup (100).
	AuditNFLogGroup = 101
)

// releaseVersion is a devbox release: v1.2.3, or a pre-release such as
// v1.2.3-rc.1; not `git describe` output (v1.2.3-4-gabcdef), a Go
// pseudo-version or a dirty tree.
var releaseVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-(alpha|beta|rc)(\.[0-9]+)?)?$`)

// IsRelease reports whether version is a devbox release.
func IsRelease(version string) bool { return releaseVersion.MatchString(version) }

// GatewayImage is the gateway image of devbox version: its release tag,
// or GatewayDevelTag for any other build.
func GatewayImage(version string) string {
	if IsRelease(version) {
		return GatewayImageRepo + ":" + version
	}
	return GatewayImageRepo + ":" + GatewayDevelTag
}

// The volume workspace (`devbox init --workspace volume`): the box works on
// its own clone in a named volume, filled on dev's first start from the
// host's .git, which dev sees read-only under a folder only root can enter.
const (
	// WorkspaceVolume is the compose volume holding the box's clone,
	// mounted at the workspace folder in dev.
	WorkspaceVolume = "devbox-workspace"
	// WorkspaceSourceDir is the root-only (0700) folder of the image under
	// which the host's .git is mounted read-only.
	WorkspaceSourceDir = "/var/lib/devbox-source"
	// WorkspaceSource is the clone's source in dev: the host's .git.
	WorkspaceSource = WorkspaceSourceDir + "/git"
	// HostRemote names the host's branches in the box's clone
	// (refs/remotes/host/*); the remote itself is not configured.
	HostRemote = "host"
)
