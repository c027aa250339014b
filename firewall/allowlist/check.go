package allowlist

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Destination is what `devbox policy check` asks about: a name or an
// address, and a TCP port.
type Destination struct {
	Host string     // a name, canonical; empty when Addr is set
	Addr netip.Addr // an address; invalid when Host is set
	Port uint16
}

// String returns HOST:PORT ([ADDR]:PORT for IPv6).
func (d Destination) String() string {
	if d.Addr.IsValid() {
		return netip.AddrPortFrom(d.Addr, d.Port).String()
	}
	return d.Host + ":" + strconv.Itoa(int(d.Port))
}

// ParseDestination parses "HOST", "HOST:PORT", "ADDR", "ADDR:PORT" or
// "[IPv6]:PORT". Without a port it means TCP 443, as a name entry does.
func ParseDestination(s string) (Destination, error) {
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") == 1 {
		return Destination{}, fmt.Errorf("destination %q: %v", s, err)
	}
	d := Destination{Port: DefaultNamePort}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return Destination{}, fmt.Errorf("destination %q: port %q is not 1-65535", s, port)
		}
		d.Port = uint16(n)
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		d.Addr = a.Unmap().WithZone("")
		return d, nil
	}
	if err := validateName(canonicalName(host)); err != nil {
		return Destination{}, fmt.Errorf("destination %q: %w", s, err)
	}
	d.Host = canonicalName(host)
	return d, nil
}

// Verdict says whether the policy allows a destination, and what decided.
type Verdict struct {
	Destination string `json:"destination"`
	Allowed     bool   `json:"allowed"`
	// Rule is the entry as written that decided ("" for the default deny).
	Rule string `json:"rule,omitempty"`
	// By says what kind of rule decided: "name" (domains, a name's
	// addresses on its ports), "address" (cidrs, published ranges, deny
	// CIDRs), "audit" (audit mode lets it through), or "default".
	By string `json:"by"`
	// Note adds what the verdict does not show (a name's addresses
	// are allowed only once the resolver answered them).
	Note string `json:"note,omitempty"`
}

// Check decides dst by the config alone: the name policy for a name, the
// deny and cidrs entries for an address. Published ranges (GitHub, AWS)
// are not known here; the gateway adds them (firewall's live check).
func (c *Config) Check(dst Destination) Verdict {
	v := Verdict{Destination: dst.String(), By: "default"}
	if dst.Addr.IsValid() {
		for _, p := range c.DenyCIDRs() {
			if p.Contains(dst.Addr) {
				v.Rule, v.By = "deny: "+p.String(), "address"
				return v
			}
		}
		if _, err := c.entries(); err != nil {
			return v
		}
		for _, s := range c.CIDRs {
			r, err := ParseCIDREntry(s)
			if err == nil && r.Prefix.Contains(dst.Addr) && (r.Ports == nil || slices.Contains(r.Ports, dst.Port)) {
				v.Allowed, v.Rule, v.By = true, s, "address"
				return v
			}
		}
		return v
	}
	d := c.Policy().Decide(dst.Host)
	v.Rule = d.Rule
	if v.Rule != "" {
		v.By = "name"
	}
	switch {
	case !d.Allowed:
	case slices.Contains(d.Ports, dst.Port):
		v.Allowed = true
	default:
		v.Note = fmt.Sprintf("the name is allowed on TCP %s only", joinPorts(d.Ports))
	}
	return v
}

func joinPorts(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}
