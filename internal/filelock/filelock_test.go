package filelock

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// waitLimit bounds every wait in these tests; a pass takes milliseconds.
const waitLimit = 10 * time.Second

func TestTryLockExcludesAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	held, err := TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock: %v, want ErrLocked", err)
	}
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := held.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	again, err := TryLock(path)
	if err != nil {
		t.Fatalf("TryLock after Unlock: %v", err)
	}
	again.Unlock()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v, mode %v", err, fi.Mode())
	}
}

func TestTryLockNamesTheFileWhenItCannotOpen(t *testing.T) {
	_, err := TryLock(filepath.Join(t.TempDir(), "missing", "x.lock"))
	if err == nil || errors.Is(err, ErrLocked) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock in a missing folder: %v", err)
	}
}

// TestAcquire holds the lock and checks each way a waiter's wait ends.
func TestAcquire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		cancel bool // cancel the waiter instead of releasing the lock
	}{
		{"released, cancellable context", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, false},
		{"released, context never done", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, false},
		{"cancelled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.lock")
			held, err := TryLock(path)
			if err != nil {
				t.Fatal(err)
			}
			defer held.Unlock()
			ctx, cancel := tc.ctx()
			defer cancel()
			type result struct {
				l   *Lock
				err error
			}
			done := make(chan result, 1)
			go func() {
				l, err := Acquire(ctx, path)
				done <- result{l, err}
			}()
			select {
			case r := <-done:
				t.Fatalf("Acquire returned while the lock was held: %v", r.err)
			default:
			}
			if tc.cancel {
				cancel()
			} else {
				held.Unlock()
			}
			select {
			case r := <-done:
				if tc.cancel {
					if r.err != context.Canceled {
						t.Errorf("Acquire = %v, want context.Canceled", r.err)
					}
					if r.l != nil {
						t.Error("a cancelled Acquire returned a lock")
					}
					return
				}
				if r.err != nil {
					t.Fatalf("Acquire: %v", r.err)
				}
				r.l.Unlock()
			case <-time.After(waitLimit):
				t.Fatalf("Acquire still waiting %v after the lock was released or the wait cancelled", waitLimit)
			}
		})
	}
}

// TestLockAcrossProcesses holds the lock in another process: it excludes
// this one while held, and a killed holder leaves it free.
func TestLockAcrossProcesses(t *testing.T) {
	if os.Getenv("FILELOCK_HOLD") != "" {
		return // the helper's own run of this test: see holdInChild
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	child := holdInChild(t, path)
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("TryLock while another process holds it: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Acquire(ctx, path); err != context.Canceled {
		t.Fatalf("Acquire with a cancelled context: %v", err)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	ctx, cancel = context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	l, err := Acquire(ctx, path)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Unlock()
}

// holdInChild starts this test binary as a helper that takes the lock on
// path and says so, and waits until the helper has it.
func holdInChild(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMain$")
	cmd.Env = append(os.Environ(), "FILELOCK_HOLD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.StdinPipe(); err != nil { // never closed: the helper blocks reading it
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	return cmd
}

// TestMain doubles as the helper process of holdInChild: it takes the lock,
// says so, and holds it until killed (reading a stdin that never ends).
func TestMain(m *testing.M) {
	if path := os.Getenv("FILELOCK_HOLD"); path != "" {
		if _, err := TryLock(path); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
