// Package resolvertest is an authoritative DNS server for tests of the
// filtering resolver: records settable while it runs, NXDOMAIN for
// everything else, and a log of every query it saw, so a test can prove that
// a name was never forwarded.
//
// It serves UDP and TCP on one port, on loopback by default; the gateway's
// network-namespace tests start it on an address of a test network instead.
package resolvertest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/resolver/internal/dnsnet"
)

// Query is one question the server received.
type Query struct {
	Name  string // as received (case kept, trailing dot)
	Type  string // "A", "AAAA", "TXT", ...
	Proto string // "udp" or "tcp"
}

// Options change how the server answers. They can be changed while it runs
// with SetOptions.
type Options struct {
	// Delay is waited before every answer.
	Delay time.Duration
	// Garbage adds unrelated records to every answer (A and CNAME records
	// owned by other names, a TXT in the answer section, and records in the
	// authority and additional sections), which a resolver must ignore.
	Garbage bool
	// Truncate answers every UDP query with an empty, truncated (TC) reply,
	// so the client has to ask again over TCP.
	Truncate bool
	// StopAtCNAME answers a name that is a CNAME with that one CNAME record,
	// as an authoritative server for a zone the target is not in would,
	// instead of following the chain.
	StopAtCNAME bool
	// Mangle, when set, may change each reply before it is sent.
	Mangle func(query, reply *dns.Msg)
	// Synthesize, when set to a zone ("bench.test"), answers every name
	// under it that has no record with an address made from a hash of the
	// name (A in 198.18.0.0/15, AAAA in 2001:db8:5e::/48, TTL 300), so
	// benchmarks and races can ask for any number of fresh names.
	Synthesize string
}

type record struct {
	ttl   uint32
	addrs []netip.Addr
}

type cname struct {
	target string
	ttl    uint32
}

// Server is a running test DNS server. Its methods are safe for concurrent
// use.
type Server struct {
	addr netip.AddrPort
	udp  *dns.Server
	tcp  *dns.Server

	mu      sync.Mutex
	opts    Options
	records map[string]record // canonical name -> addresses
	cnames  map[string]cname  // canonical name -> target
	rcodes  map[string]int    // canonical name -> forced rcode
	log     []Query
}

// Start serves on addr ("127.0.0.1:0" when empty; port 0 picks one port
// free for both UDP and TCP) and returns once both sockets are bound. The
// sockets are opened before Start returns, in the network namespace of the
// calling thread, so a test can start it from a goroutine locked into a
// namespace.
func Start(addr string, opts Options) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	pc, l, err := dnsnet.ListenBoth(addr)
	if err != nil {
		return nil, fmt.Errorf("start test DNS server: %w", err)
	}
	s := &Server{
		addr:    pc.LocalAddr().(*net.UDPAddr).AddrPort(),
		opts:    opts,
		records: map[string]record{},
		cnames:  map[string]cname{},
		rcodes:  map[string]int{},
	}
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve), UDPSize: 65535}
	s.tcp = &dns.Server{Listener: l, Handler: dns.HandlerFunc(s.serve)}
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	return s, nil
}

// Addr is the address the server answers on (UDP and TCP).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Close stops the server.
func (s *Server) Close() error {
	return errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
}

// SetOptions replaces the options for the queries that follow.
func (s *Server) SetOptions(o Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = o
}

// Set makes name answer with addrs (IPv4 ones for A, IPv6 ones for AAAA)
// and ttl, replacing what it had.
func (s *Server) Set(name string, ttl uint32, addrs ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := dns.CanonicalName(name)
	delete(s.cnames, n)
	s.records[n] = record{ttl: ttl, addrs: append([]netip.Addr(nil), addrs...)}
}

// SetCNAME makes name an alias of target.
func (s *Server) SetCNAME(name, target string, ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := dns.CanonicalName(name)
	delete(s.records, n)
	s.cnames[n] = cname{target: dns.CanonicalName(target), ttl: ttl}
}

// Move gives name new addresses and keeps its TTL.
func (s *Server) Move(name string, addrs ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := dns.CanonicalName(name)
	r := s.records[n]
	r.addrs = append([]netip.Addr(nil), addrs...)
	s.records[n] = r
}

// SetRcode makes every query for name fail with rcode (dns.RcodeServerFailure,
// dns.RcodeRefused, ...); dns.RcodeSuccess removes that.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rcode == dns.RcodeSuccess {
		delete(s.rcodes, dns.CanonicalName(name))
		return
	}
	s.rcodes[dns.CanonicalName(name)] = rcode
}

// Queries returns the questions seen so far, in order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.log...)
}

// Saw reports whether any query for name (any type, either protocol, case
// ignored) reached the server.
func (s *Server) Saw(name string) bool {
	n := dns.CanonicalName(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.log {
		if dns.CanonicalName(q.Name) == n {
			return true
		}
	}
	return false
}

// Count is how many queries for name (any type) reached the server.
func (s *Server) Count(name string) int {
	n := dns.CanonicalName(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := 0
	for _, q := range s.log {
		if dns.CanonicalName(q.Name) == n {
			c++
		}
	}
	return c
}

// ClearLog forgets the queries seen so far.
func (s *Server) ClearLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

func (s *Server) serve(w dns.ResponseWriter, q *dns.Msg) {
	proto := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		proto = "tcp"
	}
	reply := new(dns.Msg)
	reply.SetReply(q)
	reply.Authoritative = true
	reply.RecursionAvailable = true

	s.mu.Lock()
	opts := s.opts
	if len(q.Question) == 1 {
		qq := q.Question[0]
		s.log = append(s.log, Query{Name: qq.Name, Type: dns.TypeToString[qq.Qtype], Proto: proto})
		s.answer(reply, qq, opts)
	} else {
		reply.Rcode = dns.RcodeFormatError
	}
	s.mu.Unlock()

	if opts.Delay > 0 {
		time.Sleep(opts.Delay)
	}
	if opts.Truncate && proto == "udp" {
		reply.Answer, reply.Ns, reply.Extra = nil, nil, nil
		reply.Truncated = true
	}
	if opts.Mangle != nil {
		opts.Mangle(q, reply)
	}
	if proto == "udp" {
		// As a real server does: 512 bytes, or the client's EDNS size.
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
			reply.SetEdns0(opt.UDPSize(), false)
		}
		reply.Truncate(size)
	}
	_ = w.WriteMsg(reply)
}

// answer fills reply for question qq; s.mu is held.
func (s *Server) answer(reply *dns.Msg, qq dns.Question, opts Options) {
	name := dns.CanonicalName(qq.Name)
	if rc, ok := s.rcodes[name]; ok {
		reply.Rcode = rc
		return
	}
	owner := qq.Name
	for hops := 0; ; hops++ {
		if c, ok := s.cnames[name]; ok {
			reply.Answer = append(reply.Answer, &dns.CNAME{
				Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: c.ttl},
				Target: c.target,
			})
			if opts.StopAtCNAME || hops >= 30 {
				break
			}
			name, owner = c.target, c.target
			continue
		}
		r, ok := s.records[name]
		if !ok && opts.Synthesize != "" && dns.IsSubDomain(dns.CanonicalName(opts.Synthesize), name) {
			r, ok = synthesize(name), true
		}
		if !ok {
			if hops == 0 {
				reply.Rcode = dns.RcodeNameError
			}
			break
		}
		for _, a := range r.addrs {
			hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: r.ttl}
			switch {
			case qq.Qtype == dns.TypeA && a.Is4():
				hdr.Rrtype = dns.TypeA
				reply.Answer = append(reply.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
			case qq.Qtype == dns.TypeAAAA && !a.Is4():
				hdr.Rrtype = dns.TypeAAAA
				reply.Answer = append(reply.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
			}
		}
		if qq.Qtype == dns.TypeTXT {
			reply.Answer = append(reply.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: r.ttl},
				Txt: []string{"test"},
			})
		}
		break
	}
	if opts.Garbage {
		addGarbage(reply, qq.Name)
	}
}

// addGarbage adds records a resolver must not use: addresses owned by other
// names, a CNAME from an unrelated name to one in the answer, a TXT, and
// authority and additional records.
func addGarbage(reply *dns.Msg, name string) {
	hdr := func(owner string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: 3600}
	}
	other := "garbage." + strings.TrimPrefix(dns.Fqdn(name), ".")
	reply.Answer = append(reply.Answer,
		&dns.A{Hdr: hdr(other, dns.TypeA), A: net.IPv4(10, 66, 66, 66)},
		&dns.A{Hdr: hdr("evil.example.", dns.TypeA), A: net.IPv4(192, 0, 2, 66)},
		&dns.CNAME{Hdr: hdr("unrelated.example.", dns.TypeCNAME), Target: dns.Fqdn(name)},
		&dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: []string{"garbage"}},
	)
	reply.Ns = append(reply.Ns, &dns.NS{Hdr: hdr(name, dns.TypeNS), Ns: "ns.evil.example."})
	reply.Extra = append(reply.Extra, &dns.A{Hdr: hdr("ns.evil.example.", dns.TypeA), A: net.IPv4(127, 0, 0, 1)})
}

// synthesize makes the record of a name under Options.Synthesize.
func synthesize(name string) record {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	v4 := netip.AddrFrom4([4]byte{198, 18 + byte(v>>16)&1, byte(v >> 8), byte(v)})
	v6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x5e, 12: byte(v >> 24), 13: byte(v >> 16), 14: byte(v >> 8), 15: byte(v)})
	return record{ttl: 300, addrs: []netip.Addr{v4, v6}}
}
