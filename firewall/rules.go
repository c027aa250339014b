//go:build linux

package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// Names of devbox's own chains and sets. Nothing else in the filter table is
// touched: the chains are hooked from OUTPUT and INPUT by one rule each.
const (
	ChainOut       = "DEVBOX-OUT"
	ChainIn        = "DEVBOX-IN"
	ChainRejectOut = "DEVBOX-REJECT-OUT"
	ChainRejectIn  = "DEVBOX-REJECT-IN"
	// ChainAudit logs (NFLOG contract.AuditNFLogGroup) and accepts what
	// audit mode lets through, marking the connection (AuditConnMark) so
	// that its end can cut what only it allowed.
	ChainAudit = "DEVBOX-AUDIT"
	SetV4      = "devbox-allow-v4"
	SetV6      = "devbox-allow-v6"
	// SetDNSV4 and SetDNSV6 hold the upstream resolvers Docker's embedded
	// resolver forwards to from inside the box's network namespace, as
	// learned at the gateway's start (LearnLabel).
	SetDNSV4 = "devbox-dns-v4"
	SetDNSV6 = "devbox-dns-v6"
	// SetPortV4 and SetPortV6 (hash:net,port) hold the static CIDRs that
	// name TCP ports ("203.0.113.0/24:443").
	SetPortV4 = "devbox-port-v4"
	SetPortV6 = "devbox-port-v6"
	// SetNameV4 and SetNameV6 (hash:ip,port with timeouts) hold the
	// addresses answered for allowed names, on the TCP ports of the rule
	// that allowed each name. The gateway's resolver adds them before it
	// releases an answer; the single-container layout fills them at start.
	SetNameV4 = "devbox-name-v4"
	SetNameV6 = "devbox-name-v6"
	// SetAuditV4 and SetAuditV6 (hash:net with timeouts) are audit mode's
	// switch: while audit mode lasts they hold both halves of their
	// family's address space (0.0.0.0/1 and 128.0.0.0/1, ::/1 and
	// 8000::/1) with the duration as the entries' timeout, so the kernel
	// ends it even when init-firewall is dead. Empty otherwise.
	SetAuditV4 = "devbox-logall-v4"
	SetAuditV6 = "devbox-logall-v6"
	// AuditConnMark is the conntrack mark of connections audit mode let
	// through (only NET_ADMIN sets one; dev lacks it).
	AuditConnMark = 0x64627861
	// NFLogPrefixAudit prefixes the NFLOG messages of what audit mode let
	// through.
	NFLogPrefixAudit = "devbox-logall-out"
	// DefaultNFLogGroup is the NFLOG group rejected packets are copied to.
	DefaultNFLogGroup = 100
	// NFLogPrefixOut and NFLogPrefixIn prefix the NFLOG messages of
	// rejected outgoing and incoming packets.
	NFLogPrefixOut = "devbox-reject-out"
	NFLogPrefixIn  = "devbox-reject-in"
)

// family holds what differs between the IPv4 and IPv6 rule sets.
type family struct {
	name       string // "v4" or "v6"
	ipsetName  string // "inet" or "inet6", as `ipset create ... family` takes it
	iptables   string // iptables or ip6tables
	restore    string // iptables-restore or ip6tables-restore
	save       string // iptables-save or ip6tables-save
	set        string
	dnsSet     string
	rejectWith string
	afINET     uint8
	portSet    string
	nameSet    string
	auditSet   string
	// halves are the two /1 prefixes that make up the family's address
	// space (hash:net takes no /0).
	halves [2]netip.Prefix
}

var (
	familyV4 = family{"v4", "inet", "iptables", "iptables-restore", "iptables-save", SetV4, SetDNSV4, "icmp-admin-prohibited", 2, SetPortV4, SetNameV4, SetAuditV4,
		[2]netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")}}
	familyV6 = family{"v6", "inet6", "ip6tables", "ip6tables-restore", "ip6tables-save", SetV6, SetDNSV6, "icmp6-adm-prohibited", 10, SetPortV6, SetNameV6, SetAuditV6,
		[2]netip.Prefix{netip.MustParsePrefix("::/1"), netip.MustParsePrefix("8000::/1")}}
)

// is reports whether a belongs to the family.
func (f family) is(a netip.Addr) bool { return a.Is4() == (f.name == "v4") && !a.Is4In6() }

// Ruleset is everything one family's chains are built from. Build it with
// the host facts of the box (resolvers, interfaces, gateways) and the
// config; Restore renders it.
type Ruleset struct {
	fam family
	// Resolvers are the nameservers of /etc/resolv.conf of this family:
	// DNS to them is allowed for every user.
	Resolvers []netip.Addr
	// Gateways are the next hops of the box's routes (the Docker host):
	// reachable only on HostPorts.
	Gateways []netip.Addr
	// LocalNets are the subnets of the box's interfaces without a default
	// route (a compose project's internal network), allowed when the
	// config says allowLocalNetworks (empty otherwise).
	LocalNets []netip.Prefix
	// ServicePorts, when set, limit LocalNets to these TCP ports.
	ServicePorts []int
	HostPorts    []int
	InboundPorts []int
	NFLogGroup   int
	// Fetch are the HTTP sources init-firewall itself must reach while it
	// gathers the allowlist: allowed only for sockets carrying
	// contract.GatewayMark, only on their port, and only until the final
	// rules replace these.
	Fetch []netip.AddrPort
	// LearnLabel, when set, adds the family's DNS set the destination of
	// every DNS query over UDP that carries it: init-firewall sends one
	// query with this random label to Docker's embedded resolver, and
	// the destinations the resolver forwards it to are its upstreams.
	LearnLabel string
	// Resolver says the gateway's filtering resolver answers the box's
	// DNS: every query is redirected to it (RedirectDNS), DNS leaves only
	// from its sockets (contract.GatewayMark), and Docker's embedded
	// resolver is reachable only from them.
	Resolver bool
	// Upstreams are the DNS servers the config names: with the resolver,
	// its sockets alone may ask them.
	Upstreams []netip.AddrPort
	// Deny are the prefixes of the config's deny list: refused before any
	// allow.
	Deny []netip.Prefix
	// DoH are the addresses of well-known public DNS resolvers: refused
	// unless a static CIDR allows them, so an allowed name cannot open a
	// resolver that answers over HTTPS.
	DoH []netip.Prefix
	// NoSet leaves out the allowlist set (it could not be created): the
	// box is closed but for loopback, replies and DNS.
	NoSet bool
	// AuditClosed are the destinations audit mode never opens: the
	// inward ranges (loopback, private, link-local with the metadata
	// addresses, CGNAT, multicast, reserved, ULA, NAT64, 6to4), the box's
	// subnets and the Docker host. Only the gateway has audit mode.
	AuditClosed []netip.Prefix
	// Minimal is the fallback when the full rules do not load (a kernel
	// without NFLOG or the owner match): loopback, replies, DNS to the
	// resolvers, the allowlist set and plain REJECTs, nothing else.
	Minimal bool
}

// Hooks says how the jumps from OUTPUT and INPUT into devbox's chains must
// change; apply fills it from what is live, so a re-run does not add a
// second jump.
type Hooks struct {
	// InsertOut and InsertIn add the jump as rule 1 of OUTPUT / INPUT.
	InsertOut, InsertIn bool
	// DeleteOut and DeleteIn remove this many existing jumps first (ones
	// that are not rule 1 or are duplicates).
	DeleteOut, DeleteIn int
}

// FirstRunHooks is the hook change of a box that has no devbox rules yet.
var FirstRunHooks = Hooks{InsertOut: true, InsertIn: true}

// emergencyPayload is the last resort when not even the minimal rules load:
// OUTPUT's policy becomes DROP (its rules, and everything else, stay).
const emergencyPayload = "*filter\n:OUTPUT DROP [0:0]\nCOMMIT\n"

// Restore renders the input for one `iptables-restore --noflush` (or
// ip6tables-restore) call. Declaring devbox's chains flushes them, so the
// call replaces them in one transaction; built-in chains and every other
// table are left as they are.
func (r Ruleset) Restore(h Hooks) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("*filter")
	for _, c := range []string{ChainOut, ChainIn, ChainRejectOut, ChainRejectIn} {
		w(":%s - [0:0]", c)
	}
	if r.audit() {
		w(":%s - [0:0]", ChainAudit)
	}
	for range h.DeleteOut {
		w("-D OUTPUT -j %s", ChainOut)
	}
	for range h.DeleteIn {
		w("-D INPUT -j %s", ChainIn)
	}
	if h.InsertOut {
		w("-I OUTPUT 1 -j %s", ChainOut)
	}
	if h.InsertIn {
		w("-I INPUT 1 -j %s", ChainIn)
	}
	for _, rule := range r.outRules() {
		w("-A %s %s", ChainOut, rule)
	}
	for _, rule := range r.inRules() {
		w("-A %s %s", ChainIn, rule)
	}
	if r.audit() {
		w("-A %s -j NFLOG --nflog-group %d --nflog-prefix %s", ChainAudit, contract.AuditNFLogGroup, NFLogPrefixAudit)
		w("-A %s -j CONNMARK --set-xmark %#x/0xffffffff", ChainAudit, AuditConnMark)
		w("-A %s -j ACCEPT", ChainAudit)
	}
	for _, c := range []struct{ chain, prefix string }{{ChainRejectOut, NFLogPrefixOut}, {ChainRejectIn, NFLogPrefixIn}} {
		if !r.Minimal {
			w("-A %s -j NFLOG --nflog-group %d --nflog-prefix %s", c.chain, r.NFLogGroup, c.prefix)
		}
		w("-A %s -p tcp -j REJECT --reject-with tcp-reset", c.chain)
		w("-A %s -j REJECT --reject-with %s", c.chain, r.fam.rejectWith)
	}
	w("COMMIT")
	return b.String()
}

// ndTypes are the ICMPv6 neighbour discovery messages; hop limit 255 marks
// them as link-local (RFC 4861 receivers drop anything else).
var ndTypes = []string{"router-solicitation", "router-advertisement", "neighbour-solicitation", "neighbour-advertisement"}

func (r Ruleset) ndRules() []string {
	if r.fam.name != "v6" {
		return nil
	}
	hl := " -m hl --hl-eq 255"
	if r.Minimal {
		hl = ""
	}
	var out []string
	for _, t := range ndTypes {
		out = append(out, fmt.Sprintf("-p ipv6-icmp -m icmp6 --icmpv6-type %s%s -j ACCEPT", t, hl))
	}
	// Nothing else of ICMPv6 (errors about allowed traffic are RELATED).
	return append(out, "-p ipv6-icmp -j "+ChainRejectOut)
}

func (r Ruleset) outRules() []string {
	var rules []string
	if r.Resolver && r.fam.name == "v4" {
		// dev shares this loopback and can read the real port of Docker's
		// resolver in /proc/net/udp: only the resolver's sockets reach it.
		rules = append(rules, fmt.Sprintf("-o lo -d %s -m mark ! --mark %#x -j %s", hostPrefix(dockerDNS), contract.GatewayMark, ChainRejectOut))
	}
	rules = append(rules,
		"-o lo -j ACCEPT",
		"-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
	)
	if r.Resolver {
		// DNS to any address, redirected to the resolver: the filter
		// still sees the interface the packet was first routed to.
		lo := "127.0.0.1/32"
		if r.fam.name == "v6" {
			lo = "::1/128"
		}
		for _, proto := range []string{"udp", "tcp"} {
			rules = append(rules, fmt.Sprintf("-d %s -p %s --dport %d -m conntrack --ctstate DNAT -j ACCEPT", lo, proto, ResolverPort))
		}
	}
	for _, p := range sortedPrefixes(r.Deny) {
		rules = append(rules, fmt.Sprintf("-d %s -j %s", p, ChainRejectOut))
	}
	if !r.Resolver {
		for _, a := range sortedAddrs(r.Resolvers) {
			for _, proto := range []string{"udp", "tcp"} {
				rules = append(rules, fmt.Sprintf("-d %s -p %s --dport 53 -j ACCEPT", hostPrefix(a), proto))
			}
		}
	}
	rules = append(rules, r.dnsSetRules()...)
	// DNS over TLS, to any address.
	for _, proto := range []string{"tcp", "udp"} {
		rules = append(rules, fmt.Sprintf("-p %s --dport 853 -j %s", proto, ChainRejectOut))
	}
	if r.Minimal {
		rules = append(rules, r.ndRules()...)
		return append(rules, r.setRules()...)
	}
	for _, f := range r.Fetch {
		rules = append(rules, fmt.Sprintf("-d %s -p tcp --dport %d -m mark --mark %#x -j ACCEPT", hostPrefix(f.Addr()), f.Port(), contract.GatewayMark))
	}
	rules = append(rules, r.ndRules()...)
	for _, gw := range sortedAddrs(r.Gateways) {
		for _, p := range sortedInts(r.HostPorts) {
			rules = append(rules, fmt.Sprintf("-d %s -p tcp --dport %d -j ACCEPT", hostPrefix(gw), p))
		}
		// The host is not part of the local networks allowed below.
		rules = append(rules, fmt.Sprintf("-d %s -j %s", hostPrefix(gw), ChainRejectOut))
	}
	for _, n := range sortedPrefixes(r.LocalNets) {
		if len(r.ServicePorts) == 0 {
			rules = append(rules, fmt.Sprintf("-d %s -j ACCEPT", n))
		}
		for _, p := range sortedInts(r.ServicePorts) {
			rules = append(rules, fmt.Sprintf("-d %s -p tcp --dport %d -j ACCEPT", n, p))
		}
	}
	return append(rules, r.setRules()...)
}

// dnsSetRules allow DNS to the learned upstreams of Docker's embedded
// resolver, for every user: the resolver forwards the box's queries from
// inside its network namespace as root, with nothing that sets its packets
// apart, so whoever may ask 127.0.0.11 may as well ask its upstreams. While
// learning, the query carrying LearnLabel adds its destination first.
func (r Ruleset) dnsSetRules() []string {
	if r.NoSet {
		return nil
	}
	var rules []string
	if r.LearnLabel != "" && !r.Minimal {
		// The probe itself goes no further: the resolver then tries its
		// next upstream, so every one of them is learned.
		learn := fmt.Sprintf("-p udp --dport 53 -m string --algo bm --string %s", r.LearnLabel)
		rules = append(rules, learn+" -j SET --add-set "+r.fam.dnsSet+" dst", learn+" -j "+ChainRejectOut)
	}
	// With the resolver, only its own sockets (marked) may ask the
	// upstreams: root in dev cannot set the mark.
	mark := ""
	if r.Resolver {
		mark = fmt.Sprintf(" -m mark --mark %#x", contract.GatewayMark)
	}
	for _, proto := range []string{"udp", "tcp"} {
		rules = append(rules, fmt.Sprintf("-p %s --dport 53%s -m set --match-set %s dst -j ACCEPT", proto, mark, r.fam.dnsSet))
	}
	if !r.Resolver {
		return rules
	}
	for _, up := range r.Upstreams {
		if !r.fam.is(up.Addr()) {
			continue
		}
		for _, proto := range []string{"udp", "tcp"} {
			rules = append(rules, fmt.Sprintf("-d %s -p %s --dport %d%s -j ACCEPT", hostPrefix(up.Addr()), proto, up.Port(), mark))
		}
	}
	return rules
}

// setRules end DEVBOX-OUT: the static allowlist (every port), the static
// CIDRs with ports, the answered names' addresses on their ports, then
// reject the rest. Well-known DNS resolvers are refused between the static
// sets and the names.
func (r Ruleset) setRules() []string {
	if r.NoSet {
		return []string{"-j " + ChainRejectOut}
	}
	rules := []string{
		fmt.Sprintf("-m set --match-set %s dst -j ACCEPT", r.fam.set),
		fmt.Sprintf("-m set --match-set %s dst,dst -j ACCEPT", r.fam.portSet),
	}
	for _, p := range sortedPrefixes(r.DoH) {
		if r.fam.is(p.Addr()) {
			rules = append(rules, fmt.Sprintf("-d %s -j %s", p, ChainRejectOut))
		}
	}
	rules = append(rules, fmt.Sprintf("-m set --match-set %s dst,dst -j ACCEPT", r.fam.nameSet))
	if r.audit() {
		// Audit mode lets the rest through, but never inward: these
		// rejects only matter while the audit set holds anything.
		for _, p := range sortedPrefixes(r.AuditClosed) {
			if r.fam.is(p.Addr()) {
				rules = append(rules, fmt.Sprintf("-d %s -j %s", p, ChainRejectOut))
			}
		}
		rules = append(rules, fmt.Sprintf("-m set --match-set %s dst -j %s", r.fam.auditSet, ChainAudit))
	}
	return append(rules, "-j "+ChainRejectOut)
}

// audit says the rules carry audit mode's switch, whose first packets go
// to NFLOG group contract.AuditNFLogGroup: the gateway's full rules only.
func (r Ruleset) audit() bool {
	return r.Resolver && !r.NoSet && !r.Minimal
}

func (r Ruleset) inRules() []string {
	rules := []string{
		"-i lo -j ACCEPT",
		"-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
	}
	for _, rule := range r.ndRules() {
		rules = append(rules, strings.Replace(rule, ChainRejectOut, ChainRejectIn, 1))
	}
	for _, p := range sortedInts(r.InboundPorts) {
		if r.Minimal {
			break
		}
		for _, proto := range []string{"tcp", "udp"} {
			rules = append(rules, fmt.Sprintf("-p %s --dport %d -j ACCEPT", proto, p))
		}
	}
	return append(rules, "-j "+ChainRejectIn)
}

func hostPrefix(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

func sortedAddrs(as []netip.Addr) []netip.Addr {
	out := slices.Clone(as)
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

func sortedInts(ns []int) []int {
	out := slices.Clone(ns)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedPrefixes(ps []netip.Prefix) []netip.Prefix {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out)
}
