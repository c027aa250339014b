// Package firewall builds and applies devbox's default-deny egress firewall.
//
// It is Linux-only: every file but this one builds only for linux, and only
// cmd/init-firewall imports it. The allowlist model it enforces (Config,
// read from firewall.jsonc) lives in the portable package
// firewall/allowlist, which the host CLI imports instead.
//
// It owns:
//   - the sources that turn an allowlist.Config into an Allowlist (Gather): DNS
//     (A/AAAA, CNAMEs followed, against the resolvers of a resolv.conf),
//     GitHub's meta API and AWS's ip-ranges.json (both fetched with retries
//     and a root-only cache of the last good answer), and static CIDRs;
//   - applying the allowlist in the box's network namespace (devbox's own
//     chains and ipsets, IPv4 and IPv6), verifying it, and the status
//     markers under /run/devbox;
//   - in the gateway, the audit log's sources: the resolver's answers and
//     the packets the rules copy to NFLOG (read over nfnetlink), written
//     through package firewall/audit, and the totals under /run/devbox.
//   - in the gateway, the live policy (live.go): the control socket
//     (control_server.go, protocol in firewall/control) through which the
//     host reloads firewall.jsonc, checks a destination and switches audit
//     mode, whose end the kernel enforces (a set whose entries time out).
//
// It must not touch anything that is not devbox's: no flushing of tables or
// chains it did not create (Docker's NAT rules for its embedded DNS at
// 127.0.0.11 stay as they are), no reading of credentials from the
// environment (the GitHub token comes only from a root-owned file), and no
// process exits: cmd/init-firewall is the wiring that turns errors into exit
// statuses. External programs run through internal/runner.
package firewall
