package integration

import (
	"bufio"
	"bytes"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
	"github.com/devbox-sandbox/devbox/integration/internal/inet"
)

// example is a folder of examples/ and what its boxes are checked for.
type example struct {
	name string
	// bases gives a workspace (its -w folder, "" for the example's own) a
	// base image other than bookworm.
	bases map[string]string
	// check runs once every workspace of the example is up.
	check func(t *testing.T, boxes map[string]*workspace)
}

var examples = []example{
	{name: "claude-code", check: checkClaudeCode},
	{name: "python-postgres", check: checkPythonPostgres},
	{name: "go-redis", check: checkGoRedis},
	{name: "node-versions", bases: map[string]string{"node22": images.Trixie}, check: checkNodeVersions},
}

// initCommand is one `devbox init` line of an example's README.
type initCommand struct {
	workspace string // the -w folder, relative to the example; "" for the example itself
	flags     []string
}

// TestIntegrationExamples checks every example: its committed files are
// exactly what its README's `devbox init` command makes (-update rewrites
// them), and a temporary
// copy, regenerated with local images and pointed at the stand-in internet
// (see examples/README.md), comes up with its firewall working and does what
// the example is for.
func TestIntegrationExamples(t *testing.T) {
	s := requireSuite(t)
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			dir := filepath.Join(repoRoot(), "examples", ex.name)
			cmds := readInitCommands(t, filepath.Join(dir, "README.md"))
			t.Run("up to date", func(t *testing.T) {
				for _, c := range cmds {
					checkUpToDate(t, s, filepath.Join(dir, c.workspace), c)
				}
			})
			t.Run("up", func(t *testing.T) {
				copyDir := filepath.Join(t.TempDir(), ex.name)
				if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
					t.Fatal(err)
				}
				boxes := map[string]*workspace{}
				for _, c := range cmds {
					boxes[c.workspace] = s.upExample(t, filepath.Join(copyDir, c.workspace), c, ex.bases[c.workspace])
				}
				for name, w := range boxes {
					t.Run("firewall "+name, func(t *testing.T) {
						runProbes(t, w.exec, append(httpProbes(inet.Allowed, true), httpProbes(inet.Blocked, false)...))
					})
				}
				ex.check(t, boxes)
			})
		})
	}
}

// readInitCommands returns the `devbox init` lines of the first ```sh
// block of an example's README.
func readInitCommands(t *testing.T, readme string) []initCommand {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []initCommand
	in := false
	for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in && line == "```sh":
			in = true
		case in && line == "```":
			if len(cmds) == 0 {
				t.Fatalf("%s: the first ```sh block holds no `devbox init` line", readme)
			}
			return cmds
		case in:
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "devbox" || f[1] != "init" {
				t.Fatalf("%s: want only `devbox init` lines in the first ```sh block, got %q", readme, line)
			}
			c := initCommand{}
			for i := 2; i < len(f); i++ {
				if f[i] == "-w" && i+1 < len(f) {
					c.workspace = f[i+1]
					i++
					continue
				}
				c.flags = append(c.flags, f[i])
			}
			cmds = append(cmds, c)
		}
	}
	t.Fatalf("%s: no ```sh block with the `devbox init` command", readme)
	return nil
}

// checkUpToDate runs the command in an empty folder of the same name and
// compares every file it writes (but the init-firewall binaries, which are
// not committed) with the committed ones.
func checkUpToDate(t *testing.T, s *suite, committed string, c initCommand) {
	t.Helper()
	fresh := filepath.Join(t.TempDir(), filepath.Base(committed))
	if err := os.MkdirAll(fresh, 0o755); err != nil {
		t.Fatal(err)
	}
	if res, err := s.run(nil, append([]string{"init", "-w", fresh}, s.initFlags(c.flags...)...)...); err != nil {
		t.Fatalf("devbox init %s: %v\n%s", strings.Join(c.flags, " "), err, combined(res))
	}
	want := devcontainerFiles(t, fresh)
	if *update {
		writeExample(t, committed, want)
		return
	}
	got := devcontainerFiles(t, committed)
	for name, data := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: missing %s, which devbox init %s writes", committed, name, strings.Join(c.flags, " "))
		} else if !bytes.Equal(g, data) {
			t.Errorf("%s/%s differs from what devbox init %s writes now: regenerate the example", committed, name, strings.Join(c.flags, " "))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s is not written by devbox init %s", committed, name, strings.Join(c.flags, " "))
		}
	}
}

// update makes checkUpToDate write the examples instead of comparing them.
var update = flag.Bool("update", false, "regenerate the committed examples/ files with devbox init")

// writeExample replaces the committed example's .devcontainer/ (but bin/)
// with files.
func writeExample(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name := range devcontainerFiles(t, dir) {
		if err := os.Remove(filepath.Join(dir, ".devcontainer", name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		path := filepath.Join(dir, ".devcontainer", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// devcontainerFiles reads the files under dir/.devcontainer but bin/.
func devcontainerFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	root := filepath.Join(dir, ".devcontainer")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case d.IsDir() && rel == "bin":
			return filepath.SkipDir
		case d.IsDir():
			return nil
		}
		data, err := os.ReadFile(path)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// upExample makes dir (a copy of an example) a git repository, makes its
// .devcontainer/ anew with the example's flags made local (localFlags; with
// --force, devbox would keep the feature of a versioned language in
// devcontainer.json, and features cannot be fetched here), points it at the
// stand-in internet and brings it up.
func (s *suite) upExample(t *testing.T, dir string, c initCommand, base string) *workspace {
	t.Helper()
	if base == "" {
		base = images.Bookworm
	}
	flags := localFlags(c.flags, base)
	for _, img := range []string{base, images.Postgres, images.Redis} {
		if slices.Contains(flags, img) || slices.Contains(flags, "postgres="+img) || slices.Contains(flags, "redis="+img) {
			if err := s.images.Ensure(t.Context(), img); err != nil {
				t.Fatal(err)
			}
		}
	}
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init %s: %v: %s", dir, err, out)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".devcontainer")); err != nil {
		t.Fatal(err)
	}
	w := s.adopt(t, dir)
	w.mustDevbox(t, "init", s.initFlags(flags...)...)
	if err := localize(dir); err != nil {
		t.Fatal(err)
	}
	trustHostCAs(t, dir)
	w.trust(t)
	w.mustDevbox(t, "up")
	return w
}

// localFlags turns an example's flags into ones that build here: LANG@system
// for every language (versioned node and python are Dev Container features
// from ghcr.io, and versioned Go comes from the Go module proxy: tests reach
// no public address), the local base image, and the local stand-ins for the
// services.
func localFlags(flags []string, base string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		switch f := flags[i]; {
		case f == "--lang" && i+1 < len(flags):
			var langs []string
			for _, l := range strings.Split(flags[i+1], ",") {
				name, _, _ := strings.Cut(l, "@")
				langs = append(langs, name+"@system")
			}
			out = append(out, f, strings.Join(langs, ","))
			i++
		case f == "--base-image" && i+1 < len(flags):
			i++
		case f == "--services" && i+1 < len(flags):
			out = append(out, f, flags[i+1])
			for _, svc := range strings.Split(flags[i+1], ",") {
				switch svc {
				case "postgres":
					out = append(out, "--service-image", "postgres="+images.Postgres)
				case "redis":
					out = append(out, "--service-image", "redis="+images.Redis)
				}
			}
			i++
		default:
			out = append(out, f)
		}
	}
	return append(out, "--base-image", base)
}

// checkClaudeCode: the Claude Code CLI runs as the agent's user, and its
// config folder (a named volume) is the user's.
func checkClaudeCode(t *testing.T, boxes map[string]*workspace) {
	w := boxes[""]
	if got := w.mustExec(t, "claude", "--version"); !strings.Contains(got, "Claude Code") {
		t.Errorf("claude --version printed %q", got)
	}
	w.mustExec(t, "touch", "/home/dev/.claude/dbit-written")
}

// checkPythonPostgres: Python runs, and a query through DATABASE_URL reaches
// Postgres as the non-superuser app.
func checkPythonPostgres(t *testing.T, boxes map[string]*workspace) {
	w := boxes[""]
	w.mustExec(t, "python3", "--version")
	got := w.mustExec(t, "sh", "-c", `psql "$DATABASE_URL" -tAc 'select current_user, usesuper from pg_user where usename = current_user'`)
	if got != "app|f" {
		t.Errorf("query through DATABASE_URL: got %q, want app|f (role app, no superuser)", got)
	}
}

// redisPing is a Go program that sends PING to the Redis of REDIS_URL.
const redisPing = `package main

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
)

func main() {
	u, err := url.Parse(os.Getenv("REDIS_URL"))
	if err != nil {
		panic(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		panic(err)
	}
	r := bufio.NewReader(c)
	// REDIS_URL names the user and password: Redis lets no one in without.
	pass, _ := u.User.Password()
	fmt.Fprintf(c, "AUTH %s %s\r\n", u.User.Username(), pass)
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		panic(fmt.Sprintf("AUTH: %q %v", line, err))
	}
	fmt.Fprint(c, "PING\r\n")
	line, err := r.ReadString('\n')
	if err != nil {
		panic(err)
	}
	fmt.Print(line)
}
`

// checkGoRedis: a Go program built and run in the box talks to Redis
// through REDIS_URL, as its user.
func checkGoRedis(t *testing.T, boxes map[string]*workspace) {
	w := boxes[""]
	w.mustExec(t, "go", "version")
	script := "mkdir -p /tmp/ping && cat >/tmp/ping/main.go <<'EOF'\n" + redisPing + "EOF\ncd /tmp/ping && GOPROXY=off go run main.go"
	if got := w.mustExec(t, "sh", "-c", script); got != "+PONG" {
		t.Errorf("Go program's PING to REDIS_URL: got %q, want +PONG", got)
	}
}

// checkNodeVersions: the two boxes run different Node versions, side by
// side, and status lists both.
func checkNodeVersions(t *testing.T, boxes map[string]*workspace) {
	versions := map[string]string{}
	for name, w := range boxes {
		versions[name] = w.mustExec(t, "node", "--version")
	}
	if versions["node20"] == versions["node22"] {
		t.Errorf("both boxes run node %s, want two versions", versions["node20"])
	}
	status := boxes["node20"].s.status(t)
	for name, w := range boxes {
		if !strings.Contains(status, w.dir) {
			t.Errorf("devbox status does not list %s (%s):\n%s", name, w.dir, status)
		}
	}
	t.Logf("node versions side by side: %v", versions)
}

// hostCABundle is the host's CA bundle: on the machines the tests run on, the
// package registries are reached through a proxy whose CA only the host
// trusts.
const hostCABundle = "/etc/ssl/certs/ca-certificates.crt"

// trustHostCAs lets the image build reach the npm registry as the host does:
// it adds the host's CA bundle to the workspace's image and points Node at
// it (NODE_EXTRA_CA_CERTS), right after FROM. Debian's bundle in the image
// lacks the proxy's CA, and npm then fails with SELF_SIGNED_CERT_IN_CHAIN.
func trustHostCAs(t *testing.T, dir string) {
	t.Helper()
	bundle, err := os.ReadFile(hostCABundle)
	if err != nil {
		t.Logf("no host CA bundle (%v): the image uses its own", err)
		return
	}
	devcontainer := filepath.Join(dir, ".devcontainer")
	if err := os.WriteFile(filepath.Join(devcontainer, "dbit-host-ca.crt"), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	dockerfile := filepath.Join(devcontainer, "Dockerfile")
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "FROM ") })
	if i < 0 {
		t.Fatalf("%s has no FROM line", dockerfile)
	}
	trust := "# Added by the integration tests: the host's CAs, for the registry proxy.\n" +
		"COPY dbit-host-ca.crt /usr/local/share/ca-certificates/dbit-host-ca.crt\n" +
		"ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/dbit-host-ca.crt\n"
	lines = slices.Insert(lines, i+1, trust)
	if err := os.WriteFile(dockerfile, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}
