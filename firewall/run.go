//go:build linux

package firewall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/filelock"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// DefaultTimeout bounds the gathering of a run (DNS and HTTP sources).
const DefaultTimeout = 60 * time.Second

// Options configures Run. The zero value (with Runner set) applies the
// default config.
type Options struct {
	// ConfigPath is the allowlist file; allowlist.DefaultConfigPath when empty.
	ConfigPath string
	// DryRun prints the rules and set contents to Out instead of applying
	// them; it needs no privilege and writes no marker.
	DryRun bool
	// Timeout bounds gathering; DefaultTimeout when zero.
	Timeout time.Duration
	// RunDir holds the status markers; DefaultRunDir when empty.
	RunDir string
	// ResolvConf is read for the resolvers; allowlist.DefaultResolvConf when empty.
	ResolvConf string
	// NFLogGroup receives rejected packets; DefaultNFLogGroup when zero.
	NFLogGroup int
	// Gather overrides the gathering options (tests point DNS elsewhere).
	Gather GatherOptions
	// Resolver runs the filtering resolver (the gateway): names are
	// allowed as they are answered, not resolved at start, and every DNS
	// packet of the namespace goes to it. The resolver lives until the
	// context given to Run ends.
	Resolver bool
	// AuditDir holds the audit log the gateway writes (with Resolver);
	// DefaultAuditDir when empty.
	AuditDir string
	// NoAudit turns the audit log off (benchmarks measure its cost).
	NoAudit bool
	// Runner runs iptables-restore.
	Runner runner.Runner
	// Out receives the dry-run output.
	Out io.Writer
}

func (o Options) withDefaults() Options {
	if o.ConfigPath == "" {
		o.ConfigPath = allowlist.DefaultConfigPath
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RunDir == "" {
		o.RunDir = DefaultRunDir
	}
	if o.ResolvConf == "" {
		o.ResolvConf = allowlist.DefaultResolvConf
	}
	if o.NFLogGroup == 0 {
		o.NFLogGroup = DefaultNFLogGroup
	}
	if o.AuditDir == "" {
		o.AuditDir = DefaultAuditDir
	}
	if o.Gather.ResolvConf == "" {
		o.Gather.ResolvConf = o.ResolvConf
	}
	if o.Runner == nil {
		o.Runner = runner.Local{}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// SudoInvoked reports whether the process was started by a non-root user
// with root's effective uid (sudo, a setuid wrapper). Such a run must not
// let its caller choose the config, the marker directory or the environment.
func SudoInvoked() bool {
	return os.Getenv("SUDO_UID") != "" || os.Getuid() != 0 && os.Geteuid() == 0
}

// Restrict returns o with everything a non-root caller could use to loosen
// the firewall reset to the root-owned defaults. Call it when SudoInvoked
// (the environment is cleared for every run: ResetEnvironment).
func (o Options) Restrict() Options {
	return Options{DryRun: o.DryRun, Timeout: o.Timeout, Runner: o.Runner, Out: o.Out, Resolver: o.Resolver}
}

// Run applies the allowlist of the config to the current network namespace
// and verifies it, failing closed: whatever goes wrong, devbox's
// default-deny chains are in place when it returns (with what could be
// gathered), and the error says what failed. It writes the ready marker
// only on full success, the failed marker otherwise.
//
// The order makes sure egress is never open: on a box without devbox's
// rules, the closed rules (empty allowlist) go in before anything is
// fetched; the sources are then fetched through them (root alone may reach
// the source hosts meanwhile); the new sets are filled beside the live ones
// and swapped in; and the final rules replace the chains in one
// iptables-restore transaction per family.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	s, _, err := runKeep(ctx, opts)
	return s, err
}

// runKeep is Run, returning the state of a successful apply as well: the
// gateway keeps it to change the policy live.
func runKeep(ctx context.Context, opts Options) (*Summary, *run, error) {
	start := time.Now()
	opts = opts.withDefaults()
	if opts.DryRun {
		s, err := dryRun(ctx, opts, start)
		return s, nil, err
	}
	// The markers of an earlier run must not be read as this one's.
	markerErr := clearMarkers(opts.RunDir)
	s := &Summary{Config: opts.ConfigPath}
	err := CheckNetAdmin()
	var r *run
	if err == nil {
		var unlock func()
		if unlock, err = lockRuns(opts.RunDir); err == nil {
			r, err = applyOrRecover(ctx, opts, s)
			unlock()
		}
	}
	if err == nil && markerErr != nil {
		err = markerErr
	}
	s.OK = err == nil
	if err != nil {
		s.Error = err.Error()
	}
	s.DurationMS = time.Since(start).Milliseconds()
	s.Time = time.Now().UTC()
	s.Pid1Start, _ = Pid1Start()
	if werr := writeMarker(opts.RunDir, s); werr != nil {
		err = errors.Join(err, werr)
		s.OK = false
	}
	if err != nil {
		r = nil
	}
	return s, r, err
}

// applyOrRecover turns a panic into an error, so that even a bug ends with
// the failed marker written.
func applyOrRecover(ctx context.Context, opts Options, s *Summary) (r *run, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("init-firewall bug: %v\n%s", p, debug.Stack())
		}
	}()
	r = &run{opts: opts, cfg: &allowlist.Config{}, summary: s}
	return r, r.apply(ctx)
}

// lockRuns makes a second init-firewall (a manual re-run during the
// entrypoint's) wait until the first is done: both would use the same
// temporary sets.
func lockRuns(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock firewall runs: %w", err)
	}
	l, err := filelock.Acquire(context.Background(), filepath.Join(dir, "firewall.lock"))
	if err != nil {
		return nil, fmt.Errorf("lock firewall runs: %w", err)
	}
	return func() { l.Unlock() }, nil
}

// run is the state of one apply.
type run struct {
	opts Options
	host Host
	cfg  *allowlist.Config
	fams []family
	a    *applier
	// summary collects counts and warnings as the run goes.
	summary *Summary
	// noSet is set when the allowlist sets could not be made.
	noSet bool
	// learnLabel is the label of the DNS probe while learning.
	learnLabel string
	// lookup resolves the gateway's own names (the sources' hosts) when
	// set; otherwise they go through resolv.conf.
	lookup *startLookup
	// list is what was gathered and applied.
	list *Allowlist
	// live is the gateway's live policy, once its resolver runs.
	live *live
}

func (r *run) apply(ctx context.Context) error {
	opts, s := r.opts, r.summary
	mark := time.Now()
	defer s.step("verify", &mark)
	// Whatever fails before the rules are in is remembered, not returned:
	// the box must end closed even then.
	var early []error
	var err error
	r.host, err = ReadHost(opts.ResolvConf)
	if err != nil {
		early = append(early, fmt.Errorf("apply firewall: %w", err))
	}
	conn, err := openIpset()
	if err != nil {
		early = append(early, fmt.Errorf("apply firewall: %w", err))
	} else {
		defer conn.Close()
	}
	r.a = &applier{run: opts.Runner, ipset: conn}
	// The hooks are read by other processes while this one reads the config.
	r.a.inspectAhead(familyV4)
	if r.host.IPv6 {
		r.a.inspectAhead(familyV6)
	}
	cfg, cfgErr := allowlist.LoadConfig(opts.ConfigPath)
	if cfgErr == nil {
		r.cfg = cfg
	}
	if err := r.chooseFamilies(s); err != nil {
		early = append(early, err)
	}
	// Close first: nothing is looked up or fetched before the rules are in.
	// A re-run finds devbox's rules live (and closed) already.
	live := r.rulesLive()
	switch {
	case live && cfgErr != nil:
		early = append(early, fmt.Errorf("firewall left as it was (closed): %w", cfgErr))
	case cfgErr != nil:
		early = append(early, fmt.Errorf("firewall closed (empty allowlist): %w", cfgErr))
	}
	// A run that reaches nothing before its final rules (no sources, no
	// domains resolved at start) skips the closed load: the namespace is
	// no more open meanwhile than it was before this run, and the final
	// rules come one iptables-restore per family sooner.
	if !live && (len(early) > 0 || r.gathersOnline()) {
		if err := r.load(ctx, nil); err != nil {
			return errors.Join(append(early, err)...)
		}
	}
	if len(early) > 0 {
		return errors.Join(early...)
	}
	var ups upstreamChoice
	if opts.Resolver && len(r.cfg.UpstreamAddrs()) > 0 {
		// The config names the upstreams: nothing to learn.
	} else if err := r.learnUpstreams(ctx); err != nil {
		return err
	}
	if opts.Resolver {
		if ups, err = r.chooseUpstreams(); err != nil {
			return err
		}
		r.lookup = upstreamLookup(ups.addrs)
		r.opts.Gather.SkipDomains = true
	}
	if fetch := r.fetchHosts(ctx); len(fetch) > 0 {
		if err := r.load(ctx, fetch); err != nil {
			return err
		}
	}
	s.step("close", &mark)

	gctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	list, warnings, gatherErr := Gather(gctx, r.cfg, r.opts.Gather)
	cancel()
	if list == nil {
		list = &Allowlist{}
	}
	r.list = list
	s.fromAllowlist(r.cfg, list, warnings)
	s.step("gather", &mark)

	var errs []error
	if gatherErr != nil {
		errs = append(errs, fmt.Errorf("gather allowlist: %w", gatherErr))
	}
	setErr := r.replaceSets(list)
	if setErr != nil {
		errs = append(errs, setErr)
	}
	if len(r.fams) == 1 {
		s.PrefixesV6 = 0 // gathered, but IPv6 is off
	}
	s.step("sets", &mark)
	// Always reload: this also drops the temporary rules for the sources.
	if err := r.load(ctx, nil); err != nil {
		return errors.Join(append(errs, err)...)
	}
	s.step("rules", &mark)
	if setErr == nil {
		n, err := r.forget(list)
		s.ConntrackFlushed = n
		if err != nil {
			s.Warnings = append(s.Warnings, err.Error())
		}
	}
	s.step("conntrack", &mark)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if opts.Resolver {
		if err := r.startResolver(ctx, ups); err != nil {
			return err
		}
		s.step("resolver", &mark)
	}
	n, skipped, err := Verify(ctx, r.cfg.Verify, len(r.fams) == 2)
	s.Verified = n
	for _, target := range skipped {
		s.Warnings = append(s.Warnings, fmt.Sprintf("verify: %s skipped: IPv6 is %s", target, s.IPv6))
	}
	return err
}

// chooseFamilies decides what to do with IPv6 and makes sure the live sets
// exist before any rule refers to them. On error the rules leave the sets
// out (r.noSet) and IPv4 is still filtered.
func (r *run) chooseFamilies(s *Summary) error {
	r.fams = []family{familyV4}
	var errs []error
	if !r.host.IPv6 {
		s.IPv6 = "absent"
	} else if why := r.a.ip6Filtering(); why != nil {
		if err := r.disableIPv6(s, why); err != nil {
			errs = append(errs, err)
		}
	} else {
		s.IPv6 = "filtered"
		r.fams = append(r.fams, familyV6)
	}
	for _, f := range r.fams {
		if r.a.ipset == nil {
			r.noSet = true
			break
		}
		for _, name := range []string{f.set, f.dnsSet} {
			if err := r.a.ensureSet(f, name); err != nil {
				r.noSet = true
				errs = append(errs, fmt.Errorf("apply firewall: %w", err))
			}
		}
		for _, set := range []struct {
			name, typ string
			timeout   bool
		}{{f.portSet, typeNetPort, false}, {f.nameSet, typeIPPort, true}, {f.auditSet, typeNet, true}} {
			if set.name == f.auditSet && !r.opts.Resolver {
				continue
			}
			if err := r.a.ensureTypedSet(f, set.name, set.typ, set.timeout); err != nil {
				r.noSet = true
				errs = append(errs, fmt.Errorf("apply firewall: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// disableIPv6 turns IPv6 off after why showed it cannot be filtered.
func (r *run) disableIPv6(s *Summary, why error) error {
	how, err := disableIPv6()
	if err != nil {
		return fmt.Errorf("IPv6 cannot be filtered (%v) nor disabled: %w", why, err)
	}
	s.IPv6 = "disabled"
	s.Warnings = append(s.Warnings, fmt.Sprintf("IPv6 cannot be filtered (%v): %s", why, how))
	return nil
}

// load replaces devbox's chains of every family, with root-only rules for
// the source hosts in fetch. Rules that do not load fall back to the
// minimal rules, then (IPv4) to a DROP policy on OUTPUT, or (IPv6) to
// turning IPv6 off; a fallback is an error, but a closed one.
func (r *run) load(ctx context.Context, fetch []netip.AddrPort) error {
	// A run interrupted (SIGTERM) while gathering must still get to its
	// closed rules: loads ignore cancellation, bounded by their own timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	errs := make([]error, len(r.fams))
	var wg sync.WaitGroup
	for i, f := range r.fams {
		wg.Go(func() {
			rs := r.host.ruleset(f, r.cfg, r.opts.NFLogGroup)
			rs.NoSet = r.noSet
			rs.Resolver = r.opts.Resolver
			rs.LearnLabel = r.learnLabel
			for _, ap := range fetch {
				if f.is(ap.Addr()) {
					rs.Fetch = append(rs.Fetch, ap)
				}
			}
			errs[i] = r.a.loadRules(ctx, f, rs)
			if errs[i] == nil || f.name == "v6" {
				return
			}
			rs.Minimal, rs.Fetch = true, nil
			if err := r.a.loadRules(ctx, f, rs); err == nil {
				errs[i] = fmt.Errorf("%w (minimal rules loaded instead)", errs[i])
			} else if err := r.a.restore(ctx, f, emergencyPayload); err == nil {
				errs[i] = fmt.Errorf("%w (OUTPUT policy set to DROP instead)", errs[i])
			} else {
				errs[i] = fmt.Errorf("%w; IPv4 egress could not be closed: %w", errs[i], err)
			}
		})
	}
	wg.Wait()
	if err := errs[0]; err != nil {
		return fmt.Errorf("apply firewall: %w", err)
	}
	if len(errs) > 1 && errs[1] != nil {
		r.fams = r.fams[:1]
		if err := r.disableIPv6(r.summary, errs[1]); err != nil {
			return err
		}
	}
	return nil
}

// gathersOnline reports whether gathering reaches the network: the hosts
// of the sources, or the domains, when they are resolved at start (the
// single-container layout).
func (r *run) gathersOnline() bool {
	domains := len(r.cfg.Domains)+len(r.cfg.OptionalDomains) > 0 && !r.opts.Resolver && !r.opts.Gather.SkipDomains
	return domains || r.cfg.GitHub != nil || r.cfg.AWS != nil
}

// rulesLive reports whether devbox's chains are hooked in, first, for
// every family: then the box is closed already.
func (r *run) rulesLive() bool {
	for _, f := range r.fams {
		if h, err := r.a.hookChange(f); err != nil || h != (Hooks{}) {
			return false
		}
	}
	return !r.noSet
}

// containsSorted reports whether a is in one of ps, which are sorted and do
// not overlap (as Gather returns them): a binary search, so that a run
// with a long allowlist builds nothing to check its connections against.
func containsSorted(ps []netip.Prefix, a netip.Addr) bool {
	// The first prefix that starts after a; the one before it is the only
	// one that can hold a.
	i, _ := slices.BinarySearchFunc(ps, a, func(p netip.Prefix, a netip.Addr) int {
		if p.Addr().Compare(a) > 0 {
			return 1
		}
		return -1
	})
	return i > 0 && ps[i-1].Contains(a)
}

// fetchHosts resolves the hosts of the HTTP sources, which init-firewall
// must reach while gathering, and pins the sources' HTTP client to the
// addresses found: a second lookup could answer others (round-robin DNS),
// which the rules would refuse. A name that does not resolve is left out:
// its source then fails (or falls back to its cache) with a clear error.
func (r *run) fetchHosts(ctx context.Context) []netip.AddrPort {
	var urls []string
	if r.cfg.GitHub != nil {
		urls = append(urls, r.cfg.GitHub.URL)
	}
	if r.cfg.AWS != nil {
		urls = append(urls, r.cfg.AWS.URL)
	}
	var out []netip.AddrPort
	pins := map[string][]netip.Addr{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		port := 443
		if u.Scheme == "http" {
			port = 80
		}
		if p, err := strconv.Atoi(u.Port()); err == nil {
			port = p
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, _ := lookupWith(lctx, r.lookup, u.Hostname())
		cancel()
		for _, a := range addrs {
			out = append(out, netip.AddrPortFrom(a, uint16(port)))
		}
		pins[u.Hostname()] = append(pins[u.Hostname()], addrs...)
	}
	if r.opts.Gather.HTTPClient == nil && len(pins) > 0 {
		r.opts.Gather.HTTPClient = pinnedClient(pins)
	}
	return out
}

// pinnedClient is an HTTP client for the sources that connects to a pinned
// host only at the addresses given, and uses no proxy.
func pinnedClient(pins map[string][]netip.Addr) *http.Client {
	d := markedDialer()
	dial := func(ctx context.Context, network, hostport string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(hostport)
		addrs, pinned := pins[host]
		if err != nil || !pinned {
			return d.DialContext(ctx, network, hostport)
		}
		var errs []error
		for _, a := range addrs {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", hostport, errors.Join(errs...))
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dial,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			ForceAttemptHTTP2:     true,
		},
	}
}

// replaceSets swaps the gathered prefixes into the live sets, the static
// CIDRs with ports into the port sets and, without the resolver, the
// domains' addresses into the name sets (with no timeout: this layout
// resolves them once per start). The resolver's name sets are its own.
func (r *run) replaceSets(list *Allowlist) error {
	var errs []error
	for _, f := range r.fams {
		prefixes := list.V4
		if f.name == "v6" {
			prefixes = list.V6
		}
		if err := r.a.replaceSet(f, prefixes); err != nil {
			errs = append(errs, fmt.Errorf("apply allowlist: %w", err))
		}
		var ports []portEntry
		for _, rule := range list.PortRules {
			if f.is(rule.Prefix.Addr()) {
				for _, p := range rule.Ports {
					ports = append(ports, portEntry{prefix: rule.Prefix, port: p})
				}
			}
		}
		if err := r.a.replaceTypedSet(f, f.portSet, typeNetPort, ports, false); err != nil {
			errs = append(errs, fmt.Errorf("apply allowlist: %w", err))
		}
		if r.opts.Resolver {
			continue
		}
		var names []portEntry
		for name, addrs := range list.Domains {
			for _, a := range addrs {
				if f.is(a) {
					for _, p := range list.DomainPorts[name] {
						names = append(names, portEntry{prefix: netip.PrefixFrom(a, a.BitLen()), port: p})
					}
				}
			}
		}
		if err := r.a.replaceTypedSet(f, f.nameSet, typeIPPort, names, true); err != nil {
			errs = append(errs, fmt.Errorf("apply allowlist: %w", err))
		}
	}
	return errors.Join(errs...)
}

// forget cuts the connections the box opened to destinations that are no
// longer allowed (connections to still-allowed ones stay up).
func (r *run) forget(list *Allowlist) (uint, error) {
	gateways := map[netip.Addr]bool{}
	for _, gw := range r.host.Gateways {
		gateways[gw] = true
	}
	for _, p := range r.host.LocalNets {
		gateways[bridgeHost(p)] = true
	}
	allowed := func(dst netip.Addr, proto uint8, port uint16) bool {
		local := r.cfg.AllowLocalNetworks && slices.ContainsFunc(r.host.LocalNets, func(p netip.Prefix) bool { return p.Contains(dst) }) &&
			(len(r.cfg.ServicePorts) == 0 || proto == 6 && slices.Contains(r.cfg.ServicePorts, int(port)))
		inList := containsSorted(list.V4, dst) || containsSorted(list.V6, dst) || local || proto == protoTCP && list.allowsPort(dst, port)
		switch {
		case inList && !gateways[dst]:
			return true
		case port == 53 && (proto == 6 || proto == 17):
			return true // DNS: the uid is not in conntrack; keep it
		case gateways[dst] && proto == 6:
			return slices.Contains(r.cfg.HostPorts, int(port))
		}
		return false
	}
	return forgetRemoved(r.fams, r.host.Addrs, allowed)
}

// fromAllowlist fills the counts of s.
func (s *Summary) fromAllowlist(cfg *allowlist.Config, list *Allowlist, warnings []Warning) {
	if list == nil {
		return
	}
	s.PrefixesV4, s.PrefixesV6 = len(list.V4), len(list.V6)
	s.Domains = len(cfg.Domains) + len(cfg.OptionalDomains)
	s.DomainsResolved = len(list.Domains)
	for _, src := range list.Sources {
		name := src.Name
		if src.Cached {
			name += "(cache)"
		}
		s.Sources = append(s.Sources, name)
	}
	for _, w := range warnings {
		s.Warnings = append(s.Warnings, w.String())
	}
}

// dryRun gathers and prints what Run would apply, changing nothing.
func dryRun(ctx context.Context, opts Options, start time.Time) (*Summary, error) {
	s := &Summary{Config: opts.ConfigPath, DryRun: true}
	cfg, err := allowlist.LoadConfig(opts.ConfigPath)
	if err != nil {
		return s, err
	}
	host, err := ReadHost(opts.ResolvConf)
	if err != nil {
		return s, err
	}
	gctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	list, warnings, gatherErr := Gather(gctx, cfg, opts.Gather)
	cancel()
	s.fromAllowlist(cfg, list, warnings)
	s.IPv6 = "filtered"
	if !host.IPv6 {
		s.IPv6 = "absent"
	}
	w := opts.Out
	for _, f := range []family{familyV4, familyV6} {
		prefixes := list.V4
		if f.name == "v6" {
			prefixes = list.V6
		}
		fmt.Fprintf(w, "# %s --noflush\n%s", f.restore, host.ruleset(f, cfg, opts.NFLogGroup).Restore(FirstRunHooks))
		fmt.Fprintf(w, "# ipset (loaded over netlink; same as `ipset restore`)\n%s", IpsetRestoreScript(f.set, f.ipsetName, prefixes))
	}
	s.DurationMS = time.Since(start).Milliseconds()
	s.Time = time.Now().UTC()
	if gatherErr != nil {
		s.Error = gatherErr.Error()
		return s, fmt.Errorf("gather allowlist: %w", gatherErr)
	}
	s.OK = true
	return s, nil
}

// CheckNetAdmin returns a clear error when the process lacks CAP_NET_ADMIN
// in its effective set (it reads /proc/self/status; no privilege needed).
func CheckNetAdmin() error {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("check privilege: %w", err)
	}
	return checkNetAdmin(string(data))
}

// checkNetAdmin reads the CapEff line of a /proc/PID/status text.
func checkNetAdmin(status string) error {
	for line := range strings.SplitSeq(status, "\n") {
		hex, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return fmt.Errorf("check privilege: parse CapEff %q: %w", strings.TrimSpace(hex), err)
		}
		const capNetAdmin = 12
		if caps&(1<<capNetAdmin) == 0 {
			return errors.New("init-firewall needs CAP_NET_ADMIN: run it as root in a container started with --cap-add NET_ADMIN (capAdd in devcontainer.json); --dry-run needs no privilege")
		}
		return nil
	}
	return errors.New("check privilege: no CapEff line in /proc/self/status")
}
