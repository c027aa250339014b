package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// auditLines is what `init-firewall log` prints in the gateway: names the
// agent chose, escape sequences and bidi controls among them (the gateway
// writes them JSON-escaped).
const auditLines = `{"time":"2026-11-29T01:00:01Z","kind":"dns","allowed":true,"rule":"*.wild.test:80,81","name":"a.wild.test","type":"A","rcode":"NOERROR","answer":["198.51.100.1"]}
{"time":"2026-11-29T01:00:02Z","kind":"dns","allowed":false,"name":"sibling.test","type":"A","rcode":"NXDOMAIN"}
{"time":"2026-11-29T01:00:03Z","kind":"dns","allowed":false,"name":"evil\u001b[2J\u001b]0;owned\u0007\u202egpj.test","type":"A","rcode":"NXDOMAIN"}
{"time":"2026-11-29T01:00:04Z","kind":"conn","allowed":false,"name":"a.wild.test","dst":"198.51.100.1","port":22,"proto":"tcp"}
{"time":"2026-11-29T01:00:05Z","kind":"conn","allowed":false,"name":"a.wild.test","dst":"198.51.100.1","port":22,"proto":"tcp","count":41}
{"time":"2026-11-29T01:00:06Z","kind":"conn","allowed":false,"dst":"198.51.100.9","port":5432,"proto":"tcp"}
{"time":"2026-11-29T01:00:07Z","kind":"conn","allowed":false,"name":"a.wild.test","dst":"198.51.100.1","port":443,"proto":"udp","count":3}
{"time":"2026-11-29T01:00:08Z","kind":"lost","count":412,"err":"412 dns records not written: over the log's rate of 100 a second"}
{"time":"2026-11-29T01:00:09Z","kind":"dns","allowed":false,"name":"` + "x" + `\u0000` + `","type":"A"}
not json, skipped
`

func TestLog(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"log", nil},
		{"log-json", []string{"--json"}},
		{"log-blocked-since", []string{"--blocked", "--since", "1h"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, true)
			w.withGateway()
			w.execOut = auditLines
			code := w.run(logCommand, append([]string{"log", "-w", w.ws}, c.args...)...)
			if got := w.lastExec.Cmd; len(got) < 2 || got[1] != "log" || w.lastExec.User != "root" {
				t.Errorf("ran %q as %q in the gateway, want init-firewall log as root", got, w.lastExec.User)
			}
			for _, a := range c.args {
				if a != "--json" && !slices.Contains(w.lastExec.Cmd, a) {
					t.Errorf("%s not passed to the gateway: %q", a, w.lastExec.Cmd)
				}
			}
			if strings.ContainsAny(w.out.String(), "\x1b\x07\u202e\x00") {
				t.Errorf("raw control characters reach the terminal: %q", w.out.String())
			}
			w.golden(c.name, code)
		})
	}
}

func TestLogBadSince(t *testing.T) {
	w := newWorld(t, true)
	w.withGateway()
	if code := w.run(logCommand, "log", "-w", w.ws, "--since", "yesterday"); code != 2 || w.lastExec.Cmd != nil {
		t.Errorf("exit %d, ran %q: want a usage error before anything runs", code, w.lastExec.Cmd)
	}
}

func TestLogNoGateway(t *testing.T) {
	w := newWorld(t, true)
	code := w.run(logCommand, "log", "-w", w.ws)
	w.golden("log-no-gateway", code)
}

func TestPolicySuggest(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{{"policy-suggest", nil}, {"policy-suggest-json", []string{"--json"}}, {"policy-suggest-verify", nil}} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, true)
			w.withGateway()
			if c.name == "policy-suggest-verify" {
				// The config's verify.blocked names sibling.test: refused on purpose.
				dir := filepath.Join(w.ws, ".devcontainer")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				cfg := `{"domains": ["a.wild.test"], "verify": {"blocked": ["http://sibling.test/"]}}`
				if err := os.WriteFile(filepath.Join(dir, "firewall.jsonc"), []byte(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w.execOut = auditLines
			code := w.run(policyCommand, append([]string{"policy", "suggest", "-w", w.ws}, c.args...)...)
			if strings.ContainsAny(w.out.String(), "\x1b\x07\u202e\x00") {
				t.Errorf("raw control characters reach the terminal: %q", w.out.String())
			}
			w.golden(c.name, code)
		})
	}
}

func TestLogOldGateway(t *testing.T) {
	w := newWorld(t, true)
	w.withGateway()
	w.execCode = 2
	w.execErr = "init-firewall: unexpected argument \"log\"\n"
	code := w.run(logCommand, "log", "-w", w.ws)
	w.golden("log-old-gateway", code)
}
