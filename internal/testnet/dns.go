// Package testnet holds small network fixtures for tests: a DNS server
// (dns.go) and network namespaces (netns.go). Servers listen only on
// addresses the test gives them (loopback, or an address inside a network
// namespace the test created) and never contact anything else.
package testnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Behavior says how a DNSServer answers queries.
type Behavior int

// Behaviors a DNSServer can be switched to with SetBehavior.
const (
	// Answer replies from the records (NXDOMAIN for unknown names).
	Answer Behavior = iota
	// Silent never replies: clients time out.
	Silent
	// Garbage replies with bytes that are not a DNS message.
	Garbage
	// ServFail replies SERVFAIL to every query.
	ServFail
	// Truncate answers over TCP but sends an empty truncated (TC) reply over
	// UDP, so clients must fall back to TCP.
	Truncate
)

// DNSServer is a tiny authoritative-style DNS server for tests, serving the
// same records over UDP and TCP on one port.
type DNSServer struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server
	done chan struct{}

	mu       sync.Mutex
	records  map[string][]string
	behavior Behavior
	delay    time.Duration
	chase    bool
	queries  int
	ttl      uint32
	// asked records every name asked (canonical), with its type.
	asked []Query
}

// Query is one question the server received.
type Query struct {
	Name  string // canonical, with the trailing dot
	Type  string // "A", "TXT", ...
	Proto string // "udp" or "tcp"
}

// NewDNSServer starts a server on addr ("127.0.0.1:0" picks a free port; the
// UDP and TCP sockets share it). records maps a name to its values: IPv4 or
// IPv6 addresses (A/AAAA records) or "CNAME:target". Names are matched
// without case and with or without the trailing dot.
//
// The sockets are opened before NewDNSServer returns, in the network
// namespace of the calling thread, so a test can call it from a goroutine
// locked into a namespace. Close the server when done (t.Cleanup).
func NewDNSServer(addr string, records map[string][]string) (*DNSServer, error) {
	if err := checkRecords(records); err != nil {
		return nil, fmt.Errorf("start test DNS server: %w", err)
	}
	s := &DNSServer{done: make(chan struct{}), chase: true, ttl: 60}
	s.SetRecords(records)
	pc, l, err := listenBoth(addr)
	if err != nil {
		return nil, fmt.Errorf("start test DNS server on %s: %w", addr, err)
	}
	s.addr = pc.LocalAddr().String()
	handler := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: handler}
	s.tcp = &dns.Server{Listener: l, Handler: handler}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe() //nolint:errcheck // ends with Close
		<-started
	}
	return s, nil
}

// listenBoth opens UDP and TCP sockets on the same port.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lastErr error
	for range 20 { // a free UDP port may be taken for TCP; try another
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
		l, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

// Addr returns the server's address as host:port.
func (s *DNSServer) Addr() string { return s.addr }

// Port returns the server's port (for a resolver that reads the server's IP
// from a resolv.conf, which cannot carry a port).
func (s *DNSServer) Port() int {
	ap, _ := netip.ParseAddrPort(s.addr)
	return int(ap.Port())
}

// SetRecords replaces the records (same format as NewDNSServer). It panics
// on a value that is neither an address nor "CNAME:target".
func (s *DNSServer) SetRecords(records map[string][]string) {
	if err := checkRecords(records); err != nil {
		panic("testnet: " + err.Error())
	}
	m := make(map[string][]string, len(records))
	for name, values := range records {
		m[dns.CanonicalName(name)] = values
	}
	s.mu.Lock()
	s.records = m
	s.mu.Unlock()
}

func checkRecords(records map[string][]string) error {
	for name, values := range records {
		for _, v := range values {
			if _, err := netip.ParseAddr(v); err != nil && !strings.HasPrefix(v, "CNAME:") {
				return fmt.Errorf("record %s: %q is neither an address nor CNAME:target", name, v)
			}
		}
	}
	return nil
}

// SetBehavior switches how the server answers from now on.
func (s *DNSServer) SetBehavior(b Behavior) {
	s.mu.Lock()
	s.behavior = b
	s.mu.Unlock()
}

// SetDelay makes the server wait d before each reply (0: reply at once).
func (s *DNSServer) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetFollowCNAMEs chooses whether an answer carries the records at the end
// of a CNAME chain along with the CNAMEs, as a recursive resolver's does
// (true, the default), or only the first CNAME, so the client must follow it.
func (s *DNSServer) SetFollowCNAMEs(follow bool) {
	s.mu.Lock()
	s.chase = follow
	s.mu.Unlock()
}

// SetTTL sets the TTL of the records it answers from now on (60 at first).
func (s *DNSServer) SetTTL(ttl uint32) {
	s.mu.Lock()
	s.ttl = ttl
	s.mu.Unlock()
}

// Asked returns every question the server received, in order.
func (s *DNSServer) Asked() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.asked...)
}

// Saw reports whether the server received a question for name (any case,
// with or without the trailing dot).
func (s *DNSServer) Saw(name string) bool {
	name = dns.CanonicalName(name)
	for _, q := range s.Asked() {
		if q.Name == name {
			return true
		}
	}
	return false
}

// Queries returns how many queries the server has received.
func (s *DNSServer) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// Close stops the server and releases its sockets.
func (s *DNSServer) Close() error {
	select {
	case <-s.done:
		return nil
	default:
		close(s.done)
	}
	return errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
}

func (s *DNSServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	_, isUDP := w.RemoteAddr().(*net.UDPAddr)
	s.mu.Lock()
	s.queries++
	proto := "tcp"
	if isUDP {
		proto = "udp"
	}
	for _, q := range req.Question {
		s.asked = append(s.asked, Query{Name: dns.CanonicalName(q.Name), Type: dns.TypeToString[q.Qtype], Proto: proto})
	}
	behavior, delay, chase, ttl := s.behavior, s.delay, s.chase, s.ttl
	records := s.records
	s.mu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-s.done:
			return
		}
	}
	reply := new(dns.Msg)
	reply.SetReply(req)
	reply.Authoritative = true
	switch {
	case behavior == Silent:
		return
	case behavior == Garbage:
		w.Write([]byte("\x00\x01 this is not a DNS message")) //nolint:errcheck // test server
		return
	case behavior == ServFail:
		reply.Rcode = dns.RcodeServerFailure
	case behavior == Truncate && isUDP:
		reply.Truncated = true
	case len(req.Question) == 1:
		answer(reply, records, req.Question[0], chase, ttl)
	default:
		reply.Rcode = dns.RcodeFormatError
	}
	w.WriteMsg(reply) //nolint:errcheck // test server
}

// answer fills reply for question q from records.
func answer(reply *dns.Msg, records map[string][]string, q dns.Question, chase bool, ttl uint32) {
	name := dns.CanonicalName(q.Name)
	for hop := 0; hop < 16; hop++ {
		values, ok := records[name]
		if !ok {
			if hop == 0 {
				reply.Rcode = dns.RcodeNameError
			}
			return
		}
		hdr := func(rrtype uint16) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
		}
		var next string
		for _, v := range values {
			if target, ok := strings.CutPrefix(v, "CNAME:"); ok {
				next = dns.CanonicalName(target)
				reply.Answer = append(reply.Answer, &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: next})
				continue
			}
			ip, _ := netip.ParseAddr(v) // checked by checkRecords
			switch {
			case ip.Is4() && q.Qtype == dns.TypeA:
				reply.Answer = append(reply.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: ip.AsSlice()})
			case ip.Is6() && q.Qtype == dns.TypeAAAA:
				reply.Answer = append(reply.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip.AsSlice()})
			}
		}
		if next == "" || !chase {
			return
		}
		name = next
	}
}
