package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/resolver/internal/dnsnet"
)

// Defaults and limits.
const (
	DefaultMinTTL          = 60 * time.Second
	DefaultGrace           = 30 * time.Second
	DefaultAllowTimeout    = 100 * time.Millisecond
	DefaultUpstreamTimeout = 2 * time.Second
	DefaultCacheSize       = 100_000

	// MaxAddrs is how many addresses one answer carries at most (the first
	// ones are kept).
	MaxAddrs = 50
	// MaxCNAMEs is how many CNAME steps a chain may take.
	MaxCNAMEs = 8
	// MaxTTL caps every TTL: the one clients see, the cache's, and the
	// allow timeout's base.
	MaxTTL = 24 * time.Hour
	// maxUDPSize caps the answer size an EDNS client may ask for (the DNS
	// flag day 2020 value, which avoids IP fragmentation).
	maxUDPSize = 1232
	// maxUpstreamRecords refuses upstream answers with more records than any
	// sane answer for one A/AAAA name has.
	maxUpstreamRecords = 256
)

// Decision is the policy's verdict on one name.
type Decision struct {
	Allowed bool
	Rule    string // the rule that decided, for the log
	// Ports are the TCP ports the answered addresses are opened on. An
	// allowed decision with none answers without opening anything: audit
	// mode, whose own rule lets the traffic through while it lasts.
	Ports []uint16
}

// Policy decides names; the gateway adapts allowlist.Policy to it. Decide
// gets the name lower-cased, without the trailing dot. It must be safe for
// concurrent use.
type Policy interface {
	Decide(name string) Decision
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(name string) Decision

// Decide calls f.
func (f PolicyFunc) Decide(name string) Decision { return f(name) }

// Allower makes addresses reachable on TCP ports for a time. It returns
// once the kernel holds them; an error means they may not be reachable.
// name is the name asked (canonical) whose answer the addresses are: the
// gateway remembers it, so that a live deny can take them back.
type Allower interface {
	Allow(ctx context.Context, name string, addrs []netip.Addr, ports []uint16, timeout time.Duration) error
}

// AllowerFunc adapts a function to Allower.
type AllowerFunc func(ctx context.Context, name string, addrs []netip.Addr, ports []uint16, timeout time.Duration) error

// Allow calls f.
func (f AllowerFunc) Allow(ctx context.Context, name string, addrs []netip.Addr, ports []uint16, timeout time.Duration) error {
	return f(ctx, name, addrs, ports, timeout)
}

// Config is what a Server needs. Zero durations take the defaults above.
type Config struct {
	Policy  Policy
	Allower Allower
	// Upstreams get the external names, tried in order until one answers.
	Upstreams []netip.AddrPort
	// Services are the exact compose service names: they are asked only of
	// ServiceUpstream (Docker's resolver, 127.0.0.11:53), over TCP.
	Services        []string
	ServiceUpstream netip.AddrPort
	// Control is applied to every upstream socket (the gateway sets SO_MARK
	// there); nil in tests.
	Control func(network, address string, c syscall.RawConn) error
	// IPv6 false answers AAAA with an empty NOERROR and never forwards it.
	IPv6 bool
	// Inward reports whether an allowed CIDR covers an address; such an
	// address may be answered even when it points inward. May be nil.
	Inward func(netip.Addr) bool
	// LocalNets are the Docker networks: answers into them point inward.
	LocalNets []netip.Prefix
	// MinTTL and Grace make the allow timeout: max(TTL, MinTTL) + Grace.
	MinTTL, Grace time.Duration
	// AllowTimeout bounds each Allower.Allow call; past it the answer is
	// SERVFAIL.
	AllowTimeout time.Duration
	// UpstreamTimeout bounds each try of one upstream.
	UpstreamTimeout time.Duration
	// CacheSize bounds the cache's entries; negative turns the cache off.
	CacheSize int
	// MaxInFlight bounds the upstream resolutions at once (beyond it a
	// query waits up to UpstreamTimeout, then gets SERVFAIL); MaxTCPConns
	// the client TCP connections (beyond it: closed at once).
	MaxInFlight, MaxTCPConns int
	// Log is called once for every query answered. May be nil.
	Log func(Event)
	// Now is the clock (tests move it); nil is time.Now.
	Now func() time.Time
}

// Event is one query and what it got.
type Event struct {
	Time     time.Time
	Name     string // as received, trailing dot included
	Type     string
	Allowed  bool   // the policy's verdict (Rcode says what the client got)
	Rule     string // the policy's rule
	Rcode    string
	Answer   []netip.Addr
	CNAMEs   []string // the chain's targets, in order
	Upstream string   // the upstream that answered last
	Cached   bool
	Duration time.Duration
	Err      string // why the answer is an error, or was refused
}

// Server is the filtering resolver. Its methods are safe for concurrent
// use.
type Server struct {
	cfg      Config
	policy   atomic.Pointer[policyBox]
	services map[string]bool
	cache    *cache
	flights  flights
	stats    counters
	udp, tcp *dns.Client   // upstream clients
	inFlight chan struct{} // MaxInFlight slots
	tcpSlots chan struct{} // MaxTCPConns slots, shared by every listener
	svc      *dns.Client   // to ServiceUpstream (TCP)

	// svcFlights are the service queries in flight, for the loop guard.
	svcFlights flights

	mu      sync.Mutex
	servers []*dns.Server
	addrs   []string
	closed  chan struct{}
}

type policyBox struct{ p Policy }

// New checks cfg and returns a Server that is not serving yet.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Policy == nil:
		return nil, errors.New("new resolver: no Policy given")
	case cfg.Allower == nil:
		return nil, errors.New("new resolver: no Allower given (answers must be allowed before they are released)")
	case len(cfg.Upstreams) == 0:
		return nil, errors.New("new resolver: no Upstreams given")
	case len(cfg.Services) > 0 && !cfg.ServiceUpstream.IsValid():
		return nil, errors.New("new resolver: Services given without a ServiceUpstream")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MinTTL, DefaultMinTTL)
	def(&cfg.Grace, DefaultGrace)
	def(&cfg.AllowTimeout, DefaultAllowTimeout)
	def(&cfg.UpstreamTimeout, DefaultUpstreamTimeout)
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxTCPConns <= 0 {
		cfg.MaxTCPConns = DefaultMaxTCPConns
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:      cfg,
		services: map[string]bool{},
		cache:    newCache(cfg.CacheSize),
		closed:   make(chan struct{}),
		inFlight: make(chan struct{}, cfg.MaxInFlight),
		tcpSlots: make(chan struct{}, cfg.MaxTCPConns),
	}
	for _, name := range cfg.Services {
		n := canonical(name)
		if n == "" || strings.Contains(n, ".") {
			return nil, fmt.Errorf("new resolver: service name %q is not a single label", name)
		}
		s.services[n] = true
	}
	dialer := &net.Dialer{Control: cfg.Control, Timeout: cfg.UpstreamTimeout}
	s.udp = &dns.Client{Net: "udp", Dialer: dialer, Timeout: cfg.UpstreamTimeout, UDPSize: maxUDPSize}
	s.tcp = &dns.Client{Net: "tcp", Dialer: dialer, Timeout: cfg.UpstreamTimeout}
	s.svc = s.tcp
	s.policy.Store(&policyBox{cfg.Policy})
	return s, nil
}

// SetPolicy swaps the policy; the next query is decided by p. Cached
// answers are served only to names p allows.
func (s *Server) SetPolicy(p Policy) {
	if p == nil {
		p = PolicyFunc(func(string) Decision { return Decision{} }) // fail closed
	}
	s.policy.Store(&policyBox{p})
}

// Start binds UDP and TCP on each addr ("127.0.0.1:53", "[::1]:53"; port 0
// picks one port for both) and serves in the background until Close or
// until ctx ends. It returns once every socket is bound.
func (s *Server) Start(ctx context.Context, addrs ...string) error {
	if len(addrs) == 0 {
		return errors.New("start resolver: no listen address given")
	}
	select {
	case <-s.closed:
		return errors.New("start resolver: the server is closed (make a new one with New)")
	default:
	}
	var started []*dns.Server
	var bound []string
	for _, addr := range addrs {
		pc, l, err := dnsnet.ListenBoth(addr)
		if err != nil {
			for _, srv := range started {
				_ = srv.Shutdown()
			}
			return fmt.Errorf("start resolver on %s: %w", addr, err)
		}
		accept := func(dh dns.Header) dns.MsgAcceptAction {
			if dh.Bits&(1<<15) != 0 { // QR: a response, not a query
				return dns.MsgIgnore
			}
			return dns.MsgAccept // Handle answers FORMERR/NOTIMP itself, and logs it
		}
		for _, srv := range []*dns.Server{
			{PacketConn: pc, Handler: s, UDPSize: 4096, MsgAcceptFunc: accept},
			{Listener: &limitListener{Listener: l, slots: s.tcpSlots}, Handler: s, MsgAcceptFunc: accept, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }},
		} {
			up := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(up) }
			go func() { _ = srv.ActivateAndServe() }()
			<-up
			started = append(started, srv)
		}
		bound = append(bound, pc.LocalAddr().String())
	}
	s.mu.Lock()
	s.servers = append(s.servers, started...)
	s.addrs = append(s.addrs, bound...)
	s.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.closed:
		}
	}()
	return nil
}

// Addrs returns the addresses bound by Start, in order, with the ports
// picked for port 0.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs)
}

// Close stops serving; a closed Server cannot be started again.
func (s *Server) Close() error {
	s.mu.Lock()
	servers := s.servers
	s.servers = nil
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ServeDNS answers one query from a socket (dns.Handler).
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	if resp := s.Handle(context.Background(), req, tcp); resp != nil {
		_ = w.WriteMsg(resp)
	}
}

// Handle answers req without a socket: the reply to send (sized for UDP
// unless tcp), or nil when nothing may be sent back. Benchmarks call it
// directly.
func (s *Server) Handle(ctx context.Context, req *dns.Msg, tcp bool) *dns.Msg {
	if req.Response {
		return nil
	}
	start := time.Now()
	s.stats.queries.Add(1)
	ev := Event{Time: s.cfg.Now()}
	resp := s.handle(ctx, req, &ev)
	finish(req, resp, tcp)
	if resp.Rcode == dns.RcodeServerFailure {
		s.stats.servfail.Add(1)
	}
	if s.cfg.Log != nil {
		ev.Rcode = dns.RcodeToString[resp.Rcode]
		ev.Duration = time.Since(start)
		s.cfg.Log(ev)
	}
	return resp
}

// handle decides req and returns the reply, before sizing.
func (s *Server) handle(ctx context.Context, req *dns.Msg, ev *Event) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	fail := func(rcode int, counter *atomic.Uint64, err string) *dns.Msg {
		resp.Rcode = rcode
		resp.Answer = nil
		ev.Err = err
		if counter != nil {
			counter.Add(1)
		}
		return resp
	}
	if len(req.Question) > 0 {
		ev.Name, ev.Type = req.Question[0].Name, dns.Type(req.Question[0].Qtype).String()
	}
	switch {
	case req.Opcode != dns.OpcodeQuery:
		return fail(dns.RcodeNotImplemented, &s.stats.malformed, "opcode "+dns.OpcodeToString[req.Opcode]+" is not served")
	case len(req.Question) != 1:
		return fail(dns.RcodeFormatError, &s.stats.malformed, fmt.Sprintf("%d questions (exactly one is served)", len(req.Question)))
	case req.Question[0].Qclass != dns.ClassINET:
		return fail(dns.RcodeNotImplemented, &s.stats.malformed, "class "+dns.Class(req.Question[0].Qclass).String()+" is not served")
	}
	q := req.Question[0]
	name := canonical(q.Name)
	if !hostName(name) {
		return fail(dns.RcodeNameError, &s.stats.refusedPolicy, "not a host name")
	}

	if s.services[name] {
		ev.Allowed, ev.Rule = true, "service"
		return s.service(ctx, req, resp, name, ev)
	}

	d := s.policy.Load().p.Decide(name)
	ev.Allowed, ev.Rule = d.Allowed, d.Rule
	if !d.Allowed {
		// NXDOMAIN, not REFUSED: musl stops walking its search list at REFUSED.
		return fail(dns.RcodeNameError, &s.stats.refusedPolicy, "")
	}
	switch q.Qtype {
	case dns.TypeA:
	case dns.TypeAAAA:
		if !s.cfg.IPv6 {
			s.stats.refusedType.Add(1)
			return resp // NODATA: IPv6 is off
		}
	case dns.TypeANY:
		return fail(dns.RcodeNotImplemented, &s.stats.refusedType, "type ANY is not served")
	default:
		s.stats.refusedType.Add(1)
		return resp // NODATA: only A and AAAA are served, nothing else is forwarded
	}

	s.stats.allowed.Add(1)
	a, err := s.lookup(ctx, name, q.Qtype, d.Ports, ev)
	if err != nil {
		return fail(dns.RcodeServerFailure, nil, err.Error())
	}
	resp.Rcode = a.rcode
	resp.Answer = addressRecords(q, a.addrs, a.ttl)
	return resp
}

// answer is what a name resolved to, ready to release.
type answer struct {
	rcode int
	addrs []netip.Addr
	ttl   uint32 // seconds, as clients see it
}

// lookup answers name/qtype from the cache or the upstreams, and allows
// the addresses before it returns them.
func (s *Server) lookup(ctx context.Context, name string, qtype uint16, ports []uint16, ev *Event) (answer, error) {
	key := cacheKey{name, qtype}
	now := s.cfg.Now()
	if e, ok := s.cache.get(key, now); ok {
		s.stats.cacheHits.Add(1)
		remaining := time.Duration(e.expires - now.UnixNano())
		ev.Cached, ev.Answer, ev.CNAMEs = true, e.addrs, e.cnames
		// Checked again: the allowed CIDRs behind cfg.Inward may have
		// shrunk since the answer was cached.
		if err := s.checkInward(e.addrs); err != nil {
			return answer{}, err
		}
		if err := s.allow(ctx, name, e.addrs, ports, max(remaining, s.cfg.MinTTL)+s.cfg.Grace); err != nil {
			return answer{}, err
		}
		return answer{rcode: dns.RcodeSuccess, addrs: e.addrs, ttl: uint32(remaining / time.Second)}, nil
	}
	s.stats.cacheMisses.Add(1)

	res, shared, _ := s.flights.do(key, 0, nil, func() flightResult {
		if err := s.acquire(ctx); err != nil {
			return flightResult{err: err}
		}
		defer s.release()
		r := s.resolve(ctx, name, qtype)
		if r.err == nil && len(r.addrs) > 0 {
			r.allowErr = s.allow(ctx, name, r.addrs, ports, max(r.ttl, s.cfg.MinTTL)+s.cfg.Grace)
			r.ports = ports
			if r.allowErr == nil && r.ttl > 0 {
				s.cache.put(key, entry{addrs: r.addrs, cnames: r.cnames, expires: now.Add(r.ttl).UnixNano()}, now)
			}
		}
		return r
	})
	if shared {
		s.stats.shared.Add(1)
	}
	ev.Answer, ev.CNAMEs, ev.Upstream = res.addrs, res.cnames, res.upstream
	if res.err != nil {
		return answer{}, res.err
	}
	allowErr := res.allowErr
	if len(res.addrs) > 0 && !slices.Equal(ports, res.ports) {
		// Another query resolved it for a policy with other ports (a swap
		// in between): allow this query's ports too.
		allowErr = s.allow(ctx, name, res.addrs, ports, max(res.ttl, s.cfg.MinTTL)+s.cfg.Grace)
	}
	if allowErr != nil {
		return answer{}, allowErr
	}
	return answer{rcode: res.rcode, addrs: res.addrs, ttl: uint32(res.ttl / time.Second)}, nil
}

// allow calls the Allower, bounded by AllowTimeout through its context:
// an Allower must return once its context is done (the gateway's name sets
// do), so that no answer waits longer and none is released unallowed.
func (s *Server) allow(ctx context.Context, name string, addrs []netip.Addr, ports []uint16, timeout time.Duration) error {
	if len(addrs) == 0 || len(ports) == 0 {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.AllowTimeout)
	defer cancel()
	start := time.Now()
	err := s.cfg.Allower.Allow(actx, name, addrs, ports, timeout)
	switch {
	case err == nil && actx.Err() != nil:
		// Confirmed, but too late to count: the bound is the client's.
		err = fmt.Errorf("allow %d addresses: not confirmed within %v", len(addrs), s.cfg.AllowTimeout)
	case err != nil && actx.Err() != nil:
		err = fmt.Errorf("allow %d addresses: not confirmed within %v", len(addrs), s.cfg.AllowTimeout)
	case err != nil:
		err = fmt.Errorf("allow %d addresses: %w", len(addrs), err)
	}
	s.stats.allowLatency.observe(time.Since(start))
	if err != nil {
		s.stats.allowErrors.Add(1)
	}
	return err
}

// service asks Docker's resolver for a compose service name, over TCP
// (root in dev shares the loopback Docker's resolver listens on and could
// race forged UDP answers; see firewall.tcpOnly).
//
// Docker's resolver forwards a name it does not know upstream, as the very
// message it got, ID included, and the gateway's nat rule brings it back
// here. That query, identical to one in flight down to the ID this
// resolver chose, gets NXDOMAIN at once, which breaks the loop. Other
// identical queries (clients asking at the same time) share the answer.
func (s *Server) service(ctx context.Context, req, resp *dns.Msg, name string, ev *Event) *dns.Msg {
	q := req.Question[0]
	switch {
	case q.Qtype == dns.TypeAAAA && !s.cfg.IPv6, q.Qtype != dns.TypeA && q.Qtype != dns.TypeAAAA:
		s.stats.refusedType.Add(1)
		return resp // NODATA
	}
	out := newQuery(name, q.Qtype)
	isLoop := func(inFlight uint16) bool { return inFlight == req.Id }
	res, _, busy := s.svcFlights.do(cacheKey{name, q.Qtype}, out.Id, isLoop, func() flightResult {
		if err := s.acquire(ctx); err != nil {
			return flightResult{err: err}
		}
		defer s.release()
		var r flightResult
		reply, up, err := s.exchange(ctx, s.svc, out, []netip.AddrPort{s.cfg.ServiceUpstream})
		r.upstream, r.err = up, err
		if err == nil {
			r.rcode = reply.Rcode
			r.addrs, r.ttl = ownAddrs(reply, dns.Fqdn(name), q.Qtype)
		}
		return r
	})
	if busy {
		s.stats.loopGuard.Add(1)
		resp.Rcode = dns.RcodeNameError
		ev.Err = "service query came back while in flight (Docker's resolver forwarded it): loop broken"
		return resp
	}
	ev.Upstream, ev.Answer = res.upstream, res.addrs
	if res.err != nil {
		s.stats.upstreamErrors.Add(1)
		resp.Rcode = dns.RcodeServerFailure
		ev.Err = res.err.Error()
		return resp
	}
	resp.Rcode = res.rcode
	resp.Answer = addressRecords(q, res.addrs, uint32(res.ttl/time.Second))
	return resp
}

// addressRecords makes the flattened answer: every address owned by the
// name as asked.
func addressRecords(q dns.Question, addrs []netip.Addr, ttl uint32) []dns.RR {
	rrs := make([]dns.RR, 0, len(addrs))
	for _, a := range addrs {
		hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: ttl}
		if q.Qtype == dns.TypeA {
			rrs = append(rrs, &dns.A{Hdr: hdr, A: a.AsSlice()})
		} else {
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	return rrs
}

// finish sizes resp for the transport: 512 bytes over UDP, or the client's
// EDNS size up to 1232; TC is set when the answer does not fit, and the
// client asks again over TCP.
func finish(req, resp *dns.Msg, tcp bool) {
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
		resp.SetEdns0(maxUDPSize, false)
	}
	if tcp {
		size = dns.MaxMsgSize
	}
	resp.Truncate(size)
}

// canonical lower-cases name and drops the trailing dot.
func canonical(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

// hostName reports whether name (canonical) holds only letters, digits,
// hyphens, underscores and dots: anything else (escaped bytes, spaces, a
// literal '*') is no name an A/AAAA lookup needs, and goes nowhere.
func hostName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
