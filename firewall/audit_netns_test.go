//go:build linux

package firewall

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// TestIntegrationNetnsAuditLog runs the gateway in the lab and reads its
// audit log: a refused name, a connection refused to an address answered
// for an allowed name (on a port its entry does not name) and to an
// address never answered are logged by name, read from NFLOG; a flood of
// refused packets is folded and counted.
func TestIntegrationNetnsAuditLog(t *testing.T) {
	l, _ := resolverLab(t)
	g := l.startGateway(t, l.config(t, resolverConfig))
	dockerDNS := "127.0.0.11:53"
	logPath := filepath.Join(l.dir, "audit", filepath.Base(contract.AuditLog))
	// find polls the log for a record match accepts.
	find := func(t *testing.T, what string, match func(audit.Record) bool) audit.Record {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			var found *audit.Record
			err := audit.Read(logPath, audit.Filter{}, func(r audit.Record) error {
				if match(r) {
					found = &r
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if found != nil {
				return *found
			}
			if time.Now().After(deadline) {
				data, _ := os.ReadFile(logPath)
				t.Fatalf("no record of %s in the log after 5s:\n%s\ngateway:\n%s", what, data, g.out.String())
			}
			time.Sleep(50 * time.Millisecond) // polling the log
		}
	}

	t.Run("a refused name", func(t *testing.T) {
		if got := l.query(t, 1000, dockerDNS, "sibling.test", "A", "udp"); got != "NXDOMAIN" {
			t.Fatalf("sibling.test: %s", got)
		}
		r := find(t, "sibling.test refused", func(r audit.Record) bool {
			return r.Kind == audit.KindDNS && r.Name == "sibling.test"
		})
		if r.Allowed || r.Rcode != "NXDOMAIN" || r.Type != "A" {
			t.Errorf("record %+v", r)
		}
		if got := l.query(t, 1000, dockerDNS, "bad.wild.test", "A", "udp"); got != "NXDOMAIN" {
			t.Fatalf("bad.wild.test: %s", got)
		}
		r = find(t, "bad.wild.test denied", func(r audit.Record) bool {
			return r.Kind == audit.KindDNS && r.Name == "bad.wild.test"
		})
		if r.Allowed || r.Rule != "deny: bad.wild.test" {
			t.Errorf("a name the deny list refuses: %+v", r)
		}
	})

	t.Run("a name with escape sequences and bidi controls is written escaped", func(t *testing.T) {
		if got := l.query(t, 1000, dockerDNS, "evil\x1b[2J\x1b]0;x\x07\u202e.test", "A", "udp"); got != "NXDOMAIN" {
			t.Fatalf("the name: %s, want NXDOMAIN", got)
		}
		r := find(t, "the name", func(r audit.Record) bool {
			return r.Kind == audit.KindDNS && strings.HasPrefix(r.Name, "evil")
		})
		for _, c := range []byte(r.Name) {
			if c < 0x20 || c >= 0x7f {
				t.Errorf("name %q holds byte %#x", r.Name, c)
			}
		}
		data, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range data {
			if c >= 0x7f || c < 0x20 && c != '\n' {
				t.Fatalf("the log file holds byte %#x", c)
			}
		}
	})

	t.Run("a connection refused, named by the answer of its address", func(t *testing.T) {
		if got := l.query(t, 1000, dockerDNS, "ports.test", "A", "udp"); got != "NOERROR "+portsV4 {
			t.Fatalf("ports.test: %s", got)
		}
		allowed := find(t, "ports.test answered", func(r audit.Record) bool {
			return r.Kind == audit.KindDNS && r.Name == "ports.test" && r.Allowed
		})
		if len(allowed.Answer) != 1 || allowed.Answer[0] != netip.MustParseAddr(portsV4) || allowed.Rule != "ports.test:81" {
			t.Errorf("answer record %+v", allowed)
		}
		if got, _ := l.probeTCP(t, portsV4+":80"); got != probeRefused {
			t.Fatalf("ports.test:80: %s, want refused", got)
		}
		r := find(t, "the connection to ports.test:80", func(r audit.Record) bool {
			return r.Kind == audit.KindConn && r.Dst == netip.MustParseAddr(portsV4) && r.Port == 80
		})
		if r.Allowed || r.Name != "ports.test" || r.Proto != "tcp" || r.Inbound {
			t.Errorf("record %+v, want ports.test refused on tcp/80", r)
		}
	})

	t.Run("a connection to an address never answered has no name", func(t *testing.T) {
		if got, _ := l.probeTCP(t, deepV4+":80"); got != probeRefused {
			t.Fatalf("%s:80: %s, want refused", deepV4, got)
		}
		r := find(t, "the connection to "+deepV4, func(r audit.Record) bool {
			return r.Kind == audit.KindConn && r.Dst == netip.MustParseAddr(deepV4)
		})
		if r.Name != "" || r.Port != 80 {
			t.Errorf("record %+v", r)
		}
	})

	t.Run("a flood of refused packets is folded and counted", func(t *testing.T) {
		const n = 3000
		target := netip.MustParseAddr(siblingV4)
		if err := l.client.Do(func() error {
			c, err := net.ListenPacket("udp4", ":0")
			if err != nil {
				return err
			}
			defer c.Close()
			to := &net.UDPAddr{IP: target.AsSlice(), Port: 9999}
			for range n {
				_, _ = c.WriteTo([]byte("x"), to) // refused: the error is the point
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		find(t, "the flood", func(r audit.Record) bool { return r.Kind == audit.KindConn && r.Dst == target })
		var counts audit.Counts
		deadline := time.Now().Add(5 * time.Second)
		for counts.ConnRefused < n {
			if time.Now().After(deadline) {
				t.Fatalf("counts %+v, want at least %d packets refused", counts, n)
			}
			time.Sleep(100 * time.Millisecond) // polling the counts file
			data, err := os.ReadFile(filepath.Join(l.dir, "run", contract.AuditCountsName))
			if err == nil {
				_ = json.Unmarshal(data, &counts)
			}
		}
		var records int
		_ = audit.Read(logPath, audit.Filter{}, func(r audit.Record) error {
			if r.Kind == audit.KindConn && r.Dst == target {
				records++
			}
			return nil
		})
		if records > 2 {
			t.Errorf("%d records for one flooded destination, want it folded", records)
		}
		if counts.DNSRefused < 2 || counts.DNSAllowed < 1 {
			t.Errorf("counts %+v", counts)
		}
		// init-firewall status --json reports them.
		out, err := l.client.Run(l.bin, "status", "--json", "--run-dir", filepath.Join(l.dir, "run"))
		if err != nil || !strings.Contains(out, `"connRefused"`) {
			t.Errorf("init-firewall status --json: %v: %s", err, out)
		}
	})
	// Built with DBFW_RACE=1, the gateway reports its data races here.
	if out := g.out.String(); strings.Contains(out, "DATA RACE") {
		t.Errorf("the gateway raced:\n%s", out)
	}
}

// TestIntegrationNetnsSuggestReplay records a run that is refused a port
// of an allowed name, applies what `policy suggest` proposes from the log,
// and replays the run against a new gateway: it now goes through, and
// nothing else was added. (A name refused at its lookup has no connection
// to learn a port from outside audit mode: the suggestion guesses 443.)
func TestIntegrationNetnsSuggestReplay(t *testing.T) {
	l, _ := resolverLab(t)
	g := l.startGateway(t, l.config(t, resolverConfig))
	dockerDNS := "127.0.0.11:53"
	run := func(t *testing.T) (refused []string) {
		t.Helper()
		for _, c := range []struct{ name, addr, port string }{{"ports.test", portsV4, "80"}, {"a.wild.test", wildV4, "80"}} {
			if got := l.query(t, 1000, dockerDNS, c.name, "A", "udp"); got != "NOERROR "+c.addr {
				t.Fatalf("%s: %s", c.name, got)
			}
			if got := l.probeAs(t, "tcp", c.addr+":"+c.port); got != probeReached {
				refused = append(refused, c.name+":"+c.port)
			}
		}
		return refused
	}
	if got := run(t); strings.Join(got, " ") != "ports.test:80" {
		t.Fatalf("the recorded run was refused %q, want ports.test:80 alone", got)
	}
	entries, notes := suggestFromLog(t, l, "ports.test:80")
	if strings.Join(entries, " ") != "ports.test:80" {
		t.Fatalf("suggested %q, want [ports.test:80]; notes %q", entries, notes)
	}
	restartWith(t, l, g, entries)
	if got := run(t); len(got) > 0 {
		t.Errorf("replayed with the suggestion applied, still refused: %q", got)
	}
	// Nothing more than suggested: another port of the name stays closed.
	if got, _ := l.probeTCP(t, portsV4+":22"); got != probeRefused {
		t.Errorf("ports.test:22 after applying ports.test:80: %s", got)
	}
}

// TestIntegrationNetnsSuggestReplayAudit: an agent's run recorded in audit
// mode (a name the policy does not list, resolved and connected to), then
// `policy suggest` from that log applied to firewall.jsonc and the run
// replayed with audit mode off: it goes through, and what the run did not
// use stays closed.
func TestIntegrationNetnsSuggestReplayAudit(t *testing.T) {
	l, _ := resolverLab(t)
	g := l.startGateway(t, l.config(t, resolverConfig))
	run := func(t *testing.T) string {
		t.Helper()
		return l.resolveConnect("sibling.test", "80")
	}
	if got := run(t); got == probeReached {
		t.Fatalf("sibling.test:80 before audit mode: %s", got)
	}
	if resp, code, _ := l.ctl(t, "audit", "60s"); code != 0 {
		t.Fatalf("audit 60s: exit %d %+v", code, resp)
	}
	if got := run(t); got != probeReached {
		t.Fatalf("the recorded run, in audit mode: sibling.test:80 %s", got)
	}
	if resp, code, _ := l.ctl(t, "audit", "off"); code != 0 {
		t.Fatalf("audit off: exit %d %+v", code, resp)
	}
	entries, notes := suggestFromLog(t, l, "sibling.test:80")
	if !slices.Contains(entries, "sibling.test:80") {
		t.Fatalf("suggested %q, want sibling.test:80; notes %q", entries, notes)
	}
	// The log marks the answer audit mode gave, and records audit mode's
	// start and end (the live policy writes into the same log).
	var answered, started, ended bool
	logPath := filepath.Join(l.dir, "audit", filepath.Base(contract.AuditLog))
	if err := audit.Read(logPath, audit.Filter{}, func(r audit.Record) error {
		switch {
		case r.Kind == audit.KindDNS && r.Name == "sibling.test" && r.Allowed:
			answered = answered || r.Audit && r.Rule == audit.AuditRule
		case r.Kind == audit.KindAudit && r.Action == "start":
			started = true
		case r.Kind == audit.KindAudit && r.Action == "end":
			ended = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !answered || !started || !ended {
		t.Errorf("audit log: sibling.test answered in audit mode %v, audit start %v, end %v", answered, started, ended)
	}
	// The refused run before audit mode is in the log too, on the same name.
	for _, e := range entries {
		if e != "sibling.test:80" {
			t.Errorf("suggested %q beyond what the run used", e)
		}
	}
	restartWith(t, l, g, entries)
	if got := run(t); got != probeReached {
		t.Errorf("replayed with audit mode off and the suggestion applied: sibling.test:80 %s", got)
	}
	if got, _ := l.probeTCP(t, siblingV4+":22"); got != probeRefused {
		t.Errorf("sibling.test:22, which the run never used: %s", got)
	}
	if got := l.resolveConnect("b.c.wild.test", "80"); got == probeReached {
		t.Errorf("b.c.wild.test, which the run never asked for: %s", got)
	}
}

// suggestFromLog reads the lab gateway's audit log until `policy suggest`
// suggests want (the log is written behind the decisions) or 5 s passed,
// and returns its entries and notes.
func suggestFromLog(t *testing.T, l *lab, want string) (entries, notes []string) {
	t.Helper()
	logPath := filepath.Join(l.dir, "audit", filepath.Base(contract.AuditLog))
	var sug audit.Suggestion
	for deadline := time.Now().Add(5 * time.Second); ; {
		s := audit.NewSuggester()
		if err := audit.Read(logPath, audit.Filter{}, func(r audit.Record) error { s.Add(r); return nil }); err != nil {
			t.Fatal(err)
		}
		sug = s.Result()
		entries = entries[:0]
		for _, e := range sug.Domains {
			entries = append(entries, e.Entry)
		}
		if slices.Contains(entries, want) || time.Now().After(deadline) {
			return entries, sug.Notes
		}
		time.Sleep(50 * time.Millisecond) // polling the log
	}
}

// restartWith stops the lab's gateway g and starts a new one whose
// firewall.jsonc is resolverConfig with entries added to its domains.
func restartWith(t *testing.T, l *lab, g *gatewayProc, entries []string) {
	t.Helper()
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not stop")
	}
	quoted := make([]string, len(entries))
	for i, e := range entries {
		quoted[i] = `"` + e + `"`
	}
	applied := strings.Replace(resolverConfig, `"ports.test:81"]`, `"ports.test:81", `+strings.Join(quoted, ", ")+`]`, 1)
	if applied == resolverConfig {
		t.Fatal("the suggestion was not applied to the config")
	}
	// The first gateway's ready marker must not pass for the new one's.
	if err := os.Remove(filepath.Join(l.dir, "run", contract.ReadyMarkerName)); err != nil {
		t.Fatal(err)
	}
	l.startGateway(t, l.config(t, applied))
}
