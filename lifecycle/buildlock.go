package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/devbox-sandbox/devbox/internal/filelock"
)

// buildLockPath is the lock every `devbox up` of this user holds while the
// Dev Containers CLI runs. The CLI tags every workspace's feature content as
// the one image `dev_container_feature_content_temp` and uses it later in the
// same build, so two builds at once can install one workspace's features (its
// firewall entrypoint included) into the other's image.
func (m *Manager) buildLockPath() string {
	return filepath.Join(m.stateDir(), "devcontainer-up.lock")
}

// LockWaitInterruptedError says `up` was interrupted while it waited for
// another `devbox up` to finish its build: nothing had been started yet.
type LockWaitInterruptedError struct {
	LockPath string
	Err      error // the context's error
}

// Error implements error.
func (e *LockWaitInterruptedError) Error() string {
	return fmt.Sprintf("up interrupted while waiting for another devbox up on this machine to finish (%s): nothing was started", e.LockPath)
}

// Unwrap returns the context's error.
func (e *LockWaitInterruptedError) Unwrap() error { return e.Err }

// lockBuilds waits for the build lock, saying so on w when another
// `devbox up` holds it, and returns its release. It gives up when ctx is
// done (Ctrl-C).
func (m *Manager) lockBuilds(ctx context.Context, w io.Writer) (release func(), err error) {
	buildLockPath := m.buildLockPath()
	if err := os.MkdirAll(filepath.Dir(buildLockPath), 0o700); err != nil {
		return nil, fmt.Errorf("create the build lock's folder: %w", err)
	}
	l, err := filelock.TryLock(buildLockPath)
	if errors.Is(err, filelock.ErrLocked) {
		fmt.Fprintf(w, "devbox: waiting for another devbox up on this machine to finish (%s)\n", buildLockPath)
		l, err = filelock.Acquire(ctx, buildLockPath)
		if err != nil && err == ctx.Err() {
			return nil, &LockWaitInterruptedError{LockPath: buildLockPath, Err: err}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("take the build lock: %w", err)
	}
	return func() { l.Unlock() }, nil
}
