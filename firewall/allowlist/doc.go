// Package allowlist is devbox's egress policy as written in firewall.jsonc:
// the Config model, its HuJSON loader (errors name file:line:col, unknown
// and duplicate keys refused), and the validation of every entry (domains,
// CIDR prefixes with catch-alls refused, source URLs, ports, verify targets).
//
// It is portable: the host CLI (devbox init, and later live policy edits)
// and init-firewall inside the box both import it, so it must not import
// anything Linux-only (netlink, iptables, golang.org/x/sys/unix), contact the
// network, or read anything but the file it is given. Turning a Config into
// rules belongs to package firewall.
package allowlist
