package generator

import (
	"slices"
	"testing"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// The names here are parsed only, never resolved or dialed.

func TestSplitAllow(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{"a.example.com:80,443,b.example.com"}, []string{"a.example.com:80,443", "b.example.com"}},
		{[]string{"a.example.com:80,443", "198.51.100.7:22,80, 2001:db8::1"}, []string{"a.example.com:80,443", "198.51.100.7:22,80", "2001:db8::1"}},
		{[]string{"[2001:db8::/32]:80,443,[2001:db8::1]:22"}, []string{"[2001:db8::/32]:80,443", "[2001:db8::1]:22"}},
		// A bare IPv6 address has no ports: the number is an entry of its own.
		{[]string{"2001:db8::1,443"}, []string{"2001:db8::1", "443"}},
		{[]string{"a.example.com,443"}, []string{"a.example.com", "443"}},
		{[]string{"a.example.com:http,443"}, []string{"a.example.com:http", "443"}},
	}
	for _, tt := range tests {
		if got := splitAllow(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("splitAllow(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPresetEntries checks that every preset entry is a valid name entry,
// written in canonical form (as the allowlist would print it back).
func TestPresetEntries(t *testing.T) {
	for _, p := range presets {
		for _, h := range slices.Concat(p.Domains, p.Optional) {
			r, err := allowlist.ParseNameEntry(h.Name)
			if err != nil {
				t.Errorf("preset %s: %q: %v", p.Name, h.Name, err)
			} else if r.String() != h.Name {
				t.Errorf("preset %s: %q is written %q in canonical form", p.Name, h.Name, r.String())
			}
		}
	}
}

// TestPresetVerifyTargetsAreAllowed: the gateway's resolver answers only
// the names the allowlist lists, and the gateway fails (and the box stays
// closed) when a reachable verify target does not answer, so every
// preset's verify host must be one of the preset's own names.
func TestPresetVerifyTargetsAreAllowed(t *testing.T) {
	for _, p := range presets {
		if p.Verify == "" {
			continue
		}
		target, err := allowlist.ParseTarget(p.Verify)
		if err != nil {
			t.Fatalf("preset %s: verify %q: %v", p.Name, p.Verify, err)
		}
		allowed := false
		for _, h := range p.Domains {
			rule, err := allowlist.ParseNameEntry(h.Name)
			if err != nil {
				t.Fatalf("preset %s: %q: %v", p.Name, h.Name, err)
			}
			if rule.Pattern.Match(target.Host) && slices.Contains(rule.Ports, target.Port) {
				allowed = true
			}
		}
		if !allowed {
			t.Errorf("preset %s: verify target %s is not among its names on port %d: the resolver would not answer it", p.Name, p.Verify, target.Port)
		}
	}
}
