package generator

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/devbox-sandbox/devbox/generator/firewallbin"
	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/templates"
)

// vendorDir is the folder of .devcontainer/ that holds the gateway image's
// build with --vendor-gateway.
const vendorDir = "gateway"

// binaryDir is where the files of a layout that carries init-firewall go:
// bin/ for the single-container feature, gateway/ for a vendored gateway;
// "" when the layout carries none (the gateway image does).
func (s *spec) binaryDir() string {
	switch {
	case !s.Gateway:
		return "bin"
	case s.Vendor:
		return vendorDir
	}
	return ""
}

// firewallBinaries returns the init-firewall binaries the layout carries,
// and notes for the user about an architecture that could not be included.
// The host's architecture is required: without it the image cannot be
// built here.
func (s *spec) firewallBinaries() (files []File, notes []string, err error) {
	dir := s.binaryDir()
	if dir == "" {
		return nil, nil, nil
	}
	if !slices.Contains(firewallbin.Architectures, s.HostArch) {
		return nil, nil, inputErrorf("init-firewall exists for linux/%s only, not for %s hosts", strings.Join(firewallbin.Architectures, " and linux/"), s.HostArch)
	}
	for _, arch := range firewallbin.Architectures {
		data, ok := firewallbin.Embedded(arch)
		source := "embedded " + firewallbin.Name(arch)
		if arch == s.HostArch && s.FirewallBin != "" {
			source = s.FirewallBin
			if data, err = os.ReadFile(s.FirewallBin); err != nil {
				return nil, nil, inputErrorf("--firewall-binary: %v", err)
			}
			ok = true
		}
		if !ok {
			if arch == s.HostArch {
				return nil, nil, inputErrorf("this devbox has no init-firewall binary for linux/%s embedded: build devbox with `task build`, "+
					"or pass --firewall-binary PATH (build one with: %s)", arch, firewallbin.BuildCommand(arch, firewallbin.Name(arch)))
			}
			notes = append(notes, fmt.Sprintf("no init-firewall for linux/%s is embedded, so the image builds only on %s; for teammates on %s, build it from the devbox source tree with:\n  %s",
				arch, s.HostArch, arch, firewallbin.BuildCommand(arch, path.Join(s.Workspace, DirName, dir, firewallbin.Name(arch)))))
			continue
		}
		if err := firewallbin.CheckELF(data, arch); err != nil {
			return nil, nil, inputErrorf("%s is not usable as init-firewall: %v", source, err)
		}
		files = append(files, File{Path: dir + "/" + firewallbin.Name(arch), Data: data, Mode: 0o755, Binary: true})
	}
	return files, notes, nil
}

// gatewayData fills gateway.Dockerfile.tmpl.
type gatewayData struct {
	box
	Header           string
	BaseImage        string
	GatewayConfigDir string
}

// GatewayDockerfile is the Dockerfile of the gateway image on baseImage. Its
// build context holds init-firewall-linux-ARCH for the architectures it
// can be built on; header is its first comment line.
func GatewayDockerfile(baseImage, header string) ([]byte, error) {
	return templates.Execute("gateway.Dockerfile.tmpl", gatewayData{
		box: theBox, Header: header, BaseImage: baseImage, GatewayConfigDir: contract.GatewayConfigDir,
	})
}
