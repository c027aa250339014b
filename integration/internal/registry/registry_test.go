package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/internal/runner"
)

// TestConfigStaysLocal guards the configuration against anything that would
// make the registry contact another host or listen beyond loopback.
func TestConfigStaysLocal(t *testing.T) {
	config := string(configYAML("/tmp/dbreg-x/storage", 5000))
	if !strings.Contains(config, "\n  addr: 127.0.0.1:5000\n") {
		t.Errorf("config does not listen on 127.0.0.1:5000 only:\n%s", config)
	}
	for _, key := range []string{"proxy", "remoteurl", "notifications", "redis", "auth", "tls", "debug", "s3", "gcs", "azure", "http://", "https://"} {
		if strings.Contains(config, key) {
			t.Errorf("config mentions %q:\n%s", key, config)
		}
	}
}

func TestPushedDigestRefusesNameWithoutTag(t *testing.T) {
	r := &Registry{run: refuseRunner{t}, port: 5000}
	for _, name := range []string{"dbreg/test", ":1", "dbreg/test:", "dbreg/test@sha256:00", "dbreg:1/test"} {
		if _, err := r.PushedDigest(context.Background(), "dbreg-test:1", name); err == nil || !strings.Contains(err.Error(), "is not repository:tag") {
			t.Errorf("PushedDigest(%q) = %v, want a refusal", name, err)
		}
	}
}

// TestStartErrorNamesCommandAndOutput starts a stand-in that exits at once:
// the error names the command line and what it printed, and nothing is left.
func TestStartErrorNamesCommandAndOutput(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "registry")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"configuration error: $2 is bad\" >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := start(context.Background(), Options{Runner: refuseRunner{t}}, bin)
	if err == nil {
		r.Close()
		t.Fatal("start of a binary that exits succeeded")
	}
	for _, want := range []string{bin + " serve ", "config.yml", "exited before answering", "configuration error: ", " is bad"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// refuseRunner fails the test when anything is run.
type refuseRunner struct{ t *testing.T }

func (f refuseRunner) Run(_ context.Context, c runner.Cmd) (runner.Result, error) {
	f.t.Errorf("ran %s", c)
	return runner.Result{}, errors.New("not run")
}

// TestIntegrationRegistry makes an image without pulling anything, pushes it
// to the loopback registry, removes it from the engine and pulls it back by
// digest (as an engine pulls the gateway image), with the registry's host
// spelled both localhost:PORT and 127.0.0.1:PORT.
func TestIntegrationRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real Docker Engine and a registry built from the Go module proxy): skipped under -short")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("integration test needs the Docker Engine, and there is no docker on PATH (.ci/setup installs it; -short skips these tests)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	run := runner.Local{}

	start := time.Now()
	reg, err := Start(ctx, Options{Runner: run})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("registry %s at %s, started in %s", Version, reg.Host(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := reg.Close(); err != nil {
			t.Error(err)
		}
	})

	const local, name, file = "dbreg-test:1", "dbreg/test:1", "dbreg.txt"
	content := randomText(t)
	docker(t, ctx, run, bytes.NewReader(oneFileTar(t, file, content)), "import", "-", local)
	id := strings.TrimSpace(docker(t, ctx, run, nil, "image", "inspect", "--format", "{{.Id}}", local))
	pushedTag := reg.Host() + "/" + name
	var digestRefs []string
	t.Cleanup(func() {
		// Every reference this test made, then the image itself; a missing
		// one is fine, the image may never have come back.
		for _, ref := range append([]string{local, pushedTag}, digestRefs...) {
			run.Run(context.Background(), runner.Cmd{Name: "docker", Args: []string{"rmi", ref}}) //nolint:errcheck
		}
		run.Run(context.Background(), runner.Cmd{Name: "docker", Args: []string{"rmi", id}})                  //nolint:errcheck
		run.Run(context.Background(), runner.Cmd{Name: "docker", Args: []string{"rm", "-f", "dbreg-test-c"}}) //nolint:errcheck
	})

	ref, err := reg.PushedDigest(ctx, local, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pushed %s", ref)
	repo, digest, _ := strings.Cut(ref, "@")
	if repo != reg.Host()+"/dbreg/test" {
		t.Fatalf("PushedDigest returned %s, want %s/dbreg/test@sha256:...", ref, reg.Host())
	}
	// The engine records the same digest the push printed.
	repoDigests := docker(t, ctx, run, nil, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", local)
	if !slices.Contains(strings.Fields(repoDigests), ref) {
		t.Errorf("RepoDigests of %s are %q, want %s among them", local, repoDigests, ref)
	}

	ref127 := "127.0.0.1:" + strings.TrimPrefix(reg.Host(), "localhost:") + "/dbreg/test@" + digest
	digestRefs = []string{ref, ref127}
	for _, pull := range digestRefs {
		// Gone from the engine, so the pull must fetch it from the registry.
		for _, r := range []string{local, pushedTag, ref, ref127} {
			run.Run(ctx, runner.Cmd{Name: "docker", Args: []string{"rmi", r}}) //nolint:errcheck // some are not there
		}
		if out, err := run.Run(ctx, runner.Cmd{Name: "docker", Args: []string{"image", "inspect", id}}); err == nil {
			t.Fatalf("image %s is still on the engine after removing its references: %s", id, out.Stdout)
		}
		docker(t, ctx, run, nil, "pull", pull)
		if got := strings.TrimSpace(docker(t, ctx, run, nil, "image", "inspect", "--format", "{{.Id}}", pull)); got != id {
			t.Fatalf("pulled %s has id %s, want %s (the pushed image)", pull, got, id)
		}
		docker(t, ctx, run, nil, "create", "--name", "dbreg-test-c", pull, "/none")
		got := docker(t, ctx, run, nil, "cp", "dbreg-test-c:/"+file, "-")
		docker(t, ctx, run, nil, "rm", "dbreg-test-c")
		if !strings.Contains(got, content) {
			t.Fatalf("/%s of the pulled %s does not hold %q: %q", file, pull, content, got)
		}
	}
}

// docker runs docker with args and returns its output, failing t on error.
func docker(t *testing.T, ctx context.Context, run runner.Runner, stdin io.Reader, args ...string) string {
	t.Helper()
	res, err := run.Run(ctx, runner.Cmd{Name: "docker", Args: args, Stdin: stdin})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Stdout)
}

// oneFileTar is a root file system holding only /name.
func oneFileTar(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, content); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// randomText makes each run's image distinct, so a leftover of a killed run
// can never pass for the pulled image.
func randomText(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "dbreg " + hex.EncodeToString(b) + "\n"
}
