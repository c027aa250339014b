package resolver_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/resolver"
	"github.com/devbox-sandbox/devbox/firewall/resolver/resolvertest"
)

// FuzzHandle sends arbitrary messages through Handle and checks the
// security property: the upstream never sees a question for a name the
// policy does not allow, nor a type other than A/AAAA, and an answer holds
// nothing but addresses owned by the name asked.
func FuzzHandle(f *testing.F) {
	for _, seed := range []struct {
		name  string
		qtype uint16
	}{
		{"x.allowed.test.", dns.TypeA}, {"X.Allowed.Test.", dns.TypeAAAA}, {"y.allowed.test.", dns.TypeTXT},
		{"allowed.test.", dns.TypeA}, {"evil.test.", dns.TypeA}, {"a.b.allowed.test.", dns.TypeA},
		{"x.allowed.test.evil.", dns.TypeA}, {`x\046allowed.test.`, dns.TypeA}, {"db.", dns.TypeA},
	} {
		m := new(dns.Msg)
		m.SetQuestion(seed.name, seed.qtype)
		m.SetEdns0(1232, false)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	up, err := resolvertest.Start("", resolvertest.Options{Synthesize: "allowed.test"})
	if err != nil {
		f.Fatal(err)
	}
	defer up.Close()
	res, err := resolver.New(resolver.Config{
		Policy:    patterns{"*.allowed.test"},
		Allower:   &fakeAllower{},
		Upstreams: []netip.AddrPort{up.Addr()},
		IPv6:      true,
		CacheSize: -1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(dns.Msg)
		if req.Unpack(data) != nil {
			return
		}
		resp := res.Handle(t.Context(), req, false)
		for _, q := range up.Queries() {
			n := strings.TrimSuffix(strings.ToLower(q.Name), ".")
			if patterns([]string{"*.allowed.test"}).Decide(n).Allowed && (q.Type == "A" || q.Type == "AAAA") {
				continue
			}
			t.Fatalf("the upstream saw %+v for %v", q, req.Question)
		}
		up.ClearLog()
		if resp == nil {
			return
		}
		for _, rr := range resp.Answer {
			h := rr.Header()
			if (h.Rrtype != dns.TypeA && h.Rrtype != dns.TypeAAAA) || len(req.Question) != 1 || h.Name != req.Question[0].Name {
				t.Fatalf("answer record %v for %v", rr, req.Question)
			}
		}
	})
}
