//go:build linux

package firewall

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

func TestStatusMarkers(t *testing.T) {
	live, err := Pid1Start()
	if err != nil {
		t.Skipf("no /proc/1/stat: %v", err)
	}
	for _, tc := range []struct {
		name    string
		write   func(dir string)
		wantErr string
		wantOK  bool
	}{
		{"none", func(string) {}, "not ready", false},
		{"ready", func(dir string) { mustWrite(t, dir, &Summary{OK: true, Pid1Start: live}) }, "", true},
		{"failed", func(dir string) { mustWrite(t, dir, &Summary{Error: "gather allowlist: boom", Pid1Start: live}) }, "firewall failed: gather allowlist: boom", false},
		{"stale ready from an earlier start", func(dir string) { mustWrite(t, dir, &Summary{OK: true, Pid1Start: live + 1}) }, "not ready", false},
		{"torn file", func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, contract.ReadyMarkerName), []byte(`{"ok":tr`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not ready", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.write(dir)
			s, err := Status(context.Background(), StatusOptions{Dir: dir, Wait: 50 * time.Millisecond, Poll: 10 * time.Millisecond})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Status: %v, want error %q", err, tc.wantErr)
			}
			if (s != nil && s.OK) != tc.wantOK {
				t.Errorf("summary %+v, want ok=%v", s, tc.wantOK)
			}
		})
	}
}

func TestStatusWaitsForTheMarker(t *testing.T) {
	live, err := Pid1Start()
	if err != nil {
		t.Skipf("no /proc/1/stat: %v", err)
	}
	dir := t.TempDir()
	// The marker is written once Status has looked, found none and waits:
	// waiting, it asks its context for Done.
	ctx := &waitingContext{Context: context.Background(), waiting: make(chan struct{})}
	go func() {
		<-ctx.waiting
		mustWrite(t, dir, &Summary{OK: true, Pid1Start: live})
	}()
	s, err := Status(ctx, StatusOptions{Dir: dir, Wait: 5 * time.Second, Poll: 10 * time.Millisecond})
	if err != nil || !s.OK {
		t.Fatalf("Status = %+v, %v", s, err)
	}
}

// waitingContext closes waiting the first time Done is asked for.
type waitingContext struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *waitingContext) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

func TestClearMarkers(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, dir, &Summary{OK: true})
	mustWrite(t, dir, &Summary{})
	if err := clearMarkers(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
	if _, err := Status(context.Background(), StatusOptions{Dir: dir}); !errors.Is(err, ErrNotReady) {
		t.Errorf("Status after clear: %v", err)
	}
}

func mustWrite(t *testing.T, dir string, s *Summary) {
	t.Helper()
	if err := writeMarker(dir, s); err != nil {
		t.Error(err)
	}
}

func TestCheckNetAdmin(t *testing.T) {
	for _, tc := range []struct {
		status string
		ok     bool
	}{
		{"Name:\tx\nCapEff:\t000001ffffffffff\n", true},
		{"CapEff:\t0000000000001000\n", true},
		{"CapEff:\t0000000000000000\n", false},
		{"CapEff:\tzz\n", false},
		{"Name:\tx\n", false},
	} {
		err := checkNetAdmin(tc.status)
		if (err == nil) != tc.ok {
			t.Errorf("checkNetAdmin(%q) = %v, want ok=%v", tc.status, err, tc.ok)
		}
	}
	if err := checkNetAdmin("CapEff:\t0\n"); err == nil || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Errorf("error does not name the capability: %v", err)
	}
}
