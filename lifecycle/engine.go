package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
)

// Engine is the part of the Docker Engine API devbox uses. *client.Client
// implements it; tests use a fake.
type Engine interface {
	Ping(ctx context.Context, opts client.PingOptions) (client.PingResult, error)
	ServerVersion(ctx context.Context, opts client.ServerVersionOptions) (client.ServerVersionResult, error)
	ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, id string, opts client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerCreate(ctx context.Context, opts client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, opts client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerStop(ctx context.Context, id string, opts client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRestart(ctx context.Context, id string, opts client.ContainerRestartOptions) (client.ContainerRestartResult, error)
	ContainerRemove(ctx context.Context, id string, opts client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerWait(ctx context.Context, id string, opts client.ContainerWaitOptions) client.ContainerWaitResult
	ContainerLogs(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ContainerStatPath(ctx context.Context, id string, opts client.ContainerStatPathOptions) (client.ContainerStatPathResult, error)
	CopyFromContainer(ctx context.Context, id string, opts client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
	ExecCreate(ctx context.Context, id string, opts client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, opts client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, opts client.ExecInspectOptions) (client.ExecInspectResult, error)
	ExecResize(ctx context.Context, execID string, opts client.ExecResizeOptions) (client.ExecResizeResult, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageRemove(ctx context.Context, image string, opts client.ImageRemoveOptions) (client.ImageRemoveResult, error)
	NetworkList(ctx context.Context, opts client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, id string, opts client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	VolumeList(ctx context.Context, opts client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, id string, opts client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
	Close() error
}

// Endpoint is where devbox looked for the engine and why.
type Endpoint struct {
	Host    string // for example unix:///var/run/docker.sock or tcp://127.0.0.1:2375
	Source  string // DOCKER_HOST, `context "NAME"`, "default socket", "default pipe", or the engine whose socket was found
	TLSPath string // directory holding ca.pem/cert.pem/key.pem, if any

	// fallback: found by devbox's own search, where the docker CLI does
	// not look; the CLIs devbox runs are told with DOCKER_HOST.
	fallback bool
}

// cliEnv is the environment the devcontainer and docker CLIs need to reach
// this same engine.
func (e Endpoint) cliEnv() []string {
	if e.fallback {
		return []string{"DOCKER_HOST=" + e.Host}
	}
	return nil
}

// String implements fmt.Stringer.
func (e Endpoint) String() string { return fmt.Sprintf("%s (%s)", e.Host, e.Source) }

// ResolveEndpoint finds the engine the way the docker CLI (and so the
// devcontainer CLI, which runs it) does: DOCKER_HOST, else DOCKER_CONTEXT,
// else the currentContext of $DOCKER_CONFIG/config.json, else the OS's
// default: the named pipe on Windows, /var/run/docker.sock elsewhere, and on
// macOS, when that socket is missing, Docker Desktop's, Colima's or
// OrbStack's socket in the home folder.
func ResolveEndpoint(getenv func(string) string) (Endpoint, error) {
	return resolveEndpoint(hostPlatform(getenv))
}

func resolveEndpoint(p platform) (Endpoint, error) {
	getenv := p.getenv
	dir := dockerConfigDir(p)
	if h := getenv("DOCKER_HOST"); h != "" {
		ep := Endpoint{Host: h, Source: "DOCKER_HOST", TLSPath: getenv("DOCKER_CERT_PATH")}
		if ep.TLSPath == "" && getenv("DOCKER_TLS_VERIFY") != "" {
			ep.TLSPath = dir // the docker CLI's default place for ca/cert/key.pem
		}
		return ep, nil
	}
	name := getenv("DOCKER_CONTEXT")
	if name == "" {
		var cfg struct {
			CurrentContext string `json:"currentContext"`
		}
		if data, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
			if err := json.Unmarshal(data, &cfg); err != nil {
				return Endpoint{}, fmt.Errorf("read docker config %s: %w", filepath.Join(dir, "config.json"), err)
			}
		}
		name = cfg.CurrentContext
	}
	if name == "" || name == "default" {
		return p.defaultEndpoint(), nil
	}
	return contextEndpoint(dir, name)
}

// contextEndpoint reads the docker endpoint of context name from the
// context store: contexts/meta/<sha256(name)>/meta.json.
func contextEndpoint(dir, name string) (Endpoint, error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	path := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: %w (list contexts with `docker context ls`)", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host string `json:"Host"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: parse %s: %w", name, path, err)
	}
	ep := meta.Endpoints["docker"]
	if ep.Host == "" {
		return Endpoint{}, fmt.Errorf("docker context %q has no docker endpoint (%s)", name, path)
	}
	e := Endpoint{Host: ep.Host, Source: fmt.Sprintf("context %q", name)}
	if tls := filepath.Join(dir, "contexts", "tls", id, "docker"); isDir(tls) {
		e.TLSPath = tls
	}
	return e, nil
}

func dockerConfigDir(p platform) string {
	if d := p.getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	return filepath.Join(p.home(), ".docker")
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// UnreachableError says the engine could not be reached, where devbox
// looked, and what to do about it.
type UnreachableError struct {
	Endpoint Endpoint
	Err      error
}

// Error implements error.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the Docker Engine at %s: %v\n"+
		"  start it (for example `sudo systemctl start docker` or `sudo dockerd &`),\n"+
		"  or point DOCKER_HOST (or `docker context use NAME`) at a running engine", e.Endpoint, e.Err)
}

// Unwrap returns the underlying error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Connect opens a client for the engine getenv points at, negotiates the API
// version (minimum 1.40) and checks that the engine answers.
func Connect(ctx context.Context, getenv func(string) string) (Engine, Endpoint, error) {
	ep, err := ResolveEndpoint(getenv)
	if err != nil {
		return nil, ep, fmt.Errorf("find the Docker Engine: %w", err)
	}
	if strings.HasPrefix(ep.Host, "ssh://") {
		return nil, ep, fmt.Errorf("the Docker Engine at %s is reached over ssh, which devbox does not speak itself:\n"+
			"  forward its socket (`ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST &`) and set DOCKER_HOST=unix:///tmp/docker.sock", ep)
	}
	opts := []client.Opt{client.WithHost(ep.Host), client.WithAPIVersionNegotiation()}
	if ep.TLSPath != "" {
		opts = append(opts, client.WithTLSClientConfig(
			filepath.Join(ep.TLSPath, "ca.pem"), filepath.Join(ep.TLSPath, "cert.pem"), filepath.Join(ep.TLSPath, "key.pem")))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, ep, fmt.Errorf("connect to the Docker Engine at %s: %w", ep, err)
	}
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		if errors.Is(err, context.Canceled) {
			return nil, ep, err
		}
		return nil, ep, &UnreachableError{Endpoint: ep, Err: err}
	}
	return c, ep, nil
}
