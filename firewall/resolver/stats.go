package resolver

import (
	"sync/atomic"
	"time"
)

// Stats are the resolver's counters since New.
type Stats struct {
	Queries        uint64 // every query handled
	Allowed        uint64 // A/AAAA queries for names the policy allows
	RefusedPolicy  uint64 // NXDOMAIN: the policy does not allow the name, or it is no host name
	RefusedType    uint64 // NODATA/NOTIMP: a type other than A/AAAA, or AAAA with IPv6 off
	RefusedInward  uint64 // SERVFAIL: the answer pointed inward
	Malformed      uint64 // FORMERR/NOTIMP: opcode, class, question count
	ServFail       uint64 // every SERVFAIL sent
	UpstreamErrors uint64 // resolutions where no upstream answered sanely
	AllowErrors    uint64 // Allower failures and timeouts
	CacheHits      uint64
	CacheMisses    uint64
	Shared         uint64 // misses that waited for an identical one
	LoopGuard      uint64 // service queries answered NXDOMAIN because they came back
	Overload       uint64 // SERVFAIL: MaxInFlight resolutions were running
	CacheEntries   int
	// AllowP50, AllowP99 and AllowMax are upper bounds of the Allower's
	// latency, from a histogram of power-of-two microsecond buckets.
	AllowP50, AllowP99, AllowMax time.Duration
	AllowCalls                   uint64
}

type counters struct {
	queries, allowed, refusedPolicy, refusedType, refusedInward, malformed,
	servfail, upstreamErrors, allowErrors, cacheHits, cacheMisses, shared,
	loopGuard, overload atomic.Uint64
	allowLatency histogram
}

// histogram counts durations in buckets of 1µs·2^i (the last is open).
type histogram struct {
	buckets [20]atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	us := uint64(d / time.Microsecond)
	i := 0
	for us > 0 && i < len(h.buckets)-1 {
		us >>= 1
		i++
	}
	h.buckets[i].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) (time.Duration, uint64) {
	var counts [len(histogram{}.buckets)]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0, 0
	}
	want := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i, c := range counts {
		if seen += c; seen >= want {
			return time.Duration(uint64(1)<<i) * time.Microsecond, total
		}
	}
	return time.Duration(uint64(1)<<(len(counts)-1)) * time.Microsecond, total
}

// Stats returns the counters; it costs a few atomic loads.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		Queries:        c.queries.Load(),
		Allowed:        c.allowed.Load(),
		RefusedPolicy:  c.refusedPolicy.Load(),
		RefusedType:    c.refusedType.Load(),
		RefusedInward:  c.refusedInward.Load(),
		Malformed:      c.malformed.Load(),
		ServFail:       c.servfail.Load(),
		UpstreamErrors: c.upstreamErrors.Load(),
		AllowErrors:    c.allowErrors.Load(),
		CacheHits:      c.cacheHits.Load(),
		CacheMisses:    c.cacheMisses.Load(),
		Shared:         c.shared.Load(),
		LoopGuard:      c.loopGuard.Load(),
		Overload:       c.overload.Load(),
		CacheEntries:   s.cache.len(),
	}
	st.AllowP50, st.AllowCalls = c.allowLatency.quantile(0.5)
	st.AllowP99, _ = c.allowLatency.quantile(0.99)
	st.AllowMax, _ = c.allowLatency.quantile(1)
	return st
}
