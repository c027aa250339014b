package firewall

import (
	"strings"
	"testing"
)

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
