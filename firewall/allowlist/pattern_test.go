package allowlist

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The names in these tests are parsed and matched only, never resolved or
// dialed.

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "example.com", want: "example.com"},
		{in: "Example.COM.", want: "example.com"},
		{in: "*.example.com", want: "*.example.com"},
		{in: "**.Example.com.", want: "**.example.com"},
		{in: "raw.githubusercontent.com", want: "raw.githubusercontent.com"},
		{in: "**.objects.githubusercontent.com", want: "**.objects.githubusercontent.com"},
		{in: "api.github.com", want: "api.github.com"},
		{in: "_dmarc.example.com", want: "_dmarc.example.com"},
		{in: "**.internal.corp", want: "**.internal.corp"},
		// An exact name that is a public suffix matches that name only.
		{in: "github.io", want: "github.io"},
		{in: "co.uk", want: "co.uk"},
		{in: "*", err: `"*" and "**" match everything`},
		{in: "**", err: `"*" and "**" match everything`},
		{in: "*.", err: `"*" and "**" match everything`},
		{in: "", err: `"*" and "**" match everything`},
		{in: "*.com", err: `"com" is a public suffix`},
		{in: "**.com", err: `"com" is a public suffix`},
		{in: "*.co.uk", err: `"co.uk" is a public suffix`},
		{in: "**.github.io", err: `"github.io" is a public suffix`},
		{in: "**.cloudfront.net", err: `"cloudfront.net" is a public suffix`},
		{in: "*.s3.amazonaws.com", err: "public suffix"},
		// GitHub put githubusercontent.com on the list's private section.
		{in: "*.githubusercontent.com", err: `"githubusercontent.com" is a public suffix`},
		{in: "*.internal", err: `"internal" is a public suffix`}, // unknown top-level label: default rule
		{in: "*.test", err: "public suffix"},
		{in: "com", err: "single label"},
		{in: "localhost", err: "single label"},
		{in: "a*.example.com", err: "whole first label"},
		{in: "foo.*.com", err: "whole first label"},
		{in: "*a.example.com", err: "whole first label"},
		{in: "***.example.com", err: "whole first label"},
		{in: "*.*.example.com", err: "whole first label"},
		{in: "example.*", err: "whole first label"},
		{in: "**example.com", err: "whole first label"},
		{in: "a..example.com", err: "1-63 bytes"},
		{in: "-a.example.com", err: "starts or ends with '-'"},
		{in: "a b.example.com", err: "invalid character"},
		{in: "*.ü.com", err: "invalid character"},
		{in: "1.2.3.4", err: "put it in cidrs"},
		{in: "::1", err: "put it in cidrs"},
		{in: strings.Repeat("a.", 127) + "ab", err: "253 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePattern(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParsePattern(%q) = %v, %v; want error containing %q", tt.in, p, err, tt.err)
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Errorf("ParsePattern(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"example.com", []string{"example.com", "EXAMPLE.com.", "Example.Com"},
			[]string{"a.example.com", "example.org", "xexample.com", "", "."}},
		{"*.example.com", []string{"a.example.com", "A.Example.COM.", "_x.example.com"},
			[]string{"example.com", "a.b.example.com", "aexample.com", ".example.com", "a.example.org"}},
		{"**.example.com", []string{"a.example.com", "a.b.example.com", "x.y.z.EXAMPLE.COM."},
			[]string{"example.com", "aexample.com", ".example.com", "a.example.com.org"}},
		{"github.io", []string{"github.io"}, []string{"user.github.io"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := ParsePattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.match {
				if !p.Match(n) {
					t.Errorf("%s does not match %q", p, n)
				}
			}
			for _, n := range tt.miss {
				if p.Match(n) {
					t.Errorf("%s matches %q", p, n)
				}
			}
		})
	}
	if (Pattern{}).Match("") || (Pattern{}).Match("example.com") {
		t.Error("the zero Pattern matches")
	}
}

func TestParseNameEntry(t *testing.T) {
	tests := []struct {
		in, want string
		ports    []uint16
		err      string
	}{
		{in: "example.com", want: "example.com", ports: []uint16{443}},
		{in: "example.com:443", want: "example.com", ports: []uint16{443}},
		{in: "example.com.:22", want: "example.com:22", ports: []uint16{22}},
		{in: "*.example.com:443,80", want: "*.example.com:80,443", ports: []uint16{80, 443}},
		{in: "**.example.com:1,65535", want: "**.example.com:1,65535", ports: []uint16{1, 65535}},
		{in: "example.com:", err: "no port"},
		{in: "example.com:0", err: "1-65535"},
		{in: "example.com:65536", err: "1-65535"},
		{in: "example.com:-1", err: "1-65535"},
		{in: "example.com:+443", err: "1-65535"},
		{in: "example.com:80,", err: `port ""`},
		{in: "example.com:http", err: `port "http"`},
		{in: "example.com:443,443", err: "443 is listed twice"},
		{in: "example.com:80:443", err: `port "80:443"`},
		{in: "*.com:443", err: "public suffix"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseNameEntry(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseNameEntry(%q) = %v, %v; want error containing %q", tt.in, r, err, tt.err)
				}
				return
			}
			if err != nil || r.String() != tt.want || !slices.Equal(r.Ports, tt.ports) {
				t.Errorf("ParseNameEntry(%q) = %v %v, %v; want %s %v", tt.in, r, r.Ports, err, tt.want, tt.ports)
			}
		})
	}
}

func TestParseCIDREntry(t *testing.T) {
	tests := []struct {
		in, want string
		ports    []uint16
		err      string
	}{
		{in: "140.82.112.0/20", want: "140.82.112.0/20"},
		{in: "198.51.100.7", want: "198.51.100.7/32"},
		{in: "198.51.100.0/24:443", want: "198.51.100.0/24:443", ports: []uint16{443}},
		{in: "198.51.100.7:22,80", want: "198.51.100.7/32:22,80", ports: []uint16{22, 80}},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "[2001:db8::/32]", want: "2001:db8::/32"},
		{in: "[2001:db8::/32]:443", want: "[2001:db8::/32]:443", ports: []uint16{443}},
		{in: "[2001:db8::1]:22", want: "[2001:db8::1/128]:22", ports: []uint16{22}},
		{in: "[::ffff:1.2.3.4]:22", err: "IPv4-mapped"},
		{in: "2001:db8::/32:443", err: "takes brackets"},
		{in: "[2001:db8::/32", err: `missing "]"`},
		{in: "[2001:db8::/32]443", err: `unexpected "443"`},
		{in: "[198.51.100.0/24]:443", err: "brackets are for IPv6 only"},
		{in: "[2001:db8::/32]:", err: "no port"},
		{in: "198.51.100.0/24:0", err: "1-65535"},
		{in: "198.51.100.0/24:443,443", err: "twice"},
		{in: "0.0.0.0/0:443", err: "catch-all"},
		{in: "[::/0]:443", err: "catch-all"},
		{in: "example.com:443", err: "not an IP address"},
		{in: "", err: "not an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseCIDREntry(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseCIDREntry(%q) = %v, %v; want error containing %q", tt.in, r, err, tt.err)
				}
				return
			}
			if err != nil || r.String() != tt.want || !slices.Equal(r.Ports, tt.ports) || (r.Ports == nil) != (tt.ports == nil) {
				t.Errorf("ParseCIDREntry(%q) = %v %v, %v; want %s %v", tt.in, r, r.Ports, err, tt.want, tt.ports)
			}
		})
	}
}

func TestIsCIDREntry(t *testing.T) {
	for in, want := range map[string]bool{
		"198.51.100.7": true, "198.51.100.7:22": true, "198.51.100.0/24": true, "2001:db8::1": true,
		"[2001:db8::1]:22": true, "2001:db8::/32": true, "example.com": false, "example.com:22": false,
		"*.example.com:443": false, "1.2.3": false,
	} {
		if got := IsCIDREntry(in); got != want {
			t.Errorf("IsCIDREntry(%q) = %v", in, got)
		}
	}
}

func TestParseUpstream(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "198.18.0.53", want: "198.18.0.53:53"},
		{in: "198.18.0.53:5353", want: "198.18.0.53:5353"},
		{in: "2001:db8::53", want: "[2001:db8::53]:53"},
		{in: "[2001:db8::53]:5353", want: "[2001:db8::53]:5353"},
		{in: "127.0.0.1:5300", want: "127.0.0.1:5300"},
		{in: "dns.example.com", err: "a name would itself need DNS"},
		{in: "dns.example.com:53", err: "a name would itself need DNS"},
		{in: "198.18.0.53:0", err: "port must be 1-65535"},
		{in: "198.18.0.53:65536", err: "want an IP address"},
		{in: "0.0.0.0", err: "unspecified"},
		{in: "[::]:53", err: "unspecified"},
		{in: "224.0.0.251", err: "multicast"},
		{in: "ff02::fb", err: "multicast"},
		{in: "255.255.255.255", err: "broadcast"},
		{in: "fe80::1%eth0", err: "zone"},
		{in: "::ffff:198.18.0.53", err: "IPv4-mapped"},
		{in: "198.18.0.0/24", err: "want an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := ParseUpstream(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseUpstream(%q) = %v, %v; want error containing %q", tt.in, a, err, tt.err)
				}
				return
			}
			if err != nil || a != netip.MustParseAddrPort(tt.want) {
				t.Errorf("ParseUpstream(%q) = %v, %v; want %s", tt.in, a, err, tt.want)
			}
		})
	}
}

// FuzzParseEntries checks that no input makes the entry parsers panic, and
// that what they accept parses back to itself from its canonical form.
func FuzzParseEntries(f *testing.F) {
	for _, s := range []string{"example.com", "*.example.com:80,443", "**.a.b.example.com.", "*.com", "a*.b.com",
		"198.51.100.0/24:22", "[2001:db8::/32]:443", "2001:db8::1", "[::1", "x:", ":", "*", "github.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParsePattern(s); err == nil {
			q, err := ParsePattern(p.String())
			if err != nil || q != p {
				t.Fatalf("ParsePattern(%q) = %v; its String parses to %v, %v", s, p, q, err)
			}
			if !p.IsWildcard() && !p.Match(s) {
				t.Fatalf("%v does not match %q", p, s)
			}
		}
		if r, err := ParseNameEntry(s); err == nil {
			q, err := ParseNameEntry(r.String())
			if err != nil || q.Pattern != r.Pattern || !slices.Equal(q.Ports, r.Ports) || len(r.Ports) == 0 {
				t.Fatalf("ParseNameEntry(%q) = %v; its String parses to %v, %v", s, r, q, err)
			}
		}
		if r, err := ParseCIDREntry(s); err == nil {
			q, err := ParseCIDREntry(r.String())
			if err != nil || q.Prefix != r.Prefix || !slices.Equal(q.Ports, r.Ports) || (q.Ports == nil) != (r.Ports == nil) {
				t.Fatalf("ParseCIDREntry(%q) = %v; its String parses to %v, %v", s, r, q, err)
			}
			if CheckPrefix(r.Prefix) != nil {
				t.Fatalf("ParseCIDREntry(%q) accepted %v", s, r.Prefix)
			}
		}
		if a, err := ParseUpstream(s); err == nil && (a.Port() == 0 || a.Addr().IsUnspecified() || a.Addr().IsMulticast()) {
			t.Fatalf("ParseUpstream(%q) accepted %v", s, a)
		}
	})
}
