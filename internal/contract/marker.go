package contract

import "time"

// Start identifies one start of the box's container: the current one, or
// the one a status marker was written in. A zero field is unknown.
type Start struct {
	// Pid1Start is PID 1's start time in clock ticks since boot (field 22
	// of /proc/1/stat). It differs at every container start and no step of
	// the wall clock moves it, but only the box can read it.
	Pid1Start uint64
	// Time is a wall-clock time on the engine's machine: the container's
	// StartedAt for the current start, the file's modification time (or the
	// time recorded in it) for a marker.
	Time time.Time
}

// MarkerSlack is how much earlier than the container's start a marker may
// look and still count for it. File times come from the kernel's coarse
// clock, which may lag the engine's StartedAt by a tick (4 ms at 250 Hz);
// markers of an earlier start are older by far more, and init-firewall
// removes them first thing anyway.
const MarkerSlack = 20 * time.Millisecond

// Fresh reports whether a status marker written in start marker is one of
// the container's current start. It is the one rule both sides apply: the
// box (init-firewall status) knows PID 1's start on both sides, the host
// knows times only.
//
//   - When both know PID 1's start, they must be equal: that names the start
//     exactly, whatever the clock did.
//   - Otherwise the marker must have been written at the start or after it,
//     allowing MarkerSlack for the coarse file clock.
//   - A marker counts only when it is shown to be of this start: with
//     neither known on both sides, it is not fresh.
func Fresh(marker, current Start) bool {
	if marker.Pid1Start != 0 && current.Pid1Start != 0 {
		return marker.Pid1Start == current.Pid1Start
	}
	if marker.Time.IsZero() || current.Time.IsZero() {
		return false
	}
	return !marker.Time.Before(current.Time.Add(-MarkerSlack))
}
