// Package filelock takes exclusive locks on files, so that processes on one
// machine take turns at something: flock(2) on Unix, LockFileEx on Windows.
// A lock belongs to its open file and ends when the file is closed or the
// process ends, so a holder that crashes never leaves it taken.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrLocked is returned by TryLock when another holder has the lock.
var ErrLocked = errors.New("held by another process")

// pollInterval is how often Acquire retries while its context can still be
// cancelled: the delay a waiter adds after the holder lets go, and the
// longest it takes to notice an interrupt.
const pollInterval = 50 * time.Millisecond

// Lock is a held lock.
type Lock struct{ f *os.File }

// TryLock takes the lock on path, creating the file (mode 0600) if needed,
// or returns an error wrapping ErrLocked at once when another holder has it.
func TryLock(path string) (*Lock, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	if err := tryLock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Acquire waits for the lock on path, creating the file (mode 0600) if
// needed. When ctx is done first it returns ctx.Err(), unwrapped. A context
// that can never be done waits in the kernel instead of polling.
func Acquire(ctx context.Context, path string) (*Lock, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	if ctx.Done() == nil {
		if err := lock(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return &Lock{f: f}, nil
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := tryLock(f)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, ErrLocked) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	err := unlock(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unlock %s: %w", f.Name(), err)
	}
	return nil
}

func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}
