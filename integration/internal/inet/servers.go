package inet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"

	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// servers are the listeners of the namespace: DNS on Resolver's addresses,
// and HTTP and TCP/UDP echo on every address of the namespace.
type servers struct {
	dns  []*testnet.DNSServer
	http *http.Server
	echo []io.Closer

	mu     sync.Mutex
	counts map[string]int
}

// startServers opens every socket inside ns, then serves them from ordinary
// goroutines (a socket stays in the namespace it was made in).
func startServers(ns *testnet.Netns) (*servers, error) {
	s := &servers{counts: map[string]int{}}
	s.http = &http.Server{Handler: s.handler()}
	err := ns.Do(func() error {
		// Blocked answers DNS too: a resolver the box must not reach.
		for _, a := range append(Resolver.Addrs(), Blocked.Addrs()...) {
			d, err := testnet.NewDNSServer(netip.AddrPortFrom(a, 53).String(), records())
			if err != nil {
				return err
			}
			s.dns = append(s.dns, d)
		}
		l, err := net.Listen("tcp", ":"+strconv.Itoa(HTTPPort))
		if err != nil {
			return fmt.Errorf("listen for HTTP: %w", err)
		}
		go s.http.Serve(l) //nolint:errcheck // ends with Close
		tl, err := net.Listen("tcp", ":"+strconv.Itoa(EchoPort))
		if err != nil {
			return fmt.Errorf("listen for TCP echo: %w", err)
		}
		s.echo = append(s.echo, tl)
		go echoTCP(tl)
		// One UDP socket per address: a reply from a wildcard socket would
		// leave from the link's address, and the host's NAT would not know it.
		for _, h := range Hosts {
			for _, a := range h.Addrs() {
				pc, err := net.ListenPacket("udp", netip.AddrPortFrom(a, EchoPort).String())
				if err != nil {
					return fmt.Errorf("listen for UDP echo: %w", err)
				}
				s.echo = append(s.echo, pc)
				go echoUDP(pc)
			}
		}
		return nil
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("start servers in %s: %w", ns.Name, err)
	}
	return s, nil
}

func (s *servers) close() error {
	errs := []error{s.http.Close()}
	for _, d := range s.dns {
		errs = append(errs, d.Close())
	}
	for _, c := range s.echo {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func (s *servers) requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

// handler answers "/" on every host with the address it was reached at, so
// a test can tell which host answered, and serves the two range documents.
func (s *servers) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		fmt.Fprintf(w, "dbit-inet %s\n", hostOf(local))
	})
	mux.HandleFunc(GitHubMetaPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, gitHubMeta())
	})
	mux.HandleFunc(AWSRangesPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, awsRanges())
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

// hostOf returns the address part of a listener's local address, without the
// IPv4-in-IPv6 form a dual-stack socket reports.
func hostOf(a net.Addr) string {
	if a == nil {
		return "?"
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	return ap.Addr().Unmap().String()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v) //nolint:errcheck // test server
}

// gitHubMeta is shaped like https://api.github.com/meta: every key that
// lists ranges lists GitHub's two addresses.
func gitHubMeta() map[string]any {
	ranges := []string{prefix(GitHub.V4), prefix(GitHub.V6)}
	meta := map[string]any{
		"verifiable_password_authentication": false,
		"ssh_key_fingerprints":               map[string]string{"SHA256_ED25519": "+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU"},
		"ssh_keys":                           []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"},
		"domains":                            map[string][]string{"website": {"*.github.com"}},
	}
	for _, k := range []string{"hooks", "web", "api", "git", "github_enterprise_importer", "packages", "pages", "importer", "actions", "actions_macos", "codespaces", "dependabot", "copilot"} {
		meta[k] = ranges
	}
	return meta
}

// awsRanges is shaped like https://ip-ranges.amazonaws.com/ip-ranges.json:
// S3's addresses in us-east-1 and, as a decoy the allowlist does not select,
// EC2's.
func awsRanges() map[string]any {
	v4 := func(a netip.Addr, service string) map[string]string {
		return map[string]string{"ip_prefix": prefix(a), "region": "us-east-1", "service": service, "network_border_group": "us-east-1"}
	}
	v6 := func(a netip.Addr, service string) map[string]string {
		return map[string]string{"ipv6_prefix": prefix(a), "region": "us-east-1", "service": service, "network_border_group": "us-east-1"}
	}
	return map[string]any{
		"syncToken":     "1764374400",
		"createDate":    "2026-11-29-00-00-00",
		"prefixes":      []any{v4(S3.V4, "AMAZON"), v4(S3.V4, "S3"), v4(EC2.V4, "EC2")},
		"ipv6_prefixes": []any{v6(S3.V6, "AMAZON"), v6(S3.V6, "S3"), v6(EC2.V6, "EC2")},
	}
}

func prefix(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

// echoTCP sends back what each connection sends.
func echoTCP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c) //nolint:errcheck // test server
		}()
	}
}

// echoUDP sends back every datagram.
func echoUDP(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from) //nolint:errcheck // test server
	}
}
