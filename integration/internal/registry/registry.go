// Package registry runs a real container registry (distribution's `registry`,
// the one behind Docker Hub's open-source image) on loopback, so the
// integration tests can push an image and have the engine pull it by digest,
// as it pulls the gateway image from ghcr.io in real use. No public registry
// can be reached from the test machines, and none is ever configured: the
// registry stores blobs in a temporary folder, has no proxy (pull-through)
// remote, no notifications, no redis, no auth and no TLS, and listens on
// 127.0.0.1 only.
//
// The binary is built from the Go module proxy (go install ...@Version) once
// per machine into a cache folder and reused by later runs.
//
// It owns the registry process it starts, its temporary folder, and its
// cached binary under the cache folder; Push tags and pushes images the
// caller names, and never removes an image.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/devbox-sandbox/devbox/internal/runner"
)

// Module and Version pin the registry that is built: the newest v3 release
// the Go module proxy serves that builds with this repository's Go.
const (
	Module  = "github.com/distribution/distribution/v3"
	Version = "v3.1.2"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// Runner runs go and docker; runner.Local{} when nil.
	Runner runner.Runner
	// CacheDir keeps the built binary between runs; when empty,
	// devbox-test/ under os.UserCacheDir() (~/.cache on Linux), or under the
	// temporary folder when there is no home.
	CacheDir string
	// Log receives the registry's own output as it comes (may be nil; it is
	// kept for errors either way).
	Log io.Writer
}

// Registry is a running registry on 127.0.0.1.
type Registry struct {
	run  runner.Runner
	port int
	dir  string // config and storage, removed by Close
	cmd  *exec.Cmd
	line string        // cmd as a user could retype it, for errors
	log  string        // the registry's output, in dir
	done chan struct{} // closed when the process has exited

	closeOnce sync.Once
	closeErr  error
}

// Start builds the registry binary unless the cache holds it, starts it on a
// free loopback port with an empty store and returns once it answers.
func Start(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Runner == nil {
		opts.Runner = runner.Local{}
	}
	bin, err := Binary(ctx, opts.Runner, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	// Another process may take the free port between our probe and the
	// registry's bind; a few tries make that race harmless.
	for attempt := 1; ; attempt++ {
		r, err := start(ctx, opts, bin)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return r, err
		}
	}
}

func start(ctx context.Context, opts Options, bin string) (_ *Registry, err error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dbreg-")
	if err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	r := &Registry{run: opts.Runner, port: port, dir: dir, log: filepath.Join(dir, "registry.log"), done: make(chan struct{})}
	defer func() {
		if err != nil {
			r.Close() //nolint:errcheck // the start error is the one to report
		}
	}()
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, configYAML(filepath.Join(dir, "storage"), port), 0o600); err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	// Into a file, which errors read back while the registry still writes.
	logFile, err := os.Create(r.log)
	if err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	r.cmd = exec.Command(bin, "serve", config)
	r.line = runner.Cmd{Name: bin, Args: []string{"serve", config}}.String()
	// A clean environment: REGISTRY_* variables would override the config
	// file (a REGISTRY_PROXY_REMOTEURL would make it a pull-through cache of a
	// public registry), and OpenTelemetry's default exporter would try to
	// send traces to an OTLP collector.
	r.cmd.Env = []string{"OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true"}
	var w io.Writer = logFile
	if opts.Log != nil {
		w = io.MultiWriter(logFile, opts.Log)
	}
	r.cmd.Stdout, r.cmd.Stderr = w, w
	if err := r.cmd.Start(); err != nil {
		logFile.Close()
		r.cmd = nil
		close(r.done)
		return nil, fmt.Errorf("start registry: %s: %w", r.line, err)
	}
	go func() {
		r.cmd.Wait() //nolint:errcheck // the output says why it ended
		logFile.Close()
		close(r.done)
	}()
	if err := r.waitReady(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	return r, nil
}

// configYAML is the registry's whole configuration: nothing in it reaches
// beyond this machine. No debug server either (it would listen on another
// port), and no upload purging, which only matters for long-lived stores.
func configYAML(storage string, port int) []byte {
	return []byte(`version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ` + strconv.Quote(storage) + `
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:` + strconv.Itoa(port) + `
`)
}

// waitReady polls GET /v2/ until it answers 200, the process ends, ctx ends
// or timeout passes.
func (r *Registry) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Proxy: nil so an HTTP_PROXY in the environment is never consulted.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	url := "http://" + r.addr() + "/v2/"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err != nil {
			last = err.Error()
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		}
		select {
		case <-r.done:
			return fmt.Errorf("start registry: %s exited before answering GET %s: %s", r.line, url, r.output())
		case <-ctx.Done():
			return fmt.Errorf("start registry: %s did not answer GET %s with 200 (last: %s): %w; its output: %s", r.line, url, last, ctx.Err(), r.output())
		case <-tick.C:
		}
	}
}

// Host is the registry's name in image references: "localhost:PORT".
//
// Docker 20.10 pulls from it over plain HTTP without daemon configuration:
// its default insecure-registries list is 127.0.0.0/8, and a registry host
// is checked by the addresses its name resolves to, so "localhost:PORT" and
// "127.0.0.1:PORT" both work (TestIntegrationRegistry pushes with the first
// and pulls with both). localhost is the form Docker's own documentation
// uses for a local registry, so it is the one returned.
func (r *Registry) Host() string { return "localhost:" + strconv.Itoa(r.port) }

// addr is where the registry listens.
func (r *Registry) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Close stops the registry and removes everything it stored.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		var errs []error
		if r.cmd != nil {
			errs = append(errs, r.stop())
		}
		errs = append(errs, os.RemoveAll(r.dir))
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

// stop asks the registry to end, and kills it when it does not within a
// few seconds.
func (r *Registry) stop() error {
	select {
	case <-r.done:
		return nil
	default:
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.cmd.Process.Kill() //nolint:errcheck // it may have just ended
	}
	select {
	case <-r.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	if err := r.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("stop registry (pid %d): %w", r.cmd.Process.Pid, err)
	}
	<-r.done
	return nil
}

// freePort returns a TCP port nothing listens on at 127.0.0.1 right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// output is what the registry has printed so far, for errors.
func (r *Registry) output() string {
	b, err := os.ReadFile(r.log)
	if err != nil {
		return fmt.Sprintf("(cannot read its output: %v)", err)
	}
	return strings.TrimSpace(string(b))
}
