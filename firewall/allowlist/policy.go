package allowlist

import (
	"slices"
	"strings"
)

// Policy decides which names may be resolved, and on which TCP ports their
// addresses may be reached. It is compiled from a Config's domains,
// optionalDomains and deny (Config.Policy) and is read-only, so one Policy
// may serve concurrent queries.
//
// A decision costs a few map lookups per label of the name, whatever the
// number of rules: exact names, one-label bases and any-depth bases each
// have their own map, and the name's suffixes are looked up in them.
type Policy struct {
	allow, deny ruleMaps
	// invalid, when set, is why the Config could not be compiled: the
	// policy then allows nothing.
	invalid string
}

// ruleMaps index patterns by base, one map per kind.
type ruleMaps [3]map[string]*policyRule

// policyRule is what the entries of one pattern allow or deny.
type policyRule struct {
	// entry is the first entry as written that has this pattern, for the
	// decision's Rule ("deny: " before it for a deny entry).
	entry string
	// ports is the union of the ports of every allow entry of the pattern.
	ports []uint16
}

// Decision is the policy's answer for one name.
type Decision struct {
	// Allowed is true when an allow entry matches the name and no deny
	// entry does.
	Allowed bool
	// Rule is the entry as written that decided: the most specific
	// matching allow entry ("**.example.com:443"), or the matching deny
	// entry prefixed "deny: " ("deny: *.bad.example.com"). It is empty
	// when no entry matches.
	Rule string
	// Ports are the TCP ports allowed on the name's addresses: the union of
	// the ports of every allow entry that matches, ascending. Nil when not
	// allowed. Callers must not modify it.
	Ports []uint16
}

// newPolicy makes an empty policy.
func newPolicy() *Policy {
	p := &Policy{}
	for i := range p.allow {
		p.allow[i] = map[string]*policyRule{}
		p.deny[i] = map[string]*policyRule{}
	}
	return p
}

// denyAll returns a policy that allows nothing, for an invalid Config.
func denyAll(reason string) *Policy {
	p := newPolicy()
	p.invalid = reason
	return p
}

// add records an entry; ports is nil for deny entries.
func (m ruleMaps) add(p Pattern, entry string, ports []uint16) {
	r := m[p.kind][p.base]
	if r == nil {
		m[p.kind][p.base] = &policyRule{entry: entry, ports: ports}
		return
	}
	r.ports = unionPorts(r.ports, ports)
}

// match appends to buf every rule matching name (canonical), the most
// specific first: the exact name, its one-label base, then its any-depth
// bases from the longest. When first is set it stops at the first.
func (m ruleMaps) match(name string, first bool, buf []*policyRule) []*policyRule {
	if r := m[matchExact][name]; r != nil {
		if buf = append(buf, r); first {
			return buf
		}
	}
	dot := strings.IndexByte(name, '.')
	if dot <= 0 {
		return buf
	}
	if r := m[matchOneLabel][name[dot+1:]]; r != nil {
		if buf = append(buf, r); first {
			return buf
		}
	}
	if len(m[matchAnyDepth]) == 0 {
		return buf
	}
	for rest := name[dot+1:]; ; {
		if r := m[matchAnyDepth][rest]; r != nil {
			if buf = append(buf, r); first {
				return buf
			}
		}
		next := strings.IndexByte(rest, '.')
		if next < 0 {
			return buf
		}
		rest = rest[next+1:]
	}
}

// Decide returns the decision for name (any case, trailing dot allowed).
// Deny entries win over allow entries. It does not check that name is a
// well-formed DNS name ("a b.example.com" matches **.example.com): the
// resolver refuses malformed questions before it asks.
func (p *Policy) Decide(name string) Decision {
	if p == nil || p.invalid != "" {
		return Decision{Rule: p.reason()}
	}
	name = canonicalName(name)
	if name == "" {
		return Decision{}
	}
	var buf [8]*policyRule
	if denied := p.deny.match(name, true, buf[:0]); len(denied) > 0 {
		return Decision{Rule: denied[0].entry}
	}
	allowed := p.allow.match(name, false, buf[:0])
	if len(allowed) == 0 {
		return Decision{}
	}
	d := Decision{Allowed: true, Rule: allowed[0].entry, Ports: allowed[0].ports}
	for _, r := range allowed[1:] {
		d.Ports = unionPorts(d.Ports, r.ports)
	}
	return d
}

// reason is the Rule of the decisions of a policy that allows nothing.
func (p *Policy) reason() string {
	if p == nil {
		return "no policy"
	}
	return "invalid config: " + p.invalid
}

// unionPorts merges two ascending port lists into a new one; it returns a
// or b itself when the other adds nothing.
func unionPorts(a, b []uint16) []uint16 {
	switch {
	case len(b) == 0 || slices.Equal(a, b):
		return a
	case len(a) == 0:
		return b
	}
	out := make([]uint16, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}
