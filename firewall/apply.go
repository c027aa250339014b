//go:build linux

package firewall

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"go4.org/netipx"
	"golang.org/x/sys/unix"

	"github.com/devbox-sandbox/devbox/internal/runner"
)

// applier changes the kernel state of the current network namespace: the
// allowlist sets over netlink and devbox's chains with iptables-restore.
type applier struct {
	run   runner.Runner
	ipset *ipsetConn
	rev   map[string]uint8 // hash:net revision per family name
	// hooks holds, per family name, the hook change found by inspecting
	// OUTPUT and INPUT; once a load put the hooks in place it is Hooks{}.
	// inspections are those started ahead by inspectAhead. Families load
	// concurrently: mu guards both.
	mu          sync.Mutex
	hooks       map[string]Hooks
	inspections map[string]*inspection
	// tools maps a program's name to its absolute path (FindTool); set
	// only through tool, under mu.
	tools map[string]string
}

// tool returns the absolute path of a system program (see FindTool). Only
// that path is ever run: the PATH the box was started with may name
// folders the agent can write.
func (a *applier) tool(name string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.tools[name]; ok {
		return p, nil
	}
	p, err := FindTool(name)
	if err != nil {
		return "", err
	}
	if a.tools == nil {
		a.tools = map[string]string{}
	}
	a.tools[name] = p
	return p, nil
}

// inspection is one family's hook inspection under way.
type inspection struct {
	done  chan struct{}
	hooks Hooks
	err   error
}

// inspectTimeout bounds one iptables-save.
const inspectTimeout = 10 * time.Second

// ensureSet creates fam's set name, empty, when it does not exist yet, so
// rules can refer to it before anything was gathered.
func (a *applier) ensureSet(fam family, name string) error {
	ok, err := a.ipset.exists(name)
	if err != nil || ok {
		return err
	}
	rev, err := a.revision(fam)
	if err != nil {
		return err
	}
	return a.ipset.create(name, fam.afINET, rev, 0)
}

// ensureTypedSet creates fam's set name of type typ, empty, when it does
// not exist yet.
func (a *applier) ensureTypedSet(fam family, name, typ string, timeout bool) error {
	ok, err := a.ipset.exists(name)
	if err != nil || ok {
		return err
	}
	return a.ipset.createTyped(name, typ, fam.afINET, 0, timeout)
}

// replaceTypedSet fills a new set of type typ beside the live one, swaps
// the two in one kernel operation and destroys the old contents.
func (a *applier) replaceTypedSet(fam family, name, typ string, entries []portEntry, timeout bool) error {
	tmp := name + "-new"
	if err := a.ipset.destroy(tmp); err != nil {
		return err
	}
	if err := a.ipset.createTyped(tmp, typ, fam.afINET, len(entries), timeout); err != nil {
		return err
	}
	if err := a.ipset.addPorts(tmp, entries, typ == typeNetPort); err != nil {
		_ = a.ipset.destroy(tmp)
		return err
	}
	if err := a.ipset.swap(name, tmp); err != nil {
		_ = a.ipset.destroy(tmp)
		return err
	}
	return a.ipset.destroy(tmp)
}

func (a *applier) revision(fam family) (uint8, error) {
	if rev, ok := a.rev[fam.name]; ok {
		return rev, nil
	}
	rev, err := a.ipset.typeRevision(fam.afINET)
	if err != nil {
		return 0, fmt.Errorf("ask the kernel for ipset type hash:net (%s): %w", fam.ipsetName, err)
	}
	if a.rev == nil {
		a.rev = map[string]uint8{}
	}
	a.rev[fam.name] = rev
	return rev, nil
}

// replaceSet fills a new set beside fam's live one, swaps the two in one
// kernel operation and destroys the old contents.
func (a *applier) replaceSet(fam family, prefixes []netip.Prefix) error {
	tmp := fam.set + "-new"
	if err := a.ipset.destroy(tmp); err != nil { // left over from an interrupted run
		return err
	}
	rev, err := a.revision(fam)
	if err != nil {
		return err
	}
	if err := a.ipset.create(tmp, fam.afINET, rev, len(prefixes)); err != nil {
		return err
	}
	if err := a.ipset.add(tmp, prefixes); err != nil {
		_ = a.ipset.destroy(tmp)
		return err
	}
	if err := a.ipset.swap(fam.set, tmp); err != nil {
		_ = a.ipset.destroy(tmp)
		return err
	}
	return a.ipset.destroy(tmp)
}

// inspectAhead starts inspecting the hooks of fams at once, so that the
// iptables-save processes run while the config is read and the rest of the
// run asks hookChange only for the answer.
func (a *applier) inspectAhead(fams ...family) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, fam := range fams {
		a.startInspection(fam)
	}
}

// startInspection starts inspecting fam's hooks unless that is under way
// or done. a.mu must be held.
func (a *applier) startInspection(fam family) *inspection {
	if in, ok := a.inspections[fam.name]; ok {
		return in
	}
	if a.inspections == nil {
		a.inspections = map[string]*inspection{}
	}
	in := &inspection{done: make(chan struct{})}
	a.inspections[fam.name] = in
	go func() {
		defer close(in.done)
		ctx, cancel := context.WithTimeout(context.Background(), inspectTimeout)
		defer cancel()
		in.hooks, in.err = a.inspectHooks(ctx, fam)
	}()
	return in
}

// hookChange says how fam's hooks must change, inspecting them the first
// time only: after a load they are in place.
func (a *applier) hookChange(fam family) (Hooks, error) {
	a.mu.Lock()
	h, ok := a.hooks[fam.name]
	var in *inspection
	if !ok {
		in = a.startInspection(fam)
	}
	a.mu.Unlock()
	if ok {
		return h, nil
	}
	<-in.done
	if in.err != nil {
		return Hooks{}, in.err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if h, ok := a.hooks[fam.name]; ok { // a load finished meanwhile
		return h, nil
	}
	a.setHooksLocked(fam, in.hooks)
	return in.hooks, nil
}

func (a *applier) setHooks(fam family, h Hooks) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setHooksLocked(fam, h)
}

func (a *applier) setHooksLocked(fam family, h Hooks) {
	if a.hooks == nil {
		a.hooks = map[string]Hooks{}
	}
	a.hooks[fam.name] = h
}

// inspectHooks reads fam's filter table with one iptables-save (the same
// backend as the iptables-restore that loads the rules) and says how the
// jumps into devbox's chains must change so that each is there once, as
// rule 1 of OUTPUT and of INPUT.
func (a *applier) inspectHooks(ctx context.Context, fam family) (Hooks, error) {
	save, err := a.tool(fam.save)
	if err != nil {
		return Hooks{}, fmt.Errorf("inspect %s hooks: %w", fam.name, err)
	}
	res, err := a.run.Run(ctx, runner.Cmd{Name: save, Args: []string{"-t", "filter"}})
	if err != nil {
		return Hooks{}, fmt.Errorf("inspect %s hooks: %w", fam.name, err)
	}
	return hookChangeFromSave(string(res.Stdout)), nil
}

// hookChangeFromSave is inspectHooks' reading of iptables-save output.
func hookChangeFromSave(save string) Hooks {
	var h Hooks
	for _, hook := range []struct {
		builtin, chain  string
		insert          *bool
		deleteDuplicate *int
	}{{"OUTPUT", ChainOut, &h.InsertOut, &h.DeleteOut}, {"INPUT", ChainIn, &h.InsertIn, &h.DeleteIn}} {
		prefix := "-A " + hook.builtin + " "
		jump := prefix + "-j " + hook.chain
		var at []int
		n := 0
		for line := range strings.Lines(save) {
			line = strings.TrimRight(line, "\n")
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			n++
			if line == jump {
				at = append(at, n)
			}
		}
		if len(at) == 1 && at[0] == 1 {
			continue
		}
		*hook.deleteDuplicate = len(at)
		*hook.insert = true
	}
	return h
}

// loadRules replaces devbox's chains of fam with r in one
// `iptables-restore --noflush` transaction.
func (a *applier) loadRules(ctx context.Context, fam family, r Ruleset) error {
	h, err := a.hookChange(fam)
	if err != nil {
		return err
	}
	if err := a.restore(ctx, fam, r.Restore(h)); err != nil {
		return fmt.Errorf("load %s rules: %w", fam.name, err)
	}
	a.setHooks(fam, Hooks{})
	return nil
}

// restore runs one `iptables-restore --noflush` (or ip6tables-restore).
func (a *applier) restore(ctx context.Context, fam family, payload string) error {
	restore, err := a.tool(fam.restore)
	if err != nil {
		return err
	}
	_, err = a.run.Run(ctx, runner.Cmd{Name: restore, Args: []string{"--noflush", "--wait"}, Stdin: strings.NewReader(payload)})
	return err
}

// ip6Filtering reports whether ip6tables can be used here: the tool is
// installed and the kernel has its filter table.
func (a *applier) ip6Filtering() error {
	if _, err := a.tool(familyV6.restore); err != nil {
		return err
	}
	_, err := a.hookChange(familyV6)
	return err
}

// disableIPv6 turns IPv6 off for a box whose IPv6 traffic cannot be
// filtered: first with the sysctl, and where /proc/sys is read-only (as in
// a container) by removing every IPv6 address and route but loopback's.
// It returns how it did it.
func disableIPv6() (string, error) {
	var sysctlErr error
	for _, p := range []string{"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"} {
		if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
			sysctlErr = err
			break
		}
	}
	if sysctlErr == nil {
		return "IPv6 disabled (net.ipv6.conf.all.disable_ipv6=1)", nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		return "", fmt.Errorf("disable IPv6: sysctl: %v; list interfaces: %w", sysctlErr, err)
	}
	n := 0
	for _, l := range links {
		if l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		routes, err := netlink.RouteList(l, netlink.FAMILY_V6)
		if err != nil {
			return "", fmt.Errorf("disable IPv6: list routes of %s: %w", l.Attrs().Name, err)
		}
		for _, r := range routes {
			if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return "", fmt.Errorf("disable IPv6: delete route %s: %w", r, err)
			}
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V6)
		if err != nil {
			return "", fmt.Errorf("disable IPv6: list addresses of %s: %w", l.Attrs().Name, err)
		}
		for _, ad := range addrs {
			if err := netlink.AddrDel(l, &ad); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return "", fmt.Errorf("disable IPv6: delete address %s: %w", ad.IPNet, err)
			}
			n++
		}
	}
	return fmt.Sprintf("IPv6 disabled: removed %d IPv6 addresses and their routes (sysctl not writable: %v)", n, sysctlErr), nil
}

// forgetRemoved deletes the conntrack entries of connections the box opened
// to destinations the new rules no longer allow, so they do not live on as
// ESTABLISHED. allowed says whether a destination is still allowed.
// Connections into the box (to its own addresses) are kept.
func forgetRemoved(fams []family, own []netip.Addr, allowed func(netip.Addr, uint8, uint16) bool) (uint, error) {
	return cutFlows(fams, own, func(f *netlink.ConntrackFlow, dst netip.Addr) bool {
		return !allowed(dst, f.Forward.Protocol, f.Forward.DstPort)
	})
}

// cutFlows deletes the conntrack entries of the outgoing connections of
// fams for which cut says so. Connections to loopback and into the box (to
// its own addresses) are never cut.
//
// A conntrack dump walks the kernel's whole table, shared by every
// namespace (262,144 buckets here: 13 ms a dump). So the namespace's own
// count is read first, and nothing is dumped when it tracks nothing (a
// gateway's first start); otherwise one dump covers every family, and a
// family is dumped again to delete only when it holds a flow to cut.
func cutFlows(fams []family, own []netip.Addr, cut func(f *netlink.ConntrackFlow, dst netip.Addr) bool) (uint, error) {
	if n, err := trackedCount(); err == nil && n == 0 {
		return 0, nil
	}
	var ownSet netipx.IPSetBuilder
	for _, a := range own {
		ownSet.Add(a)
	}
	ours, _ := ownSet.IPSet()
	match := conntrackFilter(func(f *netlink.ConntrackFlow) bool {
		dst, ok := netip.AddrFromSlice(f.Forward.DstIP)
		if !ok {
			return false
		}
		dst = dst.Unmap()
		if dst.IsLoopback() || ours.Contains(dst) {
			return false
		}
		return cut(f, dst)
	})
	flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, netlink.InetFamily(unix.AF_UNSPEC))
	if err != nil {
		return 0, fmt.Errorf("cut connections: list conntrack: %w", err)
	}
	var total uint
	var errs []error
	for _, fam := range fams {
		if !slices.ContainsFunc(flows, func(f *netlink.ConntrackFlow) bool { return f.FamilyType == fam.afINET && match(f) }) {
			continue
		}
		n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, netlink.InetFamily(fam.afINET), match)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("cut %s connections: %w", fam.name, err))
		}
	}
	return total, errors.Join(errs...)
}

// trackedCount is the number of connections this network namespace's
// conntrack holds (its own count, not the shared table's).
func trackedCount() (int, error) {
	data, err := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_count")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// conntrackFilter adapts a func to netlink.CustomConntrackFilter.
type conntrackFilter func(*netlink.ConntrackFlow) bool

// MatchConntrackFlow implements netlink.CustomConntrackFilter.
func (f conntrackFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool { return f(flow) }
