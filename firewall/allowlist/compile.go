package allowlist

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ConfigError is a firewall.jsonc that cannot be used: bad syntax, an
// unknown or duplicate key, a wrong type or a bad entry. init-firewall
// tells it from other failures (errors.As) to exit with the status of bad
// input.
type ConfigError struct {
	// File is the config's name; empty for a Config built in code.
	File string
	// Line and Col (1-based, Col in bytes) locate the text at fault; zero
	// when unknown.
	Line, Col int
	// Err says what is wrong, naming the entry: `cidrs[2] "10.0.0.0/4":
	// prefix shorter than /8 is a catch-all`.
	Err error
}

// Error returns "file:line:col: what", or as much of it as is known.
func (e *ConfigError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Col, e.Err)
	case e.File != "":
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return e.Err.Error()
}

// Unwrap returns the reason.
func (e *ConfigError) Unwrap() error { return e.Err }

// parsed is a Config's entries, parsed once.
type parsed struct {
	names     []NameRule
	denyCIDRs []netip.Prefix
	upstreams []netip.AddrPort
	policy    *Policy
}

// compile parses and checks every entry, returning an error naming the
// first bad one.
func (c *Config) compile() (*parsed, error) {
	out := &parsed{policy: newPolicy()}
	out.names = make([]NameRule, 0, len(c.Domains)+len(c.OptionalDomains))
	for _, list := range []struct {
		key     string
		entries []string
	}{{"domains", c.Domains}, {"optionalDomains", c.OptionalDomains}} {
		for i, s := range list.entries {
			r, err := ParseNameEntry(s)
			if err != nil {
				return nil, c.entryError(list.key+"["+strconv.Itoa(i)+"]", s, err)
			}
			out.names = append(out.names, r)
			out.policy.allow.add(r.Pattern, s, r.Ports)
		}
	}
	// The rules of cidrs are not kept: a long list costs its memory for
	// the life of the process, and CIDRRules is called once.
	for i, s := range c.CIDRs {
		if _, err := ParseCIDREntry(s); err != nil {
			return nil, c.entryError("cidrs["+strconv.Itoa(i)+"]", s, err)
		}
	}
	for i, s := range c.Deny {
		if IsCIDREntry(s) {
			r, err := ParseCIDREntry(s)
			if err == nil && r.Ports != nil {
				err = errors.New("deny takes no ports: a denied address is denied on every port")
			}
			if err != nil {
				return nil, c.entryError("deny["+strconv.Itoa(i)+"]", s, err)
			}
			out.denyCIDRs = append(out.denyCIDRs, r.Prefix)
			continue
		}
		p, err := parseDenyPattern(s)
		if err != nil {
			return nil, c.entryError("deny["+strconv.Itoa(i)+"]", s, err)
		}
		out.policy.deny.add(p, "deny: "+s, nil)
	}
	for i, s := range c.Upstreams {
		a, err := ParseUpstream(s)
		if err != nil {
			return nil, c.entryError("upstreams["+strconv.Itoa(i)+"]", s, err)
		}
		out.upstreams = append(out.upstreams, a)
	}
	for _, n := range []struct {
		key      string
		v        *int
		min, max int
	}{{"dns.minTTL", c.DNS.MinTTL, 1, maxMinTTL}, {"dns.grace", c.DNS.Grace, 0, maxGrace}} {
		if n.v != nil && (*n.v < n.min || *n.v > n.max) {
			return nil, c.entryError(n.key, strconv.Itoa(*n.v), fmt.Errorf("want whole seconds, %d-%d", n.min, n.max))
		}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseDenyPattern parses a name entry of deny: a pattern as ParsePattern
// takes it, but a public suffix is accepted (denying a whole suffix only
// narrows what is allowed), and ports are refused.
func parseDenyPattern(s string) (Pattern, error) {
	if strings.Contains(s, ":") {
		return Pattern{}, errors.New("deny takes no ports: a denied name is denied on every port")
	}
	return parsePattern(s)
}

// ParseUpstream parses a DNS server address: "IP" (port 53), "IP:PORT" or
// "[IPv6]:PORT". Names are refused (finding them would need DNS), and so
// are zones, the unspecified, broadcast and multicast addresses, and
// IPv4-mapped IPv6 (write the IPv4 form).
func ParseUpstream(s string) (netip.AddrPort, error) {
	var ap netip.AddrPort
	if a, err := netip.ParseAddr(s); err == nil {
		ap = netip.AddrPortFrom(a, DefaultUpstreamPort)
	} else if ap, err = netip.ParseAddrPort(s); err != nil {
		return netip.AddrPort{}, errors.New("want an IP address, IP:PORT or [IPv6]:PORT; a name would itself need DNS")
	}
	a := ap.Addr()
	switch {
	case a.Zone() != "":
		return netip.AddrPort{}, errors.New("address with a zone is not allowed")
	case a.Is4In6():
		return netip.AddrPort{}, errors.New("IPv4-mapped IPv6 address; write the IPv4 form")
	case a.IsUnspecified():
		return netip.AddrPort{}, errors.New("the unspecified address is not a server")
	case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.AddrPort{}, errors.New("a multicast or broadcast address is not a server")
	case ap.Port() == 0:
		return netip.AddrPort{}, errors.New("port must be 1-65535")
	}
	return ap, nil
}

// entries returns the parsed entries: those ParseConfig compiled, or,
// for a Config built in code, compiled now. An invalid Config yields nil
// and the error.
func (c *Config) entries() (*parsed, error) {
	if c.parsed != nil {
		return c.parsed, nil
	}
	return c.compile()
}

// Policy returns the compiled name policy of domains, optionalDomains and
// deny. For a Config ParseConfig returned it is compiled once; for one
// built in code it is compiled at every call, so keep the result. An
// invalid Config gets a policy that allows nothing (call Validate first to
// learn why).
func (c *Config) Policy() *Policy {
	p, err := c.entries()
	if err != nil {
		return denyAll(err.Error())
	}
	return p.policy
}

// NameRules returns the parsed entries of domains, then optionalDomains.
// An invalid Config has none. The result is shared: do not modify it.
func (c *Config) NameRules() []NameRule {
	p, err := c.entries()
	if err != nil {
		return nil
	}
	return p.names
}

// CIDRRules returns the parsed entries of cidrs, parsed at each call. An
// invalid Config has none.
func (c *Config) CIDRRules() []CIDRRule {
	if _, err := c.entries(); err != nil {
		return nil
	}
	rules := make([]CIDRRule, 0, len(c.CIDRs))
	for _, s := range c.CIDRs {
		r, err := ParseCIDREntry(s)
		if err != nil {
			return nil // changed since it was compiled
		}
		rules = append(rules, r)
	}
	return rules
}

// denyEverything is what DenyCIDRs returns for an invalid Config.
var denyEverything = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// DenyCIDRs returns the prefixes of deny. An invalid Config, whose deny
// entries cannot be read, denies every address: 0.0.0.0/0 and ::/0.
func (c *Config) DenyCIDRs() []netip.Prefix {
	p, err := c.entries()
	if err != nil {
		return denyEverything
	}
	return p.denyCIDRs
}

// UpstreamAddrs returns the parsed upstreams; none for an invalid Config
// or when none are set (the resolver then asks what Docker's forwards to).
func (c *Config) UpstreamAddrs() []netip.AddrPort {
	p, err := c.entries()
	if err != nil {
		return nil
	}
	return p.upstreams
}

// MinTTL returns dns.minTTL, DefaultMinTTL seconds when unset (kept
// within its bounds for a Config built in code).
func (c *Config) MinTTL() time.Duration {
	return seconds(c.DNS.MinTTL, DefaultMinTTL, 1, maxMinTTL)
}

// Grace returns dns.grace, DefaultGrace seconds when unset (kept within
// its bounds for a Config built in code).
func (c *Config) Grace() time.Duration {
	return seconds(c.DNS.Grace, DefaultGrace, 0, maxGrace)
}

func seconds(v *int, def, lo, hi int) time.Duration {
	if v == nil {
		return time.Duration(def) * time.Second
	}
	return time.Duration(min(max(*v, lo), hi)) * time.Second
}
