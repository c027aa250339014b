package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/integration/internal/inet"
)

// testAuditLog: the gateway's audit log, read with `devbox log --json`,
// names the domain of a name refused and of a connection refused (to an
// address answered for an allowed name, on a port its entry does not
// open); `devbox status` shows the blocked counts; `devbox policy
// suggest` proposes that name and port.
func testAuditLog(t *testing.T, w *workspace, _ boxKind) {
	refused := fmt.Sprintf("refused-%d.example.test", time.Now().UnixNano())
	if out, code := w.exec("getent", "hosts", refused); code == 0 {
		t.Fatalf("getent hosts %s resolved: %s", refused, out)
	}
	if out, code := w.exec("getent", "ahostsv4", inet.Allowed.Name); code != 0 {
		t.Fatalf("getent ahostsv4 %s: exit %d: %s", inet.Allowed.Name, code, out)
	}
	closedPort := fmt.Sprintf("/dev/tcp/%s/%d", inet.Allowed.V4, inet.EchoPort)
	if out, code := w.exec("bash", "-c", "exec 3<>"+closedPort); code == 0 {
		t.Fatalf("%s: connected: %s", closedPort, out)
	}

	var name, conn *audit.Record
	deadline := time.Now().Add(10 * time.Second)
	for name == nil || conn == nil {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s, devbox log --json has the refused name: %v, the refused connection: %v", name != nil, conn != nil)
		}
		res, err := w.devbox("log", "--json", "--blocked", "--since", "10m")
		if err != nil {
			t.Fatalf("devbox log --json: %v\n%s", err, combined(res))
		}
		err = audit.Decode(bytes.NewReader(res.Stdout), func(r audit.Record) error {
			switch {
			case r.Kind == audit.KindDNS && r.Name == refused && !r.Allowed:
				name = &r
			case r.Kind == audit.KindConn && r.Dst == inet.Allowed.V4 && r.Port == inet.EchoPort && r.Proto == "tcp" && !r.Allowed:
				conn = &r
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if name == nil || conn == nil {
			time.Sleep(200 * time.Millisecond) // polling the log
		}
	}
	if conn.Name != inet.Allowed.Name {
		t.Errorf("the refused connection to %s:%d is named %q, want %s", inet.Allowed.V4, inet.EchoPort, conn.Name, inet.Allowed.Name)
	}

	res, err := w.s.run(nil, "status", "--json")
	if err != nil {
		t.Fatalf("devbox status --json: %v\n%s", err, combined(res))
	}
	var boxes []struct {
		Workspace string
		Gateway   *struct{ Audit *audit.Counts }
	}
	if err := json.Unmarshal(res.Stdout, &boxes); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range boxes {
		if b.Workspace != w.dir {
			continue
		}
		found = true
		if b.Gateway == nil || b.Gateway.Audit == nil || b.Gateway.Audit.DNSRefused == 0 || b.Gateway.Audit.ConnRefused == 0 {
			t.Errorf("devbox status --json: no blocked counts for %s: %s", w.dir, res.Stdout)
		}
	}
	if !found {
		t.Errorf("devbox status --json does not list %s", w.dir)
	}
	if table := w.s.status(t); !strings.Contains(table, "BLOCKED") || !strings.Contains(table, " names, ") {
		t.Errorf("devbox status shows no blocked counts:\n%s", table)
	}

	// The table names them too.
	res, err = w.devbox("log", "--blocked", "--since", "10m")
	if err != nil {
		t.Fatalf("devbox log: %v\n%s", err, combined(res))
	}
	table := string(res.Stdout)
	for _, want := range []string{refused, fmt.Sprintf("%s %s tcp/%d", inet.Allowed.Name, inet.Allowed.V4, inet.EchoPort)} {
		if !strings.Contains(table, want) {
			t.Errorf("devbox log does not show %q:\n%s", want, table)
		}
	}
	t.Logf("devbox log --blocked:\n%s", table)

	t.Run("follow", func(t *testing.T) { testAuditLogFollow(t, w) })

	res, err = w.s.run(nil, "policy", "suggest", "-w", w.dir, "--since", "10m")
	if err != nil {
		t.Fatalf("devbox policy suggest: %v\n%s", err, combined(res))
	}
	if want := fmt.Sprintf("%q", fmt.Sprintf("%s:%d", inet.Allowed.Name, inet.EchoPort)); !strings.Contains(string(res.Stdout), want) {
		t.Errorf("devbox policy suggest does not propose %s:\n%s", want, res.Stdout)
	}
	// The gateway's own check of verify.blocked is refused on purpose.
	if bad := fmt.Sprintf("%q", inet.Blocked.Name); strings.Contains(string(res.Stdout), bad) {
		t.Errorf("devbox policy suggest proposes %s, which firewall.jsonc's verify.blocked wants refused:\n%s", bad, res.Stdout)
	}
}

// testAuditLogFollow: `devbox log -f` shows a name refused after it
// started, and ends at once on an interrupt.
func testAuditLogFollow(t *testing.T, w *workspace) {
	cmd := exec.Command(w.s.devbox, "log", "-f", "--json", "--blocked", "--since", "1m", "-w", w.dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	seen := make(chan struct{})
	name := fmt.Sprintf("follow-%d.example.test", time.Now().UnixNano())
	var once sync.Once
	go func() {
		_ = audit.Decode(out, func(r audit.Record) error {
			if r.Kind == audit.KindDNS && r.Name == name {
				once.Do(func() { close(seen) }) // asked for A and AAAA
			}
			return nil
		})
	}()
	// Asked after devbox log started (and again, should it start slowly).
	deadline := time.Now().Add(15 * time.Second)
	for done := false; !done; {
		w.exec("getent", "hosts", name)
		select {
		case <-seen:
			done = true
		case <-time.After(time.Second):
			if time.Now().After(deadline) {
				t.Fatalf("devbox log -f did not show %s in 15s: %s", name, stderr.String())
			}
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("devbox log -f after an interrupt: %v: %s", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Errorf("devbox log -f still runs 5s after an interrupt")
	}
}
