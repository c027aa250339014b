package testnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// RequireNetns skips t under -short and fails it (never skips) when the
// kernel namespaces it needs cannot be made: not root, or no `ip` command.
// CI runs as root, so these tests run there.
func RequireNetns(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("real-kernel network namespace test; skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test creates network namespaces and needs root (run without -short only as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("this test needs the ip command (iproute2)")
	}
}

// Netns is a network namespace made for one test. Its name starts with the
// prefix the test chose (the firewall tests use "dbfw-"); it is deleted at
// the end of the test together with its /etc/netns/NAME directory.
type Netns struct {
	Name string
}

// NewNetns creates a namespace named prefix plus a random suffix, with lo up.
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	n := &Netns{Name: prefix + hex.EncodeToString(b[:])}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", n.Name, err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", n.Name).Run()
		_ = os.RemoveAll(filepath.Join("/etc/netns", n.Name))
	})
	n.MustRun(t, "ip", "link", "set", "lo", "up")
	return n
}

// Command returns a command that runs argv inside the namespace
// (`ip netns exec`, so /etc/netns/NAME/resolv.conf is seen as /etc/resolv.conf).
func (n *Netns) Command(ctx context.Context, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name}, argv...)...)
}

// Run runs argv inside the namespace and returns its combined output.
func (n *Netns) Run(argv ...string) (string, error) {
	out, err := n.Command(context.Background(), argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s: %w: %s", n.Name, strings.Join(argv, " "), err, out)
	}
	return string(out), nil
}

// MustRun is Run that fails the test on error.
func (n *Netns) MustRun(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := n.Run(argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Do calls f on an OS thread that has entered the namespace. Sockets f
// opens stay in the namespace after Do returns, so servers can be started
// here and served from any goroutine. The thread is discarded afterwards.
func (n *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Not unlocked: the Go runtime then ends the thread instead of
		// reusing it in the wrong namespace.
		runtime.LockOSThread()
		h, err := netns.GetFromName(n.Name)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", n.Name, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", n.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// WriteResolvConf writes /etc/netns/NAME/resolv.conf, which `ip netns exec`
// mounts over /etc/resolv.conf.
func (n *Netns) WriteResolvConf(t testing.TB, nameservers ...string) string {
	t.Helper()
	dir := filepath.Join("/etc/netns", n.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, ns := range nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	b.WriteString("options timeout:1 attempts:1\n")
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Link connects namespaces a and b with a veth pair named ifA (in a) and
// ifB (in b), brings both ends up and gives them the addresses listed
// (CIDR notation, IPv4 or IPv6; IPv6 ones skip duplicate address detection
// so they are usable at once). The first IPv6 exchange over a new link may
// still stall for about a second (seen here even without any firewall):
// a test that times IPv6 should make one exchange first.
func Link(t testing.TB, a *Netns, ifA string, addrsA []string, b *Netns, ifB string, addrsB []string) {
	t.Helper()
	tmp := "dbfwv" + a.Name[len(a.Name)-6:]
	if out, err := a.Run("ip", "link", "add", tmp, "type", "veth", "peer", "name", ifB, "netns", b.Name); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	a.MustRun(t, "ip", "link", "set", tmp, "name", ifA)
	for _, end := range []struct {
		ns    *Netns
		ifc   string
		addrs []string
	}{{a, ifA, addrsA}, {b, ifB, addrsB}} {
		// No duplicate address detection on the link-local address
		// either: while it is tentative, neighbour discovery waits ~1s.
		end.ns.MustRun(t, "sysctl", "-q", "-w", "net.ipv6.conf."+end.ifc+".accept_dad=0")
		for _, addr := range end.addrs {
			args := []string{"ip", "addr", "add", addr, "dev", end.ifc}
			if strings.Contains(addr, ":") {
				args = append(args, "nodad")
			}
			end.ns.MustRun(t, args...)
		}
		end.ns.MustRun(t, "ip", "link", "set", end.ifc, "up")
	}
	for _, ns := range []*Netns{a, b} {
		ns.waitNoTentative(t)
	}
}

// waitNoTentative waits (up to 3s) until no IPv6 address of n is still
// tentative: until then neighbour discovery stalls for about a second.
func (n *Netns) waitNoTentative(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.TrimSpace(n.MustRun(t, "ip", "-6", "addr", "show", "tentative")) == "" {
			return
		}
	}
}

// WaitTCP waits until something accepts TCP connections at addr when dialed
// from inside n, or fails t after timeout.
func (n *Netns) WaitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := n.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s in %s: %v", addr, n.Name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
