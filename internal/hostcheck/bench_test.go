package hostcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCheckWorkspace measures what devbox exec adds before the exec:
// the whole check of a workspace (warm cache), on a synthetic tree shaped
// like a web project with its node_modules, and on the folder
// HOSTCHECK_BENCH_DIR when set (a real checkout).
func BenchmarkCheckWorkspace(b *testing.B) {
	for _, size := range []struct {
		name       string
		dirs, each int
	}{
		{"1k files", 100, 10},
		{"30k files", 3000, 10},
		{"100k files", 10000, 10},
	} {
		b.Run(size.name, func(b *testing.B) {
			ws := b.TempDir()
			repo(&testing.T{}, ws)
			for d := 0; d < size.dirs; d++ {
				dir := filepath.Join(ws, "node_modules", fmt.Sprintf("pkg%d", d/10), fmt.Sprintf("lib%d", d%10))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				for f := 0; f < size.each; f++ {
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.js", f)), nil, 0o644); err != nil {
						b.Fatal(err)
					}
				}
			}
			benchCheck(b, ws)
		})
	}
	if dir := os.Getenv("HOSTCHECK_BENCH_DIR"); dir != "" {
		b.Run(filepath.Base(dir), func(b *testing.B) { benchCheck(b, dir) })
	}
}

// benchCheck measures the check without a cache, and with the cache as
// lifecycle keeps it (decoded from its bytes each time, encoded again when
// it changed) once the tree is older than RacyWindow.
func benchCheck(b *testing.B, ws string) {
	prot := Protected{".devcontainer", ".vscode", ".git/hooks", ".git/config", ".git/objects/info"}
	// The tree was just made: judge it as a check would a minute later.
	real := clock
	clock = func() time.Time { return real().Add(time.Minute) }
	b.Cleanup(func() { clock = real })
	b.Run("no cache", func(b *testing.B) {
		for b.Loop() {
			if err := CheckWorkspace(ws, "", prot, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cache", func(b *testing.B) {
		var data []byte
		for b.Loop() {
			c := DecodeTreeCache(data)
			if err := CheckWorkspace(ws, "", prot, c); err != nil {
				b.Fatal(err)
			}
			if c.Changed() {
				var err error
				if data, err = c.Encode(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
