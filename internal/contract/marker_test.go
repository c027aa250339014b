package contract

import (
	"testing"
	"time"
)

func TestFresh(t *testing.T) {
	// The engine reports StartedAt in UTC with nanoseconds; docker's zero
	// StartedAt, for a container never started, parses to the zero time.
	started := time.Date(2026, 11, 29, 1, 0, 0, 123456789, time.UTC)
	zeroStartedAt, err := time.Parse(time.RFC3339Nano, "0001-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	berlin := time.FixedZone("CET", 3600)
	now := time.Now() // carries a monotonic reading; file times never do
	for _, tc := range []struct {
		name            string
		marker, current Start
		want            bool
	}{
		// In the box: PID 1's start names the container start.
		{"box: same pid 1 start", Start{Pid1Start: 4711}, Start{Pid1Start: 4711}, true},
		{"box: earlier start", Start{Pid1Start: 4711}, Start{Pid1Start: 9000}, false},
		{"box: same pid 1 start, wall clock stepped back", Start{Pid1Start: 4711, Time: started.Add(-time.Hour)}, Start{Pid1Start: 4711, Time: started}, true},
		{"box: earlier start, wall clock stepped back", Start{Pid1Start: 4711, Time: started.Add(time.Hour)}, Start{Pid1Start: 9000, Time: started}, false},
		{"box: marker without pid 1 start", Start{Time: started.Add(time.Second)}, Start{Pid1Start: 4711}, false},
		{"box: nothing known", Start{}, Start{}, false},

		// On the host: the marker's mtime against the engine's StartedAt.
		{"host: written after the start", Start{Time: started.Add(800 * time.Millisecond)}, Start{Time: started}, true},
		{"host: written hours after the start", Start{Time: started.Add(5 * time.Hour)}, Start{Time: started}, true},
		{"host: written at the start", Start{Time: started}, Start{Time: started}, true},
		{"host: coarse clock a tick behind", Start{Time: started.Add(-4 * time.Millisecond)}, Start{Time: started}, true},
		{"host: exactly the slack behind", Start{Time: started.Add(-MarkerSlack)}, Start{Time: started}, true},
		{"host: a nanosecond beyond the slack", Start{Time: started.Add(-MarkerSlack - time.Nanosecond)}, Start{Time: started}, false},
		{"host: from the start before", Start{Time: started.Add(-time.Hour)}, Start{Time: started}, false},
		{"host: from a restart a second ago", Start{Time: started.Add(-time.Second)}, Start{Time: started}, false},
		{"host: no marker", Start{}, Start{Time: started}, false},
		{"host: never started", Start{Time: started}, Start{Time: zeroStartedAt}, false},
		{"host: same instant in another zone", Start{Time: started.In(berlin)}, Start{Time: started}, true},
		{"host: stale instant in another zone", Start{Time: started.Add(-time.Minute).In(berlin)}, Start{Time: started}, false},
		{"host: start with a monotonic reading", Start{Time: now.Round(0).Add(-time.Millisecond)}, Start{Time: now}, true},
		{"host: stale, start with a monotonic reading", Start{Time: now.Round(0).Add(-time.Second)}, Start{Time: now}, false},
		{"host: marker knows pid 1, host does not", Start{Pid1Start: 4711, Time: started.Add(time.Second)}, Start{Time: started}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Fresh(tc.marker, tc.current); got != tc.want {
				t.Errorf("Fresh(%+v, %+v) = %v, want %v", tc.marker, tc.current, got, tc.want)
			}
		})
	}
}
