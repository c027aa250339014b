// Package atomicfile replaces files so that a reader sees the old content or
// the new, never a part of either, and two writers of one file never write
// into each other's data: the content goes to a uniquely named temporary
// file in the target's folder, is synced to disk, and is renamed over the
// target. On every failure the temporary file is removed.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// rename is os.Rename; tests replace it to make the last step fail.
var rename = os.Rename

// Write replaces path with data, with mode perm. The folder must exist.
func Write(path string, data []byte, perm fs.FileMode) error {
	tmp, err := WriteTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp", data, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteTemp writes data to a new file in dir, named after pattern as
// os.CreateTemp names it, with mode perm, synced to disk, and returns its
// name for the caller to rename into place. It leaves nothing behind when
// it fails.
func WriteTemp(dir, pattern string, data []byte, perm fs.FileMode) (name string, err error) {
	return writeTemp(dir, pattern, data, perm, true)
}

// WriteTempUnsynced is WriteTemp without the sync, for files that can be
// made again (devbox init's output, whose syncs doubled its time): readers
// still see the old file or the whole new one once it is renamed, but a
// crash of the machine right after may leave the new one empty.
func WriteTempUnsynced(dir, pattern string, data []byte, perm fs.FileMode) (name string, err error) {
	return writeTemp(dir, pattern, data, perm, false)
}

func writeTemp(dir, pattern string, data []byte, perm fs.FileMode, sync bool) (name string, err error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Chmod(perm); err != nil {
		return "", err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}
