//go:build linux

package firewall

// Real-kernel tests of the gateway's live policy (init-firewall ctl
// reload, check) and audit mode, while probers run.

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/control"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// liveConfig is the starting policy: sibling.test and unlisted.test are
// not listed; a long minTTL keeps answered addresses in the name sets, so
// only a deny can take them out.
const liveConfig = `{
  // the live test's policy
  "domains": ["*.wild.test:80,81"],
  "cidrs": ["198.18.16.8"],
  "upstreams": ["198.51.100.53"],
  "dns": {"minTTL": 600, "grace": 30},
  "cacheDir": "CACHE"
}`

// ctl runs init-firewall ctl in the client namespace and decodes its
// JSON answer; code is its exit status.
func (l *lab) ctl(t testing.TB, args ...string) (*control.Response, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	argv := append([]string{l.bin, "ctl", "--json", "--run-dir", filepath.Join(l.dir, "run")}, args...)
	cmd := l.client.Command(ctx, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("init-firewall ctl %v: %v", args, err)
	}
	resp, derr := control.DecodeResponse(&stdout)
	if derr != nil {
		t.Fatalf("init-firewall ctl %v: exit %d, %v: %s%s", args, code, derr, stdout.String(), stderr.String())
	}
	return resp, code, took
}

// resolveConnect asks the resolver for name (as the agent would, through
// 127.0.0.11) and connects to the first answer on port: "nxdomain",
// probeReached, probeRefused or probeTimeout.
func (l *lab) resolveConnect(name, port string) string {
	var out string
	_ = l.client.Do(func() error {
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		c := &dns.Client{Net: "udp", Timeout: time.Second}
		reply, _, err := c.Exchange(q, "127.0.0.11:53")
		switch {
		case err != nil:
			out = "dns " + err.Error()
			return nil
		case reply.Rcode != dns.RcodeSuccess || len(reply.Answer) == 0:
			out = "nxdomain"
			return nil
		}
		a, _ := reply.Answer[0].(*dns.A)
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(a.A.String(), port), time.Second)
		out = outcome(err)
		if err == nil {
			conn.Close()
		}
		return nil
	})
	return out
}

// probeLoop runs probe until stop, recording each outcome with its time.
type probeLog struct {
	mu   sync.Mutex
	seen []probeAt
}

type probeAt struct {
	at  time.Time
	got string
}

func (p *probeLog) run(stop *atomic.Bool, wg *sync.WaitGroup, probe func() string) {
	defer wg.Done()
	for !stop.Load() {
		got := probe()
		p.mu.Lock()
		p.seen = append(p.seen, probeAt{time.Now(), got})
		p.mu.Unlock()
	}
}

// switched checks that the outcomes went from open to closed (or back)
// exactly once, with the first of the new state within limit of at, and
// returns when. Reached is open; refused and NXDOMAIN are closed; anything
// else (a timeout) is an error.
func (p *probeLog) switched(t *testing.T, what string, toOpen bool, at time.Time, limit time.Duration) time.Duration {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, s := range p.seen {
		open := s.got == probeReached
		if !open && s.got != probeRefused && s.got != "nxdomain" {
			t.Errorf("%s: %s at %s", what, s.got, s.at.Format("15:04:05.000"))
			continue
		}
		switch {
		case open == toOpen && first.IsZero():
			first = s.at
		case open != toOpen && !first.IsZero():
			t.Errorf("%s: %s at %s, after it switched at %s", what, s.got, s.at.Format("15:04:05.000"), first.Format("15:04:05.000"))
		}
	}
	if first.IsZero() {
		t.Errorf("%s: never switched (open=%t)", what, toOpen)
		return 0
	}
	took := first.Sub(at)
	if took > limit {
		t.Errorf("%s: switched only %v after the change", what, took)
	}
	return took
}

// steady checks that every outcome was want.
func (p *probeLog) steady(t *testing.T, what, want string) int {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.seen {
		if s.got != want {
			t.Errorf("%s: %s at %s, want %s throughout", what, s.got, s.at.Format("15:04:05.000"), want)
			break
		}
	}
	return len(p.seen)
}

func TestIntegrationNetnsLivePolicy(t *testing.T) {
	l, _ := resolverLab(t)
	records := resolverRecords()
	records["unlisted.test"] = []string{deepV4}
	l.dns.SetRecords(records)
	cfgPath := l.config(t, liveConfig)
	g := l.startGateway(t, cfgPath)
	write := func(body string) {
		t.Helper()
		body = strings.ReplaceAll(body, "CACHE", filepath.Join(l.dir, "cache"))
		if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("the socket is root's, 0600, a path", func(t *testing.T) {
		fi, err := os.Stat(filepath.Join(l.dir, "run", filepath.Base(contract.ControlSocket)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("control socket: mode %v uid %d, want a socket 0600 of root", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
		}
		// No abstract socket: /proc/net/unix of the namespace lists none
		// of init-firewall's.
		out := l.client.MustRun(t, "cat", "/proc/net/unix")
		for line := range strings.Lines(out) {
			if f := strings.Fields(line); len(f) == 8 && strings.HasPrefix(f[7], "@") && strings.Contains(f[7], "devbox") {
				t.Errorf("abstract socket in the namespace: %s", line)
			}
		}
		// The agent's user cannot use it.
		got := l.helper(t, 1000, "DBFW_PROBE=unix", "DBFW_ADDR="+filepath.Join(l.dir, "run", filepath.Base(contract.ControlSocket)))
		if !strings.HasPrefix(got, probeRefused) {
			t.Errorf("uid 1000 and the control socket: %s", got)
		}
	})

	t.Run("check names the rule", func(t *testing.T) {
		for _, c := range []struct{ dst, by, rule string }{
			{"a.wild.test:80", "name", "*.wild.test:80,81"},
			{"198.18.16.8:22", "address", "198.18.16.8"},
			{"sibling.test", "default", ""},
			{"a.wild.test", "name", "*.wild.test:80,81"}, // 443: not allowed
		} {
			resp, code, _ := l.ctl(t, "check", c.dst)
			if code != 0 || resp.Verdict == nil {
				t.Fatalf("check %s: exit %d %+v", c.dst, code, resp)
			}
			v := resp.Verdict
			want := c.by != "default" && c.dst != "a.wild.test"
			if v.Allowed != want || v.By != c.by || v.Rule != c.rule {
				t.Errorf("check %s: %+v, want allowed=%t by %s rule %q", c.dst, v, want, c.by, c.rule)
			}
		}
	})

	t.Run("allow and deny while probers run", func(t *testing.T) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		var sibling, sibAddr, kept, never probeLog
		wg.Add(4)
		go sibling.run(&stop, &wg, func() string { return l.resolveConnect("sibling.test", "80") })
		go kept.run(&stop, &wg, func() string { return l.resolveConnect("a.wild.test", "80") })
		go never.run(&stop, &wg, func() string { got, _ := l.probeTCP(t, deepV4+":80"); return got })
		go sibAddr.run(&stop, &wg, func() string { got, _ := l.probeTCP(t, siblingV4+":81"); return got })
		time.Sleep(300 * time.Millisecond) // let each prober see the start state

		// allow sibling.test on 80 and 81.
		write(strings.Replace(liveConfig, `"*.wild.test:80,81"`, `"*.wild.test:80,81", "sibling.test:80,81"`, 1))
		at := time.Now()
		resp, code, took := l.ctl(t, "reload")
		if code != 0 || !resp.OK {
			t.Fatalf("reload (allow): exit %d %+v", code, resp)
		}
		t.Logf("allow: ctl reload took %v (gateway %.1f ms), changes %v", took, resp.TookMS, resp.Changes)
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if got := l.resolveConnect("sibling.test", "81"); got == probeReached {
				break
			}
		}
		// An established connection that the deny must cut.
		var conn net.Conn
		if err := l.client.Do(func() error {
			var err error
			conn, err = net.DialTimeout("tcp", siblingV4+":81", time.Second)
			return err
		}); err != nil {
			t.Fatalf("connect to sibling.test:81 after the allow: %v", err)
		}
		defer conn.Close()
		if err := echo(conn); err != nil {
			t.Fatalf("echo over the new connection: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		t.Logf("allow in effect after %v", sibling.switched(t, "sibling.test:80 by name", true, at, time.Second))
		sibAddr.switched(t, "sibling.test:81 by address", true, at, 2*time.Second)
		t.Logf("%d probes of a.wild.test, %d of b.c.wild.test", kept.steady(t, "a.wild.test:80 (allowed throughout)", probeReached), never.steady(t, "b.c.wild.test (never allowed)", probeRefused))

		// deny it: the name, its address, and the open connection go.
		stop.Store(false)
		sibling, sibAddr, kept, never = probeLog{}, probeLog{}, probeLog{}, probeLog{}
		wg.Add(4)
		go sibling.run(&stop, &wg, func() string { return l.resolveConnect("sibling.test", "80") })
		go kept.run(&stop, &wg, func() string { return l.resolveConnect("a.wild.test", "80") })
		go never.run(&stop, &wg, func() string { got, _ := l.probeTCP(t, deepV4+":80"); return got })
		go sibAddr.run(&stop, &wg, func() string { got, _ := l.probeTCP(t, siblingV4+":80"); return got })
		time.Sleep(300 * time.Millisecond)
		write(strings.Replace(liveConfig, `"cidrs"`, `"deny": ["sibling.test"], "cidrs"`, 1))
		at = time.Now()
		resp, code, took = l.ctl(t, "reload")
		if code != 0 || !resp.OK {
			t.Fatalf("reload (deny): exit %d %+v", code, resp)
		}
		t.Logf("deny: ctl reload took %v (gateway %.1f ms), changes %v, %d connections cut", took, resp.TookMS, resp.Changes, resp.Cut)
		time.Sleep(300 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		t.Logf("deny in effect after %v", sibling.switched(t, "sibling.test:80 by name", false, at, time.Second))
		sibAddr.switched(t, "sibling.test:80 by address", false, at, time.Second)
		kept.steady(t, "a.wild.test:80 (allowed throughout)", probeReached)
		never.steady(t, "b.c.wild.test (never allowed)", probeRefused)
		if err := echo(conn); err == nil {
			t.Error("the connection to the denied name survived the deny")
		}
		if resp.Cut == 0 {
			t.Error("the deny cut no connection")
		}
	})

	t.Run("a deny CIDR closes an allowed CIDR and cuts its connection", func(t *testing.T) {
		var conn net.Conn
		if err := l.client.Do(func() error {
			var err error
			conn, err = net.DialTimeout("tcp", "198.18.16.8:81", time.Second)
			return err
		}); err != nil {
			t.Fatalf("connect to an allowed CIDR: %v", err)
		}
		defer conn.Close()
		var stop atomic.Bool
		var wg sync.WaitGroup
		var cidr, kept probeLog
		wg.Add(2)
		go cidr.run(&stop, &wg, func() string { got, _ := l.probeTCP(t, "198.18.16.8:80"); return got })
		go kept.run(&stop, &wg, func() string { return l.resolveConnect("a.wild.test", "80") })
		time.Sleep(200 * time.Millisecond)
		write(strings.Replace(liveConfig, `"cidrs"`, `"deny": ["198.18.16.8"], "cidrs"`, 1))
		at := time.Now()
		resp, code, _ := l.ctl(t, "reload")
		if code != 0 {
			t.Fatalf("reload (deny CIDR): exit %d %+v", code, resp)
		}
		time.Sleep(200 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		t.Logf("deny CIDR in effect after %v (gateway %.1f ms)", cidr.switched(t, "198.18.16.8:80", false, at, time.Second), resp.TookMS)
		kept.steady(t, "a.wild.test:80 (allowed throughout)", probeReached)
		if err := echo(conn); err == nil {
			t.Error("the connection to the denied CIDR survived the deny")
		}
		write(liveConfig)
		if resp, code, _ := l.ctl(t, "reload"); code != 0 {
			t.Fatalf("reload of the first policy: exit %d %+v", code, resp)
		}
		if got, _ := l.probeTCP(t, "198.18.16.8:80"); got != probeReached {
			t.Errorf("198.18.16.8 after the deny was taken back: %s", got)
		}
	})

	t.Run("a bad config changes nothing and names its place", func(t *testing.T) {
		write("{\n  \"domains\": [\"**.github.io\"]\n}")
		resp, code, _ := l.ctl(t, "reload")
		if code != 2 || resp.OK || !resp.BadConfig || !strings.Contains(resp.Error, "firewall.jsonc:2:") {
			t.Errorf("bad config: exit %d %+v, want 2 and file:line:col", code, resp)
		}
		if got := l.resolveConnect("a.wild.test", "80"); got != probeReached {
			t.Errorf("a.wild.test after a refused reload: %s", got)
		}
		write(strings.Replace(liveConfig, `"cidrs"`, `"audit": "30m", "cidrs"`, 1))
		if resp, code, _ := l.ctl(t, "reload"); code != 2 || !strings.Contains(resp.Error, `"audit"`) {
			t.Errorf("firewall.jsonc turning audit mode on: exit %d %+v, want refused", code, resp)
		}
		write(liveConfig)
		if resp, code, _ := l.ctl(t, "reload"); code != 0 {
			t.Fatalf("reload of the first policy: exit %d %+v", code, resp)
		}
	})

	t.Run("audit mode lets the unlisted through, not the host, and ends by itself", func(t *testing.T) {
		if got := l.resolveConnect("unlisted.test", "80"); got != "nxdomain" {
			t.Fatalf("unlisted.test before audit mode: %s", got)
		}
		resp, code, _ := l.ctl(t, "audit", "3s")
		if code != 0 || resp.State == nil || resp.State.AuditUntil.IsZero() {
			t.Fatalf("audit 3s: exit %d %+v", code, resp)
		}
		if _, err := os.Stat(filepath.Join(l.dir, "run", contract.AuditMarkerName)); err != nil {
			t.Errorf("audit marker: %v", err)
		}
		if got := l.resolveConnect("unlisted.test", "80"); got != probeReached {
			t.Errorf("unlisted.test in audit mode: %s", got)
		}
		var conn net.Conn
		if err := l.client.Do(func() error {
			var err error
			conn, err = net.DialTimeout("tcp", deepV4+":81", time.Second)
			return err
		}); err != nil {
			t.Fatalf("connect to an unlisted host in audit mode: %v", err)
		}
		defer conn.Close()
		for _, closed := range []string{gatewayV4 + ":8080", peerV4 + ":80"} {
			if got, _ := l.probeTCP(t, closed); got != probeRefused {
				t.Errorf("%s (the host, the box's network) in audit mode: %s", closed, got)
			}
		}
		if r, _, _ := l.ctl(t, "check", deepV4+":80"); r.Verdict == nil || !r.Verdict.Allowed || r.Verdict.By != "audit" {
			t.Errorf("check in audit mode: %+v", r.Verdict)
		}
		until := resp.State.AuditUntil
		var ended time.Time
		for deadline := until.Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got, _ := l.probeTCP(t, deepV4+":80"); got == probeRefused {
				ended = time.Now()
				break
			}
		}
		if ended.IsZero() {
			t.Fatal("audit mode did not end by itself")
		}
		t.Logf("audit mode ended %v after its end", ended.Sub(until))
		if got := l.resolveConnect("unlisted.test", "80"); got != "nxdomain" {
			t.Errorf("unlisted.test after audit mode: %s", got)
		}
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if echo(conn) != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Error("a connection only audit mode allowed outlived it")
				break
			}
		}
	})

	t.Run("audit mode ends by the kernel's clock when the gateway is killed", func(t *testing.T) {
		resp, code, _ := l.ctl(t, "audit", "3s")
		if code != 0 {
			t.Fatalf("audit 3s: exit %d %+v", code, resp)
		}
		if got, _ := l.probeTCP(t, deepV4+":80"); got != probeReached {
			t.Fatalf("unlisted host in audit mode: %s", got)
		}
		// The gateway dies; nothing of it ends audit mode now.
		if err := g.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-g.exited
		if got, _ := l.probeTCP(t, deepV4+":80"); got != probeReached {
			t.Fatalf("unlisted host in audit mode, gateway killed: %s", got)
		}
		until := resp.State.AuditUntil
		for deadline := until.Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if got, _ := l.probeTCP(t, deepV4+":80"); got == probeRefused {
				t.Logf("audit mode ended %v after its end, with no gateway", time.Since(until))
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("audit mode outlived its end with the gateway killed")
			}
		}
	})
}

// unixHelper is the "unix" probe: connect to a unix socket and ask for
// the state.
func unixHelper(path string) string {
	resp, err := control.Call(context.Background(), path, control.Request{Verb: control.VerbState})
	if err != nil {
		return probeRefused + ": " + err.Error()
	}
	if !resp.OK {
		return probeRefused + ": " + resp.Error
	}
	data, _ := json.Marshal(resp)
	return probeReached + " " + string(data)
}
