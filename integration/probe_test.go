package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/integration/internal/inet"
)

// probe is one connection attempt made from inside a container.
type probe struct {
	name string
	argv []string
	// reach says whether the attempt must succeed (and print want) or be
	// refused at once.
	reach bool
	want  string
}

// curlExitCouldNotConnect is curl's status for a refused connection (a TCP
// reset or an ICMP "administratively prohibited"); a silent drop would end
// in its timeout status (28) instead, which the firewall must never cause.
const curlExitCouldNotConnect = 7

// curlExitCouldNotResolve is curl's status for a name that did not resolve:
// the gateway's resolver answers NXDOMAIN for every name it does not allow.
const curlExitCouldNotResolve = 6

// httpProbes are HTTP requests to h by name over IPv4 and IPv6 and by each
// address.
func httpProbes(h inet.Host, reach bool) []probe {
	curl := func(args ...string) []string {
		return append([]string{"curl", "-sS", "--max-time", "8", "--connect-timeout", "6"}, args...)
	}
	answer := func(a string) string { return "dbit-inet " + a }
	return []probe{
		{name: h.Name + " by name over IPv4", argv: curl("-4", inet.URL(h.Name)), reach: reach, want: answer(h.V4.String())},
		{name: h.Name + " by name over IPv6", argv: curl("-6", inet.URL(h.Name)), reach: reach, want: answer(h.V6.String())},
		{name: h.Name + " at " + h.V4.String(), argv: curl(inet.URL(h.V4.String())), reach: reach, want: answer(h.V4.String())},
		{name: h.Name + " at " + h.V6.String(), argv: curl(inet.URL(h.V6.String())), reach: reach, want: answer(h.V6.String())},
	}
}

// echoProbes send a line to h's TCP and UDP echo listeners (IPv4 and IPv6)
// with bash's /dev/tcp and /dev/udp (read by head, which takes a datagram
// whole); a connected UDP socket reports the firewall's ICMP rejection on
// the read.
func echoProbes(h inet.Host, reach bool) []probe {
	var ps []probe
	for _, proto := range []string{"tcp", "udp"} {
		for _, a := range h.Addrs() {
			script := fmt.Sprintf(`exec 3<>/dev/%s/%s/%d && echo dbit-echo >&3 && timeout 5 head -n1 <&3`, proto, a, inet.EchoPort)
			ps = append(ps, probe{
				name: fmt.Sprintf("%s echo at %s", proto, a), argv: []string{"bash", "-c", script},
				reach: reach, want: "dbit-echo",
			})
		}
	}
	return ps
}

// runProbes runs each probe with run as a subtest and checks its outcome.
// run returns the command's output and exit status.
func runProbes(t *testing.T, run func(argv ...string) (string, int), probes []probe) {
	t.Helper()
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			out, code := run(p.argv...)
			switch {
			case p.reach && (code != 0 || !strings.Contains(out, p.want)):
				t.Errorf("%s: want it reached (%q), got exit %d: %s", strings.Join(p.argv, " "), p.want, code, out)
			case !p.reach && code == 0:
				t.Errorf("%s: want it refused, but it got through: %s", strings.Join(p.argv, " "), out)
			case !p.reach && p.argv[0] == "curl" && code != curlExitCouldNotConnect && code != curlExitCouldNotResolve:
				// Refused at once: the name not answered (the gateway's
				// resolver answers allowed names only), or the connection
				// refused.
				t.Errorf("%s: want it refused at once (curl exit %d or %d), got exit %d: %s", strings.Join(p.argv, " "), curlExitCouldNotResolve, curlExitCouldNotConnect, code, out)
			}
		})
	}
}
