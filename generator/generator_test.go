package generator

import (
	"bytes"
	"context"
	"fmt"
	"github.com/devbox-sandbox/devbox/generator/firewallbin"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// combination is one row of the golden table: a workspace made by Init.
type combination struct {
	name string
	git  bool
	opts Options
}

// combinations cover each agent, with and without services, and several
// languages and versions.
var combinations = []combination{
	{name: "claude-default", git: true, opts: Options{}},
	{name: "claude-node-python-services", git: true, opts: Options{
		Agent: "claude", Languages: []string{"node@22,python@3.12"}, Services: []string{"postgres,redis"},
		Allow: []string{"example.org", "203.0.113.0/24", "**.Example.NET.:443,22", "198.51.100.0/24:22", "[2001:db8:100::/48]:80,443", "2001:db8:200::/48"},
	}},
	{name: "claude-single-container", git: true, opts: Options{SingleContainer: true, Sysctls: []string{"net.ipv4.tcp_keepalive_time=600"}, Publish: []string{"5173"}}},
	{name: "single-container-services", git: true, opts: Options{
		SingleContainer: true, Languages: []string{"node@22"}, Services: []string{"postgres,redis"},
	}},
	{name: "codex-system-langs", git: true, opts: Options{
		Agent: "codex", Languages: []string{"node@system", "python@system", "go@system"},
	}},
	{name: "codex-go-services", git: false, opts: Options{
		Agent: "codex", Languages: []string{"go@1.26"}, Services: []string{"postgres"},
		ServiceImages: []string{"postgres=pgvector/pgvector:pg16"},
	}},
	{name: "gemini-python", git: true, opts: Options{
		Agent: "gemini", Languages: []string{"python@3.13.1"}, Presets: []string{"debian"}, User: "agent",
	}},
	{name: "gemini-all-services", git: true, opts: Options{
		Agent: "gemini", Services: []string{"postgres", "redis", "mysql", "mongodb"}, Languages: []string{"node@20"},
	}},
	{name: "none-no-git", git: false, opts: Options{
		Agent: "none", Languages: []string{"go@1.25"}, Presets: []string{"none"}, Allow: []string{"198.51.100.7"},
	}},
	{name: "largest", git: true, opts: largestOptions()},
	{name: "vendor-gateway", git: true, opts: Options{VendorGateway: true, BaseImage: "debian:trixie-slim"}},
	{name: "volume-workspace", git: true, opts: Options{WorkspaceMode: WorkspaceVolume}},
	{name: "volume-sudo", git: true, opts: Options{Agent: "none", WorkspaceMode: WorkspaceVolume, Sudo: true, Services: []string{"redis"}}},
	{name: "pinned-gateway", git: true, opts: Options{
		Agent: "none", GatewayImage: "registry.example/devbox/gateway@sha256:" + strings.Repeat("ab", 32),
	}},
}

// largestOptions asks for everything at once; the benchmark uses it too.
func largestOptions() Options {
	return Options{
		Agent:     "claude",
		Languages: []string{"node@22", "python@3.12", "go@1.26"},
		Services:  []string{"postgres", "redis", "mysql", "mongodb"},
		Presets:   []string{"codex", "gemini", "npm", "pypi", "go", "crates", "debian"},
		Allow:     []string{"example.org", "api.example.net", "203.0.113.0/24", "2001:db8:100::/48"},
		Sysctls:   []string{"net.ipv4.tcp_keepalive_time=600", "kernel.msgmax=65536"},
		Publish:   []string{"3000,8080", "3000"},
		Ulimits:   []string{"nofile=1024:65536", "nproc=4096"},
		GPU:       true, CPUs: "4", Memory: "8g",
	}
}

// single is largest without services: the same limits as runArgs.
func singleLimits() Options {
	o := largestOptions()
	o.Services = nil
	return o
}

func init() {
	combinations = append(combinations, combination{name: "claude-limits-single", git: true, opts: singleLimits()})
}

// newWorkspace makes an empty workspace folder named name.
func newWorkspace(t *testing.T, name string, git bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if git {
		gitInit(t, dir)
	}
	return dir
}

// options returns the combination's options for a workspace.
func (c combination) options(workspace string) Options {
	o := c.opts
	o.Workspace = workspace
	return withBinary(o)
}

// generate runs Generate for the combination in a new workspace.
func (c combination) generate(t *testing.T) *Result {
	t.Helper()
	r, err := Generate(c.options(newWorkspace(t, c.name, c.git)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden renders the text files of a result as one document, each file
// under a "-- path (mode) --" header. Binaries vary with the build, so only
// their names are listed.
func golden(r *Result) []byte {
	var b bytes.Buffer
	for _, f := range r.Files {
		if f.Binary {
			fmt.Fprintf(&b, "-- %s (%04o) --\n(binary)\n", f.Path, f.Mode)
			continue
		}
		fmt.Fprintf(&b, "-- %s (%04o) --\n%s", f.Path, f.Mode, f.Data)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, c := range combinations {
		t.Run(c.name, func(t *testing.T) {
			r := c.generate(t)
			got := golden(r)
			// Only the host's binary is certain; another one depends on
			// whether `task build` embedded it.
			for _, dir := range []string{"bin", vendorDir} {
				got = bytes.ReplaceAll(got, []byte("-- "+dir+"/"+firewallbin.Name(otherArch())+" (0755) --\n(binary)\n"), nil)
			}
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./generator -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the generated files (go test ./generator -run TestGolden -update to accept):\n%s", path, diffLines(string(want), string(got)))
			}
		})
	}
}

// otherArch is the architecture that is not the host's.
func otherArch() string {
	for _, a := range firewallbin.Architectures {
		if a != hostArch() {
			return a
		}
	}
	return ""
}

func hostArch() string {
	s, _ := resolve(Options{Agent: "none"})
	return s.HostArch
}

// diffLines shows the first lines that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, a, b)
		}
	}
	return "(same lines, different bytes)"
}

// TestGeneratedFilesAreValid checks every combination with the files' own
// consumers that need no engine: the Dev Container schema, the firewall's
// config parser and compose-go.
func TestGeneratedFilesAreValid(t *testing.T) {
	for _, c := range combinations {
		t.Run(c.name, func(t *testing.T) {
			r := c.generate(t)
			files := map[string][]byte{}
			for _, f := range r.Files {
				files[f.Path] = f.Data
			}
			validateSchema(t, files["devcontainer.json"])

			cfg, err := allowlist.ParseConfig("firewall.jsonc", files["firewall.jsonc"])
			if err != nil {
				t.Fatalf("firewall.jsonc: %v\n%s", err, files["firewall.jsonc"])
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("firewall.jsonc: %v", err)
			}
			if want := len(c.opts.Services) > 0; cfg.AllowLocalNetworks != want {
				t.Errorf("allowLocalNetworks = %v, want %v", cfg.AllowLocalNetworks, want)
			}

			compose, ok := files["compose.yaml"]
			if ok != (len(c.opts.Services) > 0 || !c.opts.SingleContainer) {
				t.Fatalf("compose.yaml written = %v with services %v", ok, c.opts.Services)
			}
			if ok {
				p, err := loadCompose(context.Background(), r.Dir, "compose.yaml", compose)
				if err != nil {
					t.Fatal(err)
				}
				checkComposeProject(t, p)
			}
		})
	}
}

// TestNoLargeFiles: no file devbox writes reaches 1 MB, in every
// combination but the two that carry init-firewall (--vendor-gateway and
// the deprecated --single-container).
func TestNoLargeFiles(t *testing.T) {
	for _, c := range combinations {
		if c.opts.VendorGateway || c.opts.SingleContainer {
			continue
		}
		for _, f := range c.generate(t).Files {
			if len(f.Data) >= 1<<20 || f.Binary {
				t.Errorf("%s: %s is %d bytes (binary: %v); the default layout writes text only", c.name, f.Path, len(f.Data), f.Binary)
			}
		}
	}
}
