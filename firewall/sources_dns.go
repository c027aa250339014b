//go:build linux

package firewall

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// maxCNAMEHops bounds how many CNAMEs a name may go through.
const maxCNAMEHops = 8

// maxParallelQueries bounds the queries in flight at once.
const maxParallelQueries = 32

// Resolvers returns the nameserver addresses listed in the resolv.conf at
// path (the servers DNS rules must allow and Gather asks).
func Resolvers(path string) ([]netip.Addr, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read resolvers from %s: %w", path, err)
	}
	var addrs []netip.Addr
	for _, s := range cc.Servers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("read resolvers from %s: nameserver %q: %w", path, s, err)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("read resolvers from %s: no nameserver line", path)
	}
	return addrs, nil
}

// startLookup asks the nameservers of a resolv.conf, UDP first and TCP when the
// reply is truncated, trying each server in turn for a number of rounds.
type startLookup struct {
	servers  []string // host:port
	timeout  time.Duration
	attempts int
	// tcp asks over TCP only: set when a server is Docker's resolver on a
	// loopback shared with dev (tcpOnly).
	tcp bool
	// dialer, when set, makes the sockets (the gateway marks them).
	dialer *net.Dialer
}

// tcpOnly reports whether lookups to server must go over TCP. Docker's
// resolver (127.0.0.11) sits on the loopback the gateway shares with dev,
// where root in dev could bind 127.0.0.11:53 and race forged UDP answers to
// the gateway's query socket. A TCP answer cannot be forged there without a
// raw socket, which dev lacks.
func tcpOnly(server netip.Addr) bool { return server == dockerDNS }

// errNoSuchDomain marks an NXDOMAIN answer, which no retry changes.
var errNoSuchDomain = errors.New("no such domain (NXDOMAIN)")

// gatherDNS resolves the required and optional domains concurrently: the
// exact names; a wildcard cannot be resolved ahead (only the gateway's
// resolver allows those, as they are asked), so it is skipped with a
// warning.
func gatherDNS(ctx context.Context, required, optional []string, opts GatherOptions) *sourceOutput {
	o := &sourceOutput{result: SourceResult{Name: "dns"}, domains: map[string][]netip.Addr{}, domainPorts: map[string][]uint16{}}
	servers, err := Resolvers(opts.ResolvConf)
	if err != nil {
		o.err = fmt.Errorf("resolve domains: %w", err)
		return o
	}
	r := &startLookup{timeout: opts.DNSTimeout, attempts: opts.DNSAttempts}
	for _, a := range servers {
		r.servers = append(r.servers, net.JoinHostPort(a.String(), strconv.Itoa(opts.DNSPort)))
		r.tcp = r.tcp || tcpOnly(a)
	}

	// A domain listed twice, or both required and optional, is resolved once
	// and counts as required; its ports are those of every entry.
	isRequired := map[string]bool{}
	var names []string
	for _, list := range []struct {
		domains  []string
		required bool
	}{{required, true}, {optional, false}} {
		for _, d := range list.domains {
			rule, err := allowlist.ParseNameEntry(d)
			if err != nil {
				o.warnings = append(o.warnings, Warning{Source: "dns", Message: fmt.Sprintf("%s skipped: %v", d, err)})
				continue
			}
			n := rule.Pattern.String()
			if rule.Pattern.IsWildcard() {
				o.warnings = append(o.warnings, Warning{Source: "dns", Message: fmt.Sprintf("%s skipped: a wildcard needs the gateway's resolver (this layout resolves names once, at start)", d)})
				continue
			}
			if _, seen := isRequired[n]; !seen {
				names = append(names, n)
			}
			isRequired[n] = isRequired[n] || list.required
			o.domainPorts[n] = mergePorts(o.domainPorts[n], rule.Ports)
		}
	}

	type result struct {
		addrs    []netip.Addr
		warnings []string
		err      error
	}
	results := make([]result, len(names))
	sem := make(chan struct{}, maxParallelQueries/2) // two queries (A, AAAA) per name
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			addrs, warns, err := r.resolveName(ctx, name)
			results[i] = result{addrs, warns, err}
		})
	}
	wg.Wait()

	var errs []error
	for i, name := range names {
		res := results[i]
		for _, w := range res.warnings {
			o.warnings = append(o.warnings, Warning{Source: "dns", Message: w})
		}
		if res.err != nil {
			if isRequired[name] {
				errs = append(errs, fmt.Errorf("resolve required domain %s: %w", name, res.err))
			} else {
				o.warnings = append(o.warnings, Warning{Source: "dns", Message: fmt.Sprintf("optional domain %s skipped: %v", name, res.err)})
			}
			continue
		}
		var kept []netip.Addr
		for _, a := range res.addrs {
			if _, err := addrPrefix(a); err != nil {
				o.warnings = append(o.warnings, Warning{Source: "dns", Message: fmt.Sprintf("%s: skipped %v", name, err)})
				continue
			}
			kept = append(kept, a)
		}
		o.domains[name] = kept
		o.result.Prefixes += len(kept)
	}
	o.err = errors.Join(errs...)
	return o
}

// mergePorts returns the sorted union of a and b.
func mergePorts(a, b []uint16) []uint16 {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// resolveName returns the A and AAAA addresses of name. It fails when
// neither gives an address; a family that fails while the other answers is
// a warning.
func (r *startLookup) resolveName(ctx context.Context, name string) ([]netip.Addr, []string, error) {
	var v4, v6 []netip.Addr
	var err4, err6 error
	var wg sync.WaitGroup
	wg.Go(func() { v4, err4 = r.lookup(ctx, name, dns.TypeA) })
	wg.Go(func() { v6, err6 = r.lookup(ctx, name, dns.TypeAAAA) })
	wg.Wait()

	addrs := sortAddrs(append(v4, v6...))
	switch {
	case errors.Is(err4, errNoSuchDomain) || errors.Is(err6, errNoSuchDomain):
		return nil, nil, errNoSuchDomain
	case len(addrs) == 0 && err4 != nil && err6 != nil:
		// One line for the summary, and once when both failed alike.
		msg4, msg6 := strings.TrimPrefix(err4.Error(), "A: "), strings.TrimPrefix(err6.Error(), "AAAA: ")
		if msg4 == msg6 {
			return nil, nil, fmt.Errorf("A and AAAA: %s", msg4)
		}
		return nil, nil, fmt.Errorf("%w; %v", err4, err6)
	case len(addrs) == 0 && err4 != nil:
		return nil, nil, err4
	case len(addrs) == 0 && err6 != nil:
		return nil, nil, err6
	case len(addrs) == 0:
		return nil, nil, errors.New("no A or AAAA records")
	}
	var warnings []string
	if err4 != nil {
		warnings = append(warnings, fmt.Sprintf("%s: using IPv6 addresses only: %v", name, err4))
	}
	if err6 != nil {
		warnings = append(warnings, fmt.Sprintf("%s: using IPv4 addresses only: %v", name, err6))
	}
	return addrs, warnings, nil
}

// lookup returns the records of type qtype (A or AAAA) for name, following
// CNAMEs: those in the answer, then by asking again for the last target.
func (r *startLookup) lookup(ctx context.Context, name string, qtype uint16) ([]netip.Addr, error) {
	typ := dns.TypeToString[qtype]
	current := dns.Fqdn(name)
	hops := 0
	for {
		reply, err := r.exchange(ctx, current, qtype)
		if err != nil {
			if current != dns.Fqdn(name) {
				return nil, fmt.Errorf("%s of CNAME target %s: %w", typ, strings.TrimSuffix(current, "."), err)
			}
			return nil, fmt.Errorf("%s: %w", typ, err)
		}
		// Walk the chain as far as this answer carries it.
		cnames := map[string]string{}
		found := map[string][]netip.Addr{}
		for _, rr := range reply.Answer {
			owner := dns.CanonicalName(rr.Header().Name)
			switch rr := rr.(type) {
			case *dns.CNAME:
				cnames[owner] = dns.CanonicalName(rr.Target)
			case *dns.A:
				if a, ok := netip.AddrFromSlice(rr.A.To4()); ok && qtype == dns.TypeA {
					found[owner] = append(found[owner], a)
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok && qtype == dns.TypeAAAA {
					found[owner] = append(found[owner], a)
				}
			}
		}
		owner := dns.CanonicalName(current)
		for {
			if addrs := found[owner]; len(addrs) > 0 {
				return addrs, nil
			}
			next, ok := cnames[owner]
			if !ok {
				break
			}
			if hops++; hops > maxCNAMEHops {
				return nil, fmt.Errorf("%s: more than %d CNAMEs (a loop?)", typ, maxCNAMEHops)
			}
			owner = next
		}
		if owner == dns.CanonicalName(current) {
			return nil, nil // no data of this type
		}
		current = owner // the answer stops at a CNAME target: ask for it
	}
}

// exchange asks the servers for name/qtype until one answers. NXDOMAIN is
// an answer (errNoSuchDomain); timeouts, garbage, SERVFAIL and REFUSED move
// on to the next server.
func (r *startLookup) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	var lastErr error
	for range r.attempts {
		for _, server := range r.servers {
			if err := ctx.Err(); err != nil {
				return nil, errors.Join(err, lastErr)
			}
			reply, err := r.exchangeOne(ctx, q, server)
			switch {
			case err != nil:
				lastErr = fmt.Errorf("ask %s: %w", server, err)
			case reply.Rcode == dns.RcodeNameError:
				return nil, errNoSuchDomain
			case reply.Rcode != dns.RcodeSuccess:
				lastErr = fmt.Errorf("ask %s: server answered %s", server, dns.RcodeToString[reply.Rcode])
			default:
				return reply, nil
			}
		}
	}
	return nil, lastErr
}

// exchangeOne sends q to server over UDP, and over TCP when the reply is
// truncated.
func (r *startLookup) exchangeOne(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: r.timeout, Dialer: r.dialer}
	if r.tcp {
		c.Net = "tcp"
	}
	reply, _, err := c.ExchangeContext(ctx, q, server)
	if err != nil {
		return nil, r.explain(ctx, err)
	}
	if reply.Truncated {
		c.Net = "tcp"
		if reply, _, err = c.ExchangeContext(ctx, q, server); err != nil {
			return nil, fmt.Errorf("over TCP after a truncated reply: %w", r.explain(ctx, err))
		}
	}
	return reply, nil
}

// explain turns the usual exchange failures into short messages (the
// socket addresses in net errors differ for every query and say nothing).
func (r *startLookup) explain(ctx context.Context, err error) error {
	var netErr net.Error
	var dnsErr *dns.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("out of time: %w", ctx.Err())
	case pastDeadline(ctx): // the socket deadline came from ctx and fired first
		return fmt.Errorf("out of time: %w", context.DeadlineExceeded)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("no answer within %v", r.timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused (no DNS server there)")
	case errors.As(err, &dnsErr):
		return fmt.Errorf("unreadable reply: %w", err)
	}
	return err
}

func pastDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
