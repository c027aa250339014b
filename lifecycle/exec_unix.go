//go:build unix

package lifecycle

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// forwardedSignals are the signals devbox relays to an exec's processes,
// with their numbers in the (Linux) container.
var forwardedSignals = map[os.Signal]int{syscall.SIGINT: 2, syscall.SIGTERM: 15, syscall.SIGHUP: 1, syscall.SIGQUIT: 3}

// watchResize calls resized each time the terminal changes size (SIGWINCH)
// until ctx is done.
func watchResize(ctx context.Context, out *os.File, resized func(width, height int)) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				if w, h, err := terminalSize(out); err == nil {
					resized(w, h)
				}
			}
		}
	}()
}

// prepareTerminalOutput has nothing to do on Unix: terminals interpret the
// escape sequences a program in the container writes.
func prepareTerminalOutput(*os.File) (restore func(), err error) { return func() {}, nil }
