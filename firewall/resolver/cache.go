package resolver

import (
	"net/netip"
	"sync"
	"time"
)

// cacheKey is a name (canonical) and a query type.
type cacheKey struct {
	name  string
	qtype uint16
}

// entry is an allowed answer: its addresses, the CNAME targets that led
// there (for the log), and when its TTL ends.
type entry struct {
	addrs   []netip.Addr
	cnames  []string
	expires int64 // Unix nanoseconds
}

// cache holds allowed answers until their TTL ends. It is bounded: when
// full, expired entries go first, then an arbitrary eighth (Go's map order
// is random), which keeps it lean without an LRU list per entry.
type cache struct {
	mu  sync.RWMutex
	m   map[cacheKey]entry
	max int // <0: off
}

func newCache(max int) *cache {
	return &cache{m: map[cacheKey]entry{}, max: max}
}

func (c *cache) get(k cacheKey, now time.Time) (entry, bool) {
	if c.max < 0 {
		return entry{}, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || now.UnixNano() >= e.expires {
		return entry{}, false
	}
	return e, true
}

func (c *cache) put(k cacheKey, e entry, now time.Time) {
	if c.max < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[k] = e
}

// evict makes room; c.mu is held.
func (c *cache) evict(now time.Time) {
	t := now.UnixNano()
	for k, e := range c.m {
		if t >= e.expires {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) <= c.max-c.max/8-1 {
			break
		}
		delete(c.m, k)
	}
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
