package atomicfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  string // "" means no file before
		perm os.FileMode
	}{
		{"new file", "", 0o600},
		{"replaces a file", "old content, longer than the new one\n", 0o644},
		{"executable", "#!/bin/sh\n", 0o755},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.json")
			if tc.old != "" {
				if err := os.WriteFile(path, []byte(tc.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(path, []byte("new\n"), tc.perm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "new\n" {
				t.Errorf("content %q, %v", got, err)
			}
			if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != tc.perm {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.perm)
			}
			assertOnly(t, dir, "f.json")
		})
	}
}

// TestWriteFailureLeavesTheOldFile makes each way of failing happen and
// checks that the old content stays and no temporary file is left.
func TestWriteFailureLeavesTheOldFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rename func(string, string) error
		path   func(dir string) string
		want   string // in the error
	}{
		{"rename fails", func(string, string) error { return errors.New("injected failure") },
			func(dir string) string { return filepath.Join(dir, "f.json") }, "injected failure"},
		{"folder missing", os.Rename,
			func(dir string) string { return filepath.Join(dir, "missing", "f.json") }, "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := filepath.Join(dir, "f.json")
			if err := os.WriteFile(old, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			rename = tc.rename
			defer func() { rename = os.Rename }()
			path := tc.path(dir)
			err := Write(path, []byte("new\n"), 0o600)
			if err == nil || !strings.Contains(err.Error(), "write "+path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s and %q", err, path, tc.want)
			}
			if got, _ := os.ReadFile(old); string(got) != "old\n" {
				t.Errorf("old file now holds %q", got)
			}
			assertOnly(t, dir, "f.json")
		})
	}
}

// TestConcurrentWriters has writers replace one file over and over while a
// reader checks that each read is one writer's whole content: a shared
// temporary name (path+".tmp") fails this with mixed or short content, or
// with a rename of a temporary file another writer already renamed.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	const writers, rounds, size = 4, 50, 64 << 10
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte{'a' + byte(i)}, size)
	}
	if err := Write(path, contents[0], 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds+1)
	for i := range writers {
		wg.Go(func() {
			for range rounds {
				if err := Write(path, contents[i], 0o600); err != nil {
					errs <- err
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	reads := 0
read:
	for {
		select {
		case <-finished:
			break read
		default:
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("read while writing: %v", err)
			break
		}
		reads++
		if len(data) != size || bytes.Count(data, data[:1]) != size {
			t.Errorf("read a partial or mixed file: %d bytes, starting %q", len(data), data[:min(len(data), 8)])
			break
		}
	}
	<-finished
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d writers x %d writes of %d KiB, %d reads, all whole", writers, rounds, size>>10, reads)
	assertOnly(t, dir, "state.json")
}

// assertOnly checks that dir holds exactly the named files.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("folder holds %q, want only %q", got, names)
	}
}
