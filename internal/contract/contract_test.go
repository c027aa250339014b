package contract

import (
	"path"
	"testing"
	"time"
)

func TestValues(t *testing.T) {
	if d, err := time.ParseDuration(FirewallWait()); err != nil || d != FirewallTimeout {
		t.Errorf("FirewallWait() = %q (%v, %v), want %s", FirewallWait(), d, err, FirewallTimeout)
	}
	if FirewallTimeout%time.Second != 0 {
		t.Errorf("FirewallTimeout %s is not whole seconds; FirewallWait would round it", FirewallTimeout)
	}
	if want := FirewallBinary + " status --wait " + FirewallWait(); StatusCommand() != want {
		t.Errorf("StatusCommand() = %q, want %q", StatusCommand(), want)
	}
	for _, p := range []string{FirewallBinary, ConfigDir, ConfigPath, TokenFile, CacheDir, RunDir, ReadyMarker, FailedMarker} {
		if !path.IsAbs(p) || path.Clean(p) != p {
			t.Errorf("%q is not a clean absolute path", p)
		}
	}
	if path.Dir(ReadyMarker) != RunDir || path.Base(ReadyMarker) != ReadyMarkerName ||
		path.Dir(FailedMarker) != RunDir || path.Base(FailedMarker) != FailedMarkerName {
		t.Errorf("markers %s and %s are not %s and %s in %s", ReadyMarker, FailedMarker, ReadyMarkerName, FailedMarkerName, RunDir)
	}
}
