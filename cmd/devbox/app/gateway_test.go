package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

const dbID = "db00000000000000db00000000000000db00000000000000db00000000000000"

// withService adds a database service to the box's compose project.
func (w *world) withService() {
	w.boxes = append(w.boxes, container.Summary{ID: dbID, Names: []string{"/ws_devcontainer-db-1"}, Image: "postgres:16",
		Labels: map[string]string{lifecycle.LabelComposeProject: "ws_devcontainer", lifecycle.LabelComposeService: "db"}})
}

// exitGateway makes the gateway exited with status code, its failed
// marker written by its last start when reason is not "".
func (w *world) exitGateway(code int, reason string) {
	w.up[gatewayID], w.exited[gatewayID] = false, code
	w.gatewayLog = "init-firewall: applying the deny-all rules\ninit-firewall: resolve api.anthropic.com: no such host\n\x1b[2Jinit-firewall: giving up\n"
	if reason != "" {
		delete(w.markers, contract.ReadyMarker)
		w.markers[contract.FailedMarker] = w.startOf(gatewayID).Add(time.Second)
		w.failReason = reason
	}
}

// restartGateway gives the gateway a start after dev's, with its firewall
// applied.
func (w *world) restartGateway() {
	w.startedAt[gatewayID] = started.Add(10 * time.Minute)
	w.markers[contract.ReadyMarker] = started.Add(11 * time.Minute)
}

func TestGatewayExec(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
	}{
		{"exec-gateway-failed", func(w *world) { w.exitGateway(1, "resolve api.anthropic.com: no such host") }},
		{"exec-gateway-exited-without-marker", func(w *world) { w.exitGateway(1, "") }},
		{"exec-gateway-stopped", func(w *world) { w.exitGateway(143, "") }},
		{"exec-gateway-firewall-never-reported", func(w *world) {
			w.markers[contract.ReadyMarker] = started.Add(-time.Hour) // from an earlier start of the gateway
		}},
		{"exec-dev-stranded", func(w *world) { w.restartGateway() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, true)
			w.withGateway()
			tt.setup(w)
			code := w.run(execCmd, "exec", "-w", w.ws, "--", "true")
			if w.lastExec.Cmd != nil {
				t.Errorf("ran %q in a box it should refuse", w.lastExec.Cmd)
			}
			w.golden(tt.name, code)
		})
	}
}

// TestGatewayExecReadsMarkersInTheGateway: the markers are only in the
// gateway, and exec runs; a compose box without a gateway (made before
// the layout) still has them read in dev.
func TestGatewayExecReadsMarkersInTheGateway(t *testing.T) {
	for _, gateway := range []bool{true, false} {
		w := newWorld(t, true)
		w.withGateway()
		if !gateway {
			w.boxes = w.boxes[:1]
			w.markerHosts = map[string]bool{boxID: true}
		}
		var statted []string
		stat := w.eng.ContainerStatPathFunc
		w.eng.ContainerStatPathFunc = func(ctx context.Context, id string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
			statted = append(statted, id)
			return stat(ctx, id, o)
		}
		w.execOut = "hello\n"
		if code := w.run(execCmd, "exec", "-w", w.ws, "--", "echo", "hello"); code != 0 || w.out.String() != "hello\n" {
			t.Fatalf("gateway %v: exit %d, stdout %q, stderr %q", gateway, code, w.out.String(), w.err.String())
		}
		want := map[bool]string{true: gatewayID, false: boxID}[gateway]
		if len(statted) == 0 || slices.ContainsFunc(statted, func(id string) bool { return id != want }) {
			t.Errorf("gateway %v: markers read in %q, want only %s", gateway, statted, want[:12])
		}
	}
}

func TestGatewayStatus(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		w := newWorld(t, true)
		w.withGateway()
		w.withService()
		w.boxes[0].Labels[lifecycle.LabelLocalFolder] = "/home/me/project"
		w.auditCounts = map[string]string{gatewayID: `{"since":"2026-11-29T00:59:58Z","time":"2026-11-29T02:29:00Z","dnsAllowed":120,"dnsRefused":3,"connRefused":17}`}
		// A stranded box, one whose gateway failed, one stopped, and one
		// made before the gateway layout.
		add := func(ws, dev, gw string) {
			d := w.summary(dev, "/"+ws+"_dev")
			d.Labels[lifecycle.LabelLocalFolder] = "/home/me/" + ws
			d.Labels[lifecycle.LabelComposeProject] = ws
			w.boxes = append(w.boxes, d, container.Summary{ID: gw, Names: []string{"/" + ws + "-gateway-1"},
				Labels: map[string]string{lifecycle.LabelComposeProject: ws, lifecycle.LabelComposeService: contract.GatewayService}})
		}
		add("stranded", "5a0000000000000000", "5b0000000000000000")
		w.startedAt["5b0000000000000000"] = started.Add(10 * time.Minute)
		w.markerHosts["5b0000000000000000"] = true
		w.markers[contract.ReadyMarker] = started.Add(11 * time.Minute)
		add("failed", "fa0000000000000000", "fb0000000000000000")
		w.exitGateway(1, "")
		w.up[gatewayID], w.up["fb0000000000000000"], w.exited["fb0000000000000000"] = true, false, 1
		add("stopped", "0a0000000000000000", "0b0000000000000000")
		w.up["0a0000000000000000"], w.up["0b0000000000000000"] = false, false
		old := w.summary("01d0000000000000", "/old_box")
		old.Labels[lifecycle.LabelLocalFolder] = "/home/me/old"
		w.boxes = append(w.boxes, old)
		w.markerHosts[old.ID] = true

		w.statusGolden("status-gateway", asJSON)
	}
}

// TestGatewayUpRepairsStranded: `up` on a running box whose gateway
// restarted after dev restarts dev, on the fast path and after the CLI.
func TestGatewayUpRepairsStranded(t *testing.T) {
	w := newWorld(t, true)
	w.withGateway()
	if code := w.run(upCmd, "up", "-w", w.ws); code != 0 || len(w.calls) != 0 {
		t.Fatalf("first up: exit %d, calls %q: %s", code, w.calls, w.err.String())
	}
	w.out.Reset()
	w.err.Reset()
	w.restartGateway()
	code := w.run(upCmd, "up", "-w", w.ws)
	if want := []string{"restart c0f"}; !slices.Equal(w.calls, want) {
		t.Errorf("fast path: calls %q, want %q", w.calls, want)
	}
	w.golden("up-dev-restarted", code)

	// Through the CLI (--rebuild here): it keeps a running container.
	w.startedAt[gatewayID] = w.startOf(boxID).Add(time.Minute)
	w.markers[contract.ReadyMarker] = w.startOf(gatewayID).Add(time.Second)
	w.calls = nil
	if code := w.run(upCmd, "up", "-w", w.ws, "--rebuild", "--json"); code != 0 || !slices.Equal(w.calls, []string{"restart c0f"}) {
		t.Errorf("up --rebuild: exit %d, calls %q: %s", code, w.calls, w.err.String())
	}
	if !strings.Contains(w.out.String(), `"devRestarted":true`) {
		t.Errorf("up --json does not say dev was restarted: %s", w.out.String())
	}
}

// TestGatewayStartOrder: start brings up the services, then the gateway,
// waits for the gateway's firewall, and only then starts dev; stop goes
// the other way.
func TestGatewayStartOrder(t *testing.T) {
	w := newWorld(t, true)
	w.withGateway()
	w.withService()
	if code := w.run(stopCmd, "stop", "-w", w.ws); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, w.err.String())
	}
	if want := []string{"stop c0f", "stop 9a7", "stop db0"}; !slices.Equal(w.calls, want) {
		t.Errorf("stop: calls %q, want %q", w.calls, want)
	}
	w.calls = nil
	// The gateway's firewall reports on the third look.
	w.markers[contract.ReadyMarker] = started.Add(-time.Hour)
	stat := w.eng.ContainerStatPathFunc
	looks := 0
	w.eng.ContainerStatPathFunc = func(ctx context.Context, id string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
		if o.Path == contract.ReadyMarker {
			w.calls = append(w.calls, "look "+id[:3])
			if looks++; looks == 3 {
				w.markers[contract.ReadyMarker] = w.startOf(gatewayID).Add(time.Second)
			}
		}
		return stat(ctx, id, o)
	}
	code := w.run(startCmd, "start", "-w", w.ws)
	want := []string{"start db0", "start 9a7", "look 9a7", "look 9a7", "look 9a7", "start c0f", "look 9a7"}
	if !slices.Equal(w.calls, want) {
		t.Errorf("start: calls %q, want %q", w.calls, want)
	}
	w.golden("start-gateway", code)
}

func TestGatewayStart(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
		calls []string
	}{
		{"start-dev-stranded", func(w *world) { w.restartGateway() },
			[]string{"start 9a7", "start c0f", "restart c0f"}},
		{"start-gateway-fails", func(w *world) {
			w.up[gatewayID], w.up[boxID] = false, false
			start := w.eng.ContainerStartFunc
			w.eng.ContainerStartFunc = func(ctx context.Context, id string, o client.ContainerStartOptions) (client.ContainerStartResult, error) {
				res, err := start(ctx, id, o)
				if id == gatewayID { // its firewall fails at once
					w.exitGateway(1, "verify: https://example.com was reachable") // parsed only, never dialed
				}
				return res, err
			}
		}, []string{"start 9a7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, true)
			w.withGateway()
			tt.setup(w)
			code := w.run(startCmd, "start", "-w", w.ws)
			if !slices.Equal(w.calls, tt.calls) {
				t.Errorf("calls %q, want %q", w.calls, tt.calls)
			}
			w.golden(tt.name, code)
		})
	}
}
