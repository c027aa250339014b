package resolver

import (
	"fmt"
	"testing"
	"time"
)

func TestCacheBounded(t *testing.T) {
	c := newCache(100)
	now := time.Unix(1000, 0)
	for i := range 50 {
		c.put(cacheKey{fmt.Sprint("old", i), 1}, entry{expires: now.Add(time.Second).UnixNano()}, now)
	}
	for i := range 50 {
		c.put(cacheKey{fmt.Sprint("new", i), 1}, entry{expires: now.Add(time.Hour).UnixNano()}, now)
	}
	later := now.Add(2 * time.Second)
	c.put(cacheKey{"one-more", 1}, entry{expires: later.Add(time.Hour).UnixNano()}, later)
	if n := c.len(); n != 51 {
		t.Errorf("after a put into a full cache with 50 expired entries: %d entries, want 51", n)
	}
	for i := range 200 {
		c.put(cacheKey{fmt.Sprint("more", i), 1}, entry{expires: later.Add(time.Hour).UnixNano()}, later)
		if n := c.len(); n > 100 {
			t.Fatalf("%d entries, bound is 100", n)
		}
	}
	if _, ok := c.get(cacheKey{"more199", 1}, later); !ok {
		t.Error("the newest entry is missing")
	}
	if _, ok := c.get(cacheKey{"more199", 1}, later.Add(2*time.Hour)); ok {
		t.Error("an expired entry was served")
	}
	off := newCache(-1)
	off.put(cacheKey{"x", 1}, entry{expires: later.Add(time.Hour).UnixNano()}, later)
	if _, ok := off.get(cacheKey{"x", 1}, later); ok {
		t.Error("a cache turned off served an entry")
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for range 98 {
		h.observe(300 * time.Microsecond)
	}
	h.observe(3 * time.Millisecond)
	h.observe(time.Hour)
	p50, n := h.quantile(0.5)
	p99, _ := h.quantile(0.99)
	if n != 100 || p50 != 512*time.Microsecond || p99 != 4096*time.Microsecond {
		t.Errorf("p50 %v p99 %v n %d, want 512µs 4.096ms 100", p50, p99, n)
	}
}
