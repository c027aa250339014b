package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/resolver"
	"github.com/devbox-sandbox/devbox/firewall/resolver/resolvertest"
)

func TestWildcardAllowedSiblingNXDOMAIN(t *testing.T) {
	e := newEnv(t, patterns{"*.allowed.test"}, nil)
	e.up.Set("cdn.allowed.test", 300, ip("198.18.0.1"))
	e.up.Set("allowed.test", 300, ip("198.18.0.2"))
	e.up.Set("deep.cdn.allowed.test", 300, ip("198.18.0.3"))
	e.up.Set("sibling.test", 300, ip("198.18.0.4"))

	for _, network := range []string{"udp", "tcp"} {
		m := e.ask(network, "cdn.allowed.test", dns.TypeA)
		if got := addrsOf(t, m, "cdn.allowed.test"); rcode(m) != "NOERROR" || !slices.Equal(got, []netip.Addr{ip("198.18.0.1")}) {
			t.Errorf("%s: cdn.allowed.test: %s %v, want NOERROR [198.18.0.1]", network, rcode(m), got)
		}
		for _, name := range []string{"allowed.test", "deep.cdn.allowed.test", "sibling.test", "random-x7q2.allowed.test.evil"} {
			if m := e.ask(network, name, dns.TypeA); rcode(m) != "NXDOMAIN" || len(m.Answer) != 0 {
				t.Errorf("%s: %s: %s with %d records, want NXDOMAIN", network, name, rcode(m), len(m.Answer))
			}
		}
	}
	for _, name := range []string{"allowed.test", "deep.cdn.allowed.test", "sibling.test", "random-x7q2.allowed.test.evil"} {
		if e.up.Saw(name) {
			t.Errorf("the upstream saw %s, which the policy does not allow", name)
		}
	}
	calls := e.allower.Calls()
	if len(calls) == 0 || !slices.Equal(calls[0].ports, []uint16{443}) || !slices.Equal(calls[0].addrs, []netip.Addr{ip("198.18.0.1")}) {
		t.Errorf("Allow calls = %+v, want 198.18.0.1 on 443", calls)
	}
	if ev := e.events.all(); len(ev) == 0 || ev[0].Rule != "*.allowed.test" || !ev[0].Allowed || ev[0].Upstream != e.up.Addr().String() {
		t.Errorf("first event = %+v, want allowed by *.allowed.test from %s", ev[0], e.up.Addr())
	}
}

// TestNeverForwarded: other types for an allowed name, and every type for
// names not allowed, go nowhere, over UDP and TCP.
func TestNeverForwarded(t *testing.T) {
	e := newEnv(t, patterns{"**.allowed.test"}, nil)
	e.up.Set("x.allowed.test", 300, ip("198.18.0.1"), ip("2001:db8::1"))
	types := []uint16{dns.TypeTXT, dns.TypeMX, dns.TypeNULL, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeSRV,
		dns.TypeCNAME, dns.TypePTR, dns.TypeNS, dns.TypeSOA, dns.TypeCAA, dns.TypeAXFR, dns.TypeANY, dns.TypeAAAA}
	for _, network := range []string{"udp", "tcp"} {
		for _, qt := range types {
			t.Run(network+"/"+dns.Type(qt).String(), func(t *testing.T) {
				m := e.ask(network, "x.allowed.test", qt)
				want := "NOERROR"
				if qt == dns.TypeANY {
					want = "NOTIMP"
				}
				if rcode(m) != want || len(m.Answer) != 0 {
					t.Errorf("allowed name, type %s: %s with %v, want %s and no records", dns.Type(qt), rcode(m), m.Answer, want)
				}
				random := fmt.Sprintf("q%d%s.tunnel.example", qt, network)
				if m := e.ask(network, random, qt); rcode(m) != "NXDOMAIN" {
					t.Errorf("random label, type %s: %s, want NXDOMAIN", dns.Type(qt), rcode(m))
				}
			})
		}
	}
	if q := e.up.Queries(); len(q) != 0 {
		t.Errorf("the upstream saw %v; nothing may be forwarded", q)
	}
}

func TestAAAA(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(fmt.Sprint("IPv6=", v6), func(t *testing.T) {
			e := newEnv(t, patterns{"x.test"}, func(c *resolver.Config) { c.IPv6 = v6 })
			e.up.Set("x.test", 300, ip("2001:db8::7"))
			m := e.ask("udp", "x.test", dns.TypeAAAA)
			got := addrsOf(t, m, "x.test")
			switch {
			case rcode(m) != "NOERROR":
				t.Errorf("rcode %s, want NOERROR", rcode(m))
			case v6 && !slices.Equal(got, []netip.Addr{ip("2001:db8::7")}):
				t.Errorf("answer %v, want 2001:db8::7", got)
			case !v6 && (len(got) != 0 || e.up.Saw("x.test")):
				t.Errorf("IPv6 off: answer %v, upstream saw it: %v; want empty, never forwarded", got, e.up.Saw("x.test"))
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	e := newEnv(t, patterns{"x.test"}, nil)
	e.up.Set("x.test", 300, ip("198.18.0.1"))
	msg := func(f func(*dns.Msg)) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("x.test.", dns.TypeA)
		f(m)
		return m
	}
	for _, tc := range []struct {
		name string
		q    *dns.Msg
		want string
	}{
		{"notify", msg(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), "NOTIMP"},
		{"update", msg(func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }), "NOTIMP"},
		{"status", msg(func(m *dns.Msg) { m.Opcode = dns.OpcodeStatus }), "NOTIMP"},
		{"class CH", msg(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), "NOTIMP"},
		{"no question", msg(func(m *dns.Msg) { m.Question = nil }), "FORMERR"},
		{"two questions", msg(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), "FORMERR"},
		{"escaped byte", msg(func(m *dns.Msg) { m.Question[0].Name = `x\000.x.test.` }), "NXDOMAIN"},
		{"space", msg(func(m *dns.Msg) { m.Question[0].Name = `a\ b.x.test.` }), "NXDOMAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Handle, because miekg's client refuses to send some of these.
			r := e.res.Handle(t.Context(), tc.q, false)
			if rcode(r) != tc.want || len(r.Answer) != 0 {
				t.Errorf("rcode %s with %d records, want %s", rcode(r), len(r.Answer), tc.want)
			}
		})
	}
	if q := e.up.Queries(); len(q) != 0 {
		t.Errorf("the upstream saw %v", q)
	}
	// A response sent to the resolver gets nothing back.
	r := msg(func(m *dns.Msg) { m.Response = true })
	if got := e.res.Handle(t.Context(), r, false); got != nil {
		t.Errorf("a response got %v, want nothing", got)
	}
}

func TestInward(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:aa::/48")}
	for _, tc := range []struct {
		addr   string
		inward bool
	}{
		{"127.0.0.1", true}, {"127.255.255.254", true}, {"0.0.0.0", true}, {"0.1.2.3", true},
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"172.31.255.255", true}, {"192.168.1.1", true},
		{"169.254.169.254", true}, {"169.254.0.1", true}, {"100.64.0.1", true}, {"100.127.255.255", true},
		{"224.0.0.1", true}, {"239.255.255.250", true}, {"240.0.0.1", true}, {"255.255.255.255", true},
		{"198.51.100.7", true}, // a local network
		{"::", true}, {"::1", true}, {"::10.0.0.1", true}, {"fc00::1", true}, {"fd12:3456::1", true},
		{"fe80::1", true}, {"fec0::1", true}, {"ff02::1", true}, {"2001:db8:aa::5", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true}, {"::ffff:169.254.169.254", true},
		{"::ffff:198.51.100.7", true},
		{"64:ff9b::10.0.0.1", true}, {"64:ff9b::169.254.169.254", true}, {"64:ff9b::127.0.0.1", true},
		{"64:ff9b:1::1", true}, {"2002:0a00:0001::1", true}, {"2002:a9fe:a9fe::1", true}, {"2002:7f00:1::", true},
		{"fe80::1%eth0", true},

		{"198.18.0.1", false}, {"8.8.8.8", false}, {"172.32.0.1", false}, {"100.128.0.1", false},
		{"169.253.255.255", false}, {"11.0.0.1", false}, {"198.51.101.1", false},
		{"2001:db8::1", false}, {"2606:4700::1111", false}, {"::ffff:8.8.8.8", false},
		{"64:ff9b::8.8.8.8", false}, {"2002:0808:0808::1", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			reason := resolver.Inward(netip.MustParseAddr(tc.addr), local)
			if (reason != "") != tc.inward {
				t.Errorf("Inward(%s) = %q, want inward %v", tc.addr, reason, tc.inward)
			}
		})
	}
}

func TestInwardAnswerRefused(t *testing.T) {
	var allowedCIDR = netip.MustParsePrefix("10.9.0.0/16")
	e := newEnv(t, patterns{"**.test"}, func(c *resolver.Config) {
		c.Inward = allowedCIDR.Contains
		c.LocalNets = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
		c.IPv6 = true
	})
	for _, tc := range []struct {
		name  string
		addrs []netip.Addr
		qtype uint16
		ok    bool
	}{
		{"private.test", []netip.Addr{ip("10.0.0.5")}, dns.TypeA, false},
		{"metadata.test", []netip.Addr{ip("169.254.169.254")}, dns.TypeA, false},
		{"mixed.test", []netip.Addr{ip("198.18.0.1"), ip("192.168.0.1")}, dns.TypeA, false},
		{"local.test", []netip.Addr{ip("198.51.100.9")}, dns.TypeA, false},
		{"loop6.test", []netip.Addr{ip("::1")}, dns.TypeAAAA, false},
		{"mapped.test", []netip.Addr{ip("::ffff:10.0.0.1")}, dns.TypeAAAA, false},
		{"nat64.test", []netip.Addr{ip("64:ff9b::a9fe:a9fe")}, dns.TypeAAAA, false},
		{"covered.test", []netip.Addr{ip("10.9.1.1")}, dns.TypeA, true},
		{"public.test", []netip.Addr{ip("198.18.0.8")}, dns.TypeA, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.up.Set(tc.name, 300, tc.addrs...)
			before := len(e.allower.Calls())
			m := e.ask("udp", tc.name, tc.qtype)
			if !tc.ok {
				if rcode(m) != "SERVFAIL" || len(m.Answer) != 0 || len(e.allower.Calls()) != before {
					t.Errorf("%s: %s with %v (Allow calls %d->%d), want SERVFAIL, nothing allowed", tc.name, rcode(m), m.Answer, before, len(e.allower.Calls()))
				}
				if ev := e.events.last(); !strings.Contains(ev.Err, "points inward") {
					t.Errorf("event Err = %q, want the reason", ev.Err)
				}
				return
			}
			if got := addrsOf(t, m, tc.name); rcode(m) != "NOERROR" || !slices.Equal(got, tc.addrs) {
				t.Errorf("%s: %s %v, want %v", tc.name, rcode(m), got, tc.addrs)
			}
		})
	}
	if st := e.res.Stats(); st.RefusedInward != 7 {
		t.Errorf("Stats.RefusedInward = %d, want 7", st.RefusedInward)
	}
}

// TestInwardRecheckedOnCacheHit: an inward answer cached while an allowed
// CIDR covered it is refused once the CIDR is gone.
func TestInwardRecheckedOnCacheHit(t *testing.T) {
	var covered atomic.Bool
	covered.Store(true)
	e := newEnv(t, patterns{"intranet.test"}, func(c *resolver.Config) {
		c.Inward = func(netip.Addr) bool { return covered.Load() }
	})
	e.up.Set("intranet.test", 300, ip("10.1.2.3"))
	if m := e.ask("udp", "intranet.test", dns.TypeA); rcode(m) != "NOERROR" || len(m.Answer) != 1 {
		t.Fatalf("covered: %s %v", rcode(m), m.Answer)
	}
	covered.Store(false)
	if m := e.ask("udp", "intranet.test", dns.TypeA); rcode(m) != "SERVFAIL" || len(m.Answer) != 0 {
		t.Errorf("no longer covered, from the cache: %s %v, want SERVFAIL", rcode(m), m.Answer)
	}
}

// TestAllowBeforeAnswer holds the Allower and checks the client has no
// answer until it returns, then that Allow returned before the client got
// the answer.
func TestAllowBeforeAnswer(t *testing.T) {
	e := newEnv(t, patterns{"x.test"}, func(c *resolver.Config) { c.AllowTimeout = 5 * time.Second })
	e.up.Set("x.test", 300, ip("198.18.0.1"))
	e.allower.hold, e.allower.called = make(chan struct{}), make(chan struct{}, 1)

	type result struct {
		m  *dns.Msg
		at time.Time
	}
	got := make(chan result, 1)
	go func() {
		m, err := exchange("udp", &dns.Msg{Question: []dns.Question{{Name: "x.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}, MsgHdr: dns.MsgHdr{Id: dns.Id(), RecursionDesired: true}}, e.addr)
		if err != nil {
			t.Error(err)
		}
		got <- result{m, time.Now()}
	}()
	<-e.allower.called
	// The resolver is inside Allow: give a wrongly released answer time to
	// arrive, then check none did.
	select {
	case r := <-got:
		t.Fatalf("the client got %v while Allow had not returned", r.m)
	case <-time.After(200 * time.Millisecond):
	}
	close(e.allower.hold)
	r := <-got
	allowedAt, ok := e.allower.AllowedAt(ip("198.18.0.1"))
	if !ok || !allowedAt.Before(r.at) {
		t.Errorf("Allow returned at %v (ok %v), the client got the answer at %v: want Allow first", allowedAt, ok, r.at)
	}
	if addrs := addrsOf(t, r.m, "x.test"); !slices.Equal(addrs, []netip.Addr{ip("198.18.0.1")}) {
		t.Errorf("answer %v", addrs)
	}
}

func TestAllowFailureIsServfail(t *testing.T) {
	t.Run("error", func(t *testing.T) {
		e := newEnv(t, patterns{"x.test"}, nil)
		e.up.Set("x.test", 300, ip("198.18.0.1"))
		e.allower.err = errors.New("ipset: no such set")
		m := e.ask("udp", "x.test", dns.TypeA)
		if rcode(m) != "SERVFAIL" || len(m.Answer) != 0 {
			t.Errorf("%s with %v, want SERVFAIL and no address", rcode(m), m.Answer)
		}
		if ev := e.events.last(); !strings.Contains(ev.Err, "no such set") {
			t.Errorf("event Err = %q", ev.Err)
		}
		// Not cached either: a later query asks again.
		e.allower.err = nil
		if m := e.ask("udp", "x.test", dns.TypeA); rcode(m) != "NOERROR" || e.up.Count("x.test") != 2 {
			t.Errorf("after the Allower recovers: %s, upstream asked %d times, want NOERROR, 2", rcode(m), e.up.Count("x.test"))
		}
	})
	t.Run("blocks past 100ms", func(t *testing.T) {
		e := newEnv(t, patterns{"x.test"}, nil)
		e.up.Set("x.test", 300, ip("198.18.0.1"))
		e.allower.hold = make(chan struct{})
		defer close(e.allower.hold)
		start := time.Now()
		m := e.ask("udp", "x.test", dns.TypeA)
		if rcode(m) != "SERVFAIL" || len(m.Answer) != 0 {
			t.Errorf("%s with %v, want SERVFAIL", rcode(m), m.Answer)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("SERVFAIL after %v, want about 100ms", d)
		}
		if st := e.res.Stats(); st.AllowErrors != 1 || st.ServFail != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestRace1000 resolves 1,000 fresh names at once, each with its own
// address; each client checks its address was allowed before it got it.
func TestRace1000(t *testing.T) {
	e := newEnv(t, patterns{"**.race.test"}, nil)
	const n = 1000
	for i := range n {
		e.up.Set(fmt.Sprintf("n%d.race.test", i), 300, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 1000) // all at once
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("n%d.race.test", i)
			want := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
			q := new(dns.Msg)
			q.SetQuestion(name+".", dns.TypeA)
			m, err := exchange("udp", q, e.addr)
			at := time.Now()
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != want.String() {
				t.Errorf("%s: %s %v, want %v", name, rcode(m), m.Answer, want)
				return
			}
			if allowedAt, ok := e.allower.AllowedAt(want); !ok || allowedAt.After(at) {
				t.Errorf("%s: answer at %v, allowed at %v (%v)", name, at, allowedAt, ok)
			}
		})
	}
	wg.Wait()
	st := e.res.Stats()
	t.Logf("stats: %+v", st)
}

func TestTTL(t *testing.T) {
	for _, tc := range []struct {
		upTTL     uint32
		clientTTL uint32
		timeout   time.Duration
	}{
		{300, 300, 330 * time.Second},
		{10, 10, 90 * time.Second}, // max(10s, MinTTL 60s) + grace 30s
		{0, 0, 90 * time.Second},
		{3 * 86400, 86400, 86430 * time.Second}, // capped at a day
	} {
		t.Run(fmt.Sprint(tc.upTTL), func(t *testing.T) {
			e := newEnv(t, patterns{"x.test"}, nil)
			e.up.Set("x.test", tc.upTTL, ip("198.18.0.1"))
			m := e.ask("udp", "x.test", dns.TypeA)
			if len(m.Answer) != 1 || m.Answer[0].Header().Ttl != tc.clientTTL {
				t.Fatalf("answer %v, want TTL %d", m.Answer, tc.clientTTL)
			}
			if c := e.allower.Calls(); len(c) != 1 || c[0].timeout != tc.timeout {
				t.Errorf("Allow calls %+v, want one with timeout %v", c, tc.timeout)
			}
		})
	}
}

func TestCacheRefresh(t *testing.T) {
	clk := newClock()
	e := newEnv(t, patterns{"x.test"}, func(c *resolver.Config) {
		c.Now = clk.Now
		c.MinTTL, c.Grace = 10*time.Second, 5*time.Second
	})
	e.up.Set("x.test", 300, ip("198.18.0.1"))
	e.ask("udp", "x.test", dns.TypeA)

	clk.Advance(100 * time.Second)
	m := e.ask("udp", "x.test", dns.TypeA)
	if e.up.Count("x.test") != 1 {
		t.Errorf("upstream asked %d times, want 1 (cached)", e.up.Count("x.test"))
	}
	if len(m.Answer) != 1 || m.Answer[0].Header().Ttl != 200 {
		t.Errorf("cached answer %v, want TTL 200", m.Answer)
	}
	calls := e.allower.Calls()
	if len(calls) != 2 || calls[1].timeout != 205*time.Second || !slices.Equal(calls[1].addrs, []netip.Addr{ip("198.18.0.1")}) {
		t.Errorf("Allow calls %+v, want a refresh of 198.18.0.1 for 200s+5s", calls)
	}
	if ev := e.events.last(); !ev.Cached {
		t.Errorf("event %+v, want Cached", ev)
	}
	// Near the end the allow timeout is MinTTL + grace.
	clk.Advance(195 * time.Second)
	e.ask("udp", "x.test", dns.TypeA)
	if c := e.allower.Calls(); c[2].timeout != 15*time.Second {
		t.Errorf("refresh near expiry: timeout %v, want 15s", c[2].timeout)
	}

	// The name moves; after the TTL the new address is answered.
	e.up.Move("x.test", ip("198.18.0.99"))
	if got := addrsOf(t, e.ask("udp", "x.test", dns.TypeA), "x.test"); !slices.Equal(got, []netip.Addr{ip("198.18.0.1")}) {
		t.Errorf("before expiry: %v, want the cached 198.18.0.1", got)
	}
	clk.Advance(5 * time.Second)
	if got := addrsOf(t, e.ask("udp", "x.test", dns.TypeA), "x.test"); !slices.Equal(got, []netip.Addr{ip("198.18.0.99")}) {
		t.Errorf("after expiry: %v, want 198.18.0.99", got)
	}
	if st := e.res.Stats(); st.CacheHits != 3 || st.CacheMisses != 2 {
		t.Errorf("stats hits %d misses %d, want 3, 2", st.CacheHits, st.CacheMisses)
	}
}

func TestPolicySwap(t *testing.T) {
	e := newEnv(t, patterns{"x.test"}, nil)
	e.up.Set("x.test", 300, ip("198.18.0.1"))
	e.up.Set("y.test", 300, ip("198.18.0.2"))
	if m := e.ask("udp", "x.test", dns.TypeA); rcode(m) != "NOERROR" {
		t.Fatalf("x.test: %s", rcode(m))
	}
	e.res.SetPolicy(patterns{"y.test"})
	if m := e.ask("udp", "x.test", dns.TypeA); rcode(m) != "NXDOMAIN" || len(m.Answer) != 0 {
		t.Errorf("x.test after the swap: %s %v, want NXDOMAIN (the cached answer must not be served)", rcode(m), m.Answer)
	}
	if m := e.ask("udp", "y.test", dns.TypeA); rcode(m) != "NOERROR" || len(m.Answer) != 1 {
		t.Errorf("y.test after the swap: %s %v", rcode(m), m.Answer)
	}
	if e.up.Count("x.test") != 1 {
		t.Errorf("upstream asked for x.test %d times, want 1", e.up.Count("x.test"))
	}
	e.res.SetPolicy(nil)
	if m := e.ask("udp", "y.test", dns.TypeA); rcode(m) != "NXDOMAIN" {
		t.Errorf("nil policy: %s, want NXDOMAIN (fail closed)", rcode(m))
	}
}

func TestCNAMEChain(t *testing.T) {
	chain := func(up *resolvertest.Server, name string, steps int) {
		prev := name
		for i := range steps {
			next := fmt.Sprintf("c%d.%s.cdn.example", i, name)
			up.SetCNAME(prev, next, uint32(600-i))
			prev = next
		}
		up.Set(prev, 900, ip("198.18.0.50"), ip("198.18.0.51"))
	}
	for _, stop := range []bool{false, true} {
		for _, steps := range []int{1, 8, 9} {
			t.Run(fmt.Sprintf("stopAtCNAME=%v/%d", stop, steps), func(t *testing.T) {
				e := newEnv(t, patterns{"x.test"}, nil)
				e.up.SetOptions(resolvertest.Options{StopAtCNAME: stop, Garbage: true})
				chain(e.up, "x.test", steps)
				m := e.ask("udp", "x.test", dns.TypeA)
				ev := e.events.last()
				if steps > resolver.MaxCNAMEs {
					if rcode(m) != "SERVFAIL" || len(m.Answer) != 0 || len(e.allower.Calls()) != 0 {
						t.Errorf("%d steps: %s %v, want SERVFAIL, nothing allowed", steps, rcode(m), m.Answer)
					}
					return
				}
				got := addrsOf(t, m, "x.test")
				if rcode(m) != "NOERROR" || !slices.Equal(got, []netip.Addr{ip("198.18.0.50"), ip("198.18.0.51")}) {
					t.Errorf("%s %v, want the chain end's two addresses", rcode(m), got)
				}
				if wantTTL := uint32(600 - steps + 1); m.Answer[0].Header().Ttl != wantTTL {
					t.Errorf("TTL %d, want the chain's minimum %d", m.Answer[0].Header().Ttl, wantTTL)
				}
				if len(ev.CNAMEs) != steps || ev.CNAMEs[steps-1] != fmt.Sprintf("c%d.x.test.cdn.example", steps-1) {
					t.Errorf("event CNAMEs %v", ev.CNAMEs)
				}
			})
		}
	}
}

func TestCNAMELoop(t *testing.T) {
	e := newEnv(t, patterns{"x.test"}, nil)
	e.up.SetOptions(resolvertest.Options{StopAtCNAME: true})
	e.up.SetCNAME("x.test", "a.example", 60)
	e.up.SetCNAME("a.example", "x.test", 60)
	if m := e.ask("udp", "x.test", dns.TypeA); rcode(m) != "SERVFAIL" {
		t.Errorf("a CNAME loop: %s, want SERVFAIL", rcode(m))
	}
}

func TestUpstreamNegative(t *testing.T) {
	e := newEnv(t, patterns{"**.test"}, nil)
	e.up.Set("v6only.test", 300, ip("2001:db8::1"))
	e.up.SetCNAME("dangling.test", "gone.example", 60)
	for name, want := range map[string]string{"unknown.test": "NXDOMAIN", "v6only.test": "NOERROR", "dangling.test": "NXDOMAIN"} {
		if m := e.ask("udp", name, dns.TypeA); rcode(m) != want || len(m.Answer) != 0 {
			t.Errorf("%s: %s %v, want %s and no records", name, rcode(m), m.Answer, want)
		}
	}
	if len(e.allower.Calls()) != 0 {
		t.Errorf("Allow called for no address: %+v", e.allower.Calls())
	}
}

func TestSizeLimits(t *testing.T) {
	e := newEnv(t, patterns{"many.test"}, nil)
	var addrs []netip.Addr
	for i := range 60 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}))
	}
	e.up.Set("many.test", 300, addrs...)

	m := e.ask("tcp", "many.test", dns.TypeA)
	if got := addrsOf(t, m, "many.test"); !slices.Equal(got, addrs[:50]) {
		t.Errorf("over TCP: %d addresses, want the first 50", len(got))
	}
	if c := e.allower.Calls(); len(c) != 1 || len(c[0].addrs) != 50 {
		t.Errorf("Allow got %d calls, want one with 50 addresses", len(c))
	}

	m = e.ask("udp", "many.test", dns.TypeA)
	m.Compress = true // Len is the size on the wire, which was compressed
	if !m.Truncated || m.Len() > 512 {
		t.Errorf("UDP without EDNS: TC %v, %d bytes; want TC and at most 512", m.Truncated, m.Len())
	}
	q := new(dns.Msg)
	q.SetQuestion("many.test.", dns.TypeA)
	q.SetEdns0(4096, false)
	m = e.exchange("udp", q)
	m.Compress = true
	if m.Truncated || len(m.Answer) != 50 || m.Len() > 1232 || m.IsEdns0() == nil {
		t.Errorf("UDP with EDNS 4096: TC %v, %d records, %d bytes; want 50 records in at most 1232 bytes with an OPT", m.Truncated, len(m.Answer), m.Len())
	}
	// miekg's client retries over TCP by itself only when asked; a stub
	// that sees TC does the same.
	c := &dns.Client{Net: "udp"}
	q = new(dns.Msg)
	q.SetQuestion("many.test.", dns.TypeA)
	if r, _, err := c.Exchange(q, e.addr); err != nil || !r.Truncated {
		t.Errorf("UDP: %v %v", r, err)
	}
}

func TestUpstreamFailover(t *testing.T) {
	// A port nothing listens on: UDP there is refused at once.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	failing, err := resolvertest.Start("", resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer failing.Close()
	failing.SetOptions(resolvertest.Options{Mangle: func(_, r *dns.Msg) { r.Rcode, r.Answer = dns.RcodeServerFailure, nil }})

	var e *env
	e = newEnv(t, patterns{"x.test"}, func(c *resolver.Config) {
		c.Upstreams = append([]netip.AddrPort{dead, failing.Addr()}, c.Upstreams...)
	})
	e.up.Set("x.test", 300, ip("198.18.0.1"))
	m := e.ask("udp", "x.test", dns.TypeA)
	if rcode(m) != "NOERROR" || len(m.Answer) != 1 {
		t.Errorf("%s %v, want the third upstream's answer", rcode(m), m.Answer)
	}
	if !failing.Saw("x.test") || e.events.last().Upstream != e.up.Addr().String() {
		t.Errorf("failing upstream saw it: %v; event upstream %q", failing.Saw("x.test"), e.events.last().Upstream)
	}

	t.Run("all fail", func(t *testing.T) {
		e.up.SetRcode("y.test", dns.RcodeRefused)
		e.res.SetPolicy(patterns{"y.test"})
		if m := e.ask("udp", "y.test", dns.TypeA); rcode(m) != "SERVFAIL" {
			t.Errorf("%s, want SERVFAIL", rcode(m))
		}
	})
	t.Run("truncated over UDP, asked again over TCP", func(t *testing.T) {
		e.up.SetOptions(resolvertest.Options{Truncate: true})
		e.up.Set("tc.test", 300, ip("198.18.0.3"))
		e.res.SetPolicy(patterns{"tc.test"})
		if m := e.ask("udp", "tc.test", dns.TypeA); len(m.Answer) != 1 {
			t.Errorf("%s %v, want the address", rcode(m), m.Answer)
		}
		var protos []string
		for _, q := range e.up.Queries() {
			if q.Name == "tc.test." {
				protos = append(protos, q.Proto)
			}
		}
		if !slices.Equal(protos, []string{"udp", "tcp"}) {
			t.Errorf("upstream saw tc.test over %v, want udp then tcp", protos)
		}
	})
	t.Run("insane answers", func(t *testing.T) {
		e.res.SetPolicy(patterns{"**.test"})
		e.up.Set("other.test", 300, ip("198.18.0.4"))
		e.up.Set("big.test", 300, ip("198.18.0.5"))
		e.up.Set("wrong.test", 300, ip("198.18.0.6"))
		e.up.SetOptions(resolvertest.Options{Mangle: func(q, r *dns.Msg) {
			switch q.Question[0].Name {
			case "wrong.test.":
				r.Question[0].Name = "other.test."
			case "big.test.":
				for i := range 300 {
					r.Extra = append(r.Extra, &dns.A{Hdr: dns.RR_Header{Name: "pad.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.IPv4(192, 0, 2, byte(i))})
				}
			}
		}})
		for _, name := range []string{"wrong.test", "big.test"} {
			m := new(dns.Msg)
			m.SetQuestion(name+".", dns.TypeA)
			if r := e.exchange("tcp", m); rcode(r) != "SERVFAIL" || len(r.Answer) != 0 {
				t.Errorf("%s: %s %v, want SERVFAIL", name, rcode(r), r.Answer)
			}
		}
	})
}

func TestSharedMiss(t *testing.T) {
	e := newEnv(t, patterns{"x.test"}, nil)
	e.up.Set("x.test", 300, ip("198.18.0.1"))
	e.up.SetOptions(resolvertest.Options{Delay: 100 * time.Millisecond})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			q := new(dns.Msg)
			q.SetQuestion("x.test.", dns.TypeA)
			if m, err := exchange("udp", q, e.addr); err != nil || len(m.Answer) != 1 {
				t.Errorf("%v %v", m, err)
			}
		})
	}
	wg.Wait()
	if n := e.up.Count("x.test"); n != 1 {
		t.Errorf("upstream asked %d times, want 1", n)
	}
	if n := len(e.allower.Calls()); n != 1 {
		t.Errorf("Allow called %d times, want 1", n)
	}
}

func TestServices(t *testing.T) {
	docker, err := resolvertest.Start("", resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	docker.Set("db", 600, ip("172.18.0.3"))
	e := newEnv(t, patterns{}, func(c *resolver.Config) {
		c.Services = []string{"db", "App"}
		c.ServiceUpstream = docker.Addr()
		c.LocalNets = []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16")}
	})
	e.up.Set("db", 600, ip("198.18.0.66"))

	m := e.ask("udp", "DB", dns.TypeA)
	if got := addrsOf(t, m, "DB"); !slices.Equal(got, []netip.Addr{ip("172.18.0.3")}) {
		t.Errorf("service db: %s %v, want Docker's 172.18.0.3", rcode(m), got)
	}
	for _, qt := range []uint16{dns.TypeAAAA, dns.TypeTXT, dns.TypeANY} {
		if m := e.ask("tcp", "db", qt); rcode(m) != "NOERROR" || len(m.Answer) != 0 {
			t.Errorf("service db %s: %s %v, want empty NOERROR", dns.Type(qt), rcode(m), m.Answer)
		}
	}
	for _, name := range []string{"db.example", "x.db", "dbx"} {
		if m := e.ask("udp", name, dns.TypeA); rcode(m) != "NXDOMAIN" {
			t.Errorf("%s: %s, want NXDOMAIN", name, rcode(m))
		}
	}
	if q := e.up.Queries(); len(q) != 0 {
		t.Errorf("the external upstream saw %v", q)
	}
	if q := docker.Queries(); len(q) != 1 || q[0].Proto != "tcp" || q[0].Type != "A" {
		t.Errorf("Docker's resolver saw %v, want one A query over TCP", q)
	}
	if len(e.allower.Calls()) != 0 {
		t.Errorf("Allow called for a service: %+v", e.allower.Calls())
	}

	// Docker does not know "app" and forwards it, and the gateway's nat rule
	// brings it back here: that query must not be forwarded again.
	docker.SetOptions(resolvertest.Options{Mangle: func(q, r *dns.Msg) {
		if !strings.EqualFold(q.Question[0].Name, "app.") {
			return
		}
		back, err := exchange("udp", q.Copy(), e.addr)
		if err != nil {
			t.Errorf("the forwarded query: %v", err)
			return
		}
		r.Rcode, r.Answer = back.Rcode, back.Answer
	}})
	if m := e.ask("udp", "app", dns.TypeA); rcode(m) != "NXDOMAIN" {
		t.Errorf("unknown service: %s, want NXDOMAIN", rcode(m))
	}
	if n := docker.Count("app"); n != 1 {
		t.Errorf("Docker's resolver asked %d times for app, want 1 (the loop broken)", n)
	}
	if st := e.res.Stats(); st.LoopGuard != 1 {
		t.Errorf("Stats.LoopGuard = %d, want 1", st.LoopGuard)
	}

	// Clients asking for a service at the same time all get the answer,
	// from one query to Docker's resolver.
	docker.SetOptions(resolvertest.Options{Delay: 100 * time.Millisecond})
	docker.ClearLog()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			q := new(dns.Msg)
			q.SetQuestion("db.", dns.TypeA)
			if m, err := exchange("udp", q, e.addr); err != nil || rcode(m) != "NOERROR" || len(m.Answer) != 1 {
				t.Errorf("concurrent service query: %v %v", m, err)
			}
		})
	}
	wg.Wait()
	if n := docker.Count("db"); n != 1 {
		t.Errorf("Docker's resolver asked %d times for 10 concurrent queries, want 1", n)
	}
}

func TestEvents(t *testing.T) {
	e := newEnv(t, patterns{"x.test"}, nil)
	e.up.Set("x.test", 300, ip("198.18.0.1"))
	e.ask("udp", "X.Test", dns.TypeA)
	e.ask("udp", "X.Test", dns.TypeA)
	e.ask("udp", "no.test", dns.TypeTXT)
	ev := e.events.all()
	if len(ev) != 3 {
		t.Fatalf("%d events, want 3", len(ev))
	}
	if ev[0].Name != "X.Test." || ev[0].Type != "A" || !ev[0].Allowed || ev[0].Rcode != "NOERROR" || ev[0].Cached ||
		!slices.Equal(ev[0].Answer, []netip.Addr{ip("198.18.0.1")}) || ev[0].Time.IsZero() {
		t.Errorf("event 0 = %+v", ev[0])
	}
	if !ev[1].Cached || ev[1].Upstream != "" {
		t.Errorf("event 1 = %+v, want cached", ev[1])
	}
	if ev[2].Allowed || ev[2].Rcode != "NXDOMAIN" || ev[2].Type != "TXT" {
		t.Errorf("event 2 = %+v", ev[2])
	}
}

func TestNew(t *testing.T) {
	up := netip.MustParseAddrPort("127.0.0.1:53")
	for name, cfg := range map[string]resolver.Config{
		"no policy":           {Allower: &fakeAllower{}, Upstreams: []netip.AddrPort{up}},
		"no allower":          {Policy: patterns{}, Upstreams: []netip.AddrPort{up}},
		"no upstream":         {Policy: patterns{}, Allower: &fakeAllower{}},
		"no service upstream": {Policy: patterns{}, Allower: &fakeAllower{}, Upstreams: []netip.AddrPort{up}, Services: []string{"db"}},
		"dotted service":      {Policy: patterns{}, Allower: &fakeAllower{}, Upstreams: []netip.AddrPort{up}, Services: []string{"db.x"}, ServiceUpstream: up},
	} {
		if _, err := resolver.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestStartStop(t *testing.T) {
	res, err := resolver.New(resolver.Config{Policy: patterns{}, Allower: &fakeAllower{}, Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := res.Start(ctx, "127.0.0.1:0", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addrs := res.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("Addrs() = %v", addrs)
	}
	for _, a := range addrs {
		for _, network := range []string{"udp", "tcp"} {
			q := new(dns.Msg)
			q.SetQuestion("nope.test.", dns.TypeA)
			if m, err := exchange(network, q, a); err != nil || rcode(m) != "NXDOMAIN" {
				t.Errorf("%s %s: %v %v", network, a, m, err)
			}
		}
	}
	if err := res.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := res.Start(ctx, addrs[0]); err == nil {
		t.Errorf("a closed server started again")
	}

	// Ending Start's context closes the sockets too.
	res2, err := resolver.New(resolver.Config{Policy: patterns{}, Allower: &fakeAllower{}, Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res2.Start(ctx, addrs[0]); err != nil {
		t.Fatalf("binding a closed server's address again: %v", err)
	}
	cancel()
	for {
		pc, err := net.ListenPacket("udp", addrs[0])
		if err == nil {
			pc.Close()
			break
		}
		time.Sleep(10 * time.Millisecond) // polling: the port is freed by a goroutine
	}
}

func TestLimits(t *testing.T) {
	t.Run("in flight", func(t *testing.T) {
		e := newEnv(t, patterns{"**.test"}, func(c *resolver.Config) {
			c.MaxInFlight, c.UpstreamTimeout = 2, 500*time.Millisecond
		})
		// Under half the timeout, so UDP is not retried over TCP.
		e.up.SetOptions(resolvertest.Options{Synthesize: "slow.test", Delay: 200 * time.Millisecond})
		// Seven names at once, two slots, each query 200ms: two run, two
		// wait 200ms, two 400ms, and the seventh would wait 600ms, past
		// the 500ms bound, and gets SERVFAIL.
		var wg sync.WaitGroup
		var servfail atomic.Int32
		for i := range 7 {
			wg.Go(func() {
				q := new(dns.Msg)
				q.SetQuestion(fmt.Sprintf("n%d.slow.test.", i), dns.TypeA)
				if m, err := exchange("udp", q, e.addr); err != nil || rcode(m) == "SERVFAIL" {
					servfail.Add(1)
				}
			})
		}
		wg.Wait()
		if st := e.res.Stats(); servfail.Load() != 1 || st.Overload != 1 {
			t.Errorf("%d SERVFAIL, stats %+v; want 1 turned away", servfail.Load(), st)
		}
	})
	t.Run("TCP connections", func(t *testing.T) {
		e := newEnv(t, patterns{"**.test"}, func(c *resolver.Config) { c.MaxTCPConns = 2 })
		// Two TCP connections held open; a third is closed at once.
		for range 2 {
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// A query proves the server holds the connection.
			q := new(dns.Msg)
			q.SetQuestion("nope.example.", dns.TypeA)
			co := &dns.Conn{Conn: c}
			if err := co.WriteMsg(q); err != nil {
				t.Fatal(err)
			}
			if _, err := co.ReadMsg(); err != nil {
				t.Fatal(err)
			}
		}
		third, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer third.Close()
		third.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := third.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("a third TCP connection: read %v, want it closed", err)
		}
	})
}
