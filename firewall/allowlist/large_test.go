package allowlist

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// largeConfig writes firewall.jsonc with v4 IPv4 and v6 IPv6 prefixes, one
// per line with a comment, as a user (or a generator) would, and returns
// its path. last, when set, is written in place of the final entry, as raw
// HuJSON. The prefixes are documentation and benchmarking ranges, never
// dialed.
func largeConfig(tb testing.TB, v4, v6 int, last string) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("{\n  // a large allowlist\n  \"cidrs\": [\n")
	for i := range v4 {
		fmt.Fprintf(&b, "    \"198.%d.%d.0/24\", // entry %d\n", 18+i/65536%2, i/256%256, i)
	}
	for i := range v6 {
		entry := fmt.Sprintf("\"2001:db8:%x::/48\"", i)
		if i == v6-1 && last != "" {
			entry = last
		}
		fmt.Fprintf(&b, "    %s,\n", entry)
	}
	b.WriteString("  ],\n}\n")
	path := filepath.Join(tb.TempDir(), "firewall.jsonc")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestLargeConfigErrorPosition pins the position of a bad entry at the end
// of a 12,000-entry file: it is computed only for the entry reported, and it
// must still be exact.
func TestLargeConfigErrorPosition(t *testing.T) {
	const v4, v6 = 10_000, 2_000
	// Line 1 is "{", 2 the comment, 3 `"cidrs": [`, then one entry per line,
	// after four spaces.
	lastLine := 3 + v4 + v6
	for _, tt := range []struct{ name, last, want string }{
		{"catch-all", `"::/0"`, fmt.Sprintf(`:%d:5: cidrs[%d] "::/0": prefix shorter than /16 is a catch-all`, lastLine, v4+v6-1)},
		{"not a prefix", `"2001:db8::/129"`, fmt.Sprintf(`:%d:5: cidrs[%d] "2001:db8::/129": not a CIDR prefix`, lastLine, v4+v6-1)},
		{"wrong type", `7`, fmt.Sprintf(`:%d:5: cidrs[%d]: want a string, got a number`, lastLine, v4+v6-1)},
		{"syntax", `"2001:db8::/48" "2001:db8:1::/48"`, fmt.Sprintf(`:%d:21: `, lastLine)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := largeConfig(t, v4, v6, tt.last)
			_, err := LoadConfig(path)
			if err == nil || !strings.HasPrefix(err.Error(), path+tt.want) {
				t.Fatalf("LoadConfig:\n got %v\nwant %s...", err, path+tt.want)
			}
		})
	}
}

// BenchmarkLoadConfig loads a firewall.jsonc of 10,000 IPv4 and 2,000 IPv6
// prefixes from disk, as init-firewall does at every start.
func BenchmarkLoadConfig(b *testing.B) {
	path := largeConfig(b, 10_000, 2_000, "")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		c, err := LoadConfig(path)
		if err != nil {
			b.Fatal(err)
		}
		if len(c.CIDRs) != 12_000 {
			b.Fatalf("%d cidrs", len(c.CIDRs))
		}
	}
}

// TestParseConfigEscapes checks that strings with escapes are decoded as
// JSON does, beside the plain ones taken as they are.
func TestParseConfigEscapes(t *testing.T) {
	c, err := ParseConfig("f.jsonc", []byte(`{"domains": ["a\u002etest", "b.test"], "cidrs": ["198.51.100.0\/24"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(append(c.Domains, c.CIDRs...), " "); got != "a.test b.test 198.51.100.0/24" {
		t.Errorf("decoded %q", got)
	}
}
