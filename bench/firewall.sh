#!/usr/bin/env bash
# Firewall benchmark: prints figures, asserts nothing. Needs root (it makes
# dbfw-* network namespaces and sends traffic only inside them), ipset and
# iptables. Figures:
#   - ipset load of 10,000 IPv4 + 2,000 IPv6 prefixes: init-firewall's
#     netlink loader vs `ipset restore` vs one `ipset add` per entry;
#   - devbox's chains loaded by one iptables-restore vs go-iptables per rule;
#   - a whole init-firewall run (20 domains from a local DNS server, a
#     1,000-prefix GitHub meta from a local HTTP server): median time, peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench/firewall.sh: run as root" >&2; exit 1; fi
for bin in ipset iptables-restore ip6tables-restore ip; do
  command -v "$bin" >/dev/null || { echo "bench/firewall.sh: $bin missing (apt-get install ipset iptables iproute2)" >&2; exit 1; }
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! DEVBOX_BENCH=1 go test -count=1 -run '^TestBenchFirewall$' -v -timeout 20m ./firewall >"$out" 2>&1; then
  cat "$out" # the whole log: the reason of a failure is in the indented lines
  exit 1
fi
# The figures once: the test also logs them (indented) for go test -v readers.
grep -v -e '^=== ' -e '^    ipset_bench_test' -e '^        ' "$out"
