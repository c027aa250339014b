package generator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tailscale/hujson"
)

// schemaFile is where the Dev Container JSON Schema sits in the shared
// folder beside the repository (../shared in CI, /work/shared here).
const schemaFile = "shared/schemas/devContainer.base.schema.json"

// findSchema walks up from the test's folder to find the schema.
func findSchema() string {
	dir, err := filepath.Abs(".")
	if err != nil {
		return ""
	}
	for {
		if p := filepath.Join(dir, schemaFile); isFile(p) {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

var compileSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	path := findSchema()
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///devContainer.base.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("file:///devContainer.base.schema.json")
})

// validateSchema checks a devcontainer.json against the Dev Container
// schema. Outside CI a missing schema skips the test, loudly; in CI
// (CI=true) it fails it.
func validateSchema(t *testing.T, data []byte) {
	t.Helper()
	sch, err := compileSchema()
	if err != nil {
		t.Fatalf("compile the devcontainer schema: %v", err)
	}
	if sch == nil {
		msg := "SCHEMA NOT FOUND: " + schemaFile + " is in no parent folder of the test; devcontainer.json was NOT validated against the schema"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	std, err := hujson.Standardize(bytes.Clone(data))
	if err != nil {
		t.Fatalf("devcontainer.json is not HuJSON: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(std))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("devcontainer.json does not validate against the schema: %v\n%s", err, data)
	}
}

// hashTree returns a digest of every path, mode and content under dir, to
// show a failed run left it unchanged.
func hashTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := path + " " + info.Mode().String()
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}

// gitInit makes dir a git repository, as most workspaces are.
func gitInit(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{"hooks", "objects/info"} { // as git init leaves them
		if err := os.MkdirAll(filepath.Join(dir, ".git", sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "config"), []byte("[core]\n\trepositoryformatversion = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// requireDocker skips under -short and fails when no engine answers: an
// integration test that cannot run is a failure, never a silent skip.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real Docker Engine): skipped under -short")
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Fatalf("integration test needs a Docker Engine (run with -short to skip it): docker version: %v: %s", err, strings.TrimSpace(string(out)))
	}
}

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), lastLines(stderr.String(), 40))
	}
	return stdout.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// decode parses standard JSON into a map.
func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return m
}

// loadCompose loads a compose file with compose-go, as Compose v2 would,
// resolving relative paths against dir: the check of generated compose
// files by their real consumer.
func loadCompose(ctx context.Context, dir, filename string, data []byte) (*types.Project, error) {
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filename, Content: data}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName("devbox-check", true)
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		return nil, fmt.Errorf("load %s with compose-go: %w", filename, err)
	}
	return p, nil
}

// withBinary gives o the init-firewall built for the tests where the
// layout writes one (--single-container, --vendor-gateway); the default
// layout writes none and refuses --firewall-binary.
func withBinary(o Options) Options {
	if o.SingleContainer || o.VendorGateway {
		o.FirewallBinary = firewallBin
	}
	return o
}
