//go:build linux

package firewall

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/runner"
)

// fakeRestore records restore payloads and fails those fail says to.
type fakeRestore struct {
	payloads []string
	names    []string
	fail     func(payload string) bool
}

func (f *fakeRestore) Run(_ context.Context, c runner.Cmd) (runner.Result, error) {
	f.names = append(f.names, c.Name)
	var b strings.Builder
	if c.Stdin != nil {
		buf := make([]byte, 1<<16)
		for {
			n, err := c.Stdin.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
	}
	f.payloads = append(f.payloads, b.String())
	if f.fail != nil && f.fail(b.String()) {
		return runner.Result{}, &runner.RunError{Command: c.String(), ExitCode: 2, Err: errors.New("exit status 2")}
	}
	return runner.Result{}, nil
}

// TestLoadFallsBackClosed checks the ladder of r.load for IPv4 when the
// kernel refuses rules: full, then minimal, then a DROP policy.
func TestLoadFallsBackClosed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fail     func(string) bool
		payloads int
		last     string
		err      string
	}{
		{"full rules load", nil, 1, "NFLOG", ""},
		{"no NFLOG in the kernel", func(p string) bool { return strings.Contains(p, "NFLOG") }, 2, "-j REJECT --reject-with icmp-admin-prohibited", "minimal rules loaded instead"},
		{"only the policy works", func(p string) bool { return strings.Contains(p, "DEVBOX") }, 3, ":OUTPUT DROP", "OUTPUT policy set to DROP instead"},
		{"nothing works", func(string) bool { return true }, 3, ":OUTPUT DROP", "IPv4 egress could not be closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeRestore{fail: tc.fail}
			r := &run{
				opts: Options{NFLogGroup: DefaultNFLogGroup},
				cfg:  &allowlist.Config{HostPorts: []int{8080}},
				fams: []family{familyV4},
				a:    &applier{run: fake, hooks: map[string]Hooks{"v4": FirstRunHooks}},
			}
			err := r.load(context.Background(), nil)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("load: %v, want %q", err, tc.err)
			}
			for _, name := range fake.names {
				if !strings.HasPrefix(name, "/usr/sbin/") && !strings.HasPrefix(name, "/sbin/") {
					t.Errorf("ran %q: want the absolute path of a system program", name)
				}
			}
			if len(fake.payloads) != tc.payloads || !strings.Contains(fake.payloads[len(fake.payloads)-1], tc.last) {
				t.Fatalf("payloads %q, want %d ending with one holding %q", fake.payloads, tc.payloads, tc.last)
			}
			if tc.payloads >= 2 {
				minimal := fake.payloads[1]
				for _, gone := range []string{"NFLOG", "owner", "8080"} {
					if strings.Contains(minimal, gone) {
						t.Errorf("minimal rules hold %q:\n%s", gone, minimal)
					}
				}
				if !strings.Contains(minimal, "-I OUTPUT 1 -j DEVBOX-OUT") {
					t.Errorf("minimal rules do not hook OUTPUT:\n%s", minimal)
				}
			}
		})
	}
}

func TestRulesWithoutSets(t *testing.T) {
	rs := Host{}.ruleset(familyV4, &allowlist.Config{}, 1)
	rs.NoSet = true
	got := rs.Restore(FirstRunHooks)
	if strings.Contains(got, "match-set") || !strings.HasSuffix(strings.SplitAfter(got, "-A DEVBOX-IN")[0], "-A DEVBOX-OUT -j DEVBOX-REJECT-OUT\n-A DEVBOX-IN") {
		t.Errorf("rules without sets:\n%s", got)
	}
}
