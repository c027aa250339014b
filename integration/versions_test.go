package integration

import (
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/integration/internal/images"
)

// TestIntegrationTwoVersions brings up two workspaces whose toolchains
// differ (Node from Debian bookworm and from trixie) side by side: each box
// runs its own Node, and `devbox status` lists both.
func TestIntegrationTwoVersions(t *testing.T) {
	s := requireSuite(t)
	if err := s.images.Ensure(t.Context(), images.Trixie); err != nil {
		t.Fatal(err)
	}
	boxes := []struct {
		name, base string
		w          *workspace
		node       string
	}{
		{name: "dbit-node-bookworm", base: images.Bookworm},
		{name: "dbit-node-trixie", base: images.Trixie},
	}
	for i := range boxes {
		b := &boxes[i]
		b.w = s.newWorkspace(t, b.name, "--agent", "none", "--lang", "node@system", "--base-image", b.base)
		b.w.mustDevbox(t, "up")
	}
	for i := range boxes {
		b := &boxes[i]
		b.node = b.w.mustExec(t, "node", "--version")
		if !strings.HasPrefix(b.node, "v") {
			t.Errorf("%s: node --version printed %q", b.name, b.node)
		}
	}
	if boxes[0].node == boxes[1].node {
		t.Errorf("both boxes run node %s, want two versions", boxes[0].node)
	}
	status := s.status(t)
	for _, b := range boxes {
		if !strings.Contains(status, b.w.dir) {
			t.Errorf("devbox status does not list %s:\n%s", b.w.dir, status)
		}
	}
	t.Logf("node %s (bookworm) and %s (trixie) side by side", boxes[0].node, boxes[1].node)
}
