package lifecycle

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
)

// TestPollSize reports each change of the terminal's size once, skips
// failed reads, and stops when its context is done: the resize watch on
// Windows, which has no SIGWINCH.
func TestPollSize(t *testing.T) {
	type size struct{ w, h int }
	answers := []struct {
		s   size
		err error
	}{
		{size{80, 24}, nil}, // the size at the start
		{size{80, 24}, nil},
		{size{100, 30}, nil},
		{size{}, errors.New("console gone for a moment")},
		{size{100, 30}, nil},
		{size{120, 40}, nil},
	}
	var (
		mu      sync.Mutex
		asked   int
		resized []size
	)
	ctx, cancel := context.WithCancel(context.Background())
	read := func() (int, int, error) {
		mu.Lock()
		defer mu.Unlock()
		a := answers[min(asked, len(answers)-1)]
		asked++
		return a.s.w, a.s.h, a.err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		pollSize(ctx, time.Millisecond, read, func(w, h int) {
			mu.Lock()
			defer mu.Unlock()
			resized = append(resized, size{w, h})
		})
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return asked > len(answers)+2 }, nil)
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("pollSize still running 10s after its context was cancelled")
	}
	if want := []size{{100, 30}, {120, 40}}; !reflect.DeepEqual(resized, want) {
		t.Errorf("resized to %v, want %v", resized, want)
	}
}
