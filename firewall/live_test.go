//go:build linux

package firewall

import (
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// TestGrantsPrune: a deny takes out a name's addresses, except on the
// ports another name the policy still allows was answered with; ports a
// narrowed entry no longer names go too.
func TestGrantsPrune(t *testing.T) {
	a, b, c := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")
	var g grantTable
	g.byName = map[string]map[netip.Addr]grant{}
	exp := time.Now().Add(time.Minute)
	g.add("cdn.example.com", []netip.Addr{a, b}, []uint16{443}, exp)
	g.add("shared.example.org", []netip.Addr{b}, []uint16{443}, exp)
	g.add("ports.example.net", []netip.Addr{c}, []uint16{22, 443}, exp)
	policy := func(body string) *allowlist.Policy {
		cfg, err := allowlist.ParseConfig("firewall.jsonc", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Policy()
	}
	idx := g.index()
	drop := g.prune(idx, policy(`{"domains": ["shared.example.org", "ports.example.net:443"]}`))
	want := map[netip.Addr][]uint16{a: {443}, c: {22}}
	if len(drop) != 2 {
		t.Fatalf("dropped %v, want %v", drop, want)
	}
	for _, e := range drop {
		if !slices.Contains(want[e.prefix.Addr()], e.port) {
			t.Errorf("dropped %s port %d, want only %v", e.prefix, e.port, want)
		}
	}
	if _, ok := g.byName["cdn.example.com"]; ok {
		t.Error("the denied name's records stay")
	}
	if got := g.byName["ports.example.net"][c].ports; !slices.Equal(got, []uint16{443}) {
		t.Errorf("ports.example.net keeps ports %v, want [443]", got)
	}
	if g.n != 2 {
		t.Errorf("%d records left, want 2", g.n)
	}
}

// TestGrantsBound: past maxGrants, records long expired make room; live
// ones are never dropped, and the answer is refused instead.
func TestGrantsBound(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		expires time.Time
		room    bool
	}{{now.Add(time.Minute), false}, {now.Add(-2 * grantLinger), true}} {
		var g grantTable
		g.byName = map[string]map[netip.Addr]grant{}
		g.add("a.example.com", []netip.Addr{netip.MustParseAddr("198.51.100.1")}, []uint16{443}, tc.expires)
		g.n = maxGrants // as if full of such records
		if err := g.reserve(1, now); (err == nil) != tc.room {
			t.Errorf("record expiring %v: reserve: %v, want room %v", tc.expires.Sub(now), err, tc.room)
		}
	}
}

func TestChangeRecord(t *testing.T) {
	for change, want := range map[string]string{
		"+ allow sibling.test:80,81": "allow sibling.test:80,81 true ",
		"+ deny **.ads.example.com":  "deny **.ads.example.com false ",
		"- allow old.example.com":    "reload old.example.com false removed: allow old.example.com",
	} {
		r := changeRecord(change)
		if got := r.Action + " " + r.Pattern + " " + strconv.FormatBool(r.Allowed) + " " + r.Rule; got != want || r.Kind != "policy" {
			t.Errorf("%q: %q (%s), want %q", change, got, r.Kind, want)
		}
	}
}
