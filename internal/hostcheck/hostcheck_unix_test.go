//go:build unix

package hostcheck

import (
	"path/filepath"
	"syscall"
	"testing"
)

// TestCheckDotEnvFIFO: a FIFO planted as .env is refused, not read (which
// would hang).
func TestCheckDotEnvFIFO(t *testing.T) {
	ws := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(ws, ".env"), 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	check(t, CheckDotEnv(ws), ".env: is not a plain file")
}
