package audit

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

// Suggestion is what `devbox policy suggest` proposes from a log: the
// entries of "domains" that would have allowed what the box was refused
// (or what audit mode let through), and notes on what it will not
// suggest. Only exact names are suggested, never a wildcard, and never an
// address: a pattern or a CIDR is the user's decision.
type Suggestion struct {
	// From and To span the records read.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Domains are entries for firewall.jsonc's "domains", by name.
	Domains []Entry `json:"domains"`
	// Notes say what was used and is not suggested, and why.
	Notes []string `json:"notes,omitempty"`
}

// Entry is one suggested name entry.
type Entry struct {
	// Entry is the entry as firewall.jsonc takes it: "NAME[:PORTS]".
	Entry string   `json:"entry"`
	Name  string   `json:"name"`
	Ports []uint16 `json:"ports,omitempty"` // TCP ports connected to; none: only asked for
	// Connections counts the TCP packets to the name's addresses on Ports
	// (refused, or let through by audit mode); Lookups the questions for
	// the name that the policy refused or audit mode answered.
	Connections uint64    `json:"connections"`
	Lookups     uint64    `json:"lookups"`
	Last        time.Time `json:"last"`
	// Comment says why, for the line above the entry.
	Comment string `json:"comment"`
}

// Suggester collects records for a Suggestion.
type Suggester struct {
	from, to time.Time
	names    map[string]*nameUse
	addrs    map[netip.Addr]*addrUse
	// expected are the hosts (names, addresses) of firewall.jsonc's
	// verify.blocked: the gateway's own check at its start asks them and
	// is refused, as the config wants.
	expected map[string]bool
}

type nameUse struct {
	lookups   uint64
	tcp       map[uint16]uint64
	other     map[string]uint64 // "udp/443": packets not TCP, which a name entry cannot open
	last      time.Time
	deniedBy  string
	connected bool
}

type addrUse struct {
	ports map[string]uint64 // "tcp/22"
	last  time.Time
}

// NewSuggester returns an empty Suggester.
func NewSuggester() *Suggester {
	return &Suggester{names: map[string]*nameUse{}, addrs: map[netip.Addr]*addrUse{}, expected: map[string]bool{}}
}

// ExpectBlocked names the config's verify.blocked targets: their hosts
// are never suggested (the config wants them refused).
func (s *Suggester) ExpectBlocked(targets []string) {
	for _, raw := range targets {
		if t, err := allowlist.ParseTarget(raw); err == nil {
			host := strings.TrimSuffix(strings.ToLower(t.Host), ".")
			if a, err := netip.ParseAddr(host); err == nil {
				host = a.Unmap().String()
			}
			s.expected[host] = true
		}
	}
}

func (s *Suggester) name(n string) *nameUse {
	n = strings.TrimSuffix(strings.ToLower(n), ".")
	u := s.names[n]
	if u == nil {
		u = &nameUse{tcp: map[uint16]uint64{}, other: map[string]uint64{}}
		s.names[n] = u
	}
	return u
}

// Add takes one record of the log.
func (s *Suggester) Add(r Record) {
	if s.from.IsZero() || r.Time.Before(s.from) {
		s.from = r.Time
	}
	if r.Time.After(s.to) {
		s.to = r.Time
	}
	used := !r.Allowed || r.Audit
	switch {
	case r.Kind == KindDNS && used && r.Name != "":
		u := s.name(r.Name)
		u.lookups++
		u.last = later(u.last, r.Time)
		if !r.Allowed && r.Rule != "" {
			u.deniedBy = r.Rule
		}
	case r.Kind == KindConn && used && !r.Inbound && r.Name != "":
		u := s.name(r.Name)
		u.connected = true
		u.last = later(u.last, r.Time)
		if r.Proto == "tcp" {
			u.tcp[r.Port] += r.Packets()
		} else {
			u.other[protoPort(r)] += r.Packets()
		}
	case r.Kind == KindConn && used && !r.Inbound && r.Dst.IsValid() && !r.Dst.IsMulticast() && !r.Dst.IsLinkLocalUnicast():
		// (Multicast and link-local packets, the kernel's own neighbour
		// and group traffic, are no destination to allow.)
		a := s.addrs[r.Dst]
		if a == nil {
			a = &addrUse{ports: map[string]uint64{}}
			s.addrs[r.Dst] = a
		}
		a.ports[protoPort(r)] += r.Packets()
		a.last = later(a.last, r.Time)
	}
}

// Result returns the suggestion of what was added, names and notes
// sorted.
func (s *Suggester) Result() Suggestion {
	out := Suggestion{From: s.from, To: s.to, Domains: []Entry{}}
	names := make([]string, 0, len(s.names))
	for n := range s.names {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		u := s.names[n]
		if s.expected[n] {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: refused, as firewall.jsonc's verify.blocked wants: not suggested", n))
			continue
		}
		if u.deniedBy != "" {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: asked %s, refused by %q: not suggested", n, times(u.lookups), u.deniedBy))
			continue
		}
		for _, pp := range sortedKeys(u.other) {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: %s %s refused: a name entry opens TCP only; only a CIDR opens other protocols", n, times(u.other[pp]), pp))
		}
		if len(u.tcp) == 0 && u.connected {
			continue // only other protocols: said above
		}
		e := Entry{Name: n, Lookups: u.lookups, Last: u.last}
		for p, c := range u.tcp {
			e.Ports = append(e.Ports, p)
			e.Connections += c
		}
		slices.Sort(e.Ports)
		e.Entry = n + portList(e.Ports)
		if _, err := allowlist.ParseNameEntry(e.Entry); err != nil {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: used, but not a valid entry: %v", n, err))
			continue
		}
		e.Comment = entryComment(e)
		out.Domains = append(out.Domains, e)
	}
	addrs := make([]netip.Addr, 0, len(s.addrs))
	for a := range s.addrs {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		u := s.addrs[a]
		if s.expected[a.Unmap().String()] {
			continue // the gateway's own check of verify.blocked
		}
		var parts []string
		for _, pp := range sortedKeys(u.ports) {
			parts = append(parts, fmt.Sprintf("%s %s", pp, times(u.ports[pp])))
		}
		out.Notes = append(out.Notes, fmt.Sprintf("%s: %s, last %s, with no name answered for it (an address written in the code, or answered before the log began): not suggested; a CIDR is yours to decide",
			a, strings.Join(parts, ", "), stamp(u.last)))
	}
	return out
}

// entryComment says what an entry rests on.
func entryComment(e Entry) string {
	var parts []string
	if len(e.Ports) > 0 {
		ports := make([]string, len(e.Ports))
		for i, p := range e.Ports {
			ports[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, fmt.Sprintf("%s to TCP %s", plural(e.Connections, "connection"), strings.Join(ports, ", ")))
	}
	if e.Lookups > 0 {
		parts = append(parts, plural(e.Lookups, "lookup"))
	}
	c := strings.Join(parts, " and ") + ", last " + stamp(e.Last)
	if len(e.Ports) == 0 {
		c += "; no connection seen (the name was never answered): TCP 443 assumed, audit mode shows the ports it uses"
	}
	return c
}

// portList is ":P1,P2" for an entry, "" for 443 alone or no port.
func portList(ports []uint16) string {
	if len(ports) == 0 || len(ports) == 1 && ports[0] == allowlist.DefaultNamePort {
		return ""
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return ":" + strings.Join(s, ",")
}

func protoPort(r Record) string {
	if r.Port == 0 {
		return r.Proto
	}
	return r.Proto + "/" + strconv.Itoa(int(r.Port))
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func times(n uint64) string {
	if n == 1 {
		return "once"
	}
	return strconv.FormatUint(n, 10) + " times"
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatUint(n, 10) + " " + what + "s"
}
