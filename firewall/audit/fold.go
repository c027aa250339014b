package audit

import (
	"fmt"
	"net/netip"
	"time"
)

// Folder folds the repeats of one connection record: the first packet to
// a destination in a window is logged at once, the repeats only counted
// and logged as one record when the window ends. At most maxKeys
// destinations are tracked in a window; packets to more are counted
// together. A flood of packets thus costs the log a bounded number of
// records per window, whatever it sends. Not safe for concurrent use.
type Folder struct {
	window  time.Duration
	maxKeys int
	start   time.Time
	keys    map[foldKey]*Record
	// overflow counts the packets to destinations past maxKeys.
	overflow uint64
}

type foldKey struct {
	allowed, audit, inbound bool
	dst                     netip.Addr
	port                    uint16
	proto                   string
}

// Default folding: one record per destination per FoldWindow, at most
// FoldKeys destinations one by one.
const (
	FoldWindow = 10 * time.Second
	FoldKeys   = 1024
)

// NewFolder returns a Folder with the window and key bound (zero takes
// the defaults).
func NewFolder(window time.Duration, maxKeys int) *Folder {
	if window <= 0 {
		window = FoldWindow
	}
	if maxKeys <= 0 {
		maxKeys = FoldKeys
	}
	return &Folder{window: window, maxKeys: maxKeys, keys: map[foldKey]*Record{}}
}

// Add takes a KindConn record of one packet at r.Time and reports whether
// it is to be logged now (the first to its destination in the window).
func (f *Folder) Add(r Record) bool {
	if f.start.IsZero() {
		f.start = r.Time
	}
	k := foldKey{r.Allowed, r.Audit, r.Inbound, r.Dst, r.Port, r.Proto}
	if seen := f.keys[k]; seen != nil {
		seen.Count++
		seen.Time = r.Time
		return false
	}
	if len(f.keys) >= f.maxKeys {
		f.overflow++
		return false
	}
	rep := r
	rep.Count = 0 // the repeats, from now on
	f.keys[k] = &rep
	return true
}

// Due reports whether the window that began with the first Add has ended
// at now.
func (f *Folder) Due(now time.Time) bool {
	return !f.start.IsZero() && now.Sub(f.start) >= f.window
}

// Flush ends the window: it returns one record per destination that had
// repeats (Count of them, Time of the last), and one KindLost record for
// the packets past the key bound.
func (f *Folder) Flush(now time.Time) []Record {
	var out []Record
	for _, r := range f.keys {
		if r.Count > 0 {
			out = append(out, *r)
		}
	}
	if f.overflow > 0 {
		out = append(out, Record{Time: now, Kind: KindLost, Count: f.overflow,
			Err: fmt.Sprintf("%d packets to more than %d destinations in %v not logged one by one", f.overflow, f.maxKeys, f.window)})
	}
	clear(f.keys)
	f.overflow = 0
	f.start = time.Time{}
	return out
}
