package resolvertest

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

func ask(t *testing.T, s *Server, network, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		q.SetEdns0(4096, false)
	}
	c := &dns.Client{Net: network}
	r, _, err := c.Exchange(q, s.Addr().String())
	if err != nil {
		t.Fatalf("ask %s over %s: %v", name, network, err)
	}
	return r
}

func answerAddrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.Hdr.Name+" "+rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.Hdr.Name+" "+rr.AAAA.String())
		case *dns.CNAME:
			out = append(out, rr.Hdr.Name+" -> "+rr.Target)
		}
	}
	return out
}

func TestServer(t *testing.T) {
	s, err := Start("", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Set("a.test", 60, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1"))
	s.SetCNAME("alias.test", "a.test", 30)

	for _, network := range []string{"udp", "tcp"} {
		if got := answerAddrs(ask(t, s, network, "A.test", dns.TypeA, false)); !slices.Equal(got, []string{"A.test. 198.18.0.1"}) {
			t.Errorf("%s A: %v", network, got)
		}
	}
	if got := answerAddrs(ask(t, s, "udp", "a.test", dns.TypeAAAA, false)); !slices.Equal(got, []string{"a.test. 2001:db8::1"}) {
		t.Errorf("AAAA: %v", got)
	}
	if got := answerAddrs(ask(t, s, "udp", "alias.test", dns.TypeA, false)); !slices.Equal(got, []string{"alias.test. -> a.test.", "a.test. 198.18.0.1"}) {
		t.Errorf("CNAME followed: %v", got)
	}
	s.SetOptions(Options{StopAtCNAME: true})
	if got := answerAddrs(ask(t, s, "udp", "alias.test", dns.TypeA, false)); !slices.Equal(got, []string{"alias.test. -> a.test."}) {
		t.Errorf("CNAME not followed: %v", got)
	}
	if m := ask(t, s, "udp", "nope.test", dns.TypeA, false); m.Rcode != dns.RcodeNameError {
		t.Errorf("unknown name: %s", dns.RcodeToString[m.Rcode])
	}
	s.Move("a.test", netip.MustParseAddr("198.18.0.9"))
	if m := ask(t, s, "udp", "a.test", dns.TypeA, false); len(m.Answer) != 1 || m.Answer[0].Header().Ttl != 60 || m.Answer[0].(*dns.A).A.String() != "198.18.0.9" {
		t.Errorf("after Move: %v", m.Answer)
	}
	s.SetRcode("a.test", dns.RcodeServerFailure)
	if m := ask(t, s, "udp", "a.test", dns.TypeA, false); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("SetRcode: %s", dns.RcodeToString[m.Rcode])
	}
	s.SetRcode("a.test", dns.RcodeSuccess)

	s.SetOptions(Options{Truncate: true})
	if m := ask(t, s, "udp", "a.test", dns.TypeA, false); !m.Truncated || len(m.Answer) != 0 {
		t.Errorf("Truncate over UDP: %v", m)
	}
	if m := ask(t, s, "tcp", "a.test", dns.TypeA, false); m.Truncated || len(m.Answer) != 1 {
		t.Errorf("Truncate over TCP: %v", m)
	}
	s.SetOptions(Options{Garbage: true})
	if m := ask(t, s, "udp", "a.test", dns.TypeA, true); len(m.Answer) < 4 || len(m.Ns) == 0 || len(m.Extra) == 0 {
		t.Errorf("Garbage: %v", m)
	}
	s.SetOptions(Options{Synthesize: "synth.test"})
	m1, m2 := ask(t, s, "udp", "x1.synth.test", dns.TypeA, false), ask(t, s, "udp", "x2.synth.test", dns.TypeA, false)
	if len(m1.Answer) != 1 || len(m2.Answer) != 1 || m1.Answer[0].(*dns.A).A.Equal(m2.Answer[0].(*dns.A).A) {
		t.Errorf("Synthesize: %v %v", m1.Answer, m2.Answer)
	}

	if !s.Saw("ALIAS.test.") || s.Saw("never.test") || s.Count("a.test") != 8 {
		t.Errorf("Saw/Count: alias %v never %v a.test %d", s.Saw("alias.test"), s.Saw("never.test"), s.Count("a.test"))
	}
	if q := s.Queries(); q[0] != (Query{Name: "A.test.", Type: "A", Proto: "udp"}) || q[1].Proto != "tcp" {
		t.Errorf("Queries: %v", q[:2])
	}
	s.ClearLog()
	if len(s.Queries()) != 0 {
		t.Error("ClearLog left queries")
	}
}
