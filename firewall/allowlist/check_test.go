package allowlist

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	cfg, err := ParseConfig("firewall.jsonc", []byte(`{
  "domains": ["*.example.com:80,443", "api.example.org"],
  "cidrs": ["198.51.100.0/24", "203.0.113.7:22"],
  "deny": ["bad.example.com", "198.51.100.9"]
}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dst, by, rule string
		allowed       bool
	}{
		{"a.example.com:80", "name", "*.example.com:80,443", true},
		{"a.example.com:22", "name", "*.example.com:80,443", false},
		{"bad.example.com", "name", "deny: bad.example.com", false},
		{"api.example.org", "name", "api.example.org", true},
		{"other.example.net", "default", "", false},
		{"198.51.100.20:5432", "address", "198.51.100.0/24", true},
		{"198.51.100.9", "address", "deny: 198.51.100.9/32", false},
		{"203.0.113.7:22", "address", "203.0.113.7:22", true},
		{"203.0.113.7", "default", "", false},
		{"[2001:db8::1]:443", "default", "", false},
	} {
		d, err := ParseDestination(tc.dst)
		if err != nil {
			t.Fatalf("%s: %v", tc.dst, err)
		}
		v := cfg.Check(d)
		if v.Allowed != tc.allowed || v.By != tc.by || v.Rule != tc.rule {
			t.Errorf("%s: %+v, want allowed=%t by %s rule %q", tc.dst, v, tc.allowed, tc.by, tc.rule)
		}
	}
	for _, bad := range []string{"a.example.com:0", "a.example.com:http", "a b", "example.com:1:2", ""} {
		if _, err := ParseDestination(bad); err == nil {
			t.Errorf("ParseDestination(%q) accepted", bad)
		}
	}
}

// TestNoAuditKey: firewall.jsonc cannot turn audit mode on; the key is
// unknown, and refused with its place.
func TestNoAuditKey(t *testing.T) {
	for _, body := range []string{`{"audit": "30m"}`, `{"auditMode": true}`, `{"dns": {"audit": true}}`} {
		_, err := ParseConfig("firewall.jsonc", []byte(body))
		if err == nil || !strings.Contains(err.Error(), "firewall.jsonc:1:") {
			t.Errorf("%s: %v, want refused with its place", body, err)
		}
	}
}
