package generator

import (
	"bytes"
	"debug/elf"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// embeddedFiles holds the init-firewall binaries `task build` put in
// firewallbin/ (and a README, so the pattern always matches).
//
//go:embed firewallbin
var embeddedFiles embed.FS

// embeddedBinaries is where init looks for the binaries; tests replace it.
var embeddedBinaries fs.FS = embeddedFiles

// architectures are the Linux architectures devbox ships init-firewall for.
var architectures = []string{"amd64", "arm64"}

// elfMachines maps an architecture to its ELF machine, to refuse a binary
// built for the wrong one before it fails inside an image build.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// binaryName is the file name of the init-firewall binary for arch, in
// firewallbin/ and in .devcontainer/bin/.
func binaryName(arch string) string { return "init-firewall-linux-" + arch }

// buildCommand is the exact command that builds the binary for arch from
// the devbox source tree.
func buildCommand(arch, out string) string {
	return fmt.Sprintf("CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -trimpath -ldflags='-s -w' -o %s ./cmd/init-firewall", arch, out)
}

// firewallBinaries returns the .devcontainer/bin/ files and notes for the
// user about an architecture that could not be included. The host's
// architecture is required: without it the image cannot be built here.
func (s *spec) firewallBinaries() (files []File, notes []string, err error) {
	if !slices.Contains(architectures, s.HostArch) {
		return nil, nil, inputErrorf("init-firewall exists for linux/%s only, not for %s hosts", strings.Join(architectures, " and linux/"), s.HostArch)
	}
	for _, arch := range architectures {
		var data []byte
		source := "embedded " + binaryName(arch)
		if arch == s.HostArch && s.FirewallBin != "" {
			source = s.FirewallBin
			if data, err = os.ReadFile(s.FirewallBin); err != nil {
				return nil, nil, inputErrorf("--firewall-binary: %v", err)
			}
		} else {
			data, err = fs.ReadFile(embeddedBinaries, path.Join("firewallbin", binaryName(arch)))
			if err != nil {
				if arch == s.HostArch {
					return nil, nil, inputErrorf("this devbox has no init-firewall binary for linux/%s embedded: build devbox with `task build`, "+
						"or pass --firewall-binary PATH (build one with: %s)", arch, buildCommand(arch, binaryName(arch)))
				}
				notes = append(notes, fmt.Sprintf("no init-firewall for linux/%s is embedded, so the image builds only on %s; for teammates on %s, build it from the devbox source tree with:\n  %s",
					arch, s.HostArch, arch, buildCommand(arch, path.Join(s.Workspace, ".devcontainer", "bin", binaryName(arch)))))
				continue
			}
		}
		if err := checkELF(data, arch); err != nil {
			return nil, nil, inputErrorf("%s is not usable as init-firewall: %v", source, err)
		}
		files = append(files, File{Path: "bin/" + binaryName(arch), Data: data, Mode: 0o755, Binary: true})
	}
	return files, notes, nil
}

// checkELF refuses anything but a Linux executable for arch.
func checkELF(data []byte, arch string) error {
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
