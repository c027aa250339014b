package generator

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tailscale/hujson"

	"github.com/devbox-sandbox/devbox/generator/firewallbin"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// upgradeFixture is a workspace of the layout before the gateway, with a
// user's edits (see its README.md).
const upgradeFixture = "testdata/upgrade-single-container"

// copyFixture copies the fixture, but its README, to ws/.devcontainer/.
func copyFixture(t *testing.T, ws string) {
	t.Helper()
	err := filepath.WalkDir(upgradeFixture, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(upgradeFixture, path)
		target := filepath.Join(ws, DirName, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if rel == "README.md" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeSingleContainerFixture: `init --force` on a workspace an older
// devbox made, with the user's edits, first refuses by name what it cannot
// carry (their runArgs entry, build.args) and writes nothing; once the user
// has taken those out, it converts the workspace to the gateway layout:
// devbox's runArgs and the appPort move to compose.yaml, the firewall
// feature's keys and files go, the user's comments and settings stay, and
// Result says so. The dry run reports the same.
func TestUpgradeSingleContainerFixture(t *testing.T) {
	ws := newWorkspace(t, "myapp", true)
	copyFixture(t, ws)
	path := filepath.Join(ws, DirName, "devcontainer.json")
	o := Options{Workspace: ws, Agent: "claude", Languages: []string{"node@22"}, Force: true}

	before := hashTree(t, ws)
	_, err := Init(o)
	if err == nil || !IsInputError(err) {
		t.Fatalf("error %v, want a usage error refusing the user's runArgs entry and build.args", err)
	}
	for _, want := range []string{path, `runArgs entry "--add-host=db.test:198.51.100.7"`, "build.args", "compose.override.yaml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q:\n%v", want, err)
		}
	}
	if hashTree(t, ws) != before {
		t.Fatal("a refused upgrade changed the workspace")
	}

	// The user takes out what devbox refused, as the message says.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, cut := range []string{`, "--add-host=db.test:198.51.100.7"`, ",\n    // The node heap the tests need.\n    \"args\": {\"NODE_OPTIONS\": \"--max-old-space-size=4096\"}"} {
		if !strings.Contains(text, cut) {
			t.Fatalf("the fixture has no %q", cut)
		}
		text = strings.Replace(text, cut, "", 1)
	}
	writeFile(t, path, text)

	var listing bytes.Buffer
	dry := o
	dry.DryRun, dry.Out = true, &listing
	before = hashTree(t, ws)
	dr, err := Init(dry)
	if err != nil {
		t.Fatal(err)
	}
	if hashTree(t, ws) != before {
		t.Fatal("the dry run changed the workspace")
	}

	r, err := Init(o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dr.Changes, r.Changes) || !slices.Equal(dr.Removed, r.Removed) {
		t.Errorf("the dry run reports other changes:\n%q\n%q\nthan the run:\n%q\n%q", dr.Changes, dr.Removed, r.Changes, r.Removed)
	}
	for _, rel := range r.Removed {
		if !strings.Contains(listing.String(), filepath.Join(r.Dir, rel)+" would be removed") {
			t.Errorf("the dry run does not list %s as removed:\n%s", rel, listing.String())
		}
	}

	changes := strings.Join(r.Changes, "\n")
	for _, want := range []string{
		`moved runArgs "--sysctl=net.ipv4.tcp_keepalive_time=600" to compose.yaml`,
		`moved runArgs "--ulimit=nofile=1024:4096" to compose.yaml`,
		`moved runArgs "--cpus=2" to compose.yaml`,
		`moved runArgs "--memory=4g" to compose.yaml`,
		"moved appPort [5173] to compose.yaml, as --publish 5173: the gateway publishes it on the host's 127.0.0.1 only",
		"removed build",
		"removed the feature ./devbox-firewall from devcontainer.json",
		`removed containerUser "root"`,
		"removed NET_ADMIN from capAdd",
		`removed postStartCommand "/usr/local/sbin/init-firewall status --wait 120s" and its waitFor`,
		"moved devbox's mounts",
		"removed the local feature .devcontainer/devbox-firewall/",
	} {
		if !strings.Contains(changes, want) {
			t.Errorf("Result.Changes does not say %q:\n%s", want, changes)
		}
	}
	if !slices.ContainsFunc(r.Notes, func(n string) bool {
		return strings.Contains(n, "--sysctl net.ipv4.tcp_keepalive_time=600 --ulimit nofile=1024:4096 --cpus 2 --memory 4g --publish 5173")
	}) {
		t.Errorf("no note tells the user which flags keep the moved settings next time: %q", r.Notes)
	}

	// devcontainer.json: the compose form, with the user's comments, keys
	// and order.
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{
		"KEEP THIS COMMENT", "// SYS_PTRACE: the debugger", "// our npm cache", "// our style",
		"// once, after the container is created", `"npm ci"`, "eamodio.gitlens", `"editor.tabSize": 2`,
	} {
		if !strings.Contains(string(got), keep) {
			t.Errorf("lost %q:\n%s", keep, got)
		}
	}
	for _, stale := range []string{"The egress firewall: a local feature", "NET_ADMIN lets root install", "root only so that entrypoint", `[ "SYS_PTRACE"]`} {
		if strings.Contains(string(got), stale) {
			t.Errorf("devbox's single-container text %q is still there:\n%s", stale, got)
		}
	}
	if !strings.Contains(string(got), "// Nothing can gain privileges later") || !strings.Contains(string(got), "// You and the agent work as the non-root user") {
		t.Errorf("devbox's comments of the gateway layout are missing:\n%s", got)
	}
	if !indexes(string(got), `"name"`, "The box is described in compose.yaml", `"dockerComposeFile"`, `"shutdownAction"`, `"features"`, `"mounts"`, `"postCreateCommand"`, `"customizations"`) {
		t.Errorf("the user's keys were reordered:\n%s", got)
	}
	std, err := hujson.Standardize(bytes.Clone(got))
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	cfg := decode(t, std)
	if cfg["dockerComposeFile"] != "compose.yaml" || cfg["service"] != contract.DevService {
		t.Errorf("not the compose form: dockerComposeFile %v, service %v", cfg["dockerComposeFile"], cfg["service"])
	}
	for _, gone := range []string{"build", "runArgs", "appPort", "containerUser", "postStartCommand", "waitFor"} {
		if v, ok := cfg[gone]; ok {
			t.Errorf("%s kept: %v", gone, v)
		}
	}
	if !sameStrings(cfg["capAdd"], "SYS_PTRACE") {
		t.Errorf("capAdd = %v, want the user's SYS_PTRACE alone", cfg["capAdd"])
	}
	if !sameStrings(cfg["mounts"], "source=team-npm-cache,target=/home/dev/.npm,type=volume") {
		t.Errorf("mounts = %v, want the user's alone", cfg["mounts"])
	}
	features, _ := cfg["features"].(map[string]any)
	if _, ok := features[contract.FirewallFeatureRef]; ok || features["ghcr.io/devcontainers/features/node:1"] == nil {
		t.Errorf("features = %v, want node and not %s", features, contract.FirewallFeatureRef)
	}
	validateSchema(t, got)

	// compose.yaml carries what moved, as compose-go reads it.
	compose, err := os.ReadFile(filepath.Join(r.Dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadCompose(context.Background(), r.Dir, "compose.yaml", compose)
	if err != nil {
		t.Fatal(err)
	}
	dev, gw := p.Services[contract.DevService], p.Services[contract.GatewayService]
	if gw.Sysctls["net.ipv4.tcp_keepalive_time"] != "600" {
		t.Errorf("the gateway's sysctls = %v, want net.ipv4.tcp_keepalive_time=600 (dev shares its namespace)", gw.Sysctls)
	}
	if len(gw.Ports) != 1 || gw.Ports[0].HostIP != "127.0.0.1" || gw.Ports[0].Target != 5173 || gw.Ports[0].Published != "5173" {
		t.Errorf("the gateway's ports = %+v, want 127.0.0.1:5173:5173", gw.Ports)
	}
	if u := dev.Ulimits["nofile"]; u == nil || u.Soft != 1024 || u.Hard != 4096 {
		t.Errorf("dev's nofile ulimit = %+v, want 1024:4096", u)
	}
	if dev.CPUS != 2 || dev.MemLimit != 4<<30 {
		t.Errorf("dev's cpus %v, mem_limit %v, want 2 and 4g", dev.CPUS, dev.MemLimit)
	}
	if fw, _ := os.ReadFile(filepath.Join(r.Dir, "firewall.jsonc")); !strings.Contains(string(fw), `"inboundPorts": [5173]`) {
		t.Errorf("firewall.jsonc does not let 5173 in:\n%s", fw)
	}

	// Files: the feature's folder is gone; bin/ is gone when the layout
	// has no file there (and rewritten when it has).
	if _, err := os.Stat(filepath.Join(r.Dir, contract.FirewallFeatureID)); !os.IsNotExist(err) {
		t.Errorf("the feature folder is still there: %v", err)
	}
	for _, rel := range []string{contract.FirewallFeatureID + "/install.sh", contract.FirewallFeatureID + "/devcontainer-feature.json"} {
		if !slices.Contains(r.Removed, rel) {
			t.Errorf("Result.Removed %q does not list %s", r.Removed, rel)
		}
	}
	for _, arch := range firewallbin.Architectures {
		rel := "bin/" + firewallbin.Name(arch)
		data, err := os.ReadFile(filepath.Join(r.Dir, rel))
		switch {
		case usesDir(r.Files, "bin"):
			if err == nil && bytes.HasPrefix(data, []byte("placeholder")) && slices.ContainsFunc(r.Files, func(f File) bool { return f.Path == rel }) {
				t.Errorf("%s is still the old placeholder though the layout writes it", rel)
			}
		case err == nil:
			t.Errorf("%s kept, though no file of the layout is in bin/", rel)
		case !slices.Contains(r.Removed, rel) || !strings.Contains(changes, "removed "+rel):
			t.Errorf("%s removed but not reported: Removed %q", rel, r.Removed)
		}
	}

	// A second --force with the flags the note names changes nothing more.
	again := o
	again.Sysctls, again.Ulimits, again.CPUs, again.Memory, again.Publish = []string{"net.ipv4.tcp_keepalive_time=600"}, []string{"nofile=1024:4096"}, "2", "4g", []string{"5173"}
	before = hashTree(t, ws)
	r2, err := Init(again)
	if err != nil {
		t.Fatal(err)
	}
	if hashTree(t, ws) != before || len(r2.Changes) > 0 {
		t.Errorf("a second --force changed the workspace; changes: %q", r2.Changes)
	}
}

// TestUpgradeRefusals: each setting a compose box cannot carry is refused
// by name, with what to do, and nothing is written.
func TestUpgradeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		gateway bool   // start from a gateway workspace instead of --single-container
		old     string // replaced in the generated devcontainer.json
		new     string
		want    []string // in the error
	}{
		{"user runArg", false, `"runArgs": [`, `"runArgs": ["--add-host=db.test:198.51.100.7", `,
			[]string{`runArgs entry "--add-host=db.test:198.51.100.7"`, "compose file of your own"}},
		{"user runArg not a string", false, `"runArgs": [`, `"runArgs": [7, `, []string{"runArgs entry 7"}},
		{"build.args", false, `"context": "."`, `"context": ".", "args": {"A": "1"}`, []string{`build.args {"A":"1"}`, "services.dev.build"}},
		{"build.target", false, `"context": "."`, `"context": ".", "target": "dev"`, []string{`build.target "dev"`}},
		{"another dockerfile", false, `"dockerfile": "Dockerfile"`, `"dockerfile": "Dockerfile.dev"`, []string{`build.dockerfile "Dockerfile.dev"`}},
		{"capAdd NET_RAW", false, `"capAdd": ["NET_ADMIN"]`, `"capAdd": ["NET_ADMIN", "NET_RAW"]`, []string{`capAdd "NET_RAW"`, "gateway's rules"}},
		{"capAdd cap_sys_admin", false, `"capAdd": ["NET_ADMIN"]`, `"capAdd": ["NET_ADMIN", "cap_sys_admin"]`, []string{`capAdd "cap_sys_admin"`}},
		{"capAdd ALL", false, `"capAdd": ["NET_ADMIN"]`, `"capAdd": ["ALL"]`, []string{`capAdd "ALL"`}},
		{"NET_ADMIN without the feature", true, `"securityOpt"`, `"capAdd": ["NET_ADMIN"], "securityOpt"`, []string{`capAdd "NET_ADMIN"`}},
		{"privileged", false, `"securityOpt"`, `"privileged": true, "securityOpt"`, []string{`"privileged": true`}},
		{"appPort mapping", false, `"securityOpt"`, `"appPort": [3000, "8080:3000"], "securityOpt"`, []string{`appPort "8080:3000"`, "--publish PORT"}},
		{"appPort out of range", false, `"securityOpt"`, `"appPort": 70000, "securityOpt"`, []string{"appPort 70000"}},
		{"postStartCommand with the user's", false, `"postStartCommand": "/usr/local/sbin/init-firewall status --wait 120s"`, `"postStartCommand": "/usr/local/sbin/init-firewall status --wait 120s && npm start"`,
			[]string{`postStartCommand "/usr/local/sbin/init-firewall status --wait 120s && npm start"`, "keeping your own commands"}},
		{"image", false, `"securityOpt"`, `"image": "node:22", "securityOpt"`, []string{`image "node:22"`, "--base-image"}},
		{"workspaceMount", false, `"securityOpt"`, `"workspaceMount": "source=/src,target=/src,type=bind", "securityOpt"`, []string{"workspaceMount"}},
		{"port-start sysctl", false, `"runArgs": [`, `"runArgs": ["--sysctl=net.ipv4.ip_unprivileged_port_start=0", `,
			[]string{`runArgs entry "--sysctl=net.ipv4.ip_unprivileged_port_start=0"`, "the gateway keeps net.ipv4.ip_unprivileged_port_start"}},
		{"bad devbox sysctl", false, `"runArgs": [`, `"runArgs": ["--sysctl=vm.swappiness=1", `, []string{`runArgs entry "--sysctl=vm.swappiness=1"`, "namespaced"}},
		{"publish on every interface", false, `"runArgs": [`, `"runArgs": ["--publish=0.0.0.0:8080:8080", `, []string{`runArgs entry "--publish=0.0.0.0:8080:8080"`, "127.0.0.1:PORT:PORT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := Options{SingleContainer: !tc.gateway}
			if !tc.gateway {
				first.Publish, first.Sysctls = []string{"5173"}, []string{"net.ipv4.tcp_keepalive_time=600"}
			}
			ws, path, data := initWorkspace(t, "refuse", first)
			if !strings.Contains(data, tc.old) {
				t.Fatalf("devcontainer.json has no %q:\n%s", tc.old, data)
			}
			writeFile(t, path, strings.Replace(data, tc.old, tc.new, 1))
			before := hashTree(t, ws)
			for _, dryRun := range []bool{true, false} {
				_, err := Init(Options{Workspace: ws, Force: true, DryRun: dryRun, Out: &bytes.Buffer{}})
				if err == nil || !IsInputError(err) {
					t.Fatalf("dry run %v: error %v, want a usage error", dryRun, err)
				}
				for _, want := range append([]string{path}, tc.want...) {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("dry run %v: the error does not say %q:\n%v", dryRun, want, err)
					}
				}
			}
			if hashTree(t, ws) != before {
				t.Error("a refused upgrade changed the workspace")
			}
		})
	}
}

// TestUpgradeSingleContainerServices: the single-container layout with
// services is a compose project already, with the firewall feature in dev;
// the gateway layout takes the feature's keys and files away.
func TestUpgradeSingleContainerServices(t *testing.T) {
	ws, path, _ := initWorkspace(t, "services", Options{SingleContainer: true, Services: []string{"postgres"}})
	r, err := Init(Options{Workspace: ws, Force: true, Services: []string{"postgres"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(initDir(t, "services", Options{Services: []string{"postgres"}}), "devcontainer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("upgraded devcontainer.json differs from a new one:\n%s\n--- new:\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, contract.FirewallFeatureID)); !os.IsNotExist(err) {
		t.Errorf("the feature folder is still there: %v", err)
	}
	if changes := strings.Join(r.Changes, "\n"); !strings.Contains(changes, "removed NET_ADMIN from capAdd") || !strings.Contains(changes, `removed containerUser "root"`) {
		t.Errorf("Result.Changes: %s", changes)
	}
}

// initDir runs Init with o in a new git workspace and returns its
// .devcontainer folder.
func initDir(t *testing.T, name string, o Options) string {
	t.Helper()
	_, path, _ := initWorkspace(t, name, o)
	return filepath.Dir(path)
}

// TestUpgradeFlagGivenAgain: a flag given to init replaces the runArgs
// entries it made before; the others still move.
func TestUpgradeFlagGivenAgain(t *testing.T) {
	ws := newWorkspace(t, "again", true)
	if _, err := Init(Options{Workspace: ws, FirewallBinary: firewallBin, SingleContainer: true, Publish: []string{"5173"}, CPUs: "2"}); err != nil {
		t.Fatal(err)
	}
	r, err := Init(Options{Workspace: ws, Force: true, Publish: []string{"8080"}})
	if err != nil {
		t.Fatal(err)
	}
	changes := strings.Join(r.Changes, "\n")
	for _, want := range []string{`dropped runArgs "--publish=127.0.0.1:5173:5173": --publish given again replaces it`, `moved runArgs "--cpus=2" to compose.yaml`} {
		if !strings.Contains(changes, want) {
			t.Errorf("Result.Changes does not say %q:\n%s", want, changes)
		}
	}
	compose, err := os.ReadFile(filepath.Join(r.Dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(compose), "127.0.0.1:8080:8080") && !strings.Contains(string(compose), "published: \"8080\"") || strings.Contains(string(compose), "5173") {
		t.Errorf("compose.yaml should publish 8080 alone:\n%s", compose)
	}
}

// TestStaleBinaries: the init-firewall binaries are stale only when no
// file of the new result is in bin/, and their folder goes with them
// unless it holds a file of the user's.
func TestStaleBinaries(t *testing.T) {
	dir := t.TempDir()
	for _, arch := range firewallbin.Architectures {
		writeFile(t, filepath.Join(dir, "bin", firewallbin.Name(arch)), "placeholder")
	}
	withBin := &Result{Dir: dir, Files: []File{{Path: "Dockerfile"}, {Path: "bin/" + firewallbin.Name("amd64")}}}
	if got := staleFiles(withBin); len(got) > 0 {
		t.Errorf("staleFiles = %q while the layout writes bin/", got)
	}
	without := &Result{Dir: dir, Files: []File{{Path: "Dockerfile"}}}
	got := staleFiles(without)
	want := []string{"bin/" + firewallbin.Name("amd64"), "bin/" + firewallbin.Name("arm64")}
	if !slices.Equal(got, want) {
		t.Fatalf("staleFiles = %q, want %q", got, want)
	}
	if err := writeAll(dir, nil, got); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin")); !os.IsNotExist(err) {
		t.Errorf("bin/ left behind empty: %v", err)
	}

	// --vendor-gateway's binaries, in gateway/, likewise.
	for _, arch := range firewallbin.Architectures {
		writeFile(t, filepath.Join(dir, vendorDir, firewallbin.Name(arch)), "placeholder")
	}
	vendored := &Result{Dir: dir, Files: []File{{Path: vendorDir + "/Dockerfile"}}}
	if got := staleFiles(vendored); len(got) > 0 {
		t.Errorf("staleFiles = %q while the layout writes %s/", got, vendorDir)
	}
	want = []string{vendorDir + "/" + firewallbin.Name("amd64"), vendorDir + "/" + firewallbin.Name("arm64")}
	if got := staleFiles(without); !slices.Equal(got, want) {
		t.Errorf("staleFiles = %q, want %q", got, want)
	}
	if err := writeAll(dir, nil, want); err != nil {
		t.Fatal(err)
	}

	// A file of the user's in bin/ keeps the folder.
	for _, arch := range firewallbin.Architectures {
		writeFile(t, filepath.Join(dir, "bin", firewallbin.Name(arch)), "placeholder")
	}
	writeFile(t, filepath.Join(dir, "bin", "mine.sh"), "#!/bin/sh\n")
	if err := writeAll(dir, nil, staleFiles(without)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "mine.sh")); err != nil {
		t.Errorf("the user's bin/mine.sh: %v", err)
	}
}

// TestForceKeepsUserComposeFiles: the compose file of the user's own that a
// refusal tells them to write survives --force, listed after compose.yaml.
func TestForceKeepsUserComposeFiles(t *testing.T) {
	ws, path, data := initWorkspace(t, "override", Options{})
	mine := `"dockerComposeFile": ["compose.yaml", "compose.override.yaml"]`
	writeFile(t, path, strings.Replace(data, `"dockerComposeFile": "compose.yaml"`, mine, 1))
	if _, err := Init(Options{Workspace: ws, Force: true}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !strings.Contains(string(got), mine) {
		t.Errorf("the user's compose file left dockerComposeFile:\n%s", got)
	}

	// A list or a file without devbox's gets devbox's first; theirs stay.
	for _, tc := range []struct{ theirs, want string }{
		{`["compose.override.yaml", "compose.yaml"]`, `["compose.override.yaml", "compose.yaml"]`},
		{`["mine.yaml"]`, `["compose.yaml", "mine.yaml"]`},
		{`"mine.yaml"`, `["compose.yaml", "mine.yaml"]`},
	} {
		data, _ := os.ReadFile(path)
		cut := strings.Index(string(data), `"dockerComposeFile": `)
		end := cut + strings.Index(string(data[cut:]), ",\n")
		writeFile(t, path, string(data[:cut])+`"dockerComposeFile": `+tc.theirs+string(data[end:]))
		if _, err := Init(Options{Workspace: ws, Force: true}); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		std, err := hujson.Standardize(bytes.Clone(got))
		if err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		if files := decode(t, std)["dockerComposeFile"]; compactJSON(t, files) != strings.ReplaceAll(tc.want, " ", "") {
			t.Errorf("dockerComposeFile %s became %v, want %s:\n%s", tc.theirs, files, tc.want, got)
		}
		validateSchema(t, got)
	}
}

// initWorkspace runs Init with o in a new git workspace and returns the
// workspace, its devcontainer.json and what that holds.
func initWorkspace(t *testing.T, name string, o Options) (ws, path, data string) {
	t.Helper()
	ws = newWorkspace(t, name, true)
	o.Workspace = ws
	if o.SingleContainer || o.VendorGateway {
		o.FirewallBinary = firewallBin // the default layout writes no binary
	}
	if _, err := Init(o); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(ws, DirName, "devcontainer.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ws, path, string(b)
}

func compactJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
