package firewall

import (
	"net/netip"
	"testing"
)

// srcCheckNoCatchAll fails t when any prefix is a catch-all.
func srcCheckNoCatchAll(t *testing.T, ps []netip.Prefix) {
	t.Helper()
	for _, p := range ps {
		if err := checkPrefix(p); err != nil || !p.IsValid() {
			t.Fatalf("catch-all or invalid prefix %v yielded: %v", p, err)
		}
	}
}

// srcCheckMerged merges ps as Gather does and checks the result.
func srcCheckMerged(t *testing.T, ps []netip.Prefix) {
	t.Helper()
	list, _, _ := Gather(t.Context(), &Config{CIDRs: srcPrefixStrings(ps)}, GatherOptions{ResolvConf: "/nonexistent"})
	srcCheckNoCatchAll(t, list.V4)
	srcCheckNoCatchAll(t, list.V6)
}

func srcPrefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		srcExampleConfig,
		`{}`,
		`{"cidrs": ["0.0.0.0/0", "::/0", "10.0.0.0/4", "::ffff:0:0/96"]}`,
		`{"cidrs": ["10.0.0.0/8", "11.0.0.0/8", "1.2.3.4", "2001:db8::/32"]}`,
		`{"domains": ["a.test", "*.b.test"], /* c */ "hostPorts": [0, 65536, 1e3],}`,
		`{"github": null, "aws": {"services": ["S3"]}, "verify": {"reachable": ["tcp://[::1]:22"]}}`,
		`{"github": {"keys": ["web"], "url": "https://x.test/meta", "tokenFile": "/t"}, "cacheDir": "/c"}`,
		"{\n\"domains\": [\"a.test\"\n}",
		`{"a": 1, "a": 2}`,
		`[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.jsonc", data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate refuses: %v", err)
		}
		var ps []netip.Prefix
		for _, s := range c.CIDRs {
			p, err := ParseCIDR(s)
			if err != nil {
				t.Fatalf("accepted cidr %q: %v", s, err)
			}
			ps = append(ps, p)
		}
		srcCheckNoCatchAll(t, ps)
		srcCheckMerged(t, ps)
	})
}
