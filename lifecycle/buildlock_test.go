package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/filelock"
	"github.com/devbox-sandbox/devbox/internal/runner"
	"github.com/devbox-sandbox/devbox/lifecycle/lifecycletest"
)

// TestUpInterruptedWhileWaitingForTheBuildLock has another `devbox up`
// hold the build lock: Ctrl-C (the context cancelled) ends this up's wait
// at once, and the CLI never runs.
func TestUpInterruptedWhileWaitingForTheBuildLock(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".devcontainer", "devcontainer.json")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(`{"image": "x", "features": {"./devbox-firewall": {}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	eng := &lifecycletest.Engine{ContainerListFunc: func(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
		return client.ContainerListResult{}, nil
	}}
	var shown syncBuffer
	m := &Manager{
		Out: &bytes.Buffer{}, Progress: &shown,
		Runner: runnerFunc(func(_ context.Context, c runner.Cmd) (runner.Result, error) {
			if len(c.Args) > 0 && c.Args[0] == "read-configuration" { // before the lock: a read
				return runner.Result{Stdout: []byte(`{"configuration": {}, "mergedConfiguration": {}}`)}, nil
			}
			t.Errorf("ran %s while another up held the build lock", c)
			return runner.Result{}, errors.New("unexpected")
		}),
		Getenv: envMapGetter{"XDG_STATE_HOME": t.TempDir()}.get,
		Connect: func(context.Context, func(string) string) (Engine, Endpoint, error) {
			return eng, Endpoint{Host: "unix:///var/run/docker.sock", Source: "default socket"}, nil
		},
	}
	if err := m.RecordTrust(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(m.buildLockPath()), 0o700); err != nil {
		t.Fatal(err)
	}
	held, err := filelock.TryLock(m.buildLockPath())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := m.Up(ctx, UpOptions{Workspace: dir})
		done <- err
	}()
	waitFor(t, func() bool { return strings.Contains(shown.String(), "waiting for another devbox up") }, done)

	cancel()
	start := time.Now()
	select {
	case err := <-done:
		t.Logf("up returned %v after the interrupt", time.Since(start).Round(time.Microsecond))
		var waited *LockWaitInterruptedError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &waited) {
			t.Errorf("up = %v, want a LockWaitInterruptedError wrapping context.Canceled", err)
		}
		if err != nil && !strings.Contains(err.Error(), "nothing was started") {
			t.Errorf("message %q does not say that nothing was started", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("up still waiting for the build lock 10s after the interrupt")
	}
}

// waitFor polls cond until it holds, failing if done says the operation
// under test returned first, or after 10s.
func waitFor(t *testing.T, cond func() bool, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("returned before the expected state: %v", err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatal("the expected state did not come within 10s")
		}
	}
}

type runnerFunc func(context.Context, runner.Cmd) (runner.Result, error)

func (f runnerFunc) Run(ctx context.Context, c runner.Cmd) (runner.Result, error) { return f(ctx, c) }

// syncBuffer is a bytes.Buffer safe to write from one goroutine while
// another reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
