package allowlist

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const srcExampleConfig = `{
  // comments and trailing commas are fine
  "domains": ["api.anthropic.com"],
  "optionalDomains": ["statsig.anthropic.com"],
  "cidrs": ["140.82.112.0/20", "2606:50c0::/32", "198.51.100.7"],
  "github": {"url": "https://api.github.com/meta", "keys": ["web", "api", "git"]}, // parsed only, never dialed
  "aws": {"url": "https://ip-ranges.amazonaws.com/ip-ranges.json", "services": ["S3"], "regions": []},
  "hostPorts": [8080],
  "inboundPorts": [3000],
  "allowLocalNetworks": true,
  "verify": {"reachable": ["https://api.github.com/zen"], "blocked": ["https://example.com", "tcp://[2001:db8::1]:22"]}, // parsed only, never dialed
}
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("firewall.jsonc", []byte(srcExampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Domains:            []string{"api.anthropic.com"},
		OptionalDomains:    []string{"statsig.anthropic.com"},
		CIDRs:              []string{"140.82.112.0/20", "2606:50c0::/32", "198.51.100.7"},
		GitHub:             &GitHubConfig{URL: "https://api.github.com/meta", Keys: []string{"web", "api", "git"}, TokenFile: DefaultTokenFile}, // parsed only, never dialed
		AWS:                &AWSConfig{URL: DefaultAWSIPRangesURL, Services: []string{"S3"}, Regions: []string{}},
		HostPorts:          []int{8080},
		InboundPorts:       []int{3000},
		AllowLocalNetworks: true,
		Verify: VerifyConfig{
			Reachable: []string{"https://api.github.com/zen"},                    // parsed only, never dialed
			Blocked:   []string{"https://example.com", "tcp://[2001:db8::1]:22"}, // parsed only, never dialed
		},
		CacheDir: DefaultCacheDir,
	}
	c.file, c.data, c.offsets, c.parsed = "", nil, nil, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ParseConfig:\n got %+v\nwant %+v", c, want)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig("f.jsonc", []byte(`{"github": {"keys": ["git"]}, "aws": {}, "verify": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.GitHub.URL != DefaultGitHubMetaURL || c.GitHub.TokenFile != DefaultTokenFile || c.AWS.URL != DefaultAWSIPRangesURL || c.CacheDir != DefaultCacheDir {
		t.Errorf("defaults not set: %+v %+v %q", c.GitHub, c.AWS, c.CacheDir)
	}
	c, err = ParseConfig("f.jsonc", []byte(`{"github": null}`))
	if err != nil || c.GitHub != nil || c.AWS != nil {
		t.Errorf("null github: %+v, %v", c, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"syntax", "{\n  \"domains\": [\"a.com\"\n}", "firewall.jsonc:3:1: "},
		{"garbage after", "{} x", "firewall.jsonc:1:4: "},
		{"empty", "", "firewall.jsonc:1:1: "},
		{"unterminated comment", "{ /* ", "firewall.jsonc:1:3: "},
		{"unknown key", "{\n  \"domain\": []\n}", `firewall.jsonc:2:3: unknown key "domain"`},
		{"unknown nested key", "{\"github\": {\"keys\": [\"web\"],\n \"token\": \"x\"}}", `firewall.jsonc:2:2: unknown key "github.token"`},
		{"duplicate key", `{"cidrs": [], "cidrs": []}`, `firewall.jsonc:1:15: duplicate key "cidrs"`},
		{"wrong type", `{"domains": "a.com"}`, `firewall.jsonc:1:13: domains: want a list, got a string`},
		{"wrong element type", `{"hostPorts": ["22"]}`, `firewall.jsonc:1:16: hostPorts[0]: want a number, got a string`},
		{"float port", `{"hostPorts": [2.5]}`, `firewall.jsonc:1:16: hostPorts[0]: want an integer, got 2.5`},
		{"top level", `[]`, `firewall.jsonc:1:1: top level: want an object, got a list`},
		{"catch-all v4", "{\"cidrs\": [\"1.2.3.0/24\",\n  \"2001:db8::/32\",\n  \"10.0.0.0/4\"]}", `firewall.jsonc:3:3: cidrs[2] "10.0.0.0/4": prefix shorter than /8 is a catch-all`},
		{"catch-all any", `{"cidrs": ["0.0.0.0/0"]}`, `cidrs[0] "0.0.0.0/0": prefix shorter than /8 is a catch-all`},
		{"catch-all v6", `{"cidrs": ["::/0"]}`, `cidrs[0] "::/0": prefix shorter than /16 is a catch-all`},
		{"mapped", `{"cidrs": ["::ffff:0:0/96"]}`, `IPv4-mapped`},
		{"bad cidr", `{"cidrs": ["10.0.0.0/33"]}`, `cidrs[0] "10.0.0.0/33": not a CIDR prefix`},
		{"bad domain", `{"domains": ["ok.com", "bad_-.com"]}`, `domains[1] "bad_-.com": label "bad_-"`},
		{"public suffix", `{"optionalDomains": ["**.github.io"]}`, `optionalDomains[0] "**.github.io": "github.io" is a public suffix`},
		{"ip domain", `{"domains": ["1.2.3.4"]}`, `put it in cidrs`},
		{"port 0", `{"hostPorts": [0]}`, `hostPorts[0] "0": port must be 1-65535`},
		{"port big", `{"inboundPorts": [22, 65536]}`, `inboundPorts[1] "65536": port must be 1-65535`},
		{"github no keys", `{"github": {"url": "https://x.test/meta"}}`, `github.keys: name at least one key`},
		{"github bad url", `{"github": {"url": "ftp://x/meta", "keys": ["web"]}}`, `github.url "ftp://x/meta": want an http:// or https:// URL`},
		{"aws bad url", `{"aws": {"url": "x"}}`, `aws.url "x"`},
		{"verify scheme", `{"verify": {"reachable": ["ssh://a.com"]}}`, `verify.reachable[0] "ssh://a.com": want https://`},
		{"verify tcp no port", `{"verify": {"blocked": ["tcp://a.com"]}}`, `tcp target needs a port`},
		{"verify tcp path", `{"verify": {"blocked": ["udp://a.com:53/x"]}}`, `udp target takes no path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("firewall.jsonc", []byte(tt.data))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "firewall.jsonc")
	if err := os.WriteFile(path, []byte("{\"cidrs\": [\"0.0.0.0/0\"]}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1:12: ") {
		t.Errorf("LoadConfig error = %v, want it to start with %s:1:12", err, path)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadConfig of a missing file: no error")
	}
}

func TestValidateInCode(t *testing.T) {
	c := &Config{CIDRs: []string{"10.0.0.0/8", "::/8"}}
	err := c.Validate()
	if err == nil || err.Error() != `cidrs[1] "::/8": prefix shorter than /16 is a catch-all` {
		t.Errorf("Validate = %v", err)
	}
}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "140.82.112.0/20", want: "140.82.112.0/20"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "198.51.100.1", want: "198.51.100.1/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "2606:50c0::/16", want: "2606::/16"},
		{in: "0.0.0.0/0", err: "catch-all"},
		{in: "128.0.0.0/1", err: "catch-all"},
		{in: "10.0.0.0/7", err: "catch-all"},
		{in: "::/0", err: "catch-all"},
		{in: "2000::/3", err: "catch-all"},
		{in: "::ffff:10.0.0.0/104", err: "IPv4-mapped"},
		{in: "::ffff:1.2.3.4", err: "IPv4-mapped"},
		{in: "fe80::1%eth0", err: "zone"},
		{in: "example.com", err: "not an IP address"}, // parsed only, never dialed
		{in: "", err: "not an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParseCIDR(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseCIDR(%q) = %v, %v; want error containing %q", tt.in, p, err, tt.err)
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Errorf("ParseCIDR(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
}

func TestValidateDomain(t *testing.T) {
	good := []string{"api.anthropic.com", "a.b", "localhost", "x-1.example.com.", "_dmarc.example.com", "UPPER.Example.COM"} // parsed only, never dialed
	for _, d := range good {
		if err := ValidateDomain(d); err != nil {
			t.Errorf("ValidateDomain(%q) = %v", d, err)
		}
	}
	bad := []string{"", ".", "a..b", "-a.com", "a-.com", "a b.com", "*.a.com", "::1", "10.0.0.1",
		strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 127) + "ab", "ü.com"}
	for _, d := range bad {
		if err := ValidateDomain(d); err == nil {
			t.Errorf("ValidateDomain(%q) = nil, want error", d)
		}
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want Target
		err  string
	}{
		{in: "https://api.github.com/zen", want: Target{Scheme: "https", Host: "api.github.com", Port: 443}}, // parsed only, never dialed
		{in: "http://198.51.100.1:8080/x", want: Target{Scheme: "http", Host: "198.51.100.1", Port: 8080}},
		{in: "https://[2001:db8::1]", want: Target{Scheme: "https", Host: "2001:db8::1", Port: 443}},
		{in: "tcp://example.com:22", want: Target{Scheme: "tcp", Host: "example.com", Port: 22}}, // parsed only, never dialed
		{in: "udp://[2001:db8::53]:53", want: Target{Scheme: "udp", Host: "2001:db8::53", Port: 53}},
		{in: "example.com", err: "want https://"}, // parsed only, never dialed
		{in: "https://", err: "no host"},
		{in: "https://a.com:0/", err: "port must be 1-65535"},
		{in: "https://a.com:99999/", err: "port must be 1-65535"},
		{in: "https://u:p@a.com/", err: "credentials"},
		{in: "tcp://a.com", err: "needs a port"},
		{in: "https://bad_-.com/", err: "target host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTarget(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseTarget(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			tt.want.URL = tt.in
			if err != nil || got != tt.want {
				t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
	if a := (Target{Host: "2001:db8::1", Port: 443}).Address(); a != "[2001:db8::1]:443" {
		t.Errorf("Address = %s", a)
	}
}
