// Package audit is the gateway's audit log: one JSON line per decision
// (a DNS answer, a connection refused or let through by audit mode, a
// change of policy), written by init-firewall in the gateway and read by
// the host through `devbox log` and `devbox policy suggest`. It is
// portable: the host CLI parses what the gateway writes.
//
// Every string in a record may come from the agent (it chooses the names
// it asks for), so whatever renders a record for a terminal escapes it
// (internal/termsafe), and the lines themselves are ASCII (Marshal).
//
// It owns the log's format, its writer (rotated by size, Writer), the
// bounds on what is written (Logger: rates per kind, a queue that never
// blocks; Folder: repeats of a packet folded), reading it back (Read,
// Follow, Decode) and turning it into allowlist entries (Suggester). It
// reads and writes only the files it is given, and sends nothing.
package audit

import (
	"encoding/json"
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
	// KindLost stands for records that were not written: over the log's
	// rate, behind a writer that lagged, or lost in the kernel's queue
	// (Count says how many, at least; Err says why).
	KindLost Kind = "lost"
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
	// Inbound marks a packet that came in to the box, from Src, refused;
	// Dst and Port are then the box's.
	Inbound bool       `json:"inbound,omitempty"`
	Src     netip.Addr `json:"src,omitzero"`
	// Count is how many packets a KindConn record stands for (repeats of
	// one destination are folded into one record; 0 reads as 1), or how
	// many records a KindLost one does.
	Count uint64 `json:"count,omitempty"`

	// KindPolicy and KindAudit.
	Action  string    `json:"action,omitempty"`  // allow, deny, reload; start, end
	Pattern string    `json:"pattern,omitempty"` // PATTERN[:PORTS] of allow or deny
	Until   time.Time `json:"until,omitzero"`    // KindAudit start: when it ends by itself

	// Err says what failed, for a decision that could not be carried out.
	Err string `json:"err,omitempty"`
}

// AuditRule is the Rule of a name audit mode answered that the policy
// alone would have refused: the gateway marks such records Audit.
const AuditRule = "audit mode"

// Blocked reports whether r is a refusal (a name or a connection) or says
// that records were lost: what `devbox log --blocked` shows.
func (r Record) Blocked() bool {
	switch r.Kind {
	case KindDNS, KindConn:
		return !r.Allowed
	case KindLost:
		return true
	}
	return false
}

// Packets is how many packets a KindConn record stands for.
func (r Record) Packets() uint64 { return max(r.Count, 1) }

// Counts are the gateway's totals since it started: what `devbox status`
// shows. The gateway writes them to contract.AuditCounts.
type Counts struct {
	// Since is when the gateway started counting.
	Since time.Time `json:"since"`
	// Time is when the counts were written.
	Time time.Time `json:"time"`
	// DNSAllowed and DNSRefused count the names asked, by the policy's
	// verdict.
	DNSAllowed uint64 `json:"dnsAllowed"`
	DNSRefused uint64 `json:"dnsRefused"`
	// ConnRefused counts the packets refused (a TCP connection refused is
	// one: its SYN is answered with a reset), as read from NFLOG.
	ConnRefused uint64 `json:"connRefused"`
	// ConnAudited counts the connections audit mode let through.
	ConnAudited uint64 `json:"connAudited,omitempty"`
	// Lost counts the records that were not written (KindLost).
	Lost uint64 `json:"lost,omitempty"`
}

// ParseCounts reads the contents of contract.AuditCounts; nil when they
// are not counts (a torn or foreign file).
func ParseCounts(data []byte) *Counts {
	var c Counts
	if json.Unmarshal(data, &c) != nil {
		return nil
	}
	return &c
}
