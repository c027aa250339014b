package allowlist

import "testing"

// fuzzConfigSeeds are configs worth starting the fuzzer from: catch-alls,
// bad syntax, wrong types and every source.
var fuzzConfigSeeds = []string{
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
}

func FuzzParseConfig(f *testing.F) {
	for _, seed := range fuzzConfigSeeds {
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
		for _, s := range c.CIDRs {
			p, err := ParseCIDR(s)
			if err != nil {
				t.Fatalf("accepted cidr %q: %v", s, err)
			}
			if err := CheckPrefix(p); err != nil || !p.IsValid() {
				t.Fatalf("catch-all or invalid prefix %v accepted: %v", p, err)
			}
		}
	})
}
