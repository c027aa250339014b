//go:build windows

package lifecycle

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

// forwardedSignals are the signals devbox relays to an exec's processes,
// with their numbers in the (Linux) container. Windows delivers only these
// two: Ctrl-C and Ctrl-Break as os.Interrupt, closing the console, logoff
// and shutdown as SIGTERM.
var forwardedSignals = map[os.Signal]int{os.Interrupt: 2, syscall.SIGTERM: 15}

// resizePoll is how often the console's size is checked: Windows has no
// SIGWINCH. It is what the docker CLI does there too.
const resizePoll = 250 * time.Millisecond

// watchResize calls resized each time the console changes size, until ctx
// is done.
func watchResize(ctx context.Context, out *os.File, resized func(width, height int)) {
	go pollSize(ctx, resizePoll, func() (int, int, error) { return terminalSize(out) }, resized)
}

// prepareTerminalOutput makes the console interpret the escape sequences a
// program in the container writes (colours, cursor moves), which a Windows
// console does only when asked.
func prepareTerminalOutput(out *os.File) (restore func(), err error) {
	h := windows.Handle(out.Fd())
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return nil, fmt.Errorf("read the console mode: %w", err)
	}
	vt := mode | windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING | windows.DISABLE_NEWLINE_AUTO_RETURN
	if err := windows.SetConsoleMode(h, vt); err != nil {
		return nil, fmt.Errorf("enable escape sequences in the console: %w", err)
	}
	return func() { windows.SetConsoleMode(h, mode) }, nil
}
