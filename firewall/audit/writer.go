package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// The log's bounds: the current file grows to MaxFileSize, then becomes
// path.1 (path.1 becomes path.2, and so on); KeepFiles rotated files are
// kept, so the log never takes more than (KeepFiles+1) × MaxFileSize,
// whatever the agent does.
const (
	MaxFileSize = 4 << 20
	KeepFiles   = 4
)

// Writer appends records to a log file, rotating it by size. It is not
// safe for concurrent use: the gateway writes from one goroutine (Logger).
type Writer struct {
	path    string
	maxSize int64
	keep    int
	f       *os.File
	size    int64
}

// OpenWriter opens the log at path for appending (creating it and its
// directory, root-only), rotated at maxSize bytes with keep rotated files;
// zero takes MaxFileSize and KeepFiles.
func OpenWriter(path string, maxSize int64, keep int) (*Writer, error) {
	if maxSize <= 0 {
		maxSize = MaxFileSize
	}
	if keep <= 0 {
		keep = KeepFiles
	}
	w := &Writer{path: path, maxSize: maxSize, keep: keep}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open audit log: %w", err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// Write appends r as one line, rotating first when the line would take
// the file past its size.
func (w *Writer) Write(r Record) error {
	line, err := Marshal(r)
	if err != nil {
		return err
	}
	if w.f == nil {
		if err := w.open(); err != nil { // a rotation failed to reopen
			return err
		}
	}
	if w.size > 0 && w.size+int64(len(line)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(line) // one write: readers never see half a line but at a crash
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// rotate shifts path.N-1 to path.N ... path to path.1 (the oldest falls
// off) and starts an empty path.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("rotate audit log: %w", err)
	}
	w.f = nil
	for i := w.keep - 1; i >= 1; i-- {
		if err := os.Rename(rotated(w.path, i), rotated(w.path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate audit log: %w", err)
		}
	}
	if err := os.Rename(w.path, rotated(w.path, 1)); err != nil {
		return fmt.Errorf("rotate audit log: %w", err)
	}
	return w.open()
}

// Close closes the file.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// rotated is the name of the i-th rotated file of path (1 is the newest).
func rotated(path string, i int) string { return path + "." + strconv.Itoa(i) }
