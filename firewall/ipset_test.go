//go:build linux

package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// testPrefixes returns n4 distinct IPv4 /32s and /24s in 198.18.0.0/15 and
// n6 IPv6 /64s and /128s in 2001:db8::/32.
func testPrefixes(n4, n6 int) (v4, v6 []netip.Prefix) {
	for i := range n4 {
		a := netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		bits := 32
		if i%4 == 0 {
			bits = 31
			a = netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		}
		v4 = append(v4, netip.PrefixFrom(a, bits).Masked())
	}
	for i := range n6 {
		var b [16]byte
		copy(b[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0x10, 0x00, byte(i >> 8), byte(i)})
		bits := 64
		if i%2 == 1 {
			b[15] = 1
			bits = 128
		}
		v6 = append(v6, netip.PrefixFrom(netip.AddrFrom16(b), bits))
	}
	return dedupe(v4), dedupe(v6)
}

func dedupe(ps []netip.Prefix) []netip.Prefix {
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func TestIntegrationIpsetNetlink(t *testing.T) {
	testnet.RequireNetns(t)
	ns := testnet.NewNetns(t, "dbfw-")
	v4, v6 := testPrefixes(1500, 700)
	err := ns.Do(func() error {
		c, err := openIpset()
		if err != nil {
			return err
		}
		defer c.Close()
		for _, f := range []struct {
			name   string
			family uint8
			want   []netip.Prefix
		}{{"devbox-allow-v4", unix.AF_INET, v4}, {"devbox-allow-v6", unix.AF_INET6, v6}} {
			rev, err := c.typeRevision(f.family)
			if err != nil {
				return err
			}
			if err := c.create(f.name, f.family, rev, len(f.want)); err != nil {
				return err
			}
			// Duplicates are not an error.
			if err := c.add(f.name, append(slices.Clone(f.want), f.want[:3]...)); err != nil {
				return err
			}
			got, err := c.list(f.name)
			if err != nil {
				return err
			}
			if !slices.Equal(sortedPrefixes(got), sortedPrefixes(f.want)) {
				return fmt.Errorf("%s: listed %d entries, want %d", f.name, len(got), len(f.want))
			}
			if err := c.create(f.name+"-new", f.family, rev, 1); err != nil {
				return err
			}
			if err := c.add(f.name+"-new", f.want[:1]); err != nil {
				return err
			}
			if err := c.swap(f.name, f.name+"-new"); err != nil {
				return err
			}
			got, err = c.list(f.name)
			if err != nil {
				return err
			}
			if len(got) != 1 || got[0] != f.want[0] {
				return fmt.Errorf("after swap %s holds %v, want %v", f.name, got, f.want[:1])
			}
			if err := c.destroy(f.name + "-new"); err != nil {
				return err
			}
			if ok, err := c.exists(f.name + "-new"); err != nil || ok {
				return fmt.Errorf("after destroy: exists=%v err=%v", ok, err)
			}
			if err := c.destroy(f.name + "-new"); err != nil {
				return fmt.Errorf("destroying a missing set: %w", err)
			}
		}
		// The wrong family is refused with a readable error.
		err = c.add("devbox-allow-v4", v6[:1])
		if err == nil || !strings.Contains(err.Error(), "devbox-allow-v4") {
			return fmt.Errorf("adding IPv6 to an IPv4 set: err = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := ns.MustRun(t, "ipset", "list", "-t", "devbox-allow-v6")
	if !strings.Contains(out, "Type: hash:net") || !strings.Contains(out, "family inet6") {
		t.Errorf("ipset list shows:\n%s", out)
	}
}
