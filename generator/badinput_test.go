package generator

import (
	"errors"
	"github.com/devbox-sandbox/devbox/generator/firewallbin"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestBadInput checks that every mistake gets one line naming the problem
// (and the accepted values), the right kind of error, and leaves the
// workspace exactly as it was.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		setup   func(t *testing.T, ws string)
		want    []string // substrings of the message
		failure bool     // a failure (exit 1), not a usage error (exit 2)
	}{
		{name: "unknown agent", opts: Options{Agent: "copilot"}, want: []string{`unknown agent "copilot"`, "claude, codex, gemini, none"}},
		{name: "published port out of range", opts: Options{Publish: []string{"3000,70000"}}, want: []string{`invalid --publish "70000"`, "1-65535"}},
		{name: "the gateway's port-start sysctl", opts: Options{Sysctls: []string{"net.ipv4.ip_unprivileged_port_start=0"}}, want: []string{`invalid --sysctl "net.ipv4.ip_unprivileged_port_start=0"`, "gateway keeps"}},
		{name: "unknown language", opts: Options{Languages: []string{"ruby@3"}}, want: []string{`unknown language "ruby"`, "node, python, go"}},
		{name: "unknown version", opts: Options{Languages: []string{"python@2.7"}}, want: []string{`unknown python version "2.7"`, "system, 3.9, 3.10"}},
		{name: "version garbage", opts: Options{Languages: []string{"node@22x"}}, want: []string{`unknown node version "22x"`, "18, 20, 22, 24"}},
		{name: "language twice", opts: Options{Languages: []string{"go@1.25", "go@1.26"}}, want: []string{`language "go" given twice`}},
		{name: "unknown service", opts: Options{Services: []string{"postgres,kafka"}}, want: []string{`unknown service "kafka"`, "postgres, redis, mysql, mongodb"}},
		{name: "unknown preset", opts: Options{Presets: []string{"rubygems"}}, want: []string{`unknown preset "rubygems"`, "npm, pypi", "none"}},
		{name: "pattern over a public suffix", opts: Options{Allow: []string{"**.github.io"}}, want: []string{`invalid --allow "**.github.io"`, `"github.io" is a public suffix`}},
		{name: "wildcard inside a name", opts: Options{Allow: []string{"api.*.example.com"}}, want: []string{`invalid --allow "api.*.example.com"`, "whole first label"}}, // parsed only, never dialed
		{name: "bare wildcard", opts: Options{Allow: []string{"**"}}, want: []string{`invalid --allow "**"`, "match everything"}},
		{name: "name port out of range", opts: Options{Allow: []string{"example.com:65536"}}, want: []string{`invalid --allow "example.com:65536"`, "1-65535"}}, // parsed only, never dialed
		{name: "port twice", opts: Options{Allow: []string{"example.com:443,443"}}, want: []string{`invalid --allow "example.com:443,443"`, "twice"}},           // parsed only, never dialed
		{name: "a port alone", opts: Options{Allow: []string{"example.com,443"}}, want: []string{`invalid --allow "443"`, "single label"}},                      // parsed only, never dialed
		{name: "IPv6 ports without brackets", opts: Options{Allow: []string{"2001:db8::/32:443"}}, want: []string{`invalid --allow "2001:db8::/32:443"`, "[2001:db8::/32]:443"}},
		{name: "CIDR port zero", opts: Options{Allow: []string{"203.0.113.0/24:0"}}, want: []string{`invalid --allow "203.0.113.0/24:0"`, "1-65535"}},
		{name: "domain with bad character", opts: Options{Allow: []string{"exa mple.com"}}, want: []string{`invalid --allow "exa mple.com"`}},
		{name: "catch-all CIDR", opts: Options{Allow: []string{"0.0.0.0/0"}}, want: []string{`invalid --allow "0.0.0.0/0"`, "catch-all"}},
		{name: "catch-all IPv6", opts: Options{Allow: []string{"::/0"}}, want: []string{`invalid --allow "::/0"`}},
		{name: "bad CIDR", opts: Options{Allow: []string{"10.0.0.0/33"}}, want: []string{`invalid --allow "10.0.0.0/33"`}},
		{name: "sysctl without value", opts: Options{Sysctls: []string{"net.core.somaxconn"}}, want: []string{`invalid --sysctl "net.core.somaxconn"`, "KEY=VALUE"}},
		{name: "sysctl not namespaced", opts: Options{Sysctls: []string{"vm.swappiness=10"}}, want: []string{`invalid --sysctl "vm.swappiness=10"`, "net.*"}},
		{name: "ulimit unknown name", opts: Options{Ulimits: []string{"files=1:2"}}, want: []string{`invalid --ulimit "files=1:2"`, "nofile"}},
		{name: "ulimit soft above hard", opts: Options{Ulimits: []string{"nofile=10:5"}}, want: []string{`invalid --ulimit "nofile=10:5"`, "soft limit exceeds"}},
		{name: "ulimit not a number", opts: Options{Ulimits: []string{"nofile=many"}}, want: []string{`invalid --ulimit "nofile=many"`}},
		{name: "cpus zero", opts: Options{CPUs: "0"}, want: []string{`invalid --cpus "0"`}},
		{name: "cpus text", opts: Options{CPUs: "two"}, want: []string{`invalid --cpus "two"`}},
		{name: "memory unit", opts: Options{Memory: "4x"}, want: []string{`invalid --memory "4x"`, "4g or 512m"}},
		{name: "memory too small", opts: Options{Memory: "1m"}, want: []string{`invalid --memory "1m"`, "at least 6m"}},
		{name: "user root", opts: Options{User: "root"}, want: []string{`invalid --user "root"`}},
		{name: "user bad", opts: Options{User: "Dev User"}, want: []string{`invalid --user "Dev User"`}},
		{name: "base image", opts: Options{BaseImage: "Debian:Bookworm"}, want: []string{`invalid --base-image "Debian:Bookworm"`}},
		{name: "service image without service", opts: Options{ServiceImages: []string{"postgres=pgvector/pgvector:pg16"}}, want: []string{"not in --services"}},
		{name: "service image malformed", opts: Options{Services: []string{"postgres"}, ServiceImages: []string{"postgres"}}, want: []string{"NAME=IMAGE"}},
		{name: "firewall binary missing", opts: Options{VendorGateway: true, FirewallBinary: "/nonexistent/init-firewall"}, want: []string{"--firewall-binary", "/nonexistent/init-firewall"}},
		{name: "firewall binary in the default layout", opts: Options{FirewallBinary: "/usr/bin/true"}, want: []string{"--firewall-binary applies with --vendor-gateway or --single-container"}},
		{name: "gateway image malformed", opts: Options{GatewayImage: "Registry/Gateway"}, want: []string{`invalid --gateway-image "Registry/Gateway"`, "REF@sha256:"}},
		{name: "gateway image without tag or digest", opts: Options{GatewayImage: "registry.test/devbox/gateway"}, want: []string{`invalid --gateway-image "registry.test/devbox/gateway"`, "pin the published image"}},
		{name: "gateway image vendored", opts: Options{VendorGateway: true, GatewayImage: "registry.test/gw:1"}, want: []string{"--vendor-gateway builds the gateway's image", "registry.test/gw:1"}},
		{name: "gateway image single container", opts: Options{SingleContainer: true, GatewayImage: "registry.test/gw:1"}, want: []string{"--single-container has no gateway"}},
		{name: "sudo with the bind workspace", opts: Options{Sudo: true}, want: []string{"--sudo needs --workspace volume", "setuid-root programs or device files in your repository"}},
		{name: "unknown workspace mode", opts: Options{WorkspaceMode: "clone"}, want: []string{`invalid --workspace "clone"`, "bind", "volume"}},
		{name: "volume workspace single container", opts: Options{WorkspaceMode: WorkspaceVolume, SingleContainer: true}, want: []string{"--workspace volume needs the gateway layout"}},
		{
			name: "volume workspace without .git", opts: Options{WorkspaceMode: WorkspaceVolume}, want: []string{"--workspace volume", "no .git directory", "git init"},
			setup: func(t *testing.T, ws string) {
				if err := os.RemoveAll(filepath.Join(ws, ".git")); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "git hooks a symlink", want: []string{".git/hooks: is a symlink", "Docker would mount whatever it points to"},
			setup: func(t *testing.T, ws string) {
				hooks := filepath.Join(ws, ".git", "hooks")
				if err := os.MkdirAll(filepath.Dir(hooks), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(hooks); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("/etc", hooks); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "firewall binary not an executable", want: []string{"not usable as init-firewall", "not a Linux executable"},
			setup: func(t *testing.T, ws string) {
				writeFile(t, filepath.Join(ws, "fw"), "#!/bin/sh\n")
			},
			opts: Options{SingleContainer: true, FirewallBinary: "fw"},
		},
		{
			name: "existing files without force", want: []string{"already has devcontainer.json, Dockerfile", "--force"},
			setup: func(t *testing.T, ws string) {
				writeFile(t, filepath.Join(ws, DirName, "devcontainer.json"), "{}\n")
				writeFile(t, filepath.Join(ws, DirName, "Dockerfile"), "FROM scratch\n")
			},
		},
		{
			name: "malformed devcontainer.json", opts: Options{Force: true}, failure: true,
			want: []string{"devcontainer.json:2:3:", "invalid literal"},
			setup: func(t *testing.T, ws string) {
				writeFile(t, filepath.Join(ws, DirName, "devcontainer.json"), "{\n  name: 1\n}\n")
			},
		},
		{
			name: "devcontainer.json not an object", opts: Options{Force: true}, failure: true,
			want: []string{"devcontainer.json:1:1: devcontainer.json must hold a JSON object"},
			setup: func(t *testing.T, ws string) {
				writeFile(t, filepath.Join(ws, DirName, "devcontainer.json"), "[]\n")
			},
		},
		{
			name: ".devcontainer is a file", failure: true, want: []string{"create", DirName},
			setup: func(t *testing.T, ws string) { writeFile(t, filepath.Join(ws, DirName), "not a folder\n") },
		},
		{
			// Root ignores permission bits, so the folder is made immutable.
			name: "unwritable workspace", failure: true, want: []string{"create", DirName, "not permitted"},
			setup: func(t *testing.T, ws string) {
				if out, err := exec.Command("chattr", "+i", ws).CombinedOutput(); err != nil {
					t.Skipf("chattr +i is not available here (%v: %s); an unwritable folder is not tested", err, out)
				}
				t.Cleanup(func() { exec.Command("chattr", "-i", ws).Run() })
			},
		},
		{
			name: "workspace missing", want: []string{"does not exist"},
			setup: func(t *testing.T, ws string) {},
			opts:  Options{Workspace: "missing"},
		},
		{
			name: "workspace is a file", want: []string{"is not a folder"},
			setup: func(t *testing.T, ws string) { writeFile(t, filepath.Join(ws, "file"), "x") },
			opts:  Options{Workspace: "file"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWorkspace(t, "ws", true)
			if tc.setup != nil {
				tc.setup(t, ws)
			}
			o := tc.opts
			o.Workspace = filepath.Join(ws, o.Workspace)
			if o.FirewallBinary == "" {
				o = withBinary(o)
			} else if !filepath.IsAbs(o.FirewallBinary) {
				o.FirewallBinary = filepath.Join(ws, o.FirewallBinary)
			}
			before := hashTree(t, ws)
			_, err := Init(o)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") && !strings.Contains(tc.name, "binary") {
				t.Errorf("error is not one line: %q", msg)
			}
			if got := IsInputError(err); got == tc.failure {
				t.Errorf("usage error = %v, want %v (%v)", got, !tc.failure, err)
			}
			if after := hashTree(t, ws); after != before {
				t.Error("the workspace changed")
			}
		})
	}
}

// TestWriteRollsBack makes the n-th rename fail and checks that the
// workspace is left as it was, for a fresh init and for --force over an
// existing one.
func TestWriteRollsBack(t *testing.T) {
	for _, force := range []bool{false, true} {
		for _, failAt := range []int{1, 3, 6} {
			ws := newWorkspace(t, "rollback", true)
			o := Options{Workspace: ws, Force: force, Services: []string{"postgres"}}
			if force {
				if _, err := Init(o); err != nil {
					t.Fatal(err)
				}
			}
			before := hashTree(t, ws)
			calls := 0
			rename = func(from, to string) error {
				if calls++; calls == failAt {
					return errors.New("injected failure")
				}
				return os.Rename(from, to)
			}
			_, err := Init(o)
			rename = os.Rename
			if err == nil || !strings.Contains(err.Error(), "injected failure") {
				t.Fatalf("force=%v failAt=%d: error %v", force, failAt, err)
			}
			if after := hashTree(t, ws); after != before {
				t.Errorf("force=%v failAt=%d: the workspace changed", force, failAt)
			}
		}
	}
}

// TestDryRunWritesNothing prints every file and leaves the workspace alone.
func TestDryRunWritesNothing(t *testing.T) {
	ws := newWorkspace(t, "dry", true)
	before := hashTree(t, ws)
	var out strings.Builder
	r, err := Init(Options{Workspace: ws, DryRun: true, Out: &out, Services: []string{"redis"}})
	if err != nil {
		t.Fatal(err)
	}
	if after := hashTree(t, ws); after != before {
		t.Error("a dry run changed the workspace")
	}
	for _, f := range r.Files {
		if !strings.Contains(out.String(), filepath.Join(ws, DirName, f.Path)) {
			t.Errorf("dry run does not show %s", f.Path)
		}
	}
	if !strings.Contains(out.String(), `"remoteUser": "dev"`) {
		t.Error("dry run does not print the content")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFirewallBinaries covers what devbox embeds: nothing (an error saying
// how to get one), only the host's (a note with the command for the other),
// or both (both written, no note).
func TestFirewallBinaries(t *testing.T) {
	real, err := os.ReadFile(firewallBin)
	if err != nil {
		t.Fatal(err)
	}
	host := hostArch()
	defer func(saved fs.FS) { firewallbin.FS = saved }(firewallbin.FS)

	firewallbin.FS = fstest.MapFS{}
	ws := newWorkspace(t, "none-embedded", false)
	before := hashTree(t, ws)
	_, err = Init(Options{Workspace: ws, VendorGateway: true})
	if err == nil || !strings.Contains(err.Error(), "task build") || !strings.Contains(err.Error(), "--firewall-binary") {
		t.Errorf("no embedded binary: error %v, want it to say task build or --firewall-binary", err)
	}
	if hashTree(t, ws) != before {
		t.Error("the workspace changed")
	}

	firewallbin.FS = fstest.MapFS{firewallbin.Name(host): {Data: real}}
	r, err := Init(Options{Workspace: newWorkspace(t, "host-embedded", false), VendorGateway: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "GOARCH="+otherArch()+" go build") {
		t.Errorf("notes %q, want the command that builds the %s binary", r.Notes, otherArch())
	}

	firewallbin.FS = fstest.MapFS{firewallbin.Name(host): {Data: real}, firewallbin.Name(otherArch()): {Data: real}}
	// The host's binary stands in for the other architecture's here, so
	// the ELF check must refuse it: a wrong binary never reaches an image.
	if _, err := Init(Options{Workspace: newWorkspace(t, "wrong-arch", false), VendorGateway: true}); err == nil || !strings.Contains(err.Error(), "not linux/"+otherArch()) {
		t.Errorf("a %s binary embedded as %s: error %v", host, otherArch(), err)
	}

	if _, err := Init(Options{Workspace: newWorkspace(t, "unsupported", false), HostArch: "riscv64", FirewallBinary: firewallBin, VendorGateway: true}); err == nil || !IsInputError(err) {
		t.Errorf("riscv64 host: error %v", err)
	}
}

// TestForceRemovesStaleFiles drops compose.yaml and the init scripts when
// the services are gone, keeps files the user wrote, and restores
// everything when the removal itself fails.
func TestForceRemovesStaleFiles(t *testing.T) {
	ws := newWorkspace(t, "stale", true)
	if _, err := Init(Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin, Services: []string{"postgres", "mongodb"}}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ws, DirName, "mongodb-init.js"), "// the user's own script\n")
	o := Options{Workspace: ws, SingleContainer: true, FirewallBinary: firewallBin, Force: true}

	before := hashTree(t, ws)
	calls := 0
	rename = func(from, to string) error {
		if calls++; strings.Contains(to, ".devbox-removed-postgres-init.sql") {
			return errors.New("injected failure")
		}
		return os.Rename(from, to)
	}
	_, err := Init(o)
	rename = os.Rename
	if err == nil || hashTree(t, ws) != before {
		t.Fatalf("a failed removal: error %v, workspace changed: %v", err, hashTree(t, ws) != before)
	}

	r, err := Init(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Removed, ",") != "compose.yaml,postgres-init.sql,postgres-hba.conf" {
		t.Errorf("removed %v, want compose.yaml, postgres-init.sql and postgres-hba.conf", r.Removed)
	}
	for name, want := range map[string]bool{"compose.yaml": false, "postgres-init.sql": false, "postgres-hba.conf": false, "mongodb-init.js": true} {
		if _, err := os.Stat(filepath.Join(ws, DirName, name)); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", name, err == nil, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(ws, DirName))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".devbox-") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}
