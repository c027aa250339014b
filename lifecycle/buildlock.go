package lifecycle

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// buildLockPath is the lock every `devbox up` of this user holds while the
// Dev Containers CLI runs. The CLI tags every workspace's feature content as
// the one image `dev_container_feature_content_temp` and uses it later in the
// same build, so two builds at once can install one workspace's features (its
// firewall entrypoint included) into the other's image.
func (m *Manager) buildLockPath() string {
	return filepath.Join(m.stateDir(), "devcontainer-up.lock")
}

// lockBuilds waits for the build lock, saying so on w when another
// `devbox up` holds it, and returns its release.
func (m *Manager) lockBuilds(w io.Writer) (release func(), err error) {
	buildLockPath := m.buildLockPath()
	if err := os.MkdirAll(filepath.Dir(buildLockPath), 0o700); err != nil {
		return nil, fmt.Errorf("create the build lock's folder: %w", err)
	}
	f, err := os.OpenFile(buildLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the build lock %s: %w", buildLockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(w, "devbox: waiting for another devbox up on this machine to finish (%s)\n", buildLockPath)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("take the build lock %s: %w", buildLockPath, err)
		}
	}
	return func() { f.Close() }, nil
}
