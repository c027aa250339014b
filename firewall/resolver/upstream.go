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
	"time"

	"github.com/miekg/dns"
)

// flightResult is one upstream resolution, shared by the identical queries
// that waited for it.
type flightResult struct {
	rcode    int
	addrs    []netip.Addr
	ttl      time.Duration // min over the chain, capped at MaxTTL
	cnames   []string
	upstream string
	err      error // SERVFAIL: upstreams failed, chain too long, answer points inward
	allowErr error
	ports    []uint16 // the ports allowErr is about
}

// resolve asks the upstreams for name/qtype and follows the CNAME chain,
// re-asking for the chain's end when an answer stops at a CNAME. Only
// records on the chain count: each CNAME owned by the previous target, the
// addresses owned by the chain's end; the rest of the answer, and the
// authority and additional sections, are ignored.
func (s *Server) resolve(ctx context.Context, name string, qtype uint16) flightResult {
	var r flightResult
	current := dns.Fqdn(name)
	ttl := MaxTTL
	hops := 0
	for {
		reply, up, err := s.exchange(ctx, s.udp, newQuery(current, qtype), s.cfg.Upstreams)
		r.upstream = up
		if err != nil {
			s.stats.upstreamErrors.Add(1)
			r.err = err
			return r
		}
		if reply.Rcode != dns.RcodeSuccess { // NXDOMAIN (exchange passes nothing else)
			r.rcode = reply.Rcode
			return r
		}
		cnames := map[string]*dns.CNAME{}
		for _, rr := range reply.Answer {
			if c, ok := rr.(*dns.CNAME); ok {
				cnames[dns.CanonicalName(c.Hdr.Name)] = c
			}
		}
		owner := dns.CanonicalName(current)
		for {
			if addrs, attl := ownAddrs(reply, owner, qtype); len(addrs) > 0 {
				r.addrs, r.ttl = addrs, min(ttl, attl)
				r.err = s.checkInward(r.addrs)
				return r
			}
			c, ok := cnames[owner]
			if !ok {
				break
			}
			if hops++; hops > MaxCNAMEs {
				r.err = fmt.Errorf("CNAME chain longer than %d steps (a loop?)", MaxCNAMEs)
				return r
			}
			owner = dns.CanonicalName(c.Target)
			r.cnames = append(r.cnames, strings.TrimSuffix(owner, "."))
			ttl = min(ttl, time.Duration(c.Hdr.Ttl)*time.Second)
		}
		if owner == dns.CanonicalName(current) {
			return r // NODATA
		}
		current = owner // the answer stops at a CNAME: ask for its target
	}
}

// ownAddrs returns the addresses of type qtype owned by owner in reply's
// answer (at most MaxAddrs, duplicates dropped) and their smallest TTL.
func ownAddrs(reply *dns.Msg, owner string, qtype uint16) ([]netip.Addr, time.Duration) {
	var addrs []netip.Addr
	ttl := MaxTTL
	for _, rr := range reply.Answer {
		h := rr.Header()
		if h.Rrtype != qtype || h.Class != dns.ClassINET || !strings.EqualFold(h.Name, owner) {
			continue
		}
		var a netip.Addr
		var ok bool
		switch rr := rr.(type) {
		case *dns.A:
			a, ok = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			a, ok = netip.AddrFromSlice(rr.AAAA.To16())
		}
		if !ok || slices.Contains(addrs, a) {
			continue
		}
		ttl = min(ttl, time.Duration(h.Ttl)*time.Second)
		if addrs = append(addrs, a); len(addrs) == MaxAddrs {
			break
		}
	}
	return addrs, ttl
}

// newQuery is a query for name/qtype as the resolver sends it upstream:
// RD set, EDNS, a random ID from crypto/rand.
func newQuery(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true
	q.SetEdns0(maxUDPSize, false)
	return q
}

// exchange asks servers in order for q until one gives a sane NOERROR or
// NXDOMAIN answer; it returns that answer and the server. Timeouts,
// SERVFAIL, REFUSED and insane answers move on to the next.
func (s *Server) exchange(ctx context.Context, c *dns.Client, q *dns.Msg, servers []netip.AddrPort) (*dns.Msg, string, error) {
	var errs []error
	for _, server := range servers {
		addr := server.String()
		if err := ctx.Err(); err != nil {
			return nil, addr, errors.Join(append(errs, err)...)
		}
		reply, err := s.exchangeOne(ctx, c, q, addr)
		if err == nil {
			err = sane(q, reply)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", addr, err))
			continue
		}
		return reply, addr, nil
	}
	qq := q.Question[0]
	return nil, "", fmt.Errorf("ask upstreams for %s %s: %w", strings.TrimSuffix(qq.Name, "."), dns.Type(qq.Qtype), errors.Join(errs...))
}

// exchangeOne asks one server, over TCP again when the UDP answer is
// truncated or does not come within half of UpstreamTimeout (a datagram
// lost in a burst must not cost the client the whole timeout).
func (s *Server) exchangeOne(ctx context.Context, c *dns.Client, q *dns.Msg, addr string) (*dns.Msg, error) {
	tctx, cancel := context.WithTimeout(ctx, s.cfg.UpstreamTimeout)
	defer cancel()
	if c.Net != "udp" {
		reply, _, err := c.ExchangeContext(tctx, q, addr)
		return reply, err
	}
	uctx, ucancel := context.WithTimeout(tctx, s.cfg.UpstreamTimeout/2)
	reply, _, err := c.ExchangeContext(uctx, q, addr)
	ucancel()
	var ne net.Error
	if err == nil && reply.Truncated || errors.As(err, &ne) && ne.Timeout() && tctx.Err() == nil {
		reply, _, err = s.tcp.ExchangeContext(tctx, q, addr)
	}
	return reply, err
}

// sane checks an upstream answer: the question ours, a usable rcode, and
// no more records than an answer for one name needs.
func sane(q, reply *dns.Msg) error {
	switch {
	case len(reply.Question) != 1 ||
		!strings.EqualFold(reply.Question[0].Name, q.Question[0].Name) ||
		reply.Question[0].Qtype != q.Question[0].Qtype ||
		reply.Question[0].Qclass != q.Question[0].Qclass:
		return errors.New("answer is for another question")
	case reply.Rcode != dns.RcodeSuccess && reply.Rcode != dns.RcodeNameError:
		return fmt.Errorf("answered %s", dns.RcodeToString[reply.Rcode])
	case reply.Truncated:
		return errors.New("answer truncated even over TCP")
	case len(reply.Answer)+len(reply.Ns)+len(reply.Extra) > maxUpstreamRecords:
		return fmt.Errorf("answer holds %d records (more than %d)", len(reply.Answer)+len(reply.Ns)+len(reply.Extra), maxUpstreamRecords)
	}
	return nil
}

// flights shares one upstream resolution among identical queries that
// arrive while it runs.
type flights struct {
	mu sync.Mutex
	m  map[cacheKey]*flight
}

type flight struct {
	done chan struct{}
	tag  uint16
	res  flightResult
}

// do runs fn for key, or waits for the run already under way and shares
// its result. tag is kept with a run: a caller for whom loop(tag) of the
// run under way is true gets looped at once instead of waiting (a query
// that is that run coming back would wait for itself).
func (f *flights) do(key cacheKey, tag uint16, loop func(tag uint16) bool, fn func() flightResult) (res flightResult, shared, looped bool) {
	f.mu.Lock()
	if c, ok := f.m[key]; ok {
		f.mu.Unlock()
		if loop != nil && loop(c.tag) {
			return flightResult{}, false, true
		}
		<-c.done
		return c.res, true, false
	}
	if f.m == nil {
		f.m = map[cacheKey]*flight{}
	}
	c := &flight{done: make(chan struct{}), tag: tag, res: flightResult{err: errors.New("resolution panicked")}}
	f.m[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.res = fn()
	return c.res, false, false
}
