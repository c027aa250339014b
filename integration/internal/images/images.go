// Package images makes the local images the integration tests run on. No
// registry can be reached, so Debian base images are made with debootstrap
// (images/make-base.sh) and the service images are stand-ins for the official
// postgres, redis and mysql images, built from a base with Debian's packages
// (MariaDB for mysql).
//
// It owns only images tagged devbox-test/...; it never removes an image, so
// builds are shared between tests and runs through Docker's layer cache.
package images

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/devbox-sandbox/devbox/internal/runner"
)

// Tags of the images the tests use.
const (
	Bookworm = "devbox-test/debian:bookworm"
	Trixie   = "devbox-test/debian:trixie"
	Postgres = "devbox-test/postgres:15"
	Redis    = "devbox-test/redis:7"
	MySQL    = "devbox-test/mysql:8"
)

// recipe says how to make one image: a base from a Debian suite, or a
// Dockerfile directory built FROM another image.
type recipe struct {
	suite string // debootstrap suite, for base images
	dir   string // Dockerfile directory under the images folder
	from  string // tag passed as the BASE build argument
}

var recipes = map[string]recipe{
	Bookworm: {suite: "bookworm"},
	Trixie:   {suite: "trixie"},
	Postgres: {dir: "postgres", from: Bookworm},
	Redis:    {dir: "redis", from: Bookworm},
	MySQL:    {dir: "mysql", from: Bookworm},
}

// Maker builds missing images, each at most once per process, so tests and a
// background prefetch can ask for the same image at the same time.
type Maker struct {
	// Dir is the folder holding make-base.sh and the service Dockerfiles.
	Dir    string
	Runner runner.Runner
	// Log receives the build output as it comes (may be nil).
	Log io.Writer

	mu   sync.Mutex
	done map[string]*result
}

type result struct {
	once sync.Once
	err  error
}

// Ensure makes tag (and the image it is built from) unless it exists.
func (m *Maker) Ensure(ctx context.Context, tag string) error {
	m.mu.Lock()
	if m.done == nil {
		m.done = map[string]*result{}
	}
	r := m.done[tag]
	if r == nil {
		r = &result{}
		m.done[tag] = r
	}
	m.mu.Unlock()
	r.once.Do(func() { r.err = m.make(ctx, tag) })
	return r.err
}

func (m *Maker) make(ctx context.Context, tag string) error {
	rc, ok := recipes[tag]
	if !ok {
		return fmt.Errorf("make image %s: no recipe (known: %s)", tag, strings.Join(slices.Sorted(maps.Keys(recipes)), ", "))
	}
	if m.exists(ctx, tag) {
		return nil
	}
	var cmd runner.Cmd
	if rc.suite != "" {
		cmd = runner.Cmd{Name: filepath.Join(m.Dir, "make-base.sh"), Args: []string{rc.suite, tag}}
	} else {
		if err := m.Ensure(ctx, rc.from); err != nil {
			return fmt.Errorf("make image %s: %w", tag, err)
		}
		cmd = runner.Cmd{Name: "docker", Args: []string{"build", "-t", tag, "--build-arg", "BASE=" + rc.from, filepath.Join(m.Dir, rc.dir)}}
	}
	cmd.Stdout, cmd.Stderr = m.Log, m.Log
	if _, err := m.Runner.Run(ctx, cmd); err != nil {
		return fmt.Errorf("make image %s: %w", tag, err)
	}
	return nil
}

func (m *Maker) exists(ctx context.Context, tag string) bool {
	_, err := m.Runner.Run(ctx, runner.Cmd{Name: "docker", Args: []string{"image", "inspect", "--format", "{{.Id}}", tag}})
	return err == nil
}
