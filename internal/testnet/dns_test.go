package testnet

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func startDNS(t *testing.T, records map[string][]string) *DNSServer {
	t.Helper()
	s, err := NewDNSServer("127.0.0.1:0", records)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// query asks s for name/qtype over net ("udp" or "tcp") and returns the
// answer records as strings ("A 198.51.100.1", "CNAME b.test.").
func query(t *testing.T, s *DNSServer, netw, name string, qtype uint16) (*dns.Msg, []string, error) {
	t.Helper()
	c := &dns.Client{Net: netw, Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		return nil, nil, err
	}
	var got []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			got = append(got, "A "+rr.A.String())
		case *dns.AAAA:
			got = append(got, "AAAA "+rr.AAAA.String())
		case *dns.CNAME:
			got = append(got, "CNAME "+rr.Target)
		}
	}
	return r, got, nil
}

func TestDNSServerAnswers(t *testing.T) {
	s := startDNS(t, map[string][]string{
		"a.test":       {"198.51.100.1", "2001:db8::1"},
		"Alias.Test.":  {"CNAME:mid.test"},
		"mid.test":     {"CNAME:a.test"},
		"v6only.test.": {"2001:db8::2"},
	})
	tests := []struct {
		name  string
		qtype uint16
		want  []string
		rcode int
	}{
		{"a.test", dns.TypeA, []string{"A 198.51.100.1"}, dns.RcodeSuccess},
		{"A.TEST", dns.TypeAAAA, []string{"AAAA 2001:db8::1"}, dns.RcodeSuccess},
		{"alias.test", dns.TypeA, []string{"CNAME mid.test.", "CNAME a.test.", "A 198.51.100.1"}, dns.RcodeSuccess},
		{"v6only.test", dns.TypeA, nil, dns.RcodeSuccess},
		{"missing.test", dns.TypeA, nil, dns.RcodeNameError},
	}
	for _, netw := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(netw+"/"+tt.name, func(t *testing.T) {
				r, got, err := query(t, s, netw, tt.name, tt.qtype)
				if err != nil {
					t.Fatal(err)
				}
				if r.Rcode != tt.rcode || !slices.Equal(got, tt.want) {
					t.Errorf("rcode %d answer %q, want %d %q", r.Rcode, got, tt.rcode, tt.want)
				}
			})
		}
	}
	if s.Queries() != 2*len(tests) {
		t.Errorf("Queries() = %d, want %d", s.Queries(), 2*len(tests))
	}

	s.SetFollowCNAMEs(false)
	if _, got, err := query(t, s, "udp", "alias.test", dns.TypeA); err != nil || !slices.Equal(got, []string{"CNAME mid.test."}) {
		t.Errorf("without following: %q, %v", got, err)
	}
	s.SetRecords(map[string][]string{"new.test": {"203.0.113.9"}})
	if _, got, err := query(t, s, "tcp", "new.test", dns.TypeA); err != nil || !slices.Equal(got, []string{"A 203.0.113.9"}) {
		t.Errorf("after SetRecords: %q, %v", got, err)
	}
}

func TestDNSServerBehaviors(t *testing.T) {
	s := startDNS(t, map[string][]string{"a.test": {"198.51.100.1"}})

	s.SetBehavior(Silent)
	if _, _, err := query(t, s, "udp", "a.test", dns.TypeA); err == nil {
		t.Error("Silent: got a reply")
	}
	s.SetBehavior(Garbage)
	if _, _, err := query(t, s, "udp", "a.test", dns.TypeA); err == nil {
		t.Error("Garbage: reply parsed")
	}
	s.SetBehavior(ServFail)
	if r, _, err := query(t, s, "tcp", "a.test", dns.TypeA); err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Errorf("ServFail: %v, %v", r, err)
	}
	s.SetBehavior(Truncate)
	if r, got, err := query(t, s, "udp", "a.test", dns.TypeA); err != nil || !r.Truncated || len(got) != 0 {
		t.Errorf("Truncate over UDP: %v, %q, %v", r, got, err)
	}
	if r, got, err := query(t, s, "tcp", "a.test", dns.TypeA); err != nil || r.Truncated || len(got) != 1 {
		t.Errorf("Truncate over TCP: %v, %q, %v", r, got, err)
	}
	s.SetBehavior(Answer)
	s.SetDelay(time.Second)
	start := time.Now()
	if _, _, err := query(t, s, "udp", "a.test", dns.TypeA); err == nil {
		t.Error("slow: reply within the 300ms client timeout")
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Error("slow: client waited too long")
	}
	s.SetDelay(0)
	if _, got, err := query(t, s, "udp", "a.test", dns.TypeA); err != nil || len(got) != 1 {
		t.Errorf("after SetDelay(0): %q, %v", got, err)
	}
	// Close must not wait for a handler sleeping in a delay.
	s.SetDelay(time.Hour)
	before := s.Queries()
	go func() {
		m := new(dns.Msg)
		m.SetQuestion("a.test.", dns.TypeA)
		(&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, s.Addr()) //nolint:errcheck // never answered
	}()
	// The handler counts the query, then sleeps in the delay.
	for deadline := time.Now().Add(5 * time.Second); s.Queries() == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the delayed query never reached the server")
		}
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs while a reply is delayed")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewDNSServerErrors(t *testing.T) {
	if _, err := NewDNSServer("127.0.0.1:0", map[string][]string{"a.test": {"not-an-ip"}}); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("bad record: %v", err)
	}
	if _, err := NewDNSServer("nonsense", nil); err == nil {
		t.Error("bad address: no error")
	}
	s := startDNS(t, nil)
	if s.Port() == 0 || !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("Addr %s Port %d", s.Addr(), s.Port())
	}
}
