package lifecycle

import (
	"os"
	"path/filepath"
	"runtime"
)

// platform is what devbox needs to know of the machine it runs on: its OS,
// its environment and which files exist. Tests describe another OS with it.
type platform struct {
	goos   string // as runtime.GOOS
	getenv func(string) string
	exists func(path string) bool
}

// hostPlatform is the machine devbox runs on.
func hostPlatform(getenv func(string) string) platform {
	return platform{goos: runtime.GOOS, getenv: getenv, exists: fileExists}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// home is the user's home folder, where the docker CLI looks for its
// configuration too (on Windows that is %USERPROFILE%, not $HOME).
func (p platform) home() string {
	name := "HOME"
	if p.goos == "windows" {
		name = "USERPROFILE"
	}
	if h := p.getenv(name); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// stateDir is where devbox keeps what it remembers of boxes, its logs and
// its build lock: $XDG_STATE_HOME/devbox when that is set, else the OS's
// place for per-user application state.
func (p platform) stateDir() string {
	if d := p.getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "devbox")
	}
	switch p.goos {
	case "windows":
		if d := p.getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "devbox")
		}
		return filepath.Join(p.home(), "AppData", "Local", "devbox")
	case "darwin":
		return filepath.Join(p.home(), "Library", "Application Support", "devbox")
	}
	return filepath.Join(p.home(), ".local", "state", "devbox")
}

// Where the engine listens when nothing names it.
const (
	defaultUnixSocket = "/var/run/docker.sock"
	defaultPipe       = "npipe:////./pipe/docker_engine"
)

// macSockets are the sockets of the engines people run on macOS, under the
// home folder, for when /var/run/docker.sock is not there (Docker Desktop
// without its "default Docker socket" setting, Colima, OrbStack). Each of
// them normally also installs a docker context, which wins over these.
var macSockets = []struct{ source, rel string }{
	{"Docker Desktop socket", filepath.Join(".docker", "run", "docker.sock")},
	{"Colima socket", filepath.Join(".colima", "default", "docker.sock")},
	{"OrbStack socket", filepath.Join(".orbstack", "run", "docker.sock")},
}

// defaultEndpoint is the engine's usual address on the OS: the named pipe
// on Windows, /var/run/docker.sock elsewhere, and on macOS without that
// socket the first of macSockets that exists.
func (p platform) defaultEndpoint() Endpoint {
	switch p.goos {
	case "windows":
		return Endpoint{Host: defaultPipe, Source: "default pipe"}
	case "darwin":
		if p.exists(defaultUnixSocket) {
			break
		}
		home := p.home()
		for _, s := range macSockets {
			if path := filepath.Join(home, s.rel); p.exists(path) {
				return Endpoint{Host: "unix://" + path, Source: s.source, fallback: true}
			}
		}
	}
	return Endpoint{Host: "unix://" + defaultUnixSocket, Source: "default socket"}
}
