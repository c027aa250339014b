//go:build linux

package firewall

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// dockerDNS is the address of Docker's embedded resolver, which every
// container on a user-defined network (every compose project) has as its
// only nameserver.
var dockerDNS = netip.MustParseAddr("127.0.0.11")

// markedDialer dials from sockets that carry contract.GatewayMark: the
// rules let them reach the sources while gathering, and nothing in dev can
// set that mark.
func markedDialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, Resolver: tcpResolver, Control: markControl}
}

// learnUpstreams learns where Docker's embedded resolver forwards, when
// the box uses it. The resolver sends the box's queries on from inside
// this network namespace as root (on Docker 20.10, and on later engines
// whenever the host's resolver is not on loopback), with nothing that sets
// them apart from root's own packets. So init-firewall sends one query
// whose name holds a random label (which nothing else in the namespace can
// know), and a rule adds the destination of every query carrying it to the
// DNS set, and refuses it: the resolver then tries its next upstream, so
// all are learned. When the resolver forwards from the host instead
// (Docker 25 and later, with a resolver on the host's loopback), nothing
// is learned and nothing needs to be.
func (r *run) learnUpstreams(ctx context.Context) error {
	if !slices.Contains(r.host.Resolvers, dockerDNS) || r.noSet {
		return nil
	}
	// Learned at the namespace's first run; a re-run keeps what it finds.
	for _, f := range r.fams {
		if known, err := r.a.ipset.list(f.dnsSet); err != nil || len(known) > 0 {
			return r.reportUpstreams(err)
		}
	}
	label, err := probeLabel()
	if err != nil {
		return fmt.Errorf("learn DNS upstreams: %w", err)
	}
	r.learnLabel = label
	if err := r.load(ctx, nil); err != nil {
		return err
	}
	r.awaitLearning(ctx, label)
	r.learnLabel = ""
	if err := r.load(ctx, nil); err != nil {
		return err
	}
	return r.reportUpstreams(nil)
}

// reportUpstreams puts the learned upstreams into the summary.
func (r *run) reportUpstreams(err error) error {
	if err != nil {
		return fmt.Errorf("learn DNS upstreams: %w", err)
	}
	for _, f := range r.fams {
		learned, err := r.a.ipset.list(f.dnsSet)
		if err != nil {
			return fmt.Errorf("learn DNS upstreams: %w", err)
		}
		for _, p := range learned {
			r.summary.DNSUpstreams = append(r.summary.DNSUpstreams, p.Addr().String())
		}
	}
	return nil
}

// learnWait bounds the wait for the probe; learnGrace is how long learning
// goes on after the first upstream is seen (the resolver tries the next one
// at once when the first refuses, but it never answers the probe itself).
const (
	learnWait  = 3 * time.Second
	learnGrace = 100 * time.Millisecond
)

// awaitLearning sends the probe and returns when the resolver answered, or
// learnGrace after the first upstream was learned, or after learnWait.
// Docker 20.10's resolver answers nothing once every upstream refused, so
// the answer alone would cost the whole wait at every gateway start.
func (r *run) awaitLearning(ctx context.Context, label string) {
	ctx, cancel := context.WithTimeout(ctx, learnWait)
	defer cancel()
	answered := make(chan struct{})
	go func() {
		probeDNS(ctx, netip.AddrPortFrom(dockerDNS, 53), label)
		close(answered)
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-answered:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if r.learnedAny() {
			select {
			case <-answered:
			case <-ctx.Done():
			case <-time.After(learnGrace):
			}
			return
		}
	}
}

// learnedAny reports whether a DNS set holds an upstream.
func (r *run) learnedAny() bool {
	for _, f := range r.fams {
		if got, err := r.a.ipset.list(f.dnsSet); err == nil && len(got) > 0 {
			return true
		}
	}
	return false
}

// probeLabel is a DNS label no one can guess.
func probeLabel() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "dbx" + hex.EncodeToString(b), nil
}

// probeName is the name of the learning query: under .invalid (RFC 6761),
// so no resolver that receives it asks further.
func probeName(label string) string { return label + ".devbox-probe.invalid." }

// probeDNS asks server for the probe name once and waits for any answer
// (the resolver answers SERVFAIL once every upstream refused it).
func probeDNS(ctx context.Context, server netip.AddrPort, label string) {
	q := new(dns.Msg)
	q.SetQuestion(probeName(label), dns.TypeA)
	// Marked: with the resolver, only marked sockets reach 127.0.0.11.
	c := &dns.Client{Net: "udp", Timeout: learnWait, Dialer: &net.Dialer{Timeout: learnWait, Control: markControl}}
	_, _, _ = c.ExchangeContext(ctx, q, server.String())
}

// denyAllPayload sets the built-in chains' policies to DROP; devbox's
// chains, hooked first, decide before any policy applies.
const denyAllPayload = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n"

// DenyAll drops everything in and out of the current network namespace, in
// both families, before anything else is read: the gateway does this first,
// as a new namespace starts with no rules at all. IPv6 that cannot be
// closed this way is turned off.
func DenyAll(ctx context.Context, run runner.Runner) error {
	a := &applier{run: run}
	err := a.restore(ctx, familyV4, denyAllPayload)
	if err != nil {
		return fmt.Errorf("deny all (IPv4): %w", err)
	}
	if _, statErr := os.Stat("/proc/net/if_inet6"); statErr != nil {
		return nil
	}
	if err := a.restore(ctx, familyV6, denyAllPayload); err != nil {
		if _, derr := disableIPv6(); derr != nil {
			return fmt.Errorf("deny all (IPv6): %w; turning IPv6 off failed too: %w", err, derr)
		}
	}
	return nil
}

// unprivilegedPortStart is the sysctl the gateway checks.
const unprivilegedPortStart = "/proc/sys/net/ipv4/ip_unprivileged_port_start"

// CheckPortStart makes sure no non-root process of the namespace (the agent
// in dev shares it) may bind a port below contract.UnprivilegedPortStart:
// Docker sets the sysctl to 0 in every container. compose.yaml sets it
// back; this sets it when it can, and fails when it is still lower.
func CheckPortStart() error {
	return checkPortStart(unprivilegedPortStart)
}

func checkPortStart(path string) error {
	want := contract.UnprivilegedPortStart
	read := func() (int, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(strings.TrimSpace(string(data)))
	}
	v, err := read()
	if err != nil {
		return fmt.Errorf("read net.ipv4.ip_unprivileged_port_start: %w", err)
	}
	if v >= want {
		return nil
	}
	werr := os.WriteFile(path, []byte(strconv.Itoa(want)), 0o644)
	if v, err = read(); err == nil && v >= want {
		return nil
	}
	return errors.Join(fmt.Errorf("net.ipv4.ip_unprivileged_port_start is %d: the agent could bind ports below %d that the gateway shares; set it with `sysctls` on the gateway service", v, want), werr)
}

// Gateway is the gateway container's main process up to staying up: deny
// everything, check the shared namespace's settings, then apply and verify
// the allowlist (Run). The markers say how it went, as for Run.
func Gateway(ctx context.Context, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	if err := DenyAll(ctx, opts.Runner); err != nil {
		s := &Summary{Config: opts.ConfigPath, Error: err.Error(), Time: time.Now().UTC()}
		s.Pid1Start, _ = Pid1Start()
		return s, errors.Join(err, writeMarker(opts.RunDir, s))
	}
	if err := CheckPortStart(); err != nil {
		s := &Summary{Config: opts.ConfigPath, Error: err.Error(), Time: time.Now().UTC()}
		s.Pid1Start, _ = Pid1Start()
		return s, errors.Join(err, writeMarker(opts.RunDir, s))
	}
	opts.Resolver = true
	// Audit mode never outlives a start: its sets are new, and so is
	// this marker's absence.
	auditMarker := filepath.Join(opts.RunDir, contract.AuditMarkerName)
	if err := os.Remove(auditMarker); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &Summary{Config: opts.ConfigPath, Error: err.Error()}, fmt.Errorf("remove the audit marker: %w", err)
	}
	s, r, err := runKeep(ctx, opts)
	if err != nil || r == nil || r.live == nil {
		return s, err
	}
	socket := filepath.Join(opts.RunDir, filepath.Base(contract.ControlSocket))
	if err := r.live.serveControl(ctx, socket); err != nil {
		// The firewall stands as applied; only live changes are lost.
		s.Warnings = append(s.Warnings, "no live policy changes: "+err.Error())
	}
	return s, nil
}
