package inet

import "strconv"

// Allowlist returns the firewall.jsonc entries that point every source and
// probe of an allowlist at the stand-ins: the tests write them over the
// generated values, whose public hosts must never be contacted.
func Allowlist() map[string]any {
	return map[string]any{
		// Names allow TCP 443 unless they say otherwise; the test hosts
		// serve HTTP on HTTPPort. The hosts in the ranges and CIDRs are
		// listed by name too, without ports: the resolver answers them,
		// and their ranges open every port.
		"domains":         []string{Allowed.Name + ":" + strconv.Itoa(HTTPPort), GitHub.Name, S3.Name, Static.Name},
		"optionalDomains": []string{OptionalAlias + ":" + strconv.Itoa(HTTPPort), OptionalMissing},
		"cidrs":           []string{prefix(Static.V4), prefix(Static.V6)},
		"github":          map[string]any{"url": GitHubMetaURL, "keys": []string{"web", "api", "git"}},
		"aws":             map[string]any{"url": AWSRangesURL, "services": []string{"S3"}, "regions": []string{"us-east-1"}},
		"verify": map[string]any{
			"reachable": []string{URL(Allowed.Name), URL(Allowed.V6.String())},
			"blocked":   []string{URL(Blocked.Name), URL(Blocked.V6.String())},
		},
	}
}
