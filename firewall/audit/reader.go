package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Filter selects records.
type Filter struct {
	// Since keeps records from this time on (zero keeps all).
	Since time.Time
	// Blocked keeps refusals and lost records alone (Record.Blocked).
	Blocked bool
}

// Match reports whether f keeps r.
func (f Filter) Match(r Record) bool {
	if !f.Since.IsZero() && r.Time.Before(f.Since) {
		return false
	}
	return !f.Blocked || r.Blocked()
}

// maxRotated bounds the rotated files looked for.
const maxRotated = 64

// Read calls fn for every record of the log at path that f keeps, oldest
// first: the rotated files (path.N ... path.1), then path. Every file is
// opened before any is read, so a rotation meanwhile skips nothing. A log
// that does not exist yet has no records.
func Read(path string, f Filter, fn func(Record) error) error {
	files, err := openLog(path)
	defer func() {
		for _, fh := range files {
			fh.Close()
		}
	}()
	if err != nil {
		return err
	}
	for _, fh := range files {
		if err := Decode(fh, matching(f, fn)); err != nil {
			return err
		}
	}
	return nil
}

// openLog opens the files of the log, oldest first.
func openLog(path string) ([]*os.File, error) {
	var files []*os.File
	for i := 1; i <= maxRotated; i++ {
		fh, err := os.Open(rotated(path, i))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return files, fmt.Errorf("read audit log: %w", err)
		}
		files = append(files, fh)
	}
	slices.Reverse(files)
	fh, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return files, fmt.Errorf("read audit log: %w", err)
	default:
		files = append(files, fh)
	}
	return files, nil
}

func matching(f Filter, fn func(Record) error) func(Record) error {
	return func(r Record) error {
		if !f.Match(r) {
			return nil
		}
		return fn(r)
	}
}

// FollowPoll is how often Follow looks for new lines.
const FollowPoll = 200 * time.Millisecond

// Follow is Read, then goes on with every record appended to the log
// until ctx ends (it returns nil then), across rotations: when path is
// another file than the one being read, the rest of that one is read
// first.
func Follow(ctx context.Context, path string, f Filter, fn func(Record) error) error {
	files, err := openLog(path)
	if err != nil {
		for _, fh := range files {
			fh.Close()
		}
		return err
	}
	var cur *os.File
	if n := len(files); n > 0 && isCurrent(files[n-1], path) {
		cur, files = files[n-1], files[:n-1]
	}
	for _, fh := range files {
		err := Decode(fh, matching(f, fn))
		fh.Close()
		if err != nil {
			if cur != nil {
				cur.Close()
			}
			return err
		}
	}
	t := &tail{fn: matching(f, fn)}
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	for {
		if cur != nil {
			if err := t.drain(cur); err != nil {
				return err
			}
		}
		if cur == nil || !isCurrent(cur, path) {
			// Rotated (or not there yet): finish the old file, take the new.
			if cur != nil {
				if err := t.drain(cur); err != nil {
					return err
				}
				t.partial = nil
				// More than one rotation since the last look: the files
				// between cur and path are rotated ones, newer than cur.
				err := readNewer(path, cur, t.fn)
				cur.Close()
				cur = nil
				if err != nil {
					return err
				}
			}
			if fh, err := os.Open(path); err == nil {
				cur = fh
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(FollowPoll):
		}
	}
}

// readNewer reads the rotated files of path that are newer than old, the
// file last read, oldest first (all of them when old fell off the end).
func readNewer(path string, old *os.File, fn func(Record) error) error {
	st, err := old.Stat()
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	var newer []string
	for i := 1; i <= maxRotated; i++ {
		other, err := os.Stat(rotated(path, i))
		if err != nil || os.SameFile(st, other) {
			break
		}
		newer = append(newer, rotated(path, i))
	}
	slices.Reverse(newer)
	for _, name := range newer {
		fh, err := os.Open(name)
		if err != nil {
			continue // rotated off meanwhile
		}
		err = Decode(fh, fn)
		fh.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// isCurrent reports whether fh is the file at path.
func isCurrent(fh *os.File, path string) bool {
	a, err := fh.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// tail reads whole lines from a file that grows, keeping a line not yet
// ended for the next read.
type tail struct {
	fn      func(Record) error
	partial []byte
}

// drain reads fh from where it is to its end.
func (t *tail) drain(fh *os.File) error {
	r := bufio.NewReaderSize(fh, 64<<10)
	for {
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(t.partial)+len(chunk) <= MaxLine {
				t.partial = append(t.partial, chunk...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read audit log: %w", err)
		}
		t.partial = append(t.partial, chunk...)
		if err != nil { // EOF: no newline yet; keep it for the next drain
			return nil
		}
		line := t.partial[:len(t.partial)-1]
		if rec, ok := parseLine(line); ok {
			if err := t.fn(rec); err != nil {
				return err
			}
		}
		t.partial = t.partial[:0]
	}
}

// ParseSince reads a --since value: a duration back from now ("30m",
// "2h") or a time (RFC 3339, "2026-12-02T10:00:00Z"). Empty is the zero
// time: everything.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %s: give a duration back from now without a sign, such as 30m", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a duration such as 30m or 2h, or a time such as 2026-12-02T10:00:00Z", s)
	}
	return t, nil
}
