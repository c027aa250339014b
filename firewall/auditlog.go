//go:build linux

package firewall

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/firewall/resolver"
	"github.com/devbox-sandbox/devbox/internal/atomicfile"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// DefaultAuditDir holds the audit log when Options names no other
// directory (tests do): contract.AuditDir, the gateway's own volume.
const DefaultAuditDir = contract.AuditDir

// auditor is the gateway's side of the audit log: the resolver's answers
// and the packets NFLOG copies become records; the totals go to
// contract.AuditCounts. Nothing here may slow an answer: the resolver's
// hook counts, remembers the answer's addresses and queues the record,
// never waiting.
type auditor struct {
	log    *audit.Logger
	writer *audit.Writer
	names  *addrNames
	counts struct {
		dnsAllowed, dnsRefused, connRefused, connAudited atomic.Uint64
	}
	since      time.Time
	countsPath string
	// nflogErr is why NFLOG is not read (nil when it is).
	nflogErr error
}

// Bounds of the gateway's audit work.
const (
	// auditNames bounds the addresses remembered with the name they were
	// last answered for.
	auditNames = 1 << 16
	// nflogMaxRate bounds the packets read from NFLOG a second; past it the
	// reader pauses, the kernel drops the rest, and the log says so.
	nflogMaxRate = 100_000
	// countsEvery is how often the totals are written while they change.
	countsEvery = time.Second
)

// startAuditor opens the audit log in dir, starts reading NFLOG groups
// (rejected packets, and audit mode's) and writing the totals into
// runDir, until ctx ends. A failure to read NFLOG is kept in nflogErr:
// the names are still logged.
func startAuditor(ctx context.Context, dir, runDir string, group int) (*auditor, error) {
	w, err := audit.OpenWriter(filepath.Join(dir, filepath.Base(contract.AuditLog)), 0, 0)
	if err != nil {
		return nil, err
	}
	a := &auditor{
		writer: w, names: newAddrNames(auditNames), since: time.Now().UTC(),
		countsPath: filepath.Join(runDir, contract.AuditCountsName),
		log:        audit.NewLogger(w, audit.DefaultRates, 0, nil),
	}
	nl, err := openNFLog([]uint16{uint16(group), contract.AuditNFLogGroup}, countsEvery)
	if err != nil {
		a.nflogErr = err
	}
	var wg sync.WaitGroup
	if nl != nil {
		wg.Go(func() { a.readNFLog(ctx, nl) })
	}
	wg.Go(func() { a.writeCounts(ctx) })
	go func() {
		<-ctx.Done()
		if nl != nil {
			nl.Close()
		}
		wg.Wait()
		a.log.Close()
		w.Close()
	}()
	return a, nil
}

// dnsEvent is the resolver's Log hook.
func (a *auditor) dnsEvent(ev resolver.Event) {
	if ev.Allowed {
		a.counts.dnsAllowed.Add(1)
	} else {
		a.counts.dnsRefused.Add(1)
	}
	name := strings.TrimSuffix(strings.ToLower(ev.Name), ".")
	if len(ev.Answer) > 0 {
		a.names.put(ev.Answer, name)
	}
	a.log.Log(audit.Record{
		Time: ev.Time.UTC(), Kind: audit.KindDNS, Allowed: ev.Allowed, Audit: ev.Rule == audit.AuditRule, Rule: ev.Rule,
		Name: name, Type: ev.Type, Rcode: ev.Rcode, Answer: ev.Answer, CNAMEs: ev.CNAMEs,
		Cached: ev.Cached, Err: ev.Err,
	})
}

// readNFLog turns the packets of the NFLOG groups into connection
// records, folding repeats, until the socket is closed.
func (a *auditor) readNFLog(ctx context.Context, nl *nflogConn) {
	// A bug here must not end the gateway, whose rules hold without it.
	defer func() {
		if p := recover(); p != nil {
			a.log.Log(audit.Record{Time: time.Now().UTC(), Kind: audit.KindLost, Err: fmt.Sprintf("NFLOG reader stopped: init-firewall bug: %v", p)})
		}
	}()
	buf := make([]byte, 256<<10)
	fold := audit.NewFolder(0, 0)
	var pkts []nflogPacket
	var overruns uint64
	second, inSecond := time.Now(), 0
	for ctx.Err() == nil {
		var err error
		pkts, err = nl.read(buf, pkts[:0])
		now := time.Now().UTC()
		if err == errOverrun {
			overruns++
		} else if err != nil {
			if ctx.Err() == nil {
				a.log.Log(audit.Record{Time: now, Kind: audit.KindLost, Err: "NFLOG reader stopped: " + err.Error()})
			}
			return
		}
		for _, p := range pkts {
			r, ok := a.connRecord(p, now)
			if ok && fold.Add(r) {
				a.log.Log(r)
			}
		}
		if fold.Due(now) {
			for _, r := range fold.Flush(now) {
				a.log.Log(r)
			}
			if overruns > 0 {
				a.log.Log(audit.Record{Time: now, Kind: audit.KindLost, Count: overruns,
					Err: fmt.Sprintf("the kernel dropped refused packets' log messages %d times: the log missed some", overruns)})
				overruns = 0
			}
		}
		// Bound the work a flood can cost: past the rate, pause; the
		// kernel drops what does not fit its queue meanwhile.
		if inSecond += len(pkts); inSecond >= nflogMaxRate {
			if wait := time.Second - time.Since(second); wait > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		}
		if time.Since(second) >= time.Second {
			second, inSecond = time.Now(), 0
		}
	}
}

// connRecord makes the record of one packet, and counts it.
func (a *auditor) connRecord(p nflogPacket, now time.Time) (audit.Record, bool) {
	r := audit.Record{Time: now, Kind: audit.KindConn, Dst: p.dst, Port: p.dport, Proto: p.proto}
	switch {
	case p.group == contract.AuditNFLogGroup:
		a.counts.connAudited.Add(1)
		r.Allowed, r.Audit = true, true
	case p.prefix == NFLogPrefixIn:
		a.counts.connRefused.Add(1)
		r.Inbound, r.Src = true, p.src
	default:
		a.counts.connRefused.Add(1)
	}
	if p.invalid {
		r.Err = "packet headers unreadable"
		return r, true
	}
	if !r.Inbound {
		r.Name = a.names.get(p.dst)
	}
	return r, true
}

// Counts returns the totals so far.
func (a *auditor) Counts() audit.Counts {
	return audit.Counts{
		Since: a.since, Time: time.Now().UTC(),
		DNSAllowed: a.counts.dnsAllowed.Load(), DNSRefused: a.counts.dnsRefused.Load(),
		ConnRefused: a.counts.connRefused.Load(), ConnAudited: a.counts.connAudited.Load(),
		Lost: a.log.Lost(),
	}
}

// writeCounts writes the totals at once, then every countsEvery while
// they change, until ctx ends.
func (a *auditor) writeCounts(ctx context.Context) {
	var last audit.Counts
	tick := time.NewTicker(countsEvery)
	defer tick.Stop()
	for first := true; ; first = false {
		c := a.Counts()
		cmp := c
		cmp.Time = last.Time
		if first || cmp != last {
			if data, err := json.Marshal(c); err == nil {
				_ = atomicfile.Write(a.countsPath, append(data, '\n'), 0o644)
			}
			last = c
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// addrNames remembers, for a bounded number of addresses, the name each
// was last answered for: two generations of a map, the older dropped
// when the newer fills.
type addrNames struct {
	mu       sync.Mutex
	max      int
	cur, old map[netip.Addr]string
}

func newAddrNames(max int) *addrNames {
	return &addrNames{max: max, cur: map[netip.Addr]string{}, old: map[netip.Addr]string{}}
}

func (n *addrNames) put(addrs []netip.Addr, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range addrs {
		if len(n.cur) >= n.max/2 {
			n.old, n.cur = n.cur, make(map[netip.Addr]string, n.max/2)
		}
		n.cur[a.Unmap()] = name
	}
}

func (n *addrNames) get(a netip.Addr) string {
	a = a.Unmap()
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, ok := n.cur[a]; ok {
		return name
	}
	return n.old[a]
}
