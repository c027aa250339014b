package integration

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
	"github.com/devbox-sandbox/devbox/integration/internal/inet"
	"github.com/devbox-sandbox/devbox/integration/internal/registry"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// TestIntegrationGatewayImage: the gateway as an image (issue 13). A devbox
// built from the committed files alone (git archive, go build, no task
// build) brings a box up, making the gateway image from its source; a
// vendored gateway builds and runs with only the Dev Containers CLI; and no
// generated file but a vendored binary reaches 1 MB.
func TestIntegrationGatewayImage(t *testing.T) {
	s := requireSuite(t)
	t.Run("from committed files", func(t *testing.T) { testFromCommittedFiles(t, s) })
	t.Run("vendored, devcontainer up alone", func(t *testing.T) { testVendoredGateway(t, s) })
	t.Run("published, devcontainer up alone", func(t *testing.T) { testPublishedGateway(t, s) })
	t.Run("upgraded from an earlier devbox", func(t *testing.T) { testUpgraded(t, s) })
	t.Run("go install of a tagged version", func(t *testing.T) { testGoInstall(t, s) })
}

// upgradeFixture is a .devcontainer/ an earlier devbox made (single
// container, local feature, bin/), with a user's edits.
var upgradeFixture = filepath.Join("..", "generator", "testdata", "upgrade-single-container")

// testUpgraded: `devbox init --force` converts the committed fixture to the
// gateway layout, keeping the user's comment, and the box comes up with its
// firewall working. What this machine cannot do is taken out of the
// fixture first, as a user would answer init's refusals: their runArgs
// entry and build.args (which init refuses by name), and, for this machine
// only, the versioned Node feature (ghcr.io) and `npm ci`.
func testUpgraded(t *testing.T, s *suite) {
	dir := filepath.Join(t.TempDir(), "dbit-upgraded")
	if err := os.CopyFS(filepath.Join(dir, ".devcontainer"), os.DirFS(upgradeFixture)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	dc := filepath.Join(dir, ".devcontainer", "devcontainer.json")
	if err := patchHuJSON(dc, []map[string]any{
		{"op": "remove", "path": "/runArgs/4"}, // --add-host=...
		{"op": "remove", "path": "/build/args"},
		{"op": "remove", "path": "/features/ghcr.io~1devcontainers~1features~1node:1"},
		{"op": "remove", "path": "/postCreateCommand"},
		// SYS_PTRACE (for a debugger): devbox up refuses capabilities it
		// does not give itself.
		{"op": "remove", "path": "/capAdd/1"},
	}); err != nil {
		t.Fatal(err)
	}
	w := s.adopt(t, dir)
	out := w.mustDevbox(t, "init", "--force", "--agent", "none", "--lang", "node@system", "--base-image", images.Bookworm)
	for _, want := range []string{"devbox-firewall", "bin/init-firewall-linux-amd64", "5173"} {
		if !strings.Contains(out, want) {
			t.Errorf("init --force does not say what it did with %s:\n%s", want, out)
		}
	}
	for _, gone := range []string{"devbox-firewall", "bin"} {
		if _, err := os.Stat(filepath.Join(dir, ".devcontainer", gone)); err == nil {
			t.Errorf(".devcontainer/%s is still there", gone)
		}
	}
	data, err := os.ReadFile(dc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"KEEP THIS COMMENT", `"dockerComposeFile"`, "team-npm-cache"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the upgraded devcontainer.json lost %q:\n%s", want, data)
		}
	}
	checkSmallFiles(t, dir)
	if err := localize(dir); err != nil {
		t.Fatal(err)
	}
	w.trust(t) // the user's converted file, reviewed
	w.mustDevbox(t, "up")
	runProbes(t, w.exec, append(httpProbes(inet.Allowed, true), httpProbes(inet.Blocked, false)...))
}

// pinLine is what `task release:gateway` prints last: the pinned reference.
var pinLine = regexp.MustCompile(`pin it with: devbox init --gateway-image (\S+@sha256:[0-9a-f]{64})`)

// testPublishedGateway: `task release:gateway` pushes the gateway image to
// a registry on loopback; the engine forgets it; a workspace pinned to the
// pushed digest (--gateway-image) comes up with the Dev Containers CLI
// alone, which pulls exactly that image, and its firewall holds.
func testPublishedGateway(t *testing.T, s *suite) {
	<-s.registryBinDone
	if s.registryBinErr != nil {
		t.Fatal(s.registryBinErr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	reg, err := registry.Start(ctx, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := reg.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	repo := reg.Host() + "/dbit"
	res, err := runner.Local{}.Run(ctx, runner.Cmd{
		Name: "task", Args: []string{"release:gateway", "REGISTRY=" + repo, "BASE_IMAGE=" + images.Bookworm}, Dir: repoRoot(),
	})
	if err != nil {
		t.Fatalf("task release:gateway: %v\n%s", err, lastLines(combined(res), 30))
	}
	m := pinLine.FindStringSubmatch(string(res.Stdout))
	if m == nil {
		t.Fatalf("task release:gateway printed no pinned reference:\n%s", combined(res))
	}
	pinned := m[1]
	// By reference, not by ID: the same layers may be another test's image
	// too (a vendored gateway builds from the same context), and only the
	// registry's names have to go for compose to pull.
	removeImages := func() {
		out, _ := run(context.Background(), "docker", "images", "--digests", "--filter", "reference="+repo+"/gateway",
			"--format", "{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}")
		for _, ref := range slices.Compact(strings.Fields(out)) {
			if !strings.HasSuffix(ref, ":<none>") && !strings.HasSuffix(ref, "@<none>") {
				run(context.Background(), "docker", "rmi", ref) //nolint:errcheck // checked below
			}
		}
	}
	removeImages()
	t.Cleanup(removeImages)
	if out, err := run(ctx, "docker", "image", "inspect", pinned); err == nil {
		t.Fatalf("the engine still has %s after docker rmi: %s", pinned, out)
	}

	w := s.newWorkspace(t, "dbit-published", "--agent", "none", "--base-image", images.Bookworm, "--gateway-image", pinned)
	devcontainerUp(t, w.dir)
	gateway := docker(t, "ps", "--quiet", "--filter", "label=com.docker.compose.project="+cliProjectName(w.dir),
		"--filter", "label=com.docker.compose.service="+contract.GatewayService)
	if got := docker(t, "inspect", "--format", "{{.Config.Image}}", strings.TrimSpace(gateway)); strings.TrimSpace(got) != pinned {
		t.Errorf("the gateway runs image %q, want the pinned %s", got, pinned)
	}
	runProbes(t, w.exec, append(httpProbes(inet.Allowed, true), httpProbes(inet.Blocked, false)...))
}

// testFromCommittedFiles builds devbox from `git archive HEAD` with a plain
// `go build` (nothing embedded), and checks that its init and up work: up
// builds init-firewall from the archive's source, and the box's firewall
// holds.
func testFromCommittedFiles(t *testing.T, s *suite) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive --format=tar HEAD | tar -C "$2" -xf -`, "sh", repoRoot(), src).CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "devbox")
	if _, err := (runner.Local{}).Run(ctx, runner.Cmd{Name: "go", Args: []string{"build", "-o", bin, "./cmd/devbox"}, Dir: src}); err != nil {
		t.Fatal(err)
	}
	archived := &suite{bin: filepath.Dir(bin), devbox: bin, firewallBinary: s.firewallBinary, images: s.images, net: s.net}
	w := archived.newWorkspace(t, "dbit-archive", "--agent", "none", "--base-image", images.Bookworm)
	checkSmallFiles(t, w.dir)
	res, err := w.devbox("up")
	if err != nil {
		t.Fatalf("devbox up: %v\n%s", err, combined(res))
	}
	if !strings.Contains(string(res.Stderr), "building init-firewall for linux/") && !strings.Contains(string(res.Stderr), contract.GatewayImageRepo) {
		t.Logf("devbox up did not say it built the gateway image (the engine may have had this source's already): %s", res.Stderr)
	}
	runProbes(t, w.exec, append(httpProbes(inet.Allowed, true), httpProbes(inet.Blocked, false)...))
}

// checkSmallFiles fails t for any file of dir/.devcontainer of 1 MB or
// more: the default layout writes no binary.
func checkSmallFiles(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(dir, ".devcontainer"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil && info.Size() >= 1<<20 {
			t.Errorf("%s: %d bytes, want no generated file of 1 MB or more", path, info.Size())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testVendoredGateway: `devbox init --vendor-gateway` writes the gateway's
// build, and the Dev Containers CLI alone (no devbox on PATH) builds it and
// brings the box up with its firewall working.
func testVendoredGateway(t *testing.T, s *suite) {
	w := s.newWorkspace(t, "dbit-vendored", "--agent", "none", "--vendor-gateway", "--base-image", images.Bookworm)
	for _, f := range []string{"gateway/Dockerfile", "gateway/init-firewall-linux-amd64"} {
		if _, err := os.Stat(filepath.Join(w.dir, ".devcontainer", f)); err != nil {
			t.Fatal(err)
		}
	}
	devcontainerUp(t, w.dir)
	if got := docker(t, "ps", "--filter", "label=com.docker.compose.project="+cliProjectName(w.dir),
		"--filter", "label=com.docker.compose.service="+contract.GatewayService, "--format", "{{.Image}}"); !strings.Contains(got, cliProjectName(w.dir)) {
		t.Errorf("the gateway runs image %q, want the one compose built for the project", got)
	}
	runProbes(t, w.exec, append(httpProbes(inet.Allowed, true), httpProbes(inet.Blocked, false)...))
}

// devcontainerUp runs `devcontainer up` on dir with a PATH that holds no
// devbox, as a teammate with only the Dev Containers CLI would.
func devcontainerUp(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var path []string
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(p, "devbox")); err == nil {
			continue
		}
		path = append(path, p)
	}
	cmd := runner.Cmd{Name: "devcontainer", Args: []string{"up", "--workspace-folder", dir}, Env: []string{"PATH=" + strings.Join(path, string(os.PathListSeparator))}}
	res, err := runner.Local{}.Run(ctx, cmd)
	if err != nil {
		t.Fatalf("devcontainer up: %v\n%s", err, lastLines(combined(res), 30))
	}
	if !strings.Contains(string(res.Stdout), `"outcome":"success"`) {
		t.Fatalf("devcontainer up: %s", res.Stdout)
	}
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// testGoInstall: a devbox installed with `go install MODULE/cmd/devbox@VERSION`
// embeds nothing, and its `up` builds the gateway's init-firewall from that
// version's source in the module cache. The version is served by a Go
// module proxy in a folder (GOPROXY=file://), made from the committed tree
// with x/mod's zip, under a release version of its own for this run; the
// dependencies come from the machine's proxy as usual.
func testGoInstall(t *testing.T, s *suite) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	const mod = "github.com/devbox-sandbox/devbox"
	version := fmt.Sprintf("v0.0.1-rc.%d", time.Now().Unix())
	proxy := t.TempDir()
	dir := filepath.Join(proxy, mod, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	zipFile, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	err = modzip.CreateFromVCS(zipFile, module.Version{Path: mod, Version: version}, repoRoot(), "HEAD", "")
	if cerr := zipFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("zip the committed tree: %v", err)
	}
	goMod, err := exec.CommandContext(ctx, "git", "-C", repoRoot(), "show", "HEAD:go.mod").Output()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": fmt.Appendf(nil, `{"Version": %q, "Time": %q}`, version, time.Now().UTC().Format(time.RFC3339)),
		version + ".mod":  goMod,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	modCache := strings.TrimSpace(goEnv(t, "GOMODCACHE"))
	t.Cleanup(func() {
		// The module cache's copy is read-only; this run's version goes.
		src := filepath.Join(modCache, mod+"@"+version)
		exec.Command("chmod", "-R", "u+w", src).Run() //nolint:errcheck // the removal below reports
		if err := os.RemoveAll(src); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		// Only these tests ever put devbox's own module in the download cache.
		if err := os.RemoveAll(filepath.Join(modCache, "cache", "download", mod)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		run(context.Background(), "docker", "rmi", contract.GatewayImage(version)) //nolint:errcheck // best effort
	})
	env := []string{
		"GOPROXY=file://" + proxy + "," + strings.TrimSpace(goEnv(t, "GOPROXY")),
		"GONOSUMDB=" + mod, "GOBIN=" + t.TempDir(), "CGO_ENABLED=0",
	}
	gobin := strings.TrimPrefix(env[2], "GOBIN=")
	if res, err := (runner.Local{}).Run(ctx, runner.Cmd{Name: "go", Args: []string{"install", mod + "/cmd/devbox@" + version}, Dir: t.TempDir(), Env: env}); err != nil {
		t.Fatalf("go install: %v\n%s", err, combined(res))
	}
	installed := &suite{bin: gobin, devbox: filepath.Join(gobin, "devbox"), firewallBinary: s.firewallBinary, images: s.images, net: s.net}
	out, err := installed.run(nil, "version")
	if err != nil || !strings.Contains(combined(out), version) {
		t.Fatalf("devbox version: %v: %s; want %s", err, combined(out), version)
	}
	w := installed.newWorkspace(t, "dbit-goinstall", "--agent", "none", "--base-image", images.Bookworm)
	compose, err := os.ReadFile(filepath.Join(w.dir, ".devcontainer", "compose.yaml"))
	if err != nil || !strings.Contains(string(compose), "image: "+contract.GatewayImage(version)+"\n") {
		t.Fatalf("compose.yaml does not name %s: %v", contract.GatewayImage(version), err)
	}
	res, err := installed.run(env, "up", "-w", w.dir)
	if err != nil {
		t.Fatalf("devbox up: %v\n%s", err, lastLines(combined(res), 30))
	}
	if want := "building init-firewall for linux/"; !strings.Contains(string(res.Stderr), want) || !strings.Contains(string(res.Stderr), mod+"@"+version) {
		t.Errorf("devbox up did not say it built init-firewall from the module cache's %s@%s:\n%s", mod, version, res.Stderr)
	}
	runProbes(t, w.exec, append(httpProbes(inet.Allowed, true), httpProbes(inet.Blocked, false)...))
}

// goEnv is `go env NAME`.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return string(out)
}
