// Package lifecycle runs devbox environments on a Docker Engine: up, exec,
// shell, start, stop, down, reset, status and doctor.
//
// It owns finding a workspace's containers (by the labels the Dev Containers
// CLI and VS Code set: devcontainer.local_folder and devcontainer.config_file,
// plus com.docker.compose.project for compose configs), the state devbox
// keeps per container in its state folder (see below), and the check of the
// firewall's ready marker (/run/devbox/firewall.ready) before anything runs in
// a box.
//
// The gateway layout: a box is a compose project whose gateway container
// (com.docker.compose.service=gateway) owns the network namespace and runs
// the firewall as its main process; the dev container joins that namespace.
// The markers are then read in the gateway, against the gateway's own
// start. A gateway that is not running leaves the box without a firewall
// and dev without a network: exec refuses, with the last lines of its log.
// A `docker restart` of the gateway leaves dev in the old namespace with
// a closed loopback only; dev started before the gateway's current start is
// "stranded": exec and status report it, up and start restart dev. start
// starts the services, then the gateway, waits for its firewall, then dev
// (docker start ignores compose's depends_on); stop goes the other way. A
// box without a gateway (made before the layout) keeps its firewall, and
// its markers, in dev.
//
// `up` builds on the `devcontainer` CLI (run through internal/runner) so that
// devbox, the CLI and VS Code agree on which container belongs to a
// workspace. Everything else talks to the engine through the narrow Engine
// interface (github.com/moby/moby/client underneath), so no Node process is
// started per exec.
//
// The engine is found the way the docker CLI finds it: DOCKER_HOST, else
// DOCKER_CONTEXT, else the currentContext of $DOCKER_CONFIG/config.json
// (~/.docker/config.json), else the OS's default: the named pipe on
// Windows, /var/run/docker.sock elsewhere, and on macOS without that socket
// Docker Desktop's, Colima's or OrbStack's socket in the home folder (then
// given to the devcontainer CLI as DOCKER_HOST). With a remote engine, bind
// mounts (the workspace itself) resolve on the engine's host, not on this
// machine: the workspace path must exist there.
//
// State: after a successful `up`, devbox records per workspace (one small
// JSON file under boxes/ in its state folder: $XDG_STATE_HOME/devbox when
// set, else ~/.local/state/devbox, ~/Library/Application Support/devbox on
// macOS, %LOCALAPPDATA%\devbox on Windows) the container ID, the remote
// user and workspace folder, the user's environment as the CLI's
// userEnvProbe would find it (probed once, merged with remoteEnv), and two
// fingerprints of .devcontainer/: a stat stamp (names, sizes, modes,
// mtimes) and a content hash. `up` on a running box compares the stamp, and
// the hash only when the stamp moved, so an unchanged box costs one inspect
// and one marker check, without Node. No state (a container made by VS Code
// or the CLI) means `devcontainer up` runs, and the state is recorded then.
// The cached environment is refreshed by the next `up` that runs the CLI
// (or `up --rebuild`); edits to shell startup files inside a running box
// are not seen before that.
//
// Trust (trust.go, settings.go, project.go): per workspace, a record under
// trust/ in the state folder of every file the configuration refers to
// (.devcontainer/ and the files devcontainer.json and the compose files
// name outside it), with hashes and small texts for a diff. Up refuses a
// workspace with no record or a changed one (UntrustedError) until
// ReviewTrust has shown it and AcceptTrust recorded it; RecordTrust records
// devbox's own writes. Before building, up reads the CLI's merged
// configuration and compose's, and refuses what features, the image's
// label or the files add that devbox does not set (PrivilegeError). It
// passes COMPOSE_PROJECT_NAME to the CLI, derived as the CLI derives it
// for VS Code.
//
// It returns data and does not render: each operation returns a result
// (BoxStatus, DoctorReport, UpResult, DownResult, ...) or an error, and the
// command (cmd/devbox/app) turns them into tables, JSON and messages. It
// writes to two kinds of stream only, both given by the caller: the
// standard streams of the command Exec and Shell run in the box
// (Manager.In, Out, Err), and Manager.Progress, where Up shows the
// devcontainer CLI's log as it comes and each wait is announced
// ("devbox: waiting for the firewall of ..."). It never writes to the
// process's own os.Stdout or os.Stderr.
//
// Volume workspaces (`devbox init --workspace volume`): Pull (`devbox pull`
// and `devbox diff`) brings the box's work into the host's repository as a
// git bundle made in the box, read through an exec's stdout under a size
// and time cap and treated as hostile: its header parsed by package
// gitsafe, its pack indexed by `git index-pack --strict`, its refs checked
// and set under refs/devbox/ only, every host git run without hooks or
// fsmonitor, and all box text sanitised. Push sends a host branch the other
// way, into the box's refs/remotes/host/. Reset and Down with volumes name
// the box's work they would delete and refuse it unasked.
//
// It must not write into a workspace's .devcontainer/ (the generator owns
// those files; ChangePolicy runs the edit its caller gives) nor touch the
// firewall rules (the in-container init-firewall owns them); it reads the
// markers init-firewall writes, and asks the running gateway for live
// changes only through GatewayCommand (`init-firewall ctl`, Engine API).
// Audit mode's warning goes to Manager.Err.
package lifecycle
