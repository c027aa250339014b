package allowlist

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The names in these tests are parsed and matched only, never resolved or
// dialed.

const policyConfig = `{
  "domains": ["api.example.com", "*.cdn.example.com:443", "**.example.org:80,443", "git.example.net:22"],
  "optionalDomains": ["**.example.org:8443", "API.example.com.:22", "**.deep.example.org:9000"],
  "cidrs": ["198.51.100.0/24", "198.51.100.7:22", "[2001:db8::/32]:443", "2001:db8:1::/48"],
  "deny": ["*.bad.example.org", "secret.example.org", "**.worse.example.org", "203.0.113.0/24", "[2001:db8:2::1]", "**.xyz"],
  "upstreams": ["198.18.0.53", "[2001:db8::53]:5353"],
  "dns": {"minTTL": 5, "grace": 0},
}`

func TestPolicyDecide(t *testing.T) {
	c, err := ParseConfig("firewall.jsonc", []byte(policyConfig))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		allowed bool
		rule    string
		ports   []uint16
	}{
		{"api.example.com", true, "api.example.com", []uint16{22, 443}},
		{"API.Example.COM.", true, "api.example.com", []uint16{22, 443}},
		{"x.api.example.com", false, "", nil},
		{"a.cdn.example.com", true, "*.cdn.example.com:443", []uint16{443}},
		{"cdn.example.com", false, "", nil},
		{"a.b.cdn.example.com", false, "", nil},
		{"www.example.org", true, "**.example.org:80,443", []uint16{80, 443, 8443}},
		{"a.b.c.example.org", true, "**.example.org:80,443", []uint16{80, 443, 8443}},
		{"x.deep.example.org", true, "**.deep.example.org:9000", []uint16{80, 443, 8443, 9000}},
		{"example.org", false, "", nil},
		{"git.example.net", true, "git.example.net:22", []uint16{22}},
		{"x.bad.example.org", false, "deny: *.bad.example.org", nil},
		{"bad.example.org", true, "**.example.org:80,443", []uint16{80, 443, 8443}},
		{"x.y.bad.example.org", true, "**.example.org:80,443", []uint16{80, 443, 8443}},
		{"secret.example.org", false, "deny: secret.example.org", nil},
		{"a.b.worse.example.org", false, "deny: **.worse.example.org", nil},
		{"example.xyz", false, "deny: **.xyz", nil},
		{"example.com", false, "", nil},
		{"", false, "", nil},
		{".", false, "", nil},
		{"com", false, "", nil},
	}
	p := c.Policy()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.name)
			if d.Allowed != tt.allowed || d.Rule != tt.rule || !slices.Equal(d.Ports, tt.ports) {
				t.Errorf("Decide(%q) = %+v; want %v %q %v", tt.name, d, tt.allowed, tt.rule, tt.ports)
			}
		})
	}

	if got := fmt.Sprint(c.CIDRRules()); got != "[198.51.100.0/24 198.51.100.7/32:22 [2001:db8::/32]:443 2001:db8:1::/48]" {
		t.Errorf("CIDRRules = %s", got)
	}
	if got := fmt.Sprint(c.DenyCIDRs()); got != "[203.0.113.0/24 2001:db8:2::1/128]" {
		t.Errorf("DenyCIDRs = %s", got)
	}
	if got := fmt.Sprint(c.UpstreamAddrs()); got != "[198.18.0.53:53 [2001:db8::53]:5353]" {
		t.Errorf("UpstreamAddrs = %s", got)
	}
	if c.MinTTL() != 5*time.Second || c.Grace() != 0 {
		t.Errorf("MinTTL, Grace = %v, %v", c.MinTTL(), c.Grace())
	}
	var names []string
	for _, r := range c.NameRules() {
		names = append(names, r.String())
	}
	if got := strings.Join(names, " "); got != "api.example.com *.cdn.example.com **.example.org:80,443 git.example.net:22 **.example.org:8443 api.example.com:22 **.deep.example.org:9000" {
		t.Errorf("NameRules = %s", got)
	}
}

func TestPolicyDefaults(t *testing.T) {
	c, err := ParseConfig("f.jsonc", []byte(`{"dns": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.MinTTL() != DefaultMinTTL*time.Second || c.Grace() != DefaultGrace*time.Second {
		t.Errorf("MinTTL, Grace = %v, %v", c.MinTTL(), c.Grace())
	}
	if c.UpstreamAddrs() != nil || c.DenyCIDRs() != nil || len(c.NameRules()) != 0 {
		t.Errorf("empty config: %v %v", c.UpstreamAddrs(), c.DenyCIDRs())
	}
	if d := c.Policy().Decide("example.com"); d.Allowed || d.Rule != "" {
		t.Errorf("empty policy: %+v", d)
	}
}

// TestPolicyInCode checks a Config built in code: compiled at each call,
// and, when invalid, allowing nothing and denying every address.
func TestPolicyInCode(t *testing.T) {
	c := &Config{Domains: []string{"**.example.com:22"}, Deny: []string{"x.example.com"}}
	if d := c.Policy().Decide("a.example.com"); !d.Allowed || !slices.Equal(d.Ports, []uint16{22}) {
		t.Errorf("Decide = %+v", d)
	}
	if d := c.Policy().Decide("x.example.com"); d.Allowed {
		t.Errorf("denied name allowed: %+v", d)
	}
	bad := &Config{Domains: []string{"**.example.com"}, Deny: []string{"*"}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `deny[0] "*"`) {
		t.Errorf("Validate = %v", err)
	}
	if d := bad.Policy().Decide("a.example.com"); d.Allowed || !strings.HasPrefix(d.Rule, "invalid config: ") {
		t.Errorf("invalid config's policy: %+v", d)
	}
	if got := fmt.Sprint(bad.DenyCIDRs()); got != "[0.0.0.0/0 ::/0]" {
		t.Errorf("invalid config's DenyCIDRs = %s", got)
	}
	if bad.NameRules() != nil || bad.CIDRRules() != nil || bad.UpstreamAddrs() != nil {
		t.Error("invalid config has rules")
	}
	ttl := -5
	if (&Config{DNS: DNSConfig{MinTTL: &ttl}}).MinTTL() != time.Second {
		t.Error("MinTTL not kept within its bounds")
	}
	var nilPolicy *Policy
	if d := nilPolicy.Decide("a.example.com"); d.Allowed {
		t.Error("nil policy allows")
	}
}

func TestParseConfigEntryErrors(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"public suffix", "{\n  \"domains\": [\"ok.example.com\", \"*.com\"]\n}", `firewall.jsonc:2:33: domains[1] "*.com": "com" is a public suffix`},
		{"star", `{"domains": ["*"]}`, `domains[0] "*": a pattern must name a domain`},
		{"double star", `{"optionalDomains": ["**:443"]}`, `optionalDomains[0] "**:443": a pattern must name a domain`},
		{"inner wildcard", `{"domains": ["foo.*.com"]}`, `whole first label`},
		{"one label", `{"domains": ["localhost"]}`, `single label`},
		{"name port range", `{"domains": ["a.example.com:70000"]}`, `domains[0] "a.example.com:70000": port "70000"`},
		{"cidr port range", `{"cidrs": ["198.51.100.0/24:0"]}`, `cidrs[0] "198.51.100.0/24:0": port "0"`},
		{"cidr v6 port no brackets", `{"cidrs": ["2001:db8::/32:443"]}`, `takes brackets`},
		{"deny ports", `{"deny": ["a.example.com:22"]}`, `deny[0] "a.example.com:22": deny takes no ports`},
		{"deny cidr ports", `{"deny": ["[2001:db8::1]:22"]}`, `deny takes no ports`},
		{"deny star", `{"deny": ["**"]}`, `deny[0] "**"`},
		{"deny catch-all", `{"deny": ["0.0.0.0/0"]}`, `catch-all`},
		{"upstream name", `{"upstreams": ["dns.example.com"]}`, `upstreams[0] "dns.example.com": want an IP address`},
		{"upstream any", `{"upstreams": ["0.0.0.0"]}`, `unspecified`},
		{"upstream multicast", `{"upstreams": ["[ff02::fb]:53"]}`, `multicast`},
		{"upstream zone", `{"upstreams": ["fe80::1%eth0"]}`, `zone`},
		{"minTTL 0", "{\"dns\": {\n  \"minTTL\": 0}}", `firewall.jsonc:2:13: dns.minTTL "0": want whole seconds, 1-86400`},
		{"minTTL big", `{"dns": {"minTTL": 86401}}`, `dns.minTTL "86401"`},
		{"grace negative", `{"dns": {"grace": -1}}`, `dns.grace "-1": want whole seconds, 0-3600`},
		{"grace float", `{"dns": {"grace": 1.5}}`, `dns.grace: want an integer, got 1.5`},
		{"dns unknown key", `{"dns": {"ttl": 5}}`, `unknown key "dns.ttl" (known: minTTL, grace)`},
		{"deny type", `{"deny": "a.example.com"}`, `deny: want a list, got a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("firewall.jsonc", []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tt.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File != "firewall.jsonc" {
				t.Errorf("error %v is not a *ConfigError of the file", err)
			}
		})
	}
}

// TestConfigErrorKinds checks that every error of a bad file is a
// *ConfigError, which init-firewall turns into exit status 2, and that a
// file that cannot be read is not.
func TestConfigErrorKinds(t *testing.T) {
	for _, data := range []string{"{", `{"x": 1}`, `{"cidrs": [], "cidrs": []}`, `{"cidrs": 1}`, `{"cidrs": ["x"]}`, `[]`, ``} {
		_, err := ParseConfig("f.jsonc", []byte(data))
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "f.jsonc:") {
			t.Errorf("ParseConfig(%q) = %v, not a *ConfigError naming the file", data, err)
		}
	}
	_, err := LoadConfig(t.TempDir() + "/missing.jsonc")
	var ce *ConfigError
	if errors.As(err, &ce) {
		t.Errorf("a missing file is a *ConfigError: %v", err)
	}
}

// policyRules returns n name entries as a generated allowlist would hold
// them: a third exact names, a third one-label and a third any-depth
// patterns, under distinct registered domains.
func policyRules(n int) []string {
	rules := make([]string, n)
	for i := range rules {
		switch i % 3 {
		case 0:
			rules[i] = fmt.Sprintf("api.site%d.example", i)
		case 1:
			rules[i] = fmt.Sprintf("*.cdn.site%d.example:443", i)
		default:
			rules[i] = fmt.Sprintf("**.site%d.example:80,443", i)
		}
	}
	return rules
}

// BenchmarkPolicyDecide decides names against 10,000 rules, as the
// resolver does for every query: allowed names at each kind of rule,
// and names no rule allows.
func BenchmarkPolicyDecide(b *testing.B) {
	c := &Config{Domains: policyRules(10_000), Deny: []string{"**.bad.site2.example"}}
	p := c.Policy()
	names := []string{
		"api.site3000.example",          // exact
		"a.cdn.site3001.example",        // one label
		"x.y.z.site3002.example",        // any depth
		"X.Y.Z.SITE3002.EXAMPLE.",       // any depth, upper case
		"not.allowed.anywhere.example.", // no rule
		"a.b.c.d.e.f.g.h.example",       // no rule, deep
		"a.bad.site2.example",           // denied
	}
	for _, n := range names[:3] {
		if !p.Decide(n).Allowed {
			b.Fatalf("%s not allowed", n)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Decide(names[i%len(names)])
		i++
	}
}

// BenchmarkPolicyCompile compiles a policy of 10,000 rules (ParseConfig
// does it once per load).
func BenchmarkPolicyCompile(b *testing.B) {
	c := &Config{Domains: policyRules(10_000)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.compile(); err != nil {
			b.Fatal(err)
		}
	}
}
