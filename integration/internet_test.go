package integration

import (
	"testing"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
	"github.com/devbox-sandbox/devbox/integration/internal/inet"
)

// TestIntegrationInternet checks the stand-in internet itself: a container
// with no firewall on Docker's default bridge reaches every test host, over
// IPv4 and IPv6, by name (through the stand-in DNS server) and by address.
// The firewall tests rely on this: a host their box cannot reach is blocked
// by the firewall, not missing.
func TestIntegrationInternet(t *testing.T) {
	s := requireSuite(t)
	c := startControl(t, images.Bookworm, "bridge")
	var probes []probe
	for _, h := range []inet.Host{inet.Allowed, inet.Blocked, inet.GitHub, inet.EC2} {
		probes = append(probes, httpProbes(h, true)...)
	}
	probes = append(probes, echoProbes(inet.Blocked, true)...)
	probes = append(probes, probe{
		name: "GitHub meta document", argv: []string{"curl", "-sS", "--max-time", "5", inet.GitHubMetaURL},
		reach: true, want: inet.GitHub.V4.String(),
	})
	runProbes(t, c.exec, probes)
	if n := s.net.Requests(inet.GitHubMetaPath); n == 0 {
		t.Errorf("the stand-in served %s %d times, want at least once", inet.GitHubMetaPath, n)
	}
}
