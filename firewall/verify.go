//go:build linux

package firewall

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// verifyTimeout bounds one verify check. A blocked target must be refused
// well within it: the rules REJECT, so a timeout means something is wrong.
const verifyTimeout = 5 * time.Second

// Verify checks the verify targets of cfg against the rules in place: every
// reachable target must connect (and answer HTTP for http/https), every
// blocked one must be refused at once on each of its addresses. Without
// IPv6 (ipv6 false), reachable targets written as IPv6 addresses are
// skipped and named in skipped. It returns how many targets behaved, and an
// error naming each that did not.
func Verify(ctx context.Context, v allowlist.VerifyConfig, ipv6 bool) (ok int, skipped []string, err error) {
	type result struct {
		target string
		err    error
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []result
	)
	check := func(s string, want func(context.Context, allowlist.Target) error) {
		defer wg.Done()
		t, err := allowlist.ParseTarget(s)
		if err == nil {
			err = want(ctx, t)
		}
		mu.Lock()
		results = append(results, result{s, err})
		mu.Unlock()
	}
	// Targets written as addresses are checked after those written as
	// names: with the gateway's resolver, an address allowed only through
	// a name opens once the name is answered.
	var byAddr []string
	for _, s := range v.Reachable {
		t, err := allowlist.ParseTarget(s)
		if a, aerr := netip.ParseAddr(t.Host); err == nil && aerr == nil {
			if !ipv6 && a.Is6() && !a.Is4In6() {
				skipped = append(skipped, s)
				continue
			}
			byAddr = append(byAddr, s)
			continue
		}
		wg.Add(1)
		go check(s, checkReachable)
	}
	for _, s := range v.Blocked {
		wg.Add(1)
		go check(s, checkBlocked)
	}
	wg.Wait()
	for _, s := range byAddr {
		wg.Add(1)
		go check(s, checkReachable)
	}
	wg.Wait()
	var errs []string
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err.Error())
		} else {
			ok++
		}
	}
	if len(errs) > 0 {
		return ok, skipped, fmt.Errorf("verify: %s", strings.Join(errs, "; "))
	}
	return ok, skipped, nil
}

func checkReachable(ctx context.Context, t allowlist.Target) error {
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	var err error
	switch t.Scheme {
	case "http", "https":
		err = httpGet(ctx, t.URL)
	case "tcp":
		var c net.Conn
		if c, err = dialAsAgent(ctx, "tcp", t.Address()); err == nil {
			c.Close()
		}
	case "udp":
		var addrs []netip.Addr
		if addrs, err = lookupTarget(ctx, t.Host); err == nil {
			for _, a := range addrs {
				if err = udpProbe(ctx, netip.AddrPortFrom(a, t.Port).String()); err == nil {
					break
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s should be reachable: %w", t.URL, err)
	}
	return nil
}

// agentUID owns the sockets of the checks, which carry no mark: the rules
// treat every user alike and except only the gateway's marked sockets
// (contract.GatewayMark), so the checks see what the agent would see.
const agentUID = 65534

// asAgent calls dial on an OS thread whose filesystem uid is agentUID:
// a socket takes its owner, which the owner match reads, from it. dial must
// create its socket on the calling goroutine (one address, no Happy
// Eyeballs). The Go runtime starts no thread from a locked one, so the uid
// cannot leak.
func asAgent(dial func() (net.Conn, error)) (net.Conn, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, agentUID, 0, 0)
	defer syscall.RawSyscall(syscall.SYS_SETFSUID, old, 0, 0)
	return dial()
}

// dialAsAgent resolves hostport and connects to its addresses in turn, each
// from a socket owned by agentUID.
func dialAsAgent(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	addrs, err := lookupTarget(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		c, err := asAgent(func() (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		})
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// httpGet makes one request without proxies (a proxy from the environment
// would test the proxy, not the rules) and accepts any status.
func httpGet(ctx context.Context, url string) error {
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{}, DisableKeepAlives: true, DialContext: dialAsAgent}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "devbox-init-firewall")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	return nil
}

// udpProbe sends one datagram to addr (an address, not a name) and listens
// briefly: a send refused locally or an ICMP unreachable/prohibited back
// means blocked; an answer, silence or "port unreachable" (the host got it)
// means it went through.
func udpProbe(ctx context.Context, addr string) error {
	c, err := asAgent(func() (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, "udp", addr) })
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("devbox-verify\n")); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = c.Read(make([]byte, 512))
	var ne net.Error
	if err == nil || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

// refused reports whether err is the firewall saying no: a TCP reset, an
// ICMP prohibited/unreachable, or the local stack refusing to send (or
// having no address of the family, when IPv6 was turned off).
func refused(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.EPERM, syscall.EACCES, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ECONNRESET, syscall.EADDRNOTAVAIL} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func checkBlocked(ctx context.Context, t allowlist.Target) error {
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	addrs, err := lookupTarget(ctx, t.Host)
	if err != nil {
		// Nothing to connect to is blocked enough; say so nowhere louder
		// than here because a blocked name often does not resolve.
		return nil
	}
	for _, a := range addrs {
		addr := netip.AddrPortFrom(a, t.Port).String()
		start := time.Now()
		var err error
		if t.Scheme == "udp" {
			err = udpProbe(ctx, addr)
			if err == nil {
				return fmt.Errorf("%s should be blocked: datagram to %s was not refused", t.URL, addr)
			}
		} else {
			var c net.Conn
			c, err = asAgent(func() (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, "tcp", addr) })
			if err == nil {
				c.Close()
				return fmt.Errorf("%s should be blocked: connected to %s", t.URL, addr)
			}
		}
		if !refused(err) {
			return fmt.Errorf("%s should be refused at once, but %s gave %v after %s", t.URL, addr, err, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// tcpResolver is Go's resolver (resolv.conf) over TCP to Docker's resolver,
// for the reason tcpOnly gives; other servers are asked as usual.
var tcpResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
	if ap, err := netip.ParseAddrPort(address); err == nil && tcpOnly(ap.Addr()) {
		network = "tcp"
	}
	return (&net.Dialer{}).DialContext(ctx, network, address)
}}

// lookupTarget returns the addresses of host (an address or a name).
func lookupTarget(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := tcpResolver.LookupNetIP(ctx, "ip", host)
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, err
}

// lookupWith is lookupTarget through l, or through resolv.conf when l is
// nil.
func lookupWith(ctx context.Context, l *startLookup, host string) ([]netip.Addr, error) {
	if _, err := netip.ParseAddr(host); l == nil || err == nil {
		return lookupTarget(ctx, host)
	}
	addrs, _, err := l.resolveName(ctx, host)
	return addrs, err
}
