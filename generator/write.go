package generator

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/devbox-sandbox/devbox/internal/atomicfile"
)

// rename is os.Rename; tests replace it to make a write fail half-way.
var rename = os.Rename

// writeAll writes files under dir and removes the files named in remove
// (relative to dir), and the folders that leaves empty, all or nothing: each file goes to a temporary file
// beside its target first, then every target is replaced by a rename. On
// any failure, replaced and removed files are restored and new files and
// folders removed, so the workspace is left as it was. (One file alone
// would be atomicfile.Write; this is that, for a set of files.)
func writeAll(dir string, files []File, remove []string) (err error) {
	var (
		createdDirs []string
		temps       = map[string]string{} // target -> temporary file
		backups     = map[string]string{} // target -> its previous content, moved aside
		placed      []string              // targets renamed into place
	)
	defer func() {
		if err == nil {
			for _, b := range backups {
				os.Remove(b)
			}
			// A folder the removals emptied (the feature's, bin/) goes too;
			// os.Remove leaves a folder that still holds a file.
			for _, rel := range remove {
				if sub := filepath.Dir(filepath.Join(dir, filepath.FromSlash(rel))); sub != dir {
					os.Remove(sub)
				}
			}
			return
		}
		// Roll back in reverse: new files out, old files back, then folders.
		for _, target := range slices.Backward(placed) {
			os.Remove(target)
			if b, ok := backups[target]; ok {
				os.Rename(b, target)
				delete(backups, target)
			}
		}
		for target, b := range backups { // moved aside but not yet replaced
			os.Rename(b, target)
		}
		for _, t := range temps {
			os.Remove(t)
		}
		for _, d := range slices.Backward(createdDirs) {
			os.Remove(d)
		}
	}()

	mkdir := func(d string) error {
		if info, err := os.Lstat(d); err == nil {
			if !info.IsDir() {
				return fmt.Errorf("create %s: it exists and is not a folder", d)
			}
			return nil
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		createdDirs = append(createdDirs, d)
		return nil
	}
	if err := mkdir(dir); err != nil {
		return err
	}
	for _, f := range files {
		target := filepath.Join(dir, filepath.FromSlash(f.Path))
		if sub := filepath.Dir(target); sub != dir {
			if err := mkdir(sub); err != nil {
				return err
			}
		}
	}
	for _, f := range files {
		target := filepath.Join(dir, filepath.FromSlash(f.Path))
		name, err := writeTemp(filepath.Dir(target), f)
		if err != nil {
			return fmt.Errorf("write %s: %w", target, err)
		}
		temps[target] = name
	}
	for _, f := range files {
		target := filepath.Join(dir, filepath.FromSlash(f.Path))
		if _, err := os.Lstat(target); err == nil {
			backup := temps[target] + ".orig"
			if err := rename(target, backup); err != nil {
				return fmt.Errorf("replace %s: %w", target, err)
			}
			backups[target] = backup
		}
		if err := rename(temps[target], target); err != nil {
			return fmt.Errorf("write %s: %w", target, err)
		}
		delete(temps, target)
		placed = append(placed, target)
	}
	for _, rel := range remove {
		target := filepath.Join(dir, filepath.FromSlash(rel))
		backup := filepath.Join(filepath.Dir(target), ".devbox-removed-"+filepath.Base(target))
		if err := rename(target, backup); err != nil {
			return fmt.Errorf("remove %s: %w", target, err)
		}
		backups[target] = backup
	}
	return nil
}

// writeTemp writes f's content to a new temporary file in dir with f's
// mode, not synced: init's files can be made again.
func writeTemp(dir string, f File) (string, error) {
	return atomicfile.WriteTempUnsynced(dir, ".devbox-*.tmp", f.Data, f.Mode)
}
