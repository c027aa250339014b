//go:build linux

package firewall

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"go4.org/netipx"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/firewall/control"
	"github.com/devbox-sandbox/devbox/firewall/resolver"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// live is the gateway's policy while it runs: the config in force, what
// the resolver answered for which name, and audit mode. The control
// socket changes it; every change is one at a time (mu).
//
// What the resolver allowed is remembered by name (grants), so that a
// deny can take a name's addresses back out of the name sets, unless
// another name the policy still allows was answered with them.
type live struct {
	mu   sync.Mutex
	r    *run // the start's apply: host facts, families, options
	srv  *resolver.Server
	sets *NameSets
	cfg  *allowlist.Config
	list *Allowlist
	// stale says the sets may not hold list (a change failed half way).
	stale bool
	// base is the policy of cfg; resolver allows are checked against it
	// under gate.
	base atomic.Pointer[allowlist.Policy]
	// static are the CIDRs the resolver may answer inward addresses in.
	static atomic.Pointer[[]netip.Prefix]
	// gate is held shared by every resolver allow (the kernel write and
	// its record) and exclusively by a change of policy: no allow decided
	// under the old policy lands after the change has pruned the sets.
	gate   sync.RWMutex
	grants grantTable
	// auditUntil is when audit mode ends (zero: off); auditTimer ends it.
	auditUntil atomic.Pointer[time.Time]
	auditTimer *time.Timer
	// record receives policy changes and audit mode's start and end for
	// the audit log; nil-safe.
	record func(audit.Record)
	now    func() time.Time
}

// newLive keeps the state of a successful apply.
func newLive(r *run) *live {
	l := &live{r: r, cfg: r.cfg, list: r.list, now: time.Now}
	l.base.Store(r.cfg.Policy())
	static := cidrPrefixes(r.cfg)
	l.static.Store(&static)
	l.auditUntil.Store(&time.Time{})
	l.grants.byName = map[string]map[netip.Addr]grant{}
	return l
}

func cidrPrefixes(cfg *allowlist.Config) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cfg.CIDRRules() {
		out = append(out, c.Prefix)
	}
	return out
}

func (l *live) emit(rec audit.Record) {
	if l.record != nil {
		rec.Time = l.now().UTC()
		l.record(rec)
	}
}

// inward reports whether an allowed CIDR covers a (the resolver may then
// answer it though it points inward).
func (l *live) inward(a netip.Addr) bool {
	return slices.ContainsFunc(*l.static.Load(), func(p netip.Prefix) bool { return p.Contains(a) })
}

// Decide is the resolver's policy: the config's, and while audit mode
// lasts every other name too, without opening anything (audit mode's
// rule lets the traffic through, and ends by the kernel's clock). A name
// a deny entry refuses stays refused. Audit mode ends here on this
// process's clock, whatever the timer does.
func (l *live) Decide(name string) resolver.Decision {
	d := l.base.Load().Decide(name)
	if !d.Allowed && d.Rule == "" && l.now().Before(*l.auditUntil.Load()) {
		return resolver.Decision{Allowed: true, Rule: audit.AuditRule}
	}
	return resolver.Decision{Allowed: d.Allowed, Rule: d.Rule, Ports: d.Ports}
}

// Allow is the resolver's Allower: it checks the name against the policy
// in force now (a query decided before a change may land after it), adds
// the addresses to the name sets and remembers them under the name.
func (l *live) Allow(ctx context.Context, name string, addrs []netip.Addr, ports []uint16, timeout time.Duration) error {
	l.gate.RLock()
	defer l.gate.RUnlock()
	d := l.base.Load().Decide(name)
	ports = intersectPorts(ports, d.Ports)
	if !d.Allowed || len(ports) == 0 {
		return fmt.Errorf("allow %s: no longer allowed (the policy changed meanwhile)", name)
	}
	if err := l.grants.reserve(len(addrs), l.now()); err != nil {
		return err
	}
	if err := l.sets.Allow(ctx, addrs, ports, timeout); err != nil {
		return err
	}
	l.grants.add(name, addrs, ports, l.now().Add(timeout))
	return nil
}

func intersectPorts(a, b []uint16) []uint16 {
	var out []uint16
	for _, p := range a {
		if slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}

// grant is what one answer of a name opened on one address.
type grant struct {
	ports []uint16
	// expires is when the name set's entry runs out.
	expires time.Time
}

// grantTable remembers, per name, the addresses the resolver opened and
// on which ports. Records outlive their entries by grantLinger, so that a
// deny still cuts a connection that outlived its entry.
type grantTable struct {
	mu     sync.Mutex
	byName map[string]map[netip.Addr]grant
	n      int
}

const (
	// maxGrants bounds the records (one per name and address), as the
	// name sets' size bounds their entries. Past it, answers are refused
	// (SERVFAIL) rather than opened without a record.
	maxGrants   = 262144
	grantLinger = time.Hour
)

// reserve makes room for n more records, dropping those long expired;
// it fails when every record is still needed.
func (g *grantTable) reserve(n int, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n+n <= maxGrants {
		return nil
	}
	g.expireLocked(now)
	if g.n+n > maxGrants {
		return fmt.Errorf("allow: %d answered addresses are open already (the most the gateway tracks)", g.n)
	}
	return nil
}

func (g *grantTable) expireLocked(now time.Time) {
	for name, addrs := range g.byName {
		for a, gr := range addrs {
			if now.After(gr.expires.Add(grantLinger)) {
				delete(addrs, a)
				g.n--
			}
		}
		if len(addrs) == 0 {
			delete(g.byName, name)
		}
	}
}

func (g *grantTable) add(name string, addrs []netip.Addr, ports []uint16, expires time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.byName[name]
	if m == nil {
		m = map[netip.Addr]grant{}
		g.byName[name] = m
	}
	for _, a := range addrs {
		a = a.Unmap()
		old, ok := m[a]
		if !ok {
			g.n++
		}
		ps := slices.Clone(ports)
		if ok {
			ps = slices.Compact(slices.Sorted(slices.Values(append(ps, old.ports...))))
			if old.expires.After(expires) {
				expires = old.expires
			}
		}
		m[a] = grant{ports: ps, expires: expires}
	}
}

// nameGrant is one record, by address.
type nameGrant struct {
	name  string
	ports []uint16
}

// index returns the records by address. Call with gate held exclusively.
func (g *grantTable) index() map[netip.Addr][]nameGrant {
	g.mu.Lock()
	defer g.mu.Unlock()
	idx := map[netip.Addr][]nameGrant{}
	for name, addrs := range g.byName {
		for a, gr := range addrs {
			idx[a] = append(idx[a], nameGrant{name, gr.ports})
		}
	}
	return idx
}

// allows reports whether a record of idx opens TCP port on dst under p.
func allows(idx map[netip.Addr][]nameGrant, p *allowlist.Policy, dst netip.Addr, port uint16) bool {
	for _, ng := range idx[dst] {
		if slices.Contains(ng.ports, port) {
			if d := p.Decide(ng.name); d.Allowed && slices.Contains(d.Ports, port) {
				return true
			}
		}
	}
	return false
}

// prune drops from the records what p no longer allows, and returns the
// name set entries that no record p allows still needs.
func (g *grantTable) prune(idx map[netip.Addr][]nameGrant, p *allowlist.Policy) []portEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	var drop []portEntry
	seen := map[portEntry]bool{}
	for name, addrs := range g.byName {
		d := p.Decide(name)
		for a, gr := range addrs {
			keep := intersectPorts(gr.ports, d.Ports)
			if !d.Allowed {
				keep = nil
			}
			for _, port := range gr.ports {
				e := portEntry{prefix: netip.PrefixFrom(a, a.BitLen()), port: port}
				if slices.Contains(keep, port) || seen[e] || allows(idx, p, a, port) {
					continue
				}
				seen[e] = true
				drop = append(drop, e)
			}
			if len(keep) == 0 {
				delete(addrs, a)
				g.n--
			} else {
				addrs[a] = grant{ports: keep, expires: gr.expires}
			}
		}
		if len(addrs) == 0 {
			delete(g.byName, name)
		}
	}
	return drop
}

// restartOnly are the keys a reload does not apply: they take effect at
// the gateway's next start.
func restartOnly(old, cur *allowlist.Config) []string {
	var out []string
	same := func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
	for _, k := range []struct {
		key  string
		a, b any
	}{
		{"upstreams", old.Upstreams, cur.Upstreams},
		{"dns", []any{old.MinTTL(), old.Grace()}, []any{cur.MinTTL(), cur.Grace()}},
		{"github", deref(old.GitHub), deref(cur.GitHub)},
		{"aws", deref(old.AWS), deref(cur.AWS)},
		{"hostPorts", old.HostPorts, cur.HostPorts},
		{"inboundPorts", old.InboundPorts, cur.InboundPorts},
		{"allowLocalNetworks", old.AllowLocalNetworks, cur.AllowLocalNetworks},
		{"servicePorts", old.ServicePorts, cur.ServicePorts},
		{"verify", old.Verify, cur.Verify},
		{"cacheDir", old.CacheDir, cur.CacheDir},
	} {
		if !same(k.a, k.b) {
			out = append(out, k.key)
		}
	}
	return out
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// effective is cur with the keys a reload does not apply taken from old.
func effective(old, cur *allowlist.Config) *allowlist.Config {
	eff := &allowlist.Config{
		Domains: cur.Domains, OptionalDomains: cur.OptionalDomains, CIDRs: cur.CIDRs, Deny: cur.Deny,
		Upstreams: old.Upstreams, DNS: old.DNS, GitHub: old.GitHub, AWS: old.AWS,
		HostPorts: old.HostPorts, InboundPorts: old.InboundPorts, AllowLocalNetworks: old.AllowLocalNetworks,
		ServicePorts: old.ServicePorts, Verify: old.Verify, CacheDir: old.CacheDir,
	}
	return eff
}

// staticList is the allow sets' content for cfg: its CIDRs and the
// published ranges gathered at start (not fetched again).
func staticList(cfg *allowlist.Config, published []netip.Prefix) (*Allowlist, error) {
	var b netipx.IPSetBuilder
	list := &Allowlist{Published: published}
	for _, p := range published {
		b.AddPrefix(p)
	}
	for _, r := range cfg.CIDRRules() {
		if len(r.Ports) > 0 {
			list.PortRules = append(list.PortRules, r)
			continue
		}
		b.AddPrefix(r.Prefix)
	}
	set, err := b.IPSet()
	if err != nil {
		return nil, fmt.Errorf("merge allowlist: %w", err)
	}
	list.V4, list.V6 = splitFamilies(set.Prefixes())
	return list, nil
}

// entryList is the configured entries of cfg, for the change report.
func entryList(cfg *allowlist.Config) map[string]bool {
	m := map[string]bool{}
	for _, d := range append(slices.Clone(cfg.Domains), cfg.OptionalDomains...) {
		m["allow "+d] = true
	}
	for _, c := range cfg.CIDRs {
		m["allow "+c] = true
	}
	for _, d := range cfg.Deny {
		m["deny "+d] = true
	}
	return m
}

func changedEntries(old, cur *allowlist.Config) []string {
	a, b := entryList(old), entryList(cur)
	var out []string
	for e := range b {
		if !a[e] {
			out = append(out, "+ "+e)
		}
	}
	for e := range a {
		if !b[e] {
			out = append(out, "- "+e)
		}
	}
	slices.Sort(out)
	return out
}

// changeRecord is the audit log's record of one change ("+ allow X",
// "- deny Y"): an entry added is an allow or a deny of its pattern, one
// removed is a reload that dropped it.
func changeRecord(change string) audit.Record {
	sign, rest, _ := strings.Cut(change, " ")
	verb, pattern, _ := strings.Cut(rest, " ")
	rec := audit.Record{Kind: audit.KindPolicy, Action: verb, Pattern: pattern, Allowed: verb == "allow"}
	if sign == "-" {
		rec.Action, rec.Allowed, rec.Rule = control.VerbReload, false, "removed: "+verb+" "+pattern
	}
	return rec
}

// reload re-reads the config file and applies its difference live. A bad
// config changes nothing. The order never opens what neither policy
// allows, nor closes what both allow: new deny CIDRs are refused first,
// then the resolver's policy and the sets change, then the rules take
// their final form, and last the connections only the old policy allowed
// are cut.
func (l *live) reload(ctx context.Context) *control.Response {
	l.mu.Lock()
	defer l.mu.Unlock()
	path := l.r.opts.ConfigPath
	cur, err := allowlist.LoadConfig(path)
	if err != nil {
		_, bad := errors.AsType[*allowlist.ConfigError](err)
		return &control.Response{Error: "the live policy is unchanged: " + err.Error(), BadConfig: bad || strings.Contains(err.Error(), path)}
	}
	resp := &control.Response{OK: true}
	for _, k := range restartOnly(l.cfg, cur) {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("%q changed: it takes effect at the gateway's next start (devbox stop, then devbox up)", k))
	}
	eff := effective(l.cfg, cur)
	resp.Changes = changedEntries(l.cfg, eff)
	if len(resp.Changes) == 0 && !l.stale {
		resp.Message = "no change to apply"
		return resp
	}
	list, err := staticList(eff, l.list.Published)
	if err != nil {
		return &control.Response{Error: err.Error()}
	}
	n, err := l.change(ctx, eff, list)
	resp.Cut = n
	if err != nil {
		return &control.Response{Error: err.Error(), Changes: resp.Changes}
	}
	resp.Message = fmt.Sprintf("applied %d change(s)", len(resp.Changes))
	for _, c := range resp.Changes {
		l.emit(changeRecord(c))
	}
	return resp
}

// change applies eff and list in place of the live ones (see reload).
// l.mu is held.
func (l *live) change(ctx context.Context, eff *allowlist.Config, list *Allowlist) (uint, error) {
	conn, err := openIpset()
	if err != nil {
		return 0, fmt.Errorf("apply the change: %w", err)
	}
	defer conn.Close()
	a := l.r.a
	a.ipset = conn
	defer func() { a.ipset = nil }()

	oldCfg, oldList, oldPolicy := l.cfg, l.list, l.base.Load()
	newPolicy := eff.Policy()
	rulesChange := !slices.Equal(oldCfg.DenyCIDRs(), eff.DenyCIDRs())
	if rulesChange {
		// Refuse the union of both deny lists first.
		if err := l.loadRules(ctx, eff, oldCfg.DenyCIDRs()); err != nil {
			return 0, err
		}
	}
	// The static sets: each swap is one kernel operation, and names do
	// not depend on them, so allows go on meanwhile.
	var errs []error
	for _, f := range l.r.fams {
		old, cur := oldList.V4, list.V4
		if f.name == "v6" {
			old, cur = oldList.V6, list.V6
		}
		if l.stale || !slices.Equal(old, cur) {
			errs = append(errs, a.replaceSet(f, cur))
		}
		if l.stale || !slices.EqualFunc(oldList.PortRules, list.PortRules, func(x, y allowlist.CIDRRule) bool { return x.String() == y.String() }) {
			var ports []portEntry
			for _, rule := range list.PortRules {
				if f.is(rule.Prefix.Addr()) {
					for _, p := range rule.Ports {
						ports = append(ports, portEntry{prefix: rule.Prefix, port: p})
					}
				}
			}
			errs = append(errs, a.replaceTypedSet(f, f.portSet, typeNetPort, ports, false))
		}
	}
	// The names: no allow decided under the old policy lands after this.
	l.gate.Lock()
	idx := l.grants.index()
	l.base.Store(newPolicy)
	static := cidrPrefixes(eff)
	l.static.Store(&static)
	drop := l.grants.prune(idx, newPolicy)
	for _, f := range l.r.fams {
		var mine []portEntry
		for _, e := range drop {
			if f.is(e.prefix.Addr()) {
				mine = append(mine, e)
			}
		}
		if len(mine) > 0 {
			errs = append(errs, conn.delPorts(f.nameSet, mine, false))
		}
	}
	l.gate.Unlock()
	l.cfg, l.list = eff, list
	// A change that failed half way leaves sets that may not be list's:
	// the next one rewrites them whole.
	l.stale = errors.Join(errs...) != nil
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("apply the change: %w", err)
	}
	if rulesChange {
		if err := l.loadRules(ctx, eff, nil); err != nil {
			return 0, err
		}
	}
	was := l.allowedBy(oldCfg, oldList, oldPolicy, idx)
	is := l.allowedBy(eff, list, newPolicy, idx)
	return l.cut(func(f *netlink.ConntrackFlow, dst netip.Addr) bool {
		proto, port := f.Forward.Protocol, f.Forward.DstPort
		return was(dst, proto, port) && !is(dst, proto, port)
	})
}

// loadRules replaces the chains for cfg, refusing extraDeny as well.
func (l *live) loadRules(ctx context.Context, cfg *allowlist.Config, extraDeny []netip.Prefix) error {
	for _, f := range l.r.fams {
		rs := l.r.host.ruleset(f, cfg, l.r.opts.NFLogGroup)
		rs.Resolver = true
		for _, p := range extraDeny {
			if f.is(p.Addr()) {
				rs.Deny = append(rs.Deny, p)
			}
		}
		if err := l.r.a.loadRules(ctx, f, rs); err != nil {
			return fmt.Errorf("apply the change: %w", err)
		}
	}
	return nil
}

// allowedBy says whether a config, its sets and the records allow a
// destination; what a reload never changes (the host's ports, the local
// networks) counts as allowed, so it is never cut.
func (l *live) allowedBy(cfg *allowlist.Config, list *Allowlist, p *allowlist.Policy, idx map[netip.Addr][]nameGrant) func(netip.Addr, uint8, uint16) bool {
	deny := cfg.DenyCIDRs()
	fixed := func(dst netip.Addr) bool {
		return slices.Contains(l.r.host.Gateways, dst) || slices.ContainsFunc(l.r.host.LocalNets, func(p netip.Prefix) bool {
			return p.Contains(dst) || bridgeHost(p) == dst
		})
	}
	return func(dst netip.Addr, proto uint8, port uint16) bool {
		switch {
		case port == 53 && (proto == protoTCP || proto == 17):
			return true // DNS: the resolver's and Docker's
		case fixed(dst):
			return true
		case slices.ContainsFunc(deny, func(d netip.Prefix) bool { return d.Contains(dst) }):
			return false
		case containsSorted(list.V4, dst) || containsSorted(list.V6, dst):
			return true
		case proto != protoTCP:
			return false
		}
		return list.allowsPort(dst, port) || allows(idx, p, dst, port)
	}
}

// cut deletes the conntrack entries cut picks, in every family.
func (l *live) cut(cut func(*netlink.ConntrackFlow, netip.Addr) bool) (uint, error) {
	return cutFlows(l.r.fams, l.r.host.Addrs, cut)
}

// check says whether dst is allowed now, and by what.
func (l *live) check(dst allowlist.Destination) *allowlist.Verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.cfg.Check(dst)
	auditOn := l.now().Before(*l.auditUntil.Load())
	if dst.Addr.IsValid() && !v.Allowed && v.Rule == "" {
		if containsSorted(l.list.Published, dst.Addr) {
			v.Allowed, v.Rule, v.By = true, "published ranges (github, aws)", "address"
		} else {
			l.gate.RLock()
			idx := l.grants.index()
			l.gate.RUnlock()
			for _, ng := range idx[dst.Addr] {
				if d := l.base.Load().Decide(ng.name); d.Allowed && slices.Contains(ng.ports, dst.Port) && slices.Contains(d.Ports, dst.Port) {
					v.Allowed, v.Rule, v.By = true, d.Rule, "name"
					v.Note = "answered for " + ng.name
					break
				}
			}
		}
		if !v.Allowed && auditOn && !l.auditClosed(dst.Addr) {
			v.Allowed, v.By, v.Rule = true, "audit", ""
		}
	}
	if dst.Host != "" && !v.Allowed && auditOn && !strings.HasPrefix(v.Rule, "deny: ") {
		v.Allowed, v.By = true, "audit"
	}
	if dst.Host != "" && v.Allowed && v.By == "name" {
		v.Note = "its addresses open once the resolver answers the name"
	}
	return &v
}

// auditClosed reports whether audit mode keeps a closed (see
// Ruleset.AuditClosed).
func (l *live) auditClosed(a netip.Addr) bool {
	for _, f := range l.r.fams {
		if f.is(a) {
			rs := l.r.host.ruleset(f, l.cfg, 0)
			return slices.ContainsFunc(rs.AuditClosed, func(p netip.Prefix) bool { return p.Contains(a) })
		}
	}
	return true
}

// state is what every response carries.
func (l *live) state() *control.State {
	s := &control.State{Config: l.r.opts.ConfigPath}
	if until := *l.auditUntil.Load(); l.now().Before(until) {
		s.AuditUntil = until.UTC()
	}
	return s
}

// auditMarker is the audit marker's path for this gateway's run dir.
func (l *live) auditMarker() string {
	return filepath.Join(l.r.opts.RunDir, contract.AuditMarkerName)
}

// startAudit turns audit mode on for d, or moves its end to now + d.
func (l *live) startAudit(d time.Duration) *control.Response {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d <= 0 || d > control.MaxAudit {
		return &control.Response{Error: fmt.Sprintf("audit mode lasts 1s to %s", control.MaxAudit)}
	}
	conn, err := openIpset()
	if err != nil {
		return &control.Response{Error: "start audit mode: " + err.Error()}
	}
	defer conn.Close()
	until := l.now().Add(d)
	// The marker first: whoever reads it must never miss an audit mode
	// that is on. Its time is the end the kernel enforces.
	if err := writeAuditMarker(l.auditMarker(), until); err != nil {
		return &control.Response{Error: "start audit mode: " + err.Error()}
	}
	for _, f := range l.r.fams {
		if err := conn.addTimed(f.auditSet, f.halves[:], until.Sub(l.now())); err != nil {
			l.endAuditLocked("failed")
			return &control.Response{Error: "start audit mode: " + err.Error()}
		}
	}
	l.auditUntil.Store(&until)
	if l.auditTimer != nil {
		l.auditTimer.Stop()
	}
	l.auditTimer = time.AfterFunc(time.Until(until), func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.now().Before(*l.auditUntil.Load()) && !l.auditUntil.Load().IsZero() {
			l.endAuditLocked("expired")
		}
	})
	l.emit(audit.Record{Kind: audit.KindAudit, Action: "start", Until: until.UTC()})
	return &control.Response{OK: true, Message: "audit mode on until " + until.UTC().Format(time.RFC3339)}
}

func writeAuditMarker(path string, until time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(until.UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Chtimes(path, until, until)
}

// stopAudit ends audit mode now.
func (l *live) stopAudit() *control.Response {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.auditUntil.Load().IsZero() {
		return &control.Response{OK: true, Message: "audit mode is off"}
	}
	n, err := l.endAuditLocked("off")
	if err != nil {
		return &control.Response{Error: "end audit mode: " + err.Error(), Cut: n}
	}
	return &control.Response{OK: true, Message: "audit mode off", Cut: n}
}

// endAuditLocked empties the audit sets, gives the resolver its policy
// back and cuts the connections audit mode let through that the policy
// does not allow. l.mu is held.
func (l *live) endAuditLocked(why string) (uint, error) {
	var errs []error
	conn, err := openIpset()
	if err == nil {
		for _, f := range l.r.fams {
			errs = append(errs, conn.flush(f.auditSet))
		}
		conn.Close()
	} else {
		errs = append(errs, err)
	}
	l.auditUntil.Store(&time.Time{})
	if l.auditTimer != nil {
		l.auditTimer.Stop()
	}
	if err := os.Remove(l.auditMarker()); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	l.gate.Lock()
	idx := l.grants.index()
	l.gate.Unlock()
	is := l.allowedBy(l.cfg, l.list, l.base.Load(), idx)
	n, err := l.cut(func(f *netlink.ConntrackFlow, dst netip.Addr) bool {
		return f.Mark == AuditConnMark && !is(dst, f.Forward.Protocol, f.Forward.DstPort)
	})
	errs = append(errs, err)
	rec := audit.Record{Kind: audit.KindAudit, Action: "end"}
	if why == "failed" {
		rec.Err = "audit mode could not start"
	}
	l.emit(rec)
	return n, errors.Join(errs...)
}
