// Package resolver is the filtering DNS resolver of devbox's gateway. Every
// DNS packet of the box is redirected to it. It answers A and AAAA only,
// for names the Policy allows, and makes the answered addresses reachable
// (Allower: the gateway's ipsets, with TCP ports and a timeout) before it
// releases the answer. Names the policy does not allow get NXDOMAIN and are
// never sent upstream; other query types are never forwarded; answers that
// point inward (loopback, private, link-local, CGNAT, the Docker networks,
// and IPv6 forms embedding them) are refused whole.
//
// It is portable (no Linux-only imports): the gateway wires the Linux
// parts in through Config (Allower, Control for SO_MARK). Its test server,
// for this package's tests and the gateway's network-namespace tests, is
// resolvertest.
//
// It must not contact anything but the upstreams it is given, and must
// never release an address the Allower did not confirm.
//
// Measure it with bench/resolver.sh, which runs the Benchmark* functions of
// bench_test.go (the resolver in a process of its own, on one core) and
// says what each figure means.
package resolver
