// Package audit is the gateway's audit log: one JSON line per decision
// (a DNS answer, a connection refused or let through by audit mode, a
// change of policy), written by init-firewall in the gateway and read by
// the host through `devbox log` and `devbox policy suggest`. It is
// portable: the host CLI parses what the gateway writes.
//
// Every string in a record may come from the agent (it chooses the names
// it asks for), so whatever renders a record for a terminal escapes it.
package audit

import (
	"net/netip"
	"time"
)

// Kind says what a record is about.
type Kind string

// The kinds of record.
const (
	// KindDNS is a name asked of the gateway's resolver, and its answer.
	KindDNS Kind = "dns"
	// KindConn is a connection: refused by the rules (read from NFLOG), or
	// let through by audit mode.
	KindConn Kind = "conn"
	// KindPolicy is a change of policy: a live allow or deny, a reload.
	KindPolicy Kind = "policy"
	// KindAudit is audit mode starting or ending.
	KindAudit Kind = "audit"
)

// Record is one line of the audit log. Fields that do not apply to a kind
// are left out.
type Record struct {
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`
	// Allowed is the decision: an answer released, a connection let
	// through.
	Allowed bool `json:"allowed"`
	// Audit marks what audit mode let through that the policy alone
	// would have refused.
	Audit bool `json:"audit,omitempty"`
	// Rule is the allowlist entry that decided ("" for the default deny).
	Rule string `json:"rule,omitempty"`

	// KindDNS.
	Name   string       `json:"name,omitempty"` // also KindConn: the name the address was last answered for
	Type   string       `json:"type,omitempty"` // A, AAAA, TXT...
	Rcode  string       `json:"rcode,omitempty"`
	Answer []netip.Addr `json:"answer,omitempty"`
	CNAMEs []string     `json:"cnames,omitempty"`
	Cached bool         `json:"cached,omitempty"`

	// KindConn.
	Dst   netip.Addr `json:"dst,omitzero"`
	Port  uint16     `json:"port,omitempty"`
	Proto string     `json:"proto,omitempty"` // tcp, udp, icmp...

	// KindPolicy and KindAudit.
	Action  string    `json:"action,omitempty"`  // allow, deny, reload; start, end
	Pattern string    `json:"pattern,omitempty"` // PATTERN[:PORTS] of allow or deny
	Until   time.Time `json:"until,omitzero"`    // KindAudit start: when it ends by itself

	// Err says what failed, for a decision that could not be carried out.
	Err string `json:"err,omitempty"`
}
