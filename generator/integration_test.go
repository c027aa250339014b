package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// requireBaseImage returns the local base image of a Debian suite, making
// it when it is missing.
func requireBaseImage(t *testing.T, suite string) string {
	t.Helper()
	image := "devbox-test/debian:" + suite
	if exec.Command("docker", "image", "inspect", image).Run() != nil {
		t.Logf("building %s with integration/images/make-base.sh", image)
		run(t, "..", "bash", "integration/images/make-base.sh", suite, image)
	}
	return image
}

// TestIntegrationReadConfiguration checks that the Dev Containers CLI
// accepts every combination (it needs a reachable engine).
func TestIntegrationReadConfiguration(t *testing.T) {
	requireDocker(t)
	if _, err := exec.LookPath("devcontainer"); err != nil {
		t.Fatalf("integration test needs the Dev Containers CLI (npm install -g @devcontainers/cli): %v", err)
	}
	for _, c := range combinations {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ws := newWorkspace(t, c.name, c.git)
			o := c.options(ws)
			if _, err := Init(o); err != nil {
				t.Fatal(err)
			}
			out := run(t, ws, "devcontainer", "read-configuration", "--workspace-folder", ws)
			var got struct {
				Configuration map[string]any `json:"configuration"`
				Workspace     struct {
					WorkspaceFolder string `json:"workspaceFolder"`
				} `json:"workspace"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("read-configuration output: %v\n%s", err, out)
			}
			user := o.User
			if user == "" {
				user = DefaultUser
			}
			cfg := got.Configuration
			_, feature := cfg["features"].(map[string]any)["./devbox-firewall"]
			switch {
			case o.SingleContainer:
				if cfg["remoteUser"] != user || cfg["containerUser"] != "root" || cfg["waitFor"] != "postStartCommand" || !feature {
					t.Errorf("remoteUser %v, containerUser %v, waitFor %v, features %v", cfg["remoteUser"], cfg["containerUser"], cfg["waitFor"], cfg["features"])
				}
			default: // the gateway enforces; dev needs neither root nor the feature
				if cfg["remoteUser"] != user || cfg["containerUser"] != nil || cfg["capAdd"] != nil || cfg["service"] != "dev" || feature {
					t.Errorf("remoteUser %v, containerUser %v, capAdd %v, service %v, features %v", cfg["remoteUser"], cfg["containerUser"], cfg["capAdd"], cfg["service"], cfg["features"])
				}
			}
			if want := "/workspaces/" + c.name; got.Workspace.WorkspaceFolder != want {
				t.Errorf("workspace folder %q, want %q", got.Workspace.WorkspaceFolder, want)
			}
		})
	}
}

// TestIntegrationDockerBuild builds the generated images on the engine from
// a local base image, and checks them as the user would meet them: in the
// gateway's image (or the single container's), init-firewall (the real
// static binary) and the allowlist are root-owned with the modes the design
// states; in dev's, the user exists, has no sudo and cannot change them; in
// the single-container layout the devbox-firewall feature's install.sh
// accepts the image.
func TestIntegrationDockerBuild(t *testing.T) {
	requireDocker(t)
	if firewallBuildErr != nil {
		t.Fatalf("cmd/init-firewall does not build, so the image would hold no real firewall: %v", firewallBuildErr)
	}
	tests := []struct {
		name  string
		base  func(t *testing.T) string
		user  string
		extra string // a command that must succeed as root in the image
		// single builds the single-container layout, whose one image holds
		// the firewall and ends as root for the feature's entrypoint.
		single bool
	}{
		{name: "bookworm", base: func(t *testing.T) string { return requireBaseImage(t, "bookworm") }, user: "dev"},
		{name: "trixie", base: func(t *testing.T) string { return requireBaseImage(t, "trixie") }, user: "dev"},
		{name: "single-container", base: func(t *testing.T) string { return requireBaseImage(t, "bookworm") }, user: "dev", single: true},
		{
			// A base that already has a user and group with uid 1000 (as
			// the node and ubuntu images do): it is renamed, not duplicated.
			name: "uid-1000-taken", user: "agent",
			base: func(t *testing.T) string {
				return derivedBase(t, "RUN groupadd -g 1000 node && useradd -m -u 1000 -g 1000 node")
			},
			extra: "! getent passwd node && ! getent group node && test -d /home/agent",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWorkspace(t, "build-"+tc.name, true)
			// No agent and the distribution's node: every package is in the
			// base image already, so the build needs no network.
			r, err := Init(Options{
				Workspace: ws, Agent: "none", Languages: []string{"node@system"}, User: tc.user,
				BaseImage: tc.base(t), FirewallBinary: firewallBin, SingleContainer: tc.single, VendorGateway: !tc.single,
			})
			if err != nil {
				t.Fatal(err)
			}
			image := "devbox-generator-test:" + tc.name
			run(t, r.Dir, "docker", "build", "-q", "-t", image, ".")
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
			firewallImage := image
			if !tc.single {
				firewallImage = "devbox-generator-test:" + tc.name + "-gateway"
				run(t, filepath.Join(r.Dir, vendorDir), "docker", "build", "-q", "-t", firewallImage, ".")
				t.Cleanup(func() { exec.Command("docker", "rmi", "-f", firewallImage).Run() })
				entry := run(t, "", "docker", "image", "inspect", "--format", "{{json .Config.Entrypoint}}", firewallImage)
				if want := `["/usr/local/sbin/init-firewall","gateway"]`; strings.TrimSpace(entry) != want {
					t.Errorf("the gateway's entrypoint is %s, want %s", entry, want)
				}
				// dev's image holds no firewall and no root-owned config of it.
				run(t, "", "docker", "run", "--rm", "--network", "none", image, "sh", "-exc",
					`! test -e /usr/local/sbin/init-firewall && ! test -e /etc/devbox`)
			}

			bin, err := os.ReadFile(firewallBin)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(bin)
			// The single container's image holds the allowlist; the gateway's
			// reads it from the workspace, mounted read-only.
			allowlist := `test "$(stat -c '%U:%G %a' /etc/devbox/firewall.jsonc)" = "root:root 644"`
			if !tc.single {
				allowlist = `! test -e /etc/devbox/firewall.jsonc`
			}
			firewall := strings.Join([]string{
				`test "$(stat -c '%U:%G %a' /usr/local/sbin/init-firewall)" = "root:root 755"`,
				`test "$(stat -c '%U:%G %a' /etc/devbox)" = "root:root 755"`,
				allowlist,
				`test "$(stat -c '%U:%G %a' /var/lib/devbox)" = "root:root 700"`,
				`test "$(stat -c '%U:%G %a' /run/devbox)" = "root:root 755"`,
				`echo "` + hex.EncodeToString(sum[:]) + `  /usr/local/sbin/init-firewall" | sha256sum -c -`,
			}, " && ")
			run(t, "", "docker", "run", "--rm", "--network", "none", "--entrypoint", "sh", firewallImage, "-exc", firewall)
			asRoot := strings.Join([]string{
				fmt.Sprintf(`test "$(id -u %s)" = 1000 && test "$(id -g %s)" = 1000`, tc.user, tc.user),
				`! command -v sudo && ! test -e /etc/sudoers && ! test -e /etc/sudoers.d`,
				`test "$(id -u)" = 0`, // the image ends as root (the feature's entrypoint; the CLI's own setup)
			}, " && ")
			if tc.extra != "" {
				asRoot += " && " + tc.extra
			}
			run(t, "", "docker", "run", "--rm", "--network", "none", image, "sh", "-exc", asRoot)
			if !tc.single {
				asUser := `test -w "$HOME/.devbox-history" && ! touch /usr/local/sbin/init-firewall 2>/dev/null`
				run(t, "", "docker", "run", "--rm", "--network", "none", "--user", tc.user, image, "sh", "-exc", asUser)
				return
			}

			asUser := strings.Join([]string{
				`! touch /etc/devbox/firewall.jsonc 2>/dev/null`,
				`! sh -c 'echo x > /usr/local/sbin/init-firewall' 2>/dev/null`,
				`! touch /etc/devbox/other 2>/dev/null`,
				`! mv /etc/devbox/firewall.jsonc /tmp/ 2>/dev/null`,
				`! ls /var/lib/devbox 2>/dev/null`,
				`! touch /run/devbox/firewall.ready 2>/dev/null`,
				`test -w "$HOME/.devbox-history"`,
			}, " && ")
			run(t, "", "docker", "run", "--rm", "--network", "none", "--user", tc.user, image, "sh", "-exc", asUser)

			install, err := os.ReadFile(filepath.Join(r.Dir, "devbox-firewall", "install.sh"))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("docker", "run", "-i", "--rm", "--network", "none", image, "sh")
			cmd.Stdin = strings.NewReader(string(install))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("devbox-firewall/install.sh refuses the image: %v\n%s", err, out)
			}
		})
	}
}

// TestIntegrationDockerBuildSudoBase builds a generated Dockerfile on a base
// that ships sudo the way vendor images do (mcr.microsoft.com/devcontainers/base
// has the sudo package and a uid-1000 user with a NOPASSWD line; this one's
// user is in group sudo too, doas lets it in as well, and root has an empty
// password, as Alpine's images once had), and checks that the user is left
// with no route to root: no sudo, doas or their configuration, no admin
// group, no setuid binary beyond the plain Debian base's, and a locked root
// password for su.
func TestIntegrationDockerBuildSudoBase(t *testing.T) {
	requireDocker(t)
	if firewallBuildErr != nil {
		t.Fatalf("cmd/init-firewall does not build, so the image would hold no real firewall: %v", firewallBuildErr)
	}
	plain := requireBaseImage(t, "bookworm")
	start := time.Now()
	base := derivedBase(t, "RUN apt-get update"+
		" && apt-get install -y --no-install-recommends sudo opendoas"+
		" && useradd --create-home --uid 1000 --user-group --groups sudo --shell /bin/bash vscode"+
		" && echo 'vscode ALL=(root) NOPASSWD:ALL' > /etc/sudoers.d/vscode && chmod 0440 /etc/sudoers.d/vscode"+
		" && echo 'permit nopass vscode' > /etc/doas.conf"+
		" && passwd --delete root"+
		" && rm -rf /var/lib/apt/lists/*")
	t.Logf("sudo base built in %s", time.Since(start).Round(time.Second))
	// The base must grant root each way, or the checks below prove nothing.
	grant := `sudo -n id -u && doas -n id -u && su -c "id -u" root </dev/null`
	if out := run(t, "", "docker", "run", "--rm", "--network", "none", "--user", "vscode", base, "sh", "-c", grant); out != "0\n0\n0\n" {
		t.Fatalf("the sudo base does not give its user root: %s printed %q", grant, out)
	}

	ws := newWorkspace(t, "build-sudo-base", true)
	r, err := Init(Options{
		Workspace: ws, Agent: "none", Languages: []string{"node@system"},
		BaseImage: base,
	})
	if err != nil {
		t.Fatal(err)
	}
	image := "devbox-generator-test:sudo-base"
	start = time.Now()
	run(t, r.Dir, "docker", "build", "-q", "-t", image, ".")
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	t.Logf("devbox image built in %s", time.Since(start).Round(time.Second))

	asRoot := strings.Join([]string{
		`! dpkg -s sudo && ! dpkg -s opendoas`,
		`! grep -rs NOPASSWD /etc`,
		`case "$(getent shadow root | cut -d: -f2)" in '!'*|'*'*) ;; *) exit 1;; esac`, // locked
	}, " && ")
	run(t, "", "docker", "run", "--rm", "--network", "none", image, "sh", "-exc", asRoot)

	asUser := strings.Join([]string{
		`test "$(id -un)" = ` + DefaultUser + ` && test "$(id -u)" = 1000`, // vscode, renamed
		`test "$(id -nG)" = ` + DefaultUser,                                // and out of group sudo
		`! command -v sudo && ! command -v sudoedit && ! command -v doas`,
		`! ls -d /etc/sudoers* /etc/doas.conf 2>/dev/null`,
		`! su -c true root </dev/null`,
	}, " && ")
	run(t, "", "docker", "run", "--rm", "--network", "none", "--user", DefaultUser, image, "sh", "-exc", asUser)

	if got, want := setuidFiles(t, image), setuidFiles(t, plain); !slices.Equal(got, want) {
		t.Errorf("setuid and setgid files in the image:\n%s\nwant those of the plain base %s:\n%s",
			strings.Join(got, "\n"), plain, strings.Join(want, "\n"))
	}
}

// setuidFiles lists the setuid and setgid files of an image's root
// filesystem, sorted.
func setuidFiles(t *testing.T, image string) []string {
	t.Helper()
	out := run(t, "", "docker", "run", "--rm", "--network", "none", image, "find", "/", "-xdev", "-type", "f", "-perm", "/6000")
	files := strings.Fields(out)
	slices.Sort(files)
	return files
}

// derivedBase builds a base image from the test base plus one Dockerfile
// line, and removes it afterwards.
func derivedBase(t *testing.T, line string) string {
	t.Helper()
	dir := t.TempDir()
	from := requireBaseImage(t, "bookworm")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+from+"\n"+line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := "devbox-generator-test-base:" + strings.ToLower(t.Name()[strings.LastIndex(t.Name(), "/")+1:])
	run(t, dir, "docker", "build", "-q", "-t", image, ".")
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	return image
}

// TestIntegrationDockerBuildWithoutBinary checks that an image build on an
// architecture whose init-firewall is missing stops with a message saying
// how to get it, rather than producing a box without a firewall.
func TestIntegrationDockerBuildWithoutBinary(t *testing.T) {
	requireDocker(t)
	ws := newWorkspace(t, "build-missing", true)
	r, err := Init(Options{
		Workspace: ws, Agent: "none", Languages: []string{"node@system"},
		BaseImage: requireBaseImage(t, "bookworm"), FirewallBinary: firewallBin, VendorGateway: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	bins, _ := filepath.Glob(filepath.Join(r.Dir, vendorDir, "init-firewall-linux-*"))
	for _, b := range bins {
		if err := os.Remove(b); err != nil {
			t.Fatal(err)
		}
	}
	image := "devbox-generator-test:missing"
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	// One binary is left, so that the COPY has a file to copy and the
	// Dockerfile's own check speaks.
	other := "init-firewall-linux-" + otherArch()
	if err := os.WriteFile(filepath.Join(r.Dir, vendorDir, other), []byte("stand-in"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "build", "-t", image, filepath.Join(r.Dir, vendorDir)).CombinedOutput()
	if err == nil {
		t.Fatal("the image built without an init-firewall binary")
	}
	want := "init-firewall-linux-" + hostArch() + " is not in this build's context"
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "go build") {
		t.Errorf("build output does not say %q and how to build it:\n%s", want, lastLines(string(out), 20))
	}
}
