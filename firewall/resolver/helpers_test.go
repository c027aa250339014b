package resolver_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/resolver"
	"github.com/devbox-sandbox/devbox/firewall/resolver/resolvertest"
)

// patterns is a small stand-in for allowlist.Policy: "name" matches
// exactly, "*.zone" one label, "**.zone" any depth; every rule opens 443.
type patterns []string

func (p patterns) Decide(name string) resolver.Decision {
	for _, pat := range p {
		switch {
		case strings.HasPrefix(pat, "**."):
			if strings.HasSuffix(name, pat[2:]) {
				return resolver.Decision{Allowed: true, Rule: pat, Ports: []uint16{443}}
			}
		case strings.HasPrefix(pat, "*."):
			if rest, ok := strings.CutSuffix(name, pat[1:]); ok && rest != "" && !strings.Contains(rest, ".") {
				return resolver.Decision{Allowed: true, Rule: pat, Ports: []uint16{443}}
			}
		case name == pat:
			return resolver.Decision{Allowed: true, Rule: pat, Ports: []uint16{443}}
		}
	}
	return resolver.Decision{}
}

// allowCall is one Allow call as the fake saw it.
type allowCall struct {
	addrs    []netip.Addr
	ports    []uint16
	timeout  time.Duration
	returned time.Time
}

// fakeAllower records calls; err makes them fail, hold makes them wait
// until it is closed or ctx ends (as the gateway's name sets do when their
// kernel call is stuck: the call stays, the caller is released), and
// called is signalled on each call when set.
type fakeAllower struct {
	mu      sync.Mutex
	calls   []allowCall
	allowed map[netip.Addr]time.Time // address -> when Allow returned it
	err     error
	hold    chan struct{}
	called  chan struct{}
}

func (f *fakeAllower) Allow(ctx context.Context, _ string, addrs []netip.Addr, ports []uint16, timeout time.Duration) error {
	f.mu.Lock()
	hold, called, err := f.hold, f.called, f.err
	f.mu.Unlock()
	if called != nil {
		called <- struct{}{}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.calls = append(f.calls, allowCall{slices.Clone(addrs), slices.Clone(ports), timeout, now})
	if f.allowed == nil {
		f.allowed = map[netip.Addr]time.Time{}
	}
	for _, a := range addrs {
		f.allowed[a] = now
	}
	return nil
}

func (f *fakeAllower) Calls() []allowCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeAllower) AllowedAt(a netip.Addr) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.allowed[a]
	return t, ok
}

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a resolver on loopback with a test server as its upstream.
type env struct {
	t       *testing.T
	res     *resolver.Server
	up      *resolvertest.Server
	allower *fakeAllower
	addr    string
	events  *eventLog
}

type eventLog struct {
	mu     sync.Mutex
	events []resolver.Event
}

func (l *eventLog) add(e resolver.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) all() []resolver.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func (l *eventLog) last() resolver.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		return resolver.Event{}
	}
	return l.events[len(l.events)-1]
}

// newEnv starts an upstream and a resolver allowing pats; mod may change
// the Config before New.
func newEnv(t *testing.T, pats patterns, mod func(*resolver.Config)) *env {
	t.Helper()
	up, err := resolvertest.Start("", resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	e := &env{t: t, up: up, allower: &fakeAllower{}, events: &eventLog{}}
	cfg := resolver.Config{
		Policy:          pats,
		Allower:         e.allower,
		Upstreams:       []netip.AddrPort{up.Addr()},
		Log:             e.events.add,
		UpstreamTimeout: time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	e.res, err = resolver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.res.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.res.Close() })
	e.addr = e.res.Addrs()[0]
	return e
}

// ask sends one query to the resolver over network ("udp" or "tcp").
func (e *env) ask(network, name string, qtype uint16) *dns.Msg {
	e.t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	return e.exchange(network, q)
}

func (e *env) exchange(network string, q *dns.Msg) *dns.Msg {
	e.t.Helper()
	r, err := exchange(network, q, e.addr)
	if err != nil {
		e.t.Fatalf("ask %s %s over %s: %v", q.Question[0].Name, dns.Type(q.Question[0].Qtype), network, err)
	}
	return r
}

// exchange sends q, retrying a lost UDP packet.
func exchange(network string, q *dns.Msg, addr string) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	var err error
	for range 3 {
		var r *dns.Msg
		if r, _, err = c.Exchange(q, addr); err == nil {
			return r, nil
		}
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			break
		}
	}
	return nil, err
}

// addrsOf returns the addresses in m's answer and checks each record is
// owned by name.
func addrsOf(t *testing.T, m *dns.Msg, name string) []netip.Addr {
	t.Helper()
	var addrs []netip.Addr
	for _, rr := range m.Answer {
		if !strings.EqualFold(rr.Header().Name, dns.Fqdn(name)) {
			t.Errorf("answer record %v is not owned by %s", rr, name)
		}
		switch rr := rr.(type) {
		case *dns.A:
			a, _ := netip.AddrFromSlice(rr.A.To4())
			addrs = append(addrs, a)
		case *dns.AAAA:
			a, _ := netip.AddrFromSlice(rr.AAAA)
			addrs = append(addrs, a)
		default:
			t.Errorf("answer holds %v, not an address", rr)
		}
	}
	return addrs
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func rcode(m *dns.Msg) string { return dns.RcodeToString[m.Rcode] }
