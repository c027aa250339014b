// Package allowlist is devbox's egress policy as written in firewall.jsonc:
// the Config model, its HuJSON loader (errors, all *ConfigError, name
// file:line:col; unknown and duplicate keys refused), and the validation of
// every entry: name patterns (ParsePattern; public suffixes refused) and
// CIDRs with optional TCP ports (ParseNameEntry, ParseCIDREntry), deny,
// upstreams, dns, source URLs, ports and verify targets. Config.Policy
// compiles the names into a Policy that decides a DNS name in a few map
// lookups, whatever the number of entries.
//
// It is portable: the host CLI (devbox init, and later live policy edits)
// and init-firewall inside the box both import it, so it must not import
// anything Linux-only (netlink, iptables, golang.org/x/sys/unix), contact the
// network, or read anything but the file it is given. Turning a Config into
// rules belongs to package firewall.
package allowlist
