package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailscale/hujson"

	"github.com/devbox-sandbox/devbox/integration/internal/inet"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

// workspace is a folder holding a .devcontainer/ made by `devbox init`,
// pointed at the stand-in internet, whose box is removed when the test ends.
type workspace struct {
	s   *suite
	dir string
}

// newWorkspace makes a git repository called name in a temporary folder
// (the name is also the compose project's and the image's), runs
// `devbox init` in it with args, and points it at the stand-in internet.
func (s *suite) newWorkspace(t *testing.T, name string, args ...string) *workspace {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init %s: %v: %s", dir, err, out)
	}
	w := s.adopt(t, dir)
	w.mustDevbox(t, "init", s.initFlags(args...)...)
	if err := localize(dir); err != nil {
		t.Fatal(err)
	}
	w.trust(t)
	return w
}

// trust accepts the workspace's configuration as it is now, as the user
// does with `devbox trust` after editing it (the test's own edits: the
// stand-in internet, a host CA). It records through the lifecycle package,
// in the state folder the devbox binary uses (this process's environment),
// without reading the merged configuration, which for a base image not in
// the engine would try to pull it.
func (w *workspace) trust(t *testing.T) {
	t.Helper()
	if err := (&lifecycle.Manager{Getenv: os.Getenv}).RecordTrust(w.dir); err != nil {
		t.Fatalf("record trust: %v", err)
	}
}

// initFlags returns args plus, for a layout that writes init-firewall
// (--single-container, --vendor-gateway), --firewall-binary with the one
// built from source.
func (s *suite) initFlags(args ...string) []string {
	if slices.Contains(args, "--single-container") || slices.Contains(args, "--vendor-gateway") {
		return slices.Concat(args, []string{"--firewall-binary", s.firewallBinary})
	}
	return args
}

// adopt returns the workspace at dir and removes its box when t ends.
func (s *suite) adopt(t *testing.T, dir string) *workspace {
	w := &workspace{s: s, dir: dir}
	t.Cleanup(func() { w.remove(t) })
	return w
}

// devbox runs `devbox SUB -w DIR ARGS...` and returns what it printed.
func (w *workspace) devbox(sub string, args ...string) (runner.Result, error) {
	return w.s.run(nil, slices.Concat([]string{sub, "-w", w.dir}, args)...)
}

// run runs the devbox binary with args and extra environment variables.
func (s *suite) run(env []string, args ...string) (runner.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := runner.Cmd{Name: s.devbox, Args: args, Env: env}
	if *verbose {
		cmd.Stderr = os.Stderr
	}
	return runner.Local{}.Run(ctx, cmd)
}

// status returns what `devbox status` prints, or fails t.
func (s *suite) status(t *testing.T) string {
	t.Helper()
	res, err := s.run(nil, "status")
	if err != nil {
		t.Fatalf("devbox status: %v\n%s", err, combined(res))
	}
	return string(res.Stdout)
}

// mustDevbox is devbox that fails the test on error, showing the output.
func (w *workspace) mustDevbox(t *testing.T, sub string, args ...string) string {
	t.Helper()
	res, err := w.devbox(sub, args...)
	if err != nil {
		t.Fatalf("devbox %s: %v\n%s", sub, err, combined(res))
	}
	return string(res.Stdout)
}

// exec runs argv in the box with `devbox exec` and returns its output and
// exit status.
func (w *workspace) exec(argv ...string) (string, int) {
	res, err := w.devbox("exec", append([]string{"--"}, argv...)...)
	return combined(res), exitStatus(err)
}

// mustExec is exec that fails the test unless argv succeeds; it returns
// stdout.
func (w *workspace) mustExec(t *testing.T, argv ...string) string {
	t.Helper()
	res, err := w.devbox("exec", append([]string{"--"}, argv...)...)
	if err != nil {
		t.Fatalf("devbox exec -- %s: %v\n%s", strings.Join(argv, " "), err, combined(res))
	}
	return strings.TrimSpace(string(res.Stdout))
}

// containers returns the IDs of the workspace's containers, running or not.
func (w *workspace) containers(ctx context.Context) []string {
	out, _ := run(ctx, "docker", "ps", "-aq", "--filter", "label=devcontainer.local_folder="+w.dir)
	return strings.Fields(out)
}

// devContainer returns the ID of the workspace's running dev container, or
// fails the test.
func (w *workspace) devContainer(t *testing.T) string {
	t.Helper()
	out := docker(t, "ps", "-q", "--filter", "label=devcontainer.local_folder="+w.dir)
	ids := strings.Fields(out)
	if len(ids) != 1 {
		t.Fatalf("want one running dev container for %s, got %q", w.dir, ids)
	}
	return ids[0]
}

// remove takes the box down with devbox, then removes whatever is left of
// it with docker, and fails t if a container remains.
func (w *workspace) remove(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if res, err := w.devbox("down", "--volumes", "--discard-work"); err != nil {
		t.Logf("cleanup: devbox down --volumes --discard-work: %v\n%s", err, combined(res))
	}
	w.removeLeftovers(ctx, t.Logf)
	if left := w.containers(ctx); len(left) > 0 {
		t.Errorf("cleanup: containers of %s still exist: %v", w.dir, left)
	}
}

// removeLeftovers removes with docker whatever is left of the box:
// containers, their compose project's containers, networks and volumes, and
// the named volumes they mounted.
func (w *workspace) removeLeftovers(ctx context.Context, logf func(string, ...any)) {
	ids := w.containers(ctx)
	var projects, volumes []string
	for _, id := range ids {
		out, _ := run(ctx, "docker", "inspect", "--format",
			`{{index .Config.Labels "com.docker.compose.project"}} {{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}`, id)
		f := strings.Fields(out)
		if len(f) > 0 && !strings.HasPrefix(out, " ") {
			projects, f = append(projects, f[0]), f[1:]
		}
		volumes = append(volumes, f...)
	}
	// The gateway carries no workspace label: with dev gone (a test
	// removes it), its project is found by the name the Dev Containers CLI
	// gives it.
	if p := cliProjectName(w.dir); !slices.Contains(projects, p) {
		projects = append(projects, p)
	}
	for _, p := range projects {
		out, _ := run(ctx, "docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+p)
		ids = append(ids, strings.Fields(out)...)
	}
	if len(ids) > 0 {
		logf("cleanup: removing containers devbox down left: %v", ids)
		run(ctx, "docker", append([]string{"rm", "-f", "-v"}, ids...)...) //nolint:errcheck // best effort, reported below
	}
	for _, p := range projects {
		for _, kind := range []string{"network", "volume"} {
			out, _ := run(ctx, "docker", kind, "ls", "-q", "--filter", "label=com.docker.compose.project="+p)
			if names := strings.Fields(out); len(names) > 0 {
				run(ctx, "docker", append([]string{kind, "rm"}, names...)...) //nolint:errcheck // best effort
			}
		}
	}
	if len(volumes) > 0 {
		run(ctx, "docker", append([]string{"volume", "rm"}, volumes...)...) //nolint:errcheck // best effort
	}
}

// cliProjectName is the compose project name the Dev Containers CLI gives
// the workspace at dir: its folder's name, lower-cased, with "_devcontainer"
// (the test workspaces' names need no further cleaning).
func cliProjectName(dir string) string {
	return strings.ToLower(filepath.Base(dir)) + "_devcontainer"
}

// removeStaleBoxes removes what a killed earlier run left: control
// containers, and the boxes of test workspaces whose folder is gone (a run
// in progress still has its folder). Volumes of removed compose projects
// and their networks go too.
func (s *suite) removeStaleBoxes(ctx context.Context) {
	out, _ := run(ctx, "docker", "ps", "-aq", "--filter", "label=dbit.control")
	if ids := strings.Fields(out); len(ids) > 0 {
		run(ctx, "docker", append([]string{"rm", "-f"}, ids...)...) //nolint:errcheck // best effort
	}
	out, _ = run(ctx, "docker", "ps", "-a", "--filter", "label=devcontainer.local_folder", "--format", `{{.Label "devcontainer.local_folder"}}`)
	seen := map[string]bool{}
	for _, dir := range strings.Fields(out) {
		if seen[dir] || !strings.HasPrefix(dir, filepath.Join(os.TempDir(), "TestIntegration")) {
			continue
		}
		seen[dir] = true
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			(&workspace{s: s, dir: dir}).removeLeftovers(ctx, func(string, ...any) {})
		}
	}
	// Gateways of the tests' projects (dbit-*) whose dev container is gone.
	out, _ = run(ctx, "docker", "ps", "-a", "--filter", "label="+lifecycle.LabelComposeService+"=gateway", "--format", `{{.Label "`+lifecycle.LabelComposeProject+`"}}`)
	for _, project := range strings.Fields(out) {
		if !strings.HasPrefix(project, "dbit-") || seen[project] {
			continue
		}
		seen[project] = true
		dev, _ := run(ctx, "docker", "ps", "-aq", "--filter", "label="+lifecycle.LabelComposeProject+"="+project, "--filter", "label="+lifecycle.LabelLocalFolder)
		if strings.TrimSpace(dev) == "" {
			(&workspace{s: s, dir: filepath.Join(os.TempDir(), strings.TrimSuffix(project, "_devcontainer"))}).removeLeftovers(ctx, func(string, ...any) {})
		}
	}
}

// localize points the workspace at the stand-in internet: the allowlist's
// domains, sources and verify targets at the test hosts (with hujson, so the
// file stays valid HuJSON with its comments), and the box's DNS at the
// stand-in resolver. Nothing of the generated public hosts is left to be
// contacted.
func localize(dir string) error {
	fw := filepath.Join(dir, ".devcontainer", "firewall.jsonc")
	var ops []map[string]any
	for key, value := range inet.Allowlist() {
		ops = append(ops, map[string]any{"op": "add", "path": "/" + key, "value": value})
	}
	if err := patchHuJSON(fw, ops); err != nil {
		return err
	}
	dc := filepath.Join(dir, ".devcontainer", "devcontainer.json")
	var cfg struct {
		DockerComposeFile any      `json:"dockerComposeFile"`
		RunArgs           []string `json:"runArgs"`
	}
	if err := readHuJSON(dc, &cfg); err != nil {
		return err
	}
	switch {
	case cfg.DockerComposeFile != nil:
		files, err := composeFiles(cfg.DockerComposeFile)
		if err != nil {
			return fmt.Errorf("localize %s: %w", dc, err)
		}
		compose, err := os.ReadFile(filepath.Join(dir, ".devcontainer", "compose.yaml"))
		if err != nil {
			return fmt.Errorf("localize %s: %w", dir, err)
		}
		// The gateway owns the network namespace, and with it the DNS
		// settings; dev may not set any.
		dnsService := contract.DevService
		if strings.Contains(string(compose), "\n  "+contract.GatewayService+":\n") {
			dnsService = contract.GatewayService
		}
		override := filepath.Join(dir, ".devcontainer", composeOverride)
		if err := os.WriteFile(override, composeOverrideYAML(dnsService), 0o644); err != nil {
			return fmt.Errorf("localize %s: %w", dir, err)
		}
		return patchHuJSON(dc, []map[string]any{{"op": "add", "path": "/dockerComposeFile", "value": append(files, composeOverride)}})
	case cfg.RunArgs == nil:
		return patchHuJSON(dc, []map[string]any{{"op": "add", "path": "/runArgs", "value": []string{dnsArg()}}})
	default:
		return patchHuJSON(dc, []map[string]any{{"op": "add", "path": "/runArgs/-", "value": dnsArg()}})
	}
}

// composeOverride is the compose file localize adds to a compose
// workspace's dockerComposeFile list.
const composeOverride = "compose.dbit-test.yaml"

func dnsArg() string { return "--dns=" + inet.Resolver.V4.String() }

// composeV6Subnets numbers the IPv6 subnets given to compose workspaces'
// egress networks, so two workspaces never ask for the same one.
var composeV6Subnets atomic.Int32

// composeOverrideYAML sends the dev container's DNS queries (which Docker's
// embedded resolver forwards) to the stand-in resolver, and gives the
// project's default (egress) network IPv6 from the test range, as a user
// with IPv6 would have it, so the IPv6 rules are tested on compose boxes
// too.
func composeOverrideYAML(service string) []byte {
	n := composeV6Subnets.Add(1)
	return fmt.Appendf(nil, `# Added by devbox's integration tests: the stand-in internet's DNS server
# and IPv6 on the egress network.
services:
  %s:
    dns:
      - %s
networks:
  default:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 2001:db8:100:a%03x::/64
`, service, inet.Resolver.V4, n)
}

// composeFiles returns devcontainer.json's dockerComposeFile as a list.
func composeFiles(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		var files []string
		for _, f := range v {
			s, ok := f.(string)
			if !ok {
				return nil, fmt.Errorf("dockerComposeFile holds %v, not a file name", f)
			}
			files = append(files, s)
		}
		return files, nil
	}
	return nil, fmt.Errorf("dockerComposeFile is %T, want a string or a list", v)
}

// readHuJSON decodes the HuJSON file at path into v.
func readHuJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	std, err := hujson.Standardize(data)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	if err := json.Unmarshal(std, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// patchHuJSON applies JSON Patch operations to the HuJSON file at path,
// keeping its comments, and checks that the result still parses.
func patchHuJSON(path string, ops []map[string]any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	v, err := hujson.Parse(data)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	if err := v.Patch(patch); err != nil {
		return fmt.Errorf("patch %s: %w", path, err)
	}
	v.Format()
	out := v.Pack()
	if _, err := hujson.Parse(out); err != nil {
		return fmt.Errorf("patched %s no longer parses: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}
