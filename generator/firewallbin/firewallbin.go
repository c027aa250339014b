// Package firewallbin provides init-firewall, the program that enforces the
// allowlist, as a static Linux executable: the ones `task build` embeds in
// devbox, or one built from devbox's own source with the host's Go
// toolchain when nothing is embedded (`go install`, `go build`).
package firewallbin

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/devbox-sandbox/devbox/internal/runner"
)

// embedded holds what `task build` put in this folder: the binaries, next to
// this file and the README (so that the pattern always matches).
//
//go:embed *
var embedded embed.FS

// FS is where Embedded looks; tests replace it.
var FS fs.FS = embedded

// Module is devbox's module path, which a source tree's go.mod must declare.
const Module = "github.com/devbox-sandbox/devbox"

// Architectures are the Linux architectures init-firewall is built for.
var Architectures = []string{"amd64", "arm64"}

// elfMachines maps an architecture to its ELF machine, to refuse a binary
// built for the wrong one before it fails inside an image build.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// Name is the file name of init-firewall for arch, here, in a build
// context and in .devcontainer/gateway/.
func Name(arch string) string { return "init-firewall-linux-" + arch }

// Embedded returns the binary for arch that this devbox carries.
func Embedded(arch string) ([]byte, bool) {
	data, err := fs.ReadFile(FS, Name(arch))
	return data, err == nil
}

// BuildCommand is the exact command that builds the binary for arch from
// devbox's source tree into out.
func BuildCommand(arch, out string) string {
	return fmt.Sprintf("CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -trimpath -ldflags='-s -w' -o %s ./cmd/init-firewall", arch, out)
}

// CheckELF refuses anything but a static Linux executable for arch.
func CheckELF(data []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not a Linux executable (%v)", err)
	}
	if f.Machine != elfMachines[arch] {
		return fmt.Errorf("built for %v, not linux/%s", f.Machine, arch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("ELF type %v is not an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked; build it static with CGO_ENABLED=0")
		}
	}
	return nil
}

// ErrNoSource is returned by SourceDir when no devbox source tree is found.
var ErrNoSource = errors.New("no devbox source tree found")

// SourceDir returns the root of a devbox source tree to build init-firewall
// from: the tree this devbox was built from, when the build kept its path
// (a plain `go build` or `go install` does; -trimpath does not) and it is
// still there; else, for a released version installed with `go install`,
// that version's copy in the Go module cache (`go mod download`, which
// fetches it when it is missing and checks it against go.sum's database).
func SourceDir(ctx context.Context, r runner.Runner) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Dir(filepath.Dir(filepath.Dir(file))) // generator/firewallbin/firewallbin.go
		if isModuleRoot(root) {
			return root, nil
		}
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != Module || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "", ErrNoSource
	}
	res, err := r.Run(ctx, runner.Cmd{Name: "go", Args: []string{"mod", "download", "-json", Module + "@" + bi.Main.Version}})
	if err != nil {
		return "", fmt.Errorf("find devbox %s's source: %w", bi.Main.Version, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(res.Stdout, &mod); err != nil || !isModuleRoot(mod.Dir) {
		return "", fmt.Errorf("find devbox %s's source: `go mod download` gave no usable folder (%q)", bi.Main.Version, mod.Dir)
	}
	return mod.Dir, nil
}

// isModuleRoot reports whether dir holds devbox's go.mod and init-firewall.
func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			if strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "module ")), `"`) != Module {
				return false
			}
			_, err := os.Stat(filepath.Join(dir, "cmd", "init-firewall", "main.go"))
			return err == nil
		}
	}
	return false
}

// Build builds init-firewall for linux/arch from the source tree src into
// out, with the host's Go toolchain, and checks the result.
func Build(ctx context.Context, r runner.Runner, src, arch, out string) ([]byte, error) {
	cmd := runner.Cmd{
		Name: "go", Args: []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/init-firewall"},
		Dir: src, Env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch},
	}
	if _, err := r.Run(ctx, cmd); err != nil {
		return nil, fmt.Errorf("build init-firewall for linux/%s from %s: %w", arch, src, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("build init-firewall: %w", err)
	}
	if err := CheckELF(data, arch); err != nil {
		return nil, fmt.Errorf("build init-firewall: %s: %w", out, err)
	}
	return data, nil
}
