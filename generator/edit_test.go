package generator

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailscale/hujson"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// userDevcontainer is a devcontainer.json a user has edited after init:
// comments, keys devbox does not know, their own mounts and extensions, and
// a few devbox settings changed by hand.
const userDevcontainer = `// My team's sandbox. KEEP THIS COMMENT.
{
  "name": "my project", // the name we like
  /* block comment before build */
  "build": {"dockerfile": "Dockerfile", "context": "."},
  "features": {
    "./devbox-firewall": {},
    "ghcr.io/devcontainers/features/docker-outside-of-docker:1": {} // ours
  },
  "remoteUser": "someone-else",
  "capAdd": ["SYS_PTRACE"], // for the debugger
  "mounts": [
    // our cache
    "source=team-cache,target=/cache,type=volume",
    "source=devbox-claude-${devcontainerId},target=/home/dev/.claude,type=volume"
  ],
  "runArgs": ["--add-host=db.local:127.0.0.1", "--cpus=1"],
  "forwardPorts": [3000, 5432], // unknown to devbox
  "customizations": {
    "vscode": {
      "extensions": ["eamodio.gitlens"],
      "settings": {"editor.tabSize": 2} // keep
    }
  },
  "postCreateCommand": "npm ci",
}
`

func TestForceEditsDevcontainerJSON(t *testing.T) {
	ws := newWorkspace(t, "edited", true)
	if _, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ws, DirName, "devcontainer.json")
	if err := os.WriteFile(path, []byte(userDevcontainer), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin, Force: true, Languages: []string{"go@1.26"}, CPUs: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Edited {
		t.Error("Result.Edited is false")
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(got)
	for _, keep := range []string{
		"KEEP THIS COMMENT", "the name we like", "block comment before build", "// ours", "for the debugger",
		"our cache", "unknown to devbox", "// keep", `"my project"`, "docker-outside-of-docker",
		"source=team-cache", "--add-host=db.local:127.0.0.1", "eamodio.gitlens", `"editor.tabSize"`, `"npm ci"`,
	} {
		if !strings.Contains(text, keep) {
			t.Errorf("lost %q:\n%s", keep, text)
		}
	}
	// The user's keys keep their order.
	if order := indexes(text, `"forwardPorts"`, `"customizations"`, `"postCreateCommand"`); !order {
		t.Errorf("user keys reordered:\n%s", text)
	}
	std, err := hujson.Standardize(bytes.Clone(got))
	if err != nil {
		t.Fatalf("edited file is not HuJSON: %v\n%s", err, text)
	}
	cfg := decode(t, std)
	if cfg["remoteUser"] != "dev" || cfg["containerUser"] != "root" || cfg["waitFor"] != "postStartCommand" {
		t.Errorf("owned keys not updated: remoteUser %v containerUser %v waitFor %v", cfg["remoteUser"], cfg["containerUser"], cfg["waitFor"])
	}
	if caps := cfg["capAdd"]; !sameStrings(caps, "SYS_PTRACE", "NET_ADMIN") {
		t.Errorf("capAdd = %v, want the user's and NET_ADMIN", caps)
	}
	if got := cfg["runArgs"]; !sameStrings(got, "--add-host=db.local:127.0.0.1", "--cpus=2") {
		t.Errorf("runArgs = %v: devbox's --cpus should be replaced, the user's kept", got)
	}
	mounts := cfg["mounts"].([]any)
	if n := strings.Count(text, "devbox-claude-${devcontainerId}"); n != 1 {
		t.Errorf("the agent volume is mounted %d times, want once: %v", n, mounts)
	}
	features := cfg["features"].(map[string]any)
	if _, ok := features["ghcr.io/devcontainers/features/go:1"]; ok {
		t.Errorf("the Go feature (it adds seccomp=unconfined and SYS_PTRACE) was added: %v", features)
	}
	ext := cfg["customizations"].(map[string]any)["vscode"].(map[string]any)["extensions"]
	if !sameStrings(ext, "eamodio.gitlens", "anthropic.claude-code", "golang.go") {
		t.Errorf("extensions = %v", ext)
	}
	validateSchema(t, got)

	// A second --force changes nothing: the edit is idempotent.
	if _, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin, Force: true, Languages: []string{"go@1.26"}, CPUs: "2"}); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(again, got) {
		t.Errorf("second --force changed devcontainer.json:\n%s\n---\n%s", got, again)
	}
}

// TestForceDropsStaleLanguageFeature: a language moved from a version to
// @system loses its feature; the user's own features stay.
func TestForceDropsStaleLanguageFeature(t *testing.T) {
	ws := newWorkspace(t, "langswitch", true)
	if _, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin, Languages: []string{"python@3.12", "node@22"}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ws, DirName, "devcontainer.json")
	data, _ := os.ReadFile(path)
	data = bytes.Replace(data, []byte(`"features": {`), []byte(`"features": {
    "ghcr.io/devcontainers/features/docker-outside-of-docker:1": {}, // ours`), 1)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin, Force: true, Languages: []string{"python@system", "node@22"}}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	std, err := hujson.Standardize(bytes.Clone(got))
	if err != nil {
		t.Fatal(err)
	}
	features, _ := decode(t, std)["features"].(map[string]any)
	for id, want := range map[string]bool{
		"./devbox-firewall":                                         true,
		"ghcr.io/devcontainers/features/node:1":                     true,
		"ghcr.io/devcontainers/features/docker-outside-of-docker:1": true,
		"ghcr.io/devcontainers/features/python:1":                   false,
	} {
		if _, ok := features[id]; ok != want {
			t.Errorf("feature %s present = %v, want %v (features: %v)", id, ok, want, features)
		}
	}
	if !strings.Contains(string(got), "// ours") {
		t.Error("the user's comment on their feature was lost")
	}
	validateSchema(t, got)
}

// TestForceSwitchesToCompose edits a single-container file into a compose
// one: the user's runArgs entry is refused first, as a compose box has no
// runArgs; once it is gone, build goes, dockerComposeFile comes, devbox's
// mounts and --cpus move to compose.yaml and the user's mounts stay.
func TestForceSwitchesToCompose(t *testing.T) {
	ws := newWorkspace(t, "switch", true)
	if _, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ws, DirName, "devcontainer.json")
	if err := os.WriteFile(path, []byte(userDevcontainer), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin, Force: true, Services: []string{"postgres"}}
	before := hashTree(t, ws)
	if _, err := Init(o); err == nil || !strings.Contains(err.Error(), `runArgs entry "--add-host=db.local:127.0.0.1"`) {
		t.Fatalf("error %v, want the user's runArgs entry refused by name", err)
	}
	if hashTree(t, ws) != before {
		t.Fatal("a refused upgrade changed the workspace")
	}
	writeFile(t, path, strings.Replace(userDevcontainer, `"--add-host=db.local:127.0.0.1", `, "", 1))
	if _, err := Init(o); err != nil {
		t.Fatal(err)
	}
	if compose, _ := os.ReadFile(filepath.Join(ws, DirName, "compose.yaml")); !strings.Contains(string(compose), "cpus: 1") {
		t.Errorf("runArgs --cpus=1 did not move to compose.yaml:\n%s", compose)
	}
	got, _ := os.ReadFile(path)
	std, err := hujson.Standardize(bytes.Clone(got))
	if err != nil {
		t.Fatal(err)
	}
	cfg := decode(t, std)
	for _, key := range []string{"build", "runArgs"} {
		if _, ok := cfg[key]; ok {
			t.Errorf("%s kept beside dockerComposeFile", key)
		}
	}
	if cfg["dockerComposeFile"] != "compose.yaml" || cfg["service"] != "dev" {
		t.Errorf("dockerComposeFile %v service %v", cfg["dockerComposeFile"], cfg["service"])
	}
	if !sameStrings(cfg["mounts"], "source=team-cache,target=/cache,type=volume") {
		t.Errorf("mounts = %v, want only the user's", cfg["mounts"])
	}
	validateSchema(t, got)
}

func TestMalformedDevcontainerJSON(t *testing.T) {
	ws := newWorkspace(t, "malformed", true)
	if _, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ws, DirName, "devcontainer.json")
	if err := os.WriteFile(path, []byte("{\n  \"name\": \"x\",\n  \"build\": {,\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := hashTree(t, ws)
	_, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin, Force: true})
	if err == nil || !strings.Contains(err.Error(), path+":3:13:") {
		t.Errorf("error %v, want it to name %s:3:13", err, path)
	}
	if IsInputError(err) {
		t.Errorf("a malformed file is a failure (exit 1), not a usage error: %v", err)
	}
	if after := hashTree(t, ws); after != before {
		t.Error("workspace changed")
	}
}

func indexes(s string, subs ...string) bool {
	last := -1
	for _, sub := range subs {
		i := strings.Index(s, sub)
		if i <= last {
			return false
		}
		last = i
	}
	return true
}

func sameStrings(v any, want ...string) bool {
	list, ok := v.([]any)
	if !ok || len(list) != len(want) {
		return false
	}
	for i, w := range want {
		if list[i] != w {
			return false
		}
	}
	return true
}

// TestForceKeepsGatewayLayout: `init --force` on a gateway workspace the
// user edited keeps the compose keys, the user's comment and settings, and
// drops what the single-container layout had added.
func TestForceKeepsGatewayLayout(t *testing.T) {
	ws, path, data := initWorkspace(t, "gateway-edited", Options{})
	edited := strings.Replace(data, `"remoteUser"`, `"forwardPorts": [3000], // KEEP THIS COMMENT
  "capAdd": ["SYS_PTRACE"],
  "remoteUser"`, 1)
	writeFile(t, path, edited)
	if _, err := Init(Options{Workspace: ws, Force: true}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(raw)
	var cfg struct {
		DockerComposeFile string   `json:"dockerComposeFile"`
		Service           string   `json:"service"`
		ForwardPorts      []int    `json:"forwardPorts"`
		CapAdd            []string `json:"capAdd"`
	}
	std, err := hujson.Standardize([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(std, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.DockerComposeFile != "compose.yaml" || cfg.Service != "dev" || len(cfg.ForwardPorts) != 1 || !strings.Contains(got, "KEEP THIS COMMENT") {
		t.Errorf("after --force: dockerComposeFile %q, service %q, forwardPorts %v, comment kept %v:\n%s",
			cfg.DockerComposeFile, cfg.Service, cfg.ForwardPorts, strings.Contains(got, "KEEP THIS COMMENT"), got)
	}
	if len(cfg.CapAdd) != 1 || cfg.CapAdd[0] != "SYS_PTRACE" {
		t.Errorf("capAdd after --force: %v, want the user's SYS_PTRACE", cfg.CapAdd)
	}
	validateSchema(t, []byte(got))
}

// TestForceToSudo: `init --force --workspace volume --sudo` over a
// default workspace drops no-new-privileges from devcontainer.json (sudo
// is setuid; the CLI applies securityOpt to compose's dev too), keeps the
// user's other securityOpt entries and comments; back without --sudo, it
// returns.
func TestForceToSudo(t *testing.T) {
	ws := newWorkspace(t, "to-sudo", true)
	if _, err := Init(Options{Workspace: ws}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ws, DirName, "devcontainer.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"securityOpt": ["no-new-privileges"],`, `"securityOpt": ["no-new-privileges", "label=disable"], // ours`, 1)
	if edited == string(data) {
		t.Fatalf("no securityOpt line to edit in:\n%s", data)
	}
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sudo := range []bool{true, false} {
		if _, err := Init(Options{Workspace: ws, Force: true, WorkspaceMode: WorkspaceVolume, Sudo: sudo}); err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			SecurityOpt         []string `json:"securityOpt"`
			UpdateRemoteUserUID bool     `json:"updateRemoteUserUID"`
		}
		out, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		std, err := hujson.Standardize(bytes.Clone(out))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(std, &cfg); err != nil {
			t.Fatal(err)
		}
		nnp := strings.Contains(strings.Join(cfg.SecurityOpt, " "), "no-new-privileges")
		if nnp == sudo || !strings.Contains(strings.Join(cfg.SecurityOpt, " "), "label=disable") || cfg.UpdateRemoteUserUID {
			t.Errorf("sudo %v: securityOpt %v, updateRemoteUserUID %v\n%s", sudo, cfg.SecurityOpt, cfg.UpdateRemoteUserUID, out)
		}
		if !strings.Contains(string(out), "// ours") {
			t.Errorf("sudo %v: the user's comment is gone:\n%s", sudo, out)
		}
	}
}

// TestForceKeepsVolume: `init --force` without --workspace keeps a volume
// workspace one (a regeneration must not hand the host's folder to a box
// that had none of it); --workspace bind changes it.
func TestForceKeepsVolume(t *testing.T) {
	ws := newWorkspace(t, "keeps-volume", true)
	if _, err := Init(Options{Workspace: ws, WorkspaceMode: WorkspaceVolume}); err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(ws, DirName, "compose.yaml")
	volume := func() bool {
		data, err := os.ReadFile(compose)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(data), "source: "+contract.WorkspaceVolume)
	}
	r, err := Init(Options{Workspace: ws, Force: true, Languages: []string{"python@system"}})
	if err != nil {
		t.Fatal(err)
	}
	if !volume() || !strings.Contains(strings.Join(r.Notes, "\n"), "kept --workspace volume") {
		t.Errorf("init --force dropped the volume workspace (notes %q)", r.Notes)
	}
	if _, err := Init(Options{Workspace: ws, Force: true, WorkspaceMode: WorkspaceBind}); err != nil {
		t.Fatal(err)
	}
	if volume() {
		t.Error("--workspace bind kept the volume workspace")
	}
}
