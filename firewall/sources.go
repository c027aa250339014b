//go:build linux

package firewall

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"go4.org/netipx"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// Allowlist is what Gather collected: the prefixes to put in the allow sets
// and where they came from.
type Allowlist struct {
	// V4 and V6 are merged, de-duplicated and sorted. No entry is shorter
	// than /8 (IPv4) or /16 (IPv6): merged runs are split back to that size.
	V4, V6 []netip.Prefix
	// Domains maps each domain that resolved (lower case, no trailing dot)
	// to its sorted addresses. They are not in V4 and V6: they are allowed
	// on their rule's ports only (DomainPorts), in the name sets.
	Domains map[string][]netip.Addr
	// DomainPorts maps each domain to the TCP ports its entries name.
	DomainPorts map[string][]uint16
	// PortRules are the static CIDRs that name ports; they are not in V4
	// and V6 either.
	PortRules []allowlist.CIDRRule
	// Published are the prefixes of the published sources (GitHub, AWS),
	// merged: a live reload keeps them without fetching again.
	Published []netip.Prefix
	// Sources reports each source that was configured, in a fixed order:
	// "cidrs", "dns", "github", "aws".
	Sources []SourceResult
}

// SourceResult says what one source contributed.
type SourceResult struct {
	Name     string        `json:"name"`               // "cidrs", "dns", "github" or "aws"
	Prefixes int           `json:"prefixes"`           // entries it gathered, before merging
	Cached   bool          `json:"cached,omitempty"`   // answer taken from the cache because the fetch failed
	Error    string        `json:"error,omitempty"`    // why the source (or part of it) failed
	Duration time.Duration `json:"duration,omitempty"` // time spent gathering
}

// Warning is a problem that does not fail the gathering: an optional domain
// that did not resolve, a cached answer used, a cache that could not be
// written.
type Warning struct {
	Source  string `json:"source"`
	Message string `json:"message"`
}

// String returns the warning as "source: message".
func (w Warning) String() string { return w.Source + ": " + w.Message }

// GatherOptions tunes Gather. The zero value is what init-firewall uses.
type GatherOptions struct {
	// ResolvConf names the resolv.conf whose nameservers are asked
	// (default allowlist.DefaultResolvConf). Tests always set it.
	ResolvConf string
	// DNSPort is the port of those nameservers (default 53); resolv.conf
	// cannot carry one, so tests with a server on a free port set it.
	DNSPort int
	// DNSTimeout bounds one query to one server (default 2s).
	DNSTimeout time.Duration
	// DNSAttempts is how many rounds over all nameservers a query gets (default 2).
	DNSAttempts int
	// HTTPClient fetches the GitHub and AWS documents (default: a client with
	// connect, header and overall timeouts that ignores proxy variables).
	HTTPClient *http.Client
	// HTTPAttempts is how many times a fetch is tried (default 4).
	HTTPAttempts int
	// RetryBackoff is the wait before the second attempt; it doubles after
	// each attempt, up to 8 times this value (default 500ms).
	RetryBackoff time.Duration
	// SkipDomains leaves the domains out: the gateway's resolver allows
	// their addresses as they are answered.
	SkipDomains bool
}

func (o GatherOptions) withDefaults() GatherOptions {
	if o.ResolvConf == "" {
		o.ResolvConf = allowlist.DefaultResolvConf
	}
	if o.DNSPort == 0 {
		o.DNSPort = 53
	}
	if o.DNSTimeout == 0 {
		o.DNSTimeout = 2 * time.Second
	}
	if o.DNSAttempts == 0 {
		o.DNSAttempts = 2
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.HTTPAttempts == 0 {
		o.HTTPAttempts = 4
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = 500 * time.Millisecond
	}
	return o
}

// sourceOutput is what one source hands back to Gather.
type sourceOutput struct {
	result   SourceResult
	prefixes []netip.Prefix
	domains  map[string][]netip.Addr
	// domainPorts and portRules are what the name and port sets get.
	domainPorts map[string][]uint16
	portRules   []allowlist.CIDRRule
	warnings    []Warning
	err         error
}

// Gather collects the allowlist of cfg from its sources concurrently: the
// static CIDRs, the A/AAAA records of the domains, and the GitHub and AWS
// ranges when configured. Every prefix is checked; a catch-all from any
// source is an error, never applied.
//
// When a required source fails (a required domain that does not resolve, a
// fetch that fails with no cached answer), Gather still returns everything
// the other sources gathered, together with an error naming each failure, so
// the caller can apply the partial list and fail closed. Warnings report
// what did not fail the run. ctx bounds the whole gathering.
func Gather(ctx context.Context, cfg *allowlist.Config, opts GatherOptions) (*Allowlist, []Warning, error) {
	opts = opts.withDefaults()
	cacheDir := cfg.CacheDir
	if cacheDir == "" {
		cacheDir = allowlist.DefaultCacheDir
	}
	f := &fetcher{client: opts.HTTPClient, attempts: opts.HTTPAttempts, backoff: opts.RetryBackoff, cacheDir: cacheDir}

	cidrs := gatherCIDRs(cfg.CIDRs)
	outs := []*sourceOutput{cidrs}
	var run []func() *sourceOutput
	if len(cfg.Domains)+len(cfg.OptionalDomains) > 0 && !opts.SkipDomains {
		run = append(run, func() *sourceOutput { return gatherDNS(ctx, cfg.Domains, cfg.OptionalDomains, opts) })
	}
	if cfg.GitHub != nil {
		run = append(run, func() *sourceOutput { return gatherGitHub(ctx, f, cfg.GitHub) })
	}
	if cfg.AWS != nil {
		run = append(run, func() *sourceOutput { return gatherAWS(ctx, f, cfg.AWS) })
	}
	results := make([]*sourceOutput, len(run))
	var wg sync.WaitGroup
	for i, fn := range run {
		wg.Go(func() {
			start := time.Now()
			results[i] = fn()
			results[i].result.Duration = time.Since(start)
		})
	}
	wg.Wait()
	outs = append(outs, results...)

	list := &Allowlist{Domains: map[string][]netip.Addr{}, DomainPorts: map[string][]uint16{}, PortRules: cidrs.portRules}
	var b, published netipx.IPSetBuilder
	var warnings []Warning
	var errs []error
	for _, o := range outs {
		for _, p := range o.prefixes {
			b.AddPrefix(p)
			if o != cidrs {
				published.AddPrefix(p)
			}
		}
		for d, addrs := range o.domains {
			list.Domains[d] = addrs
		}
		for d, ports := range o.domainPorts {
			list.DomainPorts[d] = ports
		}
		warnings = append(warnings, o.warnings...)
		if o.err != nil {
			errs = append(errs, o.err)
			o.result.Error = o.err.Error()
		}
		list.Sources = append(list.Sources, o.result)
	}
	set, err := b.IPSet()
	if err != nil {
		errs = append(errs, fmt.Errorf("merge allowlist: %w", err))
	} else {
		list.V4, list.V6 = splitFamilies(set.Prefixes())
	}
	if pub, err := published.IPSet(); err == nil {
		list.Published = pub.Prefixes()
	}
	return list, warnings, errors.Join(errs...)
}

// splitFamilies separates merged prefixes by family and splits any that the
// merge made shorter than /8 (IPv4) or /16 (IPv6), so the result never holds
// what would look like a catch-all.
func splitFamilies(merged []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range merged {
		if p.Addr().Is4() {
			v4 = append(v4, splitTo(p, 8)...)
		} else {
			v6 = append(v6, splitTo(p, 16)...)
		}
	}
	return v4, v6
}

// splitTo returns p as prefixes of at least bits bits.
func splitTo(p netip.Prefix, bits int) []netip.Prefix {
	if p.Bits() >= bits {
		return []netip.Prefix{p}
	}
	var out []netip.Prefix
	r := netipx.RangeOfPrefix(p)
	for a := r.From(); r.Contains(a); {
		q := netip.PrefixFrom(a, bits)
		out = append(out, q)
		last := netipx.PrefixLastIP(q)
		if last == r.To() {
			break
		}
		a = last.Next()
	}
	return out
}

// gatherCIDRs parses the static prefixes (already checked by Validate, but
// an allowlist.Config built in code may not have been). Those that name
// ports go to the port sets, the others to the allow sets.
func gatherCIDRs(cidrs []string) *sourceOutput {
	o := &sourceOutput{result: SourceResult{Name: "cidrs"}}
	var errs []error
	for i, s := range cidrs {
		rule, err := allowlist.ParseCIDREntry(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("cidrs[%d] %q: %w", i, s, err))
			continue
		}
		if len(rule.Ports) > 0 {
			o.portRules = append(o.portRules, rule)
			continue
		}
		o.prefixes = append(o.prefixes, rule.Prefix)
	}
	o.result.Prefixes = len(o.prefixes) + len(o.portRules)
	if len(errs) > 0 {
		o.err = fmt.Errorf("gather static cidrs: %w", errors.Join(errs...))
	}
	return o
}

// addrPrefix returns the single-address prefix of a, or an error when a is
// not something the firewall may allow (unspecified, IPv4-mapped).
func addrPrefix(a netip.Addr) (netip.Prefix, error) {
	a = a.WithZone("")
	if a.IsUnspecified() {
		return netip.Prefix{}, fmt.Errorf("address %s is unspecified", a)
	}
	p := netip.PrefixFrom(a, a.BitLen())
	if err := allowlist.CheckPrefix(p); err != nil {
		return netip.Prefix{}, fmt.Errorf("address %s: %w", a, err)
	}
	return p, nil
}

// normalizeDomain is the form domains are resolved and reported in.
func normalizeDomain(d string) string {
	return strings.ToLower(strings.TrimSuffix(d, "."))
}

func sortAddrs(addrs []netip.Addr) []netip.Addr {
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs)
}

// allowsPort reports whether TCP to dst on port is allowed by a static CIDR
// with ports or by a domain's address on its ports.
func (l *Allowlist) allowsPort(dst netip.Addr, port uint16) bool {
	for _, rule := range l.PortRules {
		if rule.Prefix.Contains(dst) && slices.Contains(rule.Ports, port) {
			return true
		}
	}
	for name, addrs := range l.Domains {
		if slices.Contains(addrs, dst) && slices.Contains(l.DomainPorts[name], port) {
			return true
		}
	}
	return false
}
