package lifecycle

import (
	"context"
	"os"
	"time"

	"golang.org/x/term"
)

func terminalSize(f *os.File) (width, height int, err error) {
	return term.GetSize(int(f.Fd()))
}

// pollSize calls size every interval and resized when the answer differs
// from the last one, until ctx is done: the resize watch of a terminal that
// sends no signal when it changes.
func pollSize(ctx context.Context, interval time.Duration, size func() (int, int, error), resized func(width, height int)) {
	lastW, lastH, _ := size()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w, h, err := size()
		if err != nil || (w == lastW && h == lastH) {
			continue
		}
		lastW, lastH = w, h
		resized(w, h)
	}
}
