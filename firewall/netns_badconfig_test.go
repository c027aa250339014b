//go:build linux

package firewall

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// TestIntegrationNetnsGatewayBadConfig runs `init-firewall gateway` on a
// firewall.jsonc with a pattern over a public suffix: it must exit with 2,
// the status of bad input, name the entry, write the failed marker, and
// leave the namespace closed, as any other failure does.
func TestIntegrationNetnsGatewayBadConfig(t *testing.T) {
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := filepath.Join(l.dir, "run")
	bad := l.config(t, "{\n  \"domains\": [\"**.test\"],\n  \"cidrs\": [\""+allowedV4+"\"]\n}\n")
	out, err := l.client.Command(ctx, l.bin, contract.GatewayArg, "--run-dir", run, "--timeout", "8s", "--config", bad).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("gateway with a bad config: %v, want exit status 2\n%s", err, out)
	}
	if want := `firewall.jsonc:2:15: domains[0] "**.test": "test" is a public suffix`; !strings.Contains(string(out), want) {
		t.Errorf("output does not name the entry (%s):\n%s", want, out)
	}
	if name, s := l.marker(t); name != contract.FailedMarkerName || !strings.Contains(s.Error, "public suffix") {
		t.Errorf("marker %s %+v, want the failed marker naming the entry", name, s)
	}
	for _, c := range []struct{ what, policy string }{{"iptables", "-P OUTPUT DROP"}, {"ip6tables", "-P OUTPUT DROP"}} {
		if got := l.client.MustRun(t, c.what, "-S", "OUTPUT"); !strings.Contains(got, c.policy) {
			t.Errorf("%s OUTPUT: %s, want %s", c.what, got, c.policy)
		}
	}
	// Closed: not even the config's own static CIDR is applied.
	for _, addr := range []string{allowedV4 + ":80", blockedV4 + ":80", "[" + blockedV6 + "]:80"} {
		got, took := l.probeTCP(t, addr)
		expect(t, l, addr, got, took, probeRefused)
	}
}
