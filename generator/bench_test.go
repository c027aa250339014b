package generator

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkInit measures `devbox init` for the largest combination: every
// language, every service, every preset and every limit, written to disk
// (both init-firewall binaries when embedded). The goal is under 50 ms.
func BenchmarkInit(b *testing.B) {
	ws := filepath.Join(b.TempDir(), "bench")
	if err := os.Mkdir(ws, 0o755); err != nil {
		b.Fatal(err)
	}
	o := largestOptions()
	o.Workspace = ws
	for b.Loop() {
		if _, err := Init(o); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(filepath.Join(ws, DirName)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkInitForce measures re-running with --force, which edits the
// existing devcontainer.json.
func BenchmarkInitForce(b *testing.B) {
	ws := filepath.Join(b.TempDir(), "bench")
	if err := os.Mkdir(ws, 0o755); err != nil {
		b.Fatal(err)
	}
	o := largestOptions()
	o.Workspace = ws
	if _, err := Init(o); err != nil {
		b.Fatal(err)
	}
	o.Force = true
	for b.Loop() {
		if _, err := Init(o); err != nil {
			b.Fatal(err)
		}
	}
}
