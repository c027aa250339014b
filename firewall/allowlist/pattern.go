package allowlist

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// patternKind says how much of a name a Pattern leaves open below its base.
type patternKind uint8

const (
	matchExact    patternKind = iota // example.com
	matchOneLabel                    // *.example.com: exactly one label more
	matchAnyDepth                    // **.example.com: one label or more
)

// prefixes of the pattern kinds, as written.
var kindPrefix = [...]string{matchExact: "", matchOneLabel: "*.", matchAnyDepth: "**."}

// Pattern is a parsed name pattern of the allowlist:
//
//	example.com      that name only
//	*.example.com    exactly one label more: a.example.com, not example.com
//	                 nor a.b.example.com
//	**.example.com   one label or more: a.example.com and a.b.example.com,
//	                 not example.com itself
//
// Names are compared case-insensitively and without their trailing dot. The
// zero Pattern matches nothing.
type Pattern struct {
	kind patternKind
	// base is the name below which a wildcard matches, or the exact name:
	// lower case, without the trailing dot.
	base string
}

// String returns the pattern in its canonical form: lower case, no
// trailing dot ("**.example.com").
func (p Pattern) String() string { return kindPrefix[p.kind] + p.base }

// Base returns the name the pattern is anchored at: the exact name, or the
// part after "*." or "**.".
func (p Pattern) Base() string { return p.base }

// IsWildcard reports whether the pattern matches names below its base
// rather than one name; such a pattern cannot be resolved ahead of time.
func (p Pattern) IsWildcard() bool { return p.kind != matchExact }

// Match reports whether name (any case, trailing dot allowed) is matched.
func (p Pattern) Match(name string) bool {
	if p.base == "" {
		return false
	}
	name = canonicalName(name)
	switch p.kind {
	case matchExact:
		return name == p.base
	}
	below, ok := strings.CutSuffix(name, "."+p.base)
	if !ok || below == "" || below[0] == '.' {
		return false
	}
	return p.kind == matchAnyDepth || strings.IndexByte(below, '.') < 0
}

// canonicalName lower-cases name (ASCII; DNS names are) and drops its
// trailing dot, allocating only when it has upper-case letters.
func canonicalName(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}

// ParsePattern parses a name pattern (see Pattern). It refuses what would
// allow more than the writer can vouch for:
//
//   - "*", "**" and a wildcard that is not the whole first label
//     ("a*.example.com", "foo.*.com");
//   - labels ValidateDomain refuses, and IP addresses (they belong in cidrs);
//   - a single label ("com", "localhost"): it is a top-level domain, or a
//     name only Docker's resolver knows, which needs no entry;
//   - a wildcard whose base is a public suffix of the Public Suffix List,
//     private section included ("*.com", "*.co.uk", "**.github.io",
//     "**.cloudfront.net", and "*.githubusercontent.com": GitHub put it on
//     the list, so raw.githubusercontent.com and its siblings are listed
//     one by one): anyone can register names below it. Names the
//     list does not know take its default rule, so every unknown top-level
//     label ("*.internal") counts as a public suffix too.
//
// An exact name that is itself a public suffix of two labels or more
// ("github.io") is accepted: it matches that one name, which its operator
// controls, and no name anyone else registers below it.
//
// The list is the one compiled into golang.org/x/net/publicsuffix. It says
// whether the base is a suffix, not whether suffixes lie below it:
// "**.amazonaws.com" is accepted though it covers s3.amazonaws.com's
// buckets. Write the narrowest pattern that works.
func ParsePattern(s string) (Pattern, error) {
	p, err := parsePattern(s)
	if err != nil {
		return Pattern{}, err
	}
	if p.kind != matchExact && isPublicSuffix(p.base) {
		return Pattern{}, fmt.Errorf("%q is a public suffix (Public Suffix List): names below it belong to different owners, so %s would allow names anyone can register; list the names you need, e.g. www.%s",
			p.base, p, p.base)
	}
	return p, nil
}

// parsePattern parses s without the public-suffix check; deny entries
// take it (denying a whole suffix only narrows the policy).
func parsePattern(s string) (Pattern, error) {
	name := strings.TrimSuffix(s, ".")
	var p Pattern
	switch {
	case name == "*" || name == "**" || name == "":
		return Pattern{}, errors.New(`a pattern must name a domain: "*" and "**" match everything`)
	case strings.HasPrefix(name, "**."):
		p.kind, name = matchAnyDepth, name[3:]
	case strings.HasPrefix(name, "*."):
		p.kind, name = matchOneLabel, name[2:]
	}
	if strings.Contains(name, "*") {
		return Pattern{}, errors.New(`a wildcard must be the whole first label: "*.example.com" (one label) or "**.example.com" (any depth)`)
	}
	if err := validateName(name); err != nil {
		return Pattern{}, err
	}
	if strings.IndexByte(name, '.') < 0 {
		if p.kind == matchExact {
			return Pattern{}, fmt.Errorf("%q is a single label, a top-level domain: write a full name such as example.%s (compose service names need no entry)", name, name)
		}
		// A one-label base is a top-level domain: the suffix check below
		// refuses it with the reason.
	}
	p.base = strings.ToLower(name)
	return p, nil
}

// isPublicSuffix reports whether name is a public suffix, ICANN or private.
// The list's default rule makes every unknown top-level label one.
func isPublicSuffix(name string) bool {
	suffix, _ := publicsuffix.PublicSuffix(name)
	return suffix == name
}

// DefaultNamePort is the TCP port a name entry without ports allows: HTTPS.
const DefaultNamePort uint16 = 443

// NameRule is a parsed name entry of domains or optionalDomains:
// "example.com", "*.example.com:443", "**.example.com:80,443".
type NameRule struct {
	Pattern Pattern
	// Ports are the TCP ports allowed on the name's addresses, ascending;
	// []uint16{443} when the entry names none.
	Ports []uint16
}

// String returns the entry in canonical form; ":443" is left out, as a
// name without ports means 443.
func (r NameRule) String() string {
	if len(r.Ports) == 1 && r.Ports[0] == DefaultNamePort {
		return r.Pattern.String()
	}
	return r.Pattern.String() + portsSuffix(r.Ports)
}

// ParseNameEntry parses "PATTERN" or "PATTERN:PORT[,PORT...]" (see
// ParsePattern and ParsePorts). A name without ports allows TCP 443 only.
func ParseNameEntry(s string) (NameRule, error) {
	name, ports, hasPorts := strings.Cut(s, ":")
	p, err := ParsePattern(name)
	if err != nil {
		return NameRule{}, err
	}
	r := NameRule{Pattern: p, Ports: []uint16{DefaultNamePort}}
	if hasPorts {
		if r.Ports, err = ParsePorts(ports); err != nil {
			return NameRule{}, err
		}
	}
	return r, nil
}

// CIDRRule is a parsed entry of cidrs: "140.82.112.0/20",
// "198.51.100.7:22", "[2001:db8::/32]:80,443".
type CIDRRule struct {
	Prefix netip.Prefix
	// Ports are the TCP ports allowed, ascending; nil allows every port
	// and protocol, the meaning of an entry without ports.
	Ports []uint16
}

// String returns the entry in canonical form: the masked prefix, in
// brackets when it is IPv6 and has ports.
func (r CIDRRule) String() string {
	if r.Ports == nil {
		return r.Prefix.String()
	}
	if r.Prefix.Addr().Is6() {
		return "[" + r.Prefix.String() + "]" + portsSuffix(r.Ports)
	}
	return r.Prefix.String() + portsSuffix(r.Ports)
}

// ParseCIDREntry parses a CIDR entry: a prefix or address as ParseCIDR
// takes it, optionally followed by ":PORT[,PORT...]" (TCP). An IPv6 prefix
// or address with ports is written in brackets ("[2001:db8::/32]:443"); an
// IPv6 one without brackets takes no ports. Without ports the entry allows
// every port and protocol.
func ParseCIDREntry(s string) (CIDRRule, error) {
	addr, ports, hasPorts := s, "", false
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return CIDRRule{}, errors.New(`missing "]": write [2001:db8::/32] or [2001:db8::/32]:443`)
		}
		addr = s[1:end]
		switch rest := s[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			ports, hasPorts = rest[1:], true
		default:
			return CIDRRule{}, fmt.Errorf(`unexpected %q after "]": want ":PORT[,PORT...]"`, rest)
		}
		if !strings.Contains(addr, ":") {
			return CIDRRule{}, errors.New("brackets are for IPv6 only: write 198.51.100.0/24:443")
		}
	default:
		// An IPv6 address has two colons or more: one is IPv4 with ports.
		if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
			addr, ports, hasPorts = s[:i], s[i+1:], true
		}
	}
	p, err := ParseCIDR(addr)
	if err != nil {
		if !hasPorts && strings.Contains(s, "/") && strings.Contains(s[strings.IndexByte(s, '/'):], ":") {
			return CIDRRule{}, fmt.Errorf("%w (an IPv6 prefix with ports takes brackets: [2001:db8::/32]:443)", err)
		}
		return CIDRRule{}, err
	}
	r := CIDRRule{Prefix: p}
	if hasPorts {
		if r.Ports, err = ParsePorts(ports); err != nil {
			return CIDRRule{}, err
		}
	}
	return r, nil
}

// IsCIDREntry reports whether entry is written as an address or a prefix
// (with or without ports) rather than a name: it is in brackets, holds a
// '/', is IPv6, or is an IPv4 address before an optional ":PORTS".
func IsCIDREntry(entry string) bool {
	if strings.HasPrefix(entry, "[") || strings.Contains(entry, "/") || strings.Count(entry, ":") >= 2 {
		return true
	}
	host, _, _ := strings.Cut(entry, ":")
	_, err := netip.ParseAddr(host)
	return err == nil
}

// ParsePorts parses a comma-separated list of TCP ports ("443",
// "80,443"): each 1-65535, none twice. It returns them ascending.
func ParsePorts(s string) ([]uint16, error) {
	if s == "" {
		return nil, errors.New(`no port after ":": write ENTRY:443 or ENTRY:80,443, or leave ":" out`)
	}
	var ports []uint16
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 65535 || f[0] == '+' {
			return nil, fmt.Errorf("port %q: a port is a number 1-65535, ports are separated by ','", f)
		}
		if slices.Contains(ports, uint16(n)) {
			return nil, fmt.Errorf("port %d is listed twice", n)
		}
		ports = append(ports, uint16(n))
	}
	slices.Sort(ports)
	return ports, nil
}

// portsSuffix writes ports as ":80,443".
func portsSuffix(ports []uint16) string {
	b := []byte{':'}
	for i, p := range ports {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(p), 10)
	}
	return string(b)
}
