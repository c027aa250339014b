package lifecycle

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/generator"
	"github.com/devbox-sandbox/devbox/generator/firewallbin"
	"github.com/devbox-sandbox/devbox/internal/buildinfo"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// GatewayBaseEnv names the base image devbox builds its gateway image on,
// instead of generator.DefaultBaseImage: for a mirror, or a machine that
// cannot pull (the integration tests build theirs locally).
const GatewayBaseEnv = "DEVBOX_GATEWAY_BASE_IMAGE"

// GatewayImageError says the gateway image could not be had, in one line
// that says what to do.
type GatewayImageError struct {
	Image string
	Why   string
	Err   error
}

// Error implements error.
func (e *GatewayImageError) Error() string {
	msg := fmt.Sprintf("gateway image %s: %s", e.Image, e.Why)
	if e.Err != nil {
		msg += "\n  " + strings.ReplaceAll(e.Err.Error(), "\n", "\n  ")
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *GatewayImageError) Unwrap() error { return e.Err }

// version is devbox's version, which names its gateway image.
func (m *Manager) version() string {
	return cmp.Or(m.Version, buildinfo.Current().Version)
}

// ensureGatewayImage makes sure the engine has the gateway image the
// workspace's compose files name, when it is devbox's own: built here into
// the local engine, from the init-firewall this devbox carries or builds
// from its source, and never pulled (a locally built image has no registry
// digest, so compose.yaml names it by tag). A release's image that the
// engine has is used as it is; a development build's is rebuilt when its
// build context (the Dockerfile with its base, and init-firewall) differs
// from the one its label records. Any other image (a pinned digest, another version's tag) and a
// vendored gateway are compose's to pull or build.
func (m *Manager) ensureGatewayImage(ctx context.Context, eng Engine, ep Endpoint, ws Workspace) error {
	if ws.layout == nil || ws.layout.gatewayBuild || ws.layout.gatewayImage == "" {
		return nil
	}
	version := m.version()
	ref := contract.GatewayImage(version)
	if ws.layout.gatewayImage != ref {
		return nil
	}
	base := cmp.Or(m.Getenv(GatewayBaseEnv), generator.DefaultBaseImage)
	insp, err := eng.ImageInspect(ctx, ref)
	present := err == nil
	if present && contract.IsRelease(version) {
		return nil
	}
	release, err := m.lockBuilds(ctx, m.progress())
	if err != nil {
		return err
	}
	defer release()
	sv, err := eng.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return fmt.Errorf("ask the engine its architecture: %w", err)
	}
	arch := sv.Arch
	bin, err := m.gatewayBinary(ctx, ws, arch)
	if err != nil {
		if present {
			fmt.Fprintf(m.progress(), "devbox: using the gateway image %s the engine has (%v)\n", ref, err)
			return nil
		}
		if contract.IsRelease(version) {
			return m.pullGateway(ctx, ep, ref, err)
		}
		return &GatewayImageError{Image: ref, Why: "the engine lacks it and this devbox cannot build it", Err: err}
	}
	buildContext, err := gatewayContext(base, arch, bin)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(buildContext)
	hash := hex.EncodeToString(sum[:])
	if present && insp.Config != nil && insp.Config.Labels[contract.GatewayContextLabel] == hash {
		return nil
	}
	return m.buildGateway(ctx, ep, ref, base, buildContext, hash)
}

// gatewayContext is the gateway image's build context: the Dockerfile on
// base and init-firewall for arch.
func gatewayContext(base, arch string, bin []byte) ([]byte, error) {
	dockerfile, err := generator.GatewayDockerfile(base, "Built by `devbox up` into the local engine; never pushed.")
	if err != nil {
		return nil, err
	}
	return tarFiles(map[string][]byte{"Dockerfile": dockerfile, firewallbin.Name(arch): bin})
}

// gatewayBinary returns init-firewall for linux/arch: the one embedded in
// devbox, or one built from devbox's source with the host's Go toolchain.
func (m *Manager) gatewayBinary(ctx context.Context, ws Workspace, arch string) ([]byte, error) {
	if data, ok := firewallbin.Embedded(arch); ok {
		return data, nil
	}
	src, err := firewallbin.SourceDir(ctx, m.Runner)
	if err != nil {
		if errors.Is(err, firewallbin.ErrNoSource) {
			return nil, fmt.Errorf("this devbox embeds no init-firewall for linux/%s and was built where its source cannot be found: "+
				"install a release of devbox, build it with `task build`, or `go install` a tagged version", arch)
		}
		return nil, err
	}
	// The agent writes the workspace: a program built from there would be
	// the agent's, running with NET_ADMIN in the gateway. A workspace inside
	// the source tree (an example of devbox's) is refused too: the go
	// command reads more of a tree than the packages it builds.
	if within(ws.Dir, src) || within(src, ws.Dir) {
		return nil, fmt.Errorf("devbox's source at %s and the workspace %s overlap, and the agent can change the workspace: build devbox with `task build`, which embeds init-firewall", src, ws.Dir)
	}
	tmp, err := os.MkdirTemp("", "devbox-gateway-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(m.progress(), "devbox: building init-firewall for linux/%s from %s\n", arch, src)
	data, err := firewallbin.Build(ctx, m.Runner, src, arch, filepath.Join(tmp, firewallbin.Name(arch)))
	var re *runner.RunError
	if errors.As(err, &re) && re.ExitCode == -1 && errors.Is(re.Err, exec.ErrNotFound) {
		return nil, fmt.Errorf("this devbox embeds no init-firewall and there is no Go toolchain (`go`) to build it from %s: install Go, or a release of devbox", src)
	}
	return data, err
}

// within reports whether path is dir or below it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// buildGateway builds the gateway image ref on base with the docker CLI,
// from buildContext, whose hash the image's label records.
func (m *Manager) buildGateway(ctx context.Context, ep Endpoint, ref, base string, buildContext []byte, hash string) error {
	fmt.Fprintf(m.progress(), "devbox: building the gateway image %s on %s\n", ref, base)
	_, err := m.Runner.Run(ctx, runner.Cmd{
		Name: "docker",
		Args: []string{"build", "--tag", ref, "--label", contract.GatewayContextLabel + "=" + hash, "-"},
		Env:  ep.cliEnv(), Stdin: bytes.NewReader(buildContext),
	})
	if err != nil {
		return &GatewayImageError{Image: ref, Why: "the build failed (" + GatewayBaseEnv + " names another base image)", Err: err}
	}
	return nil
}

// pullGateway pulls a release's published gateway image, when this devbox
// could not build it (why).
func (m *Manager) pullGateway(ctx context.Context, ep Endpoint, ref string, why error) error {
	fmt.Fprintf(m.progress(), "devbox: pulling the gateway image %s\n", ref)
	if _, err := m.Runner.Run(ctx, runner.Cmd{Name: "docker", Args: []string{"pull", ref}, Env: ep.cliEnv()}); err != nil {
		return &GatewayImageError{Image: ref, Why: fmt.Sprintf("the engine lacks it, this devbox cannot build it (%v), and the pull failed", why), Err: err}
	}
	return nil
}

// tarFiles is a tar archive of files, root-owned, in a stable order.
func tarFiles(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, name := range names {
		mode := int64(0o644)
		if strings.HasPrefix(name, "init-firewall") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(files[name])), Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
