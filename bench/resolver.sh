#!/usr/bin/env bash
# Filtering resolver benchmark (firewall/resolver): prints figures, asserts
# nothing. Needs no root; traffic stays on loopback. The benchmarks
# (firewall/resolver/bench_test.go) re-execute the test binary to run the
# upstream (resolvertest, synthesizing any name under bench.test) and the
# resolver (no-op Allower, allow-all policy) as processes of their own, the
# resolver on one core (GOMAXPROCS=1, pinned with taskset -c 0 when present);
# the client times real UDP queries from the benchmark's process:
#   - BenchmarkResolverLatency, per fresh name: the query straight to the
#     upstream (direct-*), the same through the resolver (miss-*: upstream,
#     checks, Allow), then again (hit-*: from the cache, Allow refreshed);
#     added-* is miss minus direct (goals: p50 <= 500 µs, p99 <= 5 ms);
#   - BenchmarkResolverQPS/{hit,miss}: queries per second from 32 concurrent
#     clients (goal >= 2,000 on one core);
#   - BenchmarkResolverMemory: the resolver process's RSS and Go heap idle
#     and with 10,000 names cached (goals: 30 MB idle, 64 MB for the whole
#     gateway process with 10,000 names).
# The Allower here is a no-op: the p99 of the real ipset write is measured
# in the gateway (Stats.AllowP99).
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=./firewall/resolver/
go test -count=1 -run '^$' -bench 'BenchmarkResolverLatency' -benchtime=5000x "$pkg"
go test -count=1 -run '^$' -bench 'BenchmarkResolverQPS' -benchtime=20000x "$pkg"
go test -count=1 -run '^$' -bench 'BenchmarkResolverMemory' -benchtime=1x "$pkg"
