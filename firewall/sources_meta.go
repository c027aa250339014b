//go:build linux

package firewall

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// decodeStrict decodes one JSON value from data into v and refuses trailing
// data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not the expected JSON: %w", err)
	}
	if dec.More() {
		return errors.New("not the expected JSON: data after the document")
	}
	return nil
}

// parseGitHubMeta returns the prefixes listed under keys in a GitHub meta
// document (https://api.github.com/meta): a JSON object whose selected keys
// are lists of CIDR strings. A missing key, a key of another shape, a bad
// entry or a catch-all is an error.
func parseGitHubMeta(data []byte, keys []string) ([]netip.Prefix, error) {
	var doc map[string]json.RawMessage
	if err := decodeStrict(data, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, errors.New("not the expected JSON: want an object, got null")
	}
	var prefixes []netip.Prefix
	for _, key := range keys {
		raw, ok := doc[key]
		if !ok {
			return nil, fmt.Errorf("key %q missing (have: %s)", key, strings.Join(slices.Sorted(maps.Keys(doc)), ", "))
		}
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil || list == nil {
			return nil, fmt.Errorf("key %q: want a list of CIDR strings", key)
		}
		for i, s := range list {
			p, err := allowlist.ParseCIDR(s)
			if err != nil {
				return nil, fmt.Errorf("%s[%d] %q: %w", key, i, s, err)
			}
			prefixes = append(prefixes, p)
		}
	}
	return prefixes, nil
}

// awsRanges is the shape of ip-ranges.json
// (https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-ranges.html);
// pointers tell a missing field from an empty one.
type awsRanges struct {
	Prefixes *[]struct {
		Prefix  *string `json:"ip_prefix"`
		Region  *string `json:"region"`
		Service *string `json:"service"`
	} `json:"prefixes"`
	IPv6Prefixes *[]struct {
		Prefix  *string `json:"ipv6_prefix"`
		Region  *string `json:"region"`
		Service *string `json:"service"`
	} `json:"ipv6_prefixes"`
}

// parseAWSRanges returns the prefixes of an ip-ranges.json document whose
// service and region are among services and regions (compared without case;
// an empty list keeps all). A malformed entry or a catch-all is an error, and
// so is a filter that keeps nothing (most likely a misspelt service).
func parseAWSRanges(data []byte, services, regions []string) ([]netip.Prefix, error) {
	var doc awsRanges
	if err := decodeStrict(data, &doc); err != nil {
		return nil, err
	}
	if doc.Prefixes == nil || doc.IPv6Prefixes == nil {
		return nil, errors.New(`not the expected JSON: want "prefixes" and "ipv6_prefixes" lists`)
	}
	keep := func(list []string, v string) bool {
		return len(list) == 0 || slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, v) })
	}
	var prefixes []netip.Prefix
	add := func(field string, i int, prefix, region, service *string, want6 bool) error {
		if prefix == nil || region == nil || service == nil {
			return fmt.Errorf("%s[%d]: want prefix, region and service strings", field, i)
		}
		p, err := allowlist.ParseCIDR(*prefix)
		if err != nil {
			return fmt.Errorf("%s[%d] %q: %w", field, i, *prefix, err)
		}
		if p.Addr().Is6() != want6 {
			return fmt.Errorf("%s[%d] %q: wrong address family", field, i, *prefix)
		}
		if keep(services, *service) && keep(regions, *region) {
			prefixes = append(prefixes, p)
		}
		return nil
	}
	for i, e := range *doc.Prefixes {
		if err := add("prefixes", i, e.Prefix, e.Region, e.Service, false); err != nil {
			return nil, err
		}
	}
	for i, e := range *doc.IPv6Prefixes {
		if err := add("ipv6_prefixes", i, e.Prefix, e.Region, e.Service, true); err != nil {
			return nil, err
		}
	}
	if len(prefixes) == 0 {
		return nil, fmt.Errorf("no prefix matches services %q and regions %q", services, regions)
	}
	return prefixes, nil
}
