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
