//go:build linux

package firewall

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// srcCheckNoCatchAll fails t when any prefix is a catch-all.
func srcCheckNoCatchAll(t *testing.T, ps []netip.Prefix) {
	t.Helper()
	for _, p := range ps {
		if err := allowlist.CheckPrefix(p); err != nil || !p.IsValid() {
			t.Fatalf("catch-all or invalid prefix %v yielded: %v", p, err)
		}
	}
}

// srcCheckMerged merges ps as Gather does and checks the result.
func srcCheckMerged(t *testing.T, ps []netip.Prefix) {
	t.Helper()
	cidrs := make([]string, len(ps))
	for i, p := range ps {
		cidrs[i] = p.String()
	}
	list, _, _ := Gather(t.Context(), &allowlist.Config{CIDRs: cidrs}, GatherOptions{ResolvConf: "/nonexistent"})
	srcCheckNoCatchAll(t, list.V4)
	srcCheckNoCatchAll(t, list.V6)
}

// FuzzGatherCIDRs checks that merging the prefixes of any config the
// allowlist accepts never forms a catch-all.
func FuzzGatherCIDRs(f *testing.F) {
	for _, seed := range []string{
		`{"cidrs": ["0.0.0.0/0", "::/0", "10.0.0.0/4", "::ffff:0:0/96"]}`,
		`{"cidrs": ["10.0.0.0/8", "11.0.0.0/8", "1.2.3.4", "2001:db8::/32"]}`,
		`{"cidrs": ["128.0.0.0/8", "129.0.0.0/8", "130.0.0.0/7", "132.0.0.0/6"]}`,
		`{"cidrs": ["2001::/16", "2000::/16", "2002::/15"]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := allowlist.ParseConfig("fuzz.jsonc", data)
		if err != nil {
			return
		}
		var ps []netip.Prefix
		for _, s := range c.CIDRs {
			p, err := allowlist.ParseCIDR(s)
			if err != nil {
				t.Fatalf("accepted cidr %q: %v", s, err)
			}
			ps = append(ps, p)
		}
		srcCheckMerged(t, ps)
	})
}

func FuzzParseGitHubMeta(f *testing.F) {
	for _, seed := range []struct{ doc, keys string }{
		{srcGitHubMeta, "web,api,git"},
		{srcGitHubMeta, "hooks,packages"},
		{`{"web": ["0.0.0.0/0"]}`, "web"},
		{`{"web": ["::/0", "::ffff:0:0/96", "1.0.0.0/7"]}`, "web"},
		{`{"web": ["10.0.0.0/8", "11.0.0.0/8", "8.0.0.0/7"]}`, "web"},
		{`{"web": "x"}`, "web"},
		{`null`, "web"},
		{`{"web": [1, 2]}`, "web"},
		{`<html>`, "web"},
	} {
		f.Add([]byte(seed.doc), seed.keys)
	}
	f.Fuzz(func(t *testing.T, data []byte, keys string) {
		ps, err := parseGitHubMeta(data, strings.Split(keys, ","))
		if err != nil {
			return
		}
		srcCheckNoCatchAll(t, ps)
		srcCheckMerged(t, ps)
	})
}

func FuzzParseAWSRanges(f *testing.F) {
	for _, seed := range []struct{ doc, service, region string }{
		{srcAWSRanges, "", ""},
		{srcAWSRanges, "S3", "us-east-1"},
		{`{"prefixes": [{"ip_prefix": "0.0.0.0/0", "region": "r", "service": "s"}], "ipv6_prefixes": []}`, "", ""},
		{`{"prefixes": [], "ipv6_prefixes": [{"ipv6_prefix": "::/0", "region": "r", "service": "s"}]}`, "s", "r"},
		{`{"prefixes": [{"ip_prefix": "1.2.3.4/32"}], "ipv6_prefixes": null}`, "", ""},
		{`{}`, "", ""},
		{`[]`, "", ""},
	} {
		f.Add([]byte(seed.doc), seed.service, seed.region)
	}
	f.Fuzz(func(t *testing.T, data []byte, service, region string) {
		var services, regions []string
		if service != "" {
			services = []string{service}
		}
		if region != "" {
			regions = []string{region}
		}
		ps, err := parseAWSRanges(data, services, regions)
		if err != nil {
			return
		}
		if len(ps) == 0 {
			t.Fatal("no error and no prefixes")
		}
		srcCheckNoCatchAll(t, ps)
		srcCheckMerged(t, ps)
	})
}
