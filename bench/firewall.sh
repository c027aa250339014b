#!/usr/bin/env bash
# Firewall benchmark: prints figures, asserts nothing. Needs root (it makes
# dbbn-* and dbfw-* network namespaces and sends traffic only inside them),
# ipset and iptables. It runs the firewall package's Go benchmarks, among
# them BenchmarkLargeConfigRun (firewall/config_bench_test.go: a whole run
# at 12,000 CIDRs beside ipset restore) and BenchmarkFirewallLoad
# (firewall/ipset_bench_test.go), whose figures are, in ms per load unless
# named:
#   - ipset/*: a load of 10,000 IPv4 + 2,000 IPv6 prefixes by `ipset restore`,
#     by init-firewall's netlink loader (x-restore: its ratio to restore,
#     goal <= 1.5 at its own batch size) and by one `ipset add` per entry
#     (x-ours: its ratio to init-firewall, goal >= 100);
#   - rules/*: devbox's chains loaded by one iptables-restore vs go-iptables
#     per rule;
#   - BenchmarkLargeConfigRun: a whole init-firewall run with 10,000 IPv4 and
#     2,000 IPv6 prefixes written in firewall.jsonc, beside `ipset restore` of
#     the same prefixes (goal: at most 1.5x);
#   - BenchmarkGatewayResolver (firewall/resolver_bench_test.go): the whole
#     gateway (init-firewall gateway, pinned to one core) answering through
#     the nat redirect: added latency over the upstream (p50/p99, goals
#     0.5 ms / 5 ms), cache hits, answers per second (goal >= 2,000), and
#     the gateway's RSS idle (goal <= 30 MB) and with 10,000 names cached
#     (goal <= 64 MB);
#   - BenchmarkGatewayResolver/log=on and log=off: the audit log's cost;
#   - BenchmarkGatewayRefusedFlood: a flood of refused packets, the
#     gateway's CPU and memory and what it costs the log;
#   - BenchmarkNameSetsAllow: the set write before an answer (p99 goal
#     <= 2 ms);
#   - run/rerun: a whole init-firewall run (20 domains from a local DNS
#     server, a 1,000-prefix GitHub meta from a local HTTP server): ms per
#     run, init-firewall's own figure, the first run, peak RSS, binary size.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench/firewall.sh: run as root" >&2; exit 1; fi
for bin in ipset iptables-restore ip6tables-restore ip; do
  command -v "$bin" >/dev/null || { echo "bench/firewall.sh: $bin missing (apt-get install ipset iptables iproute2)" >&2; exit 1; }
done
go test -count=1 -run '^$' -bench . -benchmem -timeout 30m ./firewall
