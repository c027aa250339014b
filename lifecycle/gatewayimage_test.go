package lifecycle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/devbox-sandbox/devbox/generator/firewallbin"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
	"github.com/devbox-sandbox/devbox/lifecycle/lifecycletest"
)

// TestEnsureGatewayImage covers when `devbox up` builds the gateway image
// (absent, or a development image holding another init-firewall or base),
// pulls it (a release with nothing to build from), and leaves it alone (a
// release's image the engine has, a pinned digest, a vendored build).
func TestEnsureGatewayImage(t *testing.T) {
	bin := []byte("\x7fELF stand-in")
	const base = "registry.test/debian:bookworm"
	hashOf := func(base string, bin []byte) string {
		c, err := gatewayContext(base, "amd64", bin)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(c)
		return hex.EncodeToString(sum[:])
	}
	hash := hashOf(base, bin)
	devel := contract.GatewayImage("(devel)")
	release := contract.GatewayImage("v1.2.3")
	labels := func(h string) map[string]string { return map[string]string{contract.GatewayContextLabel: h} }
	noGo := &runner.RunError{Command: "go build", ExitCode: -1, Err: exec.ErrNotFound}
	tests := []struct {
		name     string
		version  string
		layout   devService
		embedded bool
		have     map[string]string // the engine's image's labels; nil: absent
		goErr    error             // what `go build` returns
		want     string            // the docker command run, "" for none
		wantErr  string
	}{
		{name: "absent, embedded", version: "(devel)", layout: devService{gatewayImage: devel}, embedded: true, want: "docker build --tag " + devel},
		{name: "same binary and base", version: "(devel)", layout: devService{gatewayImage: devel}, embedded: true, have: labels(hash)},
		{name: "another binary", version: "(devel)", layout: devService{gatewayImage: devel}, embedded: true, have: labels(hashOf(base, []byte("another"))), want: "docker build --tag " + devel},
		{name: "another base", version: "(devel)", layout: devService{gatewayImage: devel}, embedded: true, have: labels(hashOf("debian:trixie", bin)), want: "docker build --tag " + devel},
		{name: "release present", version: "v1.2.3", layout: devService{gatewayImage: release}, have: map[string]string{}},
		{name: "release absent, nothing to build from", version: "v1.2.3", layout: devService{gatewayImage: release}, goErr: noGo, want: "docker pull " + release},
		{name: "devel absent, nothing to build from", version: "(devel)", layout: devService{gatewayImage: devel}, goErr: noGo, wantErr: "no Go toolchain"},
		{name: "pinned digest", version: "(devel)", layout: devService{gatewayImage: "registry.test/gw@sha256:" + strings.Repeat("a", 64)}},
		{name: "another version's tag", version: "v1.2.4", layout: devService{gatewayImage: release}},
		{name: "vendored", version: "(devel)", layout: devService{gatewayBuild: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			saved := firewallbin.FS
			t.Cleanup(func() { firewallbin.FS = saved })
			firewallbin.FS = fstest.MapFS{}
			if tc.embedded {
				firewallbin.FS = fstest.MapFS{firewallbin.Name("amd64"): {Data: bin}}
			}
			eng := &lifecycletest.Engine{
				ImageInspectFunc: func(_ context.Context, ref string) (client.ImageInspectResult, error) {
					if tc.have == nil {
						return client.ImageInspectResult{}, errors.New("no such image: " + ref)
					}
					return client.ImageInspectResult{InspectResponse: image.InspectResponse{Config: &dockerspec.DockerOCIImageConfig{
						ImageConfig: ocispec.ImageConfig{Labels: tc.have}}}}, nil
				},
				ServerVersionFunc: func(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
					return client.ServerVersionResult{Arch: "amd64"}, nil
				},
			}
			var ran []string
			var buildCtx []byte
			m := &Manager{
				Version: tc.version, Progress: io.Discard,
				Getenv: envMapGetter{"XDG_STATE_HOME": t.TempDir(), GatewayBaseEnv: base}.get,
				Runner: runnerFunc(func(_ context.Context, c runner.Cmd) (runner.Result, error) {
					if c.Name == "go" && len(c.Args) > 0 && c.Args[0] == "build" {
						return runner.Result{}, tc.goErr
					}
					ran = append(ran, c.String())
					if c.Stdin != nil {
						buildCtx, _ = io.ReadAll(c.Stdin)
					}
					return runner.Result{}, nil
				}),
			}
			ws := Workspace{Dir: t.TempDir(), layout: &tc.layout}
			err := m.ensureGatewayImage(t.Context(), eng, Endpoint{}, ws)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to say %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(ran) > 0 {
					t.Fatalf("ran %q, want nothing", ran)
				}
				return
			}
			if len(ran) != 1 || !strings.HasPrefix(ran[0], tc.want) {
				t.Fatalf("ran %q, want %q", ran, tc.want)
			}
			if strings.HasPrefix(tc.want, "docker build") {
				checkGatewayBuild(t, ran[0], buildCtx, hash, base, bin)
			}
		})
	}
}

// checkGatewayBuild checks a `docker build` of the gateway image: its
// labels, and a context of the Dockerfile on base and the binary.
func checkGatewayBuild(t *testing.T, cmd string, buildCtx []byte, hash, base string, bin []byte) {
	t.Helper()
	if want := contract.GatewayContextLabel + "=" + hash; !strings.Contains(cmd, want) {
		t.Errorf("%s: no label %s", cmd, want)
	}
	if sum := sha256.Sum256(buildCtx); hex.EncodeToString(sum[:]) != hash {
		t.Errorf("the label's hash is not the context's")
	}
	files := fstest.MapFS{}
	tr := tar.NewReader(bytes.NewReader(buildCtx))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = &fstest.MapFile{Data: data, Mode: fs.FileMode(h.Mode)}
	}
	if f := files["Dockerfile"]; f == nil || !strings.Contains(string(f.Data), "FROM "+base+"\n") {
		t.Errorf("the context's Dockerfile is not on %s: %v", base, f)
	}
	if f := files[firewallbin.Name("amd64")]; f == nil || !bytes.Equal(f.Data, bin) || f.Mode != 0o755 {
		t.Errorf("the context's init-firewall: %v", f)
	}
}

// TestGatewayBinaryNotFromWorkspace: devbox never builds the gateway's
// init-firewall from a source tree the agent can write.
func TestGatewayBinaryNotFromWorkspace(t *testing.T) {
	saved := firewallbin.FS
	t.Cleanup(func() { firewallbin.FS = saved })
	firewallbin.FS = fstest.MapFS{}
	m := &Manager{Progress: io.Discard, Runner: runnerFunc(func(_ context.Context, c runner.Cmd) (runner.Result, error) {
		t.Errorf("ran %s", c)
		return runner.Result{}, nil
	})}
	src, err := firewallbin.SourceDir(t.Context(), m.Runner)
	if err != nil {
		t.Fatalf("this test binary does not know its source tree (built with -trimpath?): %v", err)
	}
	for _, dir := range []string{src, filepath.Dir(src), filepath.Join(src, "examples", "claude-code")} {
		_, err = m.gatewayBinary(t.Context(), Workspace{Dir: dir}, "amd64")
		if err == nil || !strings.Contains(err.Error(), "overlap") {
			t.Errorf("workspace %s, source %s: error %v", dir, src, err)
		}
	}
}
