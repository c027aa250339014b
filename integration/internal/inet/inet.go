// Package inet builds the stand-in internet the integration tests send their
// traffic to: a network namespace, dbit-inet, joined to the host by a veth
// pair, holding test hosts on reserved addresses with a DNS server, an HTTP
// server (plain pages, a GitHub-meta-shaped and an AWS-shaped JSON document)
// and TCP and UDP echo listeners. The host routes only the test ranges
// 198.51.100.0/24, 203.0.113.0/28 and 2001:db8:100::/48 into the veth, so a
// container's traffic to them leaves through Docker's bridge as it would to
// the internet, and nothing else is ever contacted.
//
// It owns the namespace dbit-inet, the host link dbit-h and the routes
// through it; it removes them when closed, and removes leftovers of a killed
// earlier run before it starts. It must not touch any other route or address
// of the host.
package inet

import (
	"net/netip"
	"strings"
)

// Names of what Start creates.
const (
	Namespace = "dbit-inet" // the network namespace of the test hosts
	HostLink  = "dbit-h"    // the host's end of the veth pair
	PeerLink  = "dbit-n"    // the namespace's end of the veth pair
)

// The veth pair's own addresses: small link networks inside the test ranges,
// so the routes to the test hosts can name the namespace as their gateway.
var (
	hostV4 = netip.MustParsePrefix("198.51.100.1/30")
	peerV4 = netip.MustParsePrefix("198.51.100.2/30")
	hostV6 = netip.MustParsePrefix("2001:db8:100:ffff::1/64")
	peerV6 = netip.MustParsePrefix("2001:db8:100:ffff::2/64")
)

// Routes are the only routes Start adds to the host namespace; all of them go
// through the veth pair. Only the first 16 addresses of 203.0.113.0/24 are
// taken: on the machines this runs on, the package registries' proxy answers
// at 203.0.113.80, and image builds must still reach it.
var Routes = []netip.Prefix{
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/28"),
	netip.MustParsePrefix("2001:db8:100::/48"),
}

// Host is a test host: a DNS name with one address per family, all served by
// the listeners of the namespace.
type Host struct {
	Name string
	V4   netip.Addr
	V6   netip.Addr
}

// Addrs returns the host's addresses, IPv4 first.
func (h Host) Addrs() []netip.Addr { return []netip.Addr{h.V4, h.V6} }

// The test hosts. The allowlist the tests write allows Allowed by name,
// GitHub and S3 through the meta documents, Static through a CIDR, and
// nothing of Blocked or EC2.
var (
	// Resolver is the DNS server the containers are pointed at.
	Resolver = Host{"dns.dbit.test", addr("198.51.100.53"), addr("2001:db8:100::53")}
	// Allowed is listed by name in the allowlist's domains.
	Allowed = Host{"allowed.dbit.test", addr("198.51.100.10"), addr("2001:db8:100::10")}
	// Blocked is in no source of the allowlist (and on another /24); it
	// runs a DNS server too, a resolver the box must not reach.
	Blocked = Host{"blocked.dbit.test", addr("203.0.113.10"), addr("2001:db8:100:101::10")}
	// Meta serves the GitHub-meta-shaped and AWS-shaped documents.
	Meta = Host{"meta.dbit.test", addr("198.51.100.80"), addr("2001:db8:100::80")}
	// GitHub is listed in every key of the GitHub meta document.
	GitHub = Host{"github.dbit.test", addr("198.51.100.20"), addr("2001:db8:100::20")}
	// S3 is listed for service S3 in the AWS document.
	S3 = Host{"s3.dbit.test", addr("198.51.100.30"), addr("2001:db8:100::30")}
	// EC2 is listed for service EC2 only, which the allowlist does not select.
	EC2 = Host{"ec2.dbit.test", addr("198.51.100.31"), addr("2001:db8:100::31")}
	// Static is allowed by a CIDR entry of the allowlist.
	Static = Host{"static.dbit.test", addr("198.51.100.40"), addr("2001:db8:100::40")}
)

// Hosts are all the test hosts the namespace holds.
var Hosts = []Host{Resolver, Allowed, Blocked, Meta, GitHub, S3, EC2, Static}

// Names of the optional domains the allowlist lists: one resolves (to
// Allowed, through a CNAME), one does not exist.
const (
	OptionalAlias   = "www.allowed.dbit.test"
	OptionalMissing = "missing.dbit.test"
)

// Ports of the listeners on every test host.
const (
	HTTPPort = 80
	EchoPort = 7 // TCP and UDP echo
)

// Paths of the documents the HTTP server serves on every host.
const (
	GitHubMetaPath = "/github/meta"
	AWSRangesPath  = "/aws/ip-ranges.json"
)

// GitHubMetaURL and AWSRangesURL are the source URLs the allowlist is
// pointed at.
var (
	GitHubMetaURL = "http://" + Meta.Name + GitHubMetaPath
	AWSRangesURL  = "http://" + Meta.Name + AWSRangesPath
)

// URL returns http://host/ for a name or an address.
func URL(host string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + "/"
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// records returns the DNS records of the test hosts.
func records() map[string][]string {
	r := map[string][]string{OptionalAlias: {"CNAME:" + Allowed.Name}}
	for _, h := range Hosts {
		r[h.Name] = []string{h.V4.String(), h.V6.String()}
	}
	return r
}
