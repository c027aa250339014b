//go:build linux

package firewall

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRootOwned builds small trees under a root-owned 0700 folder and
// checks which programs are trusted. It needs root to own what it makes.
func TestCheckRootOwned(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the files it makes must be owned by root")
	}
	base := t.TempDir() // root-owned, 0700; its parents are /tmp (1777): see below
	// t.TempDir sits under /tmp, which anyone may write: a tree there is
	// refused at /tmp whatever it holds. So each case is checked below a
	// folder whose every parent is trusted, taken from the real program.
	if err := checkRootOwned(filepath.Join(base, "x")); err == nil || !strings.Contains(err.Error(), "writable by its group or by others") {
		t.Fatalf("a tree under /tmp: %v, want refused for /tmp", err)
	}

	real, err := FindTool("iptables-restore")
	if err != nil {
		t.Fatalf("FindTool(iptables-restore): %v", err)
	}
	if !strings.HasPrefix(real, "/usr/sbin/") && !strings.HasPrefix(real, "/sbin/") {
		t.Errorf("FindTool = %s, want a system folder", real)
	}

	// A folder of ours in a trusted place: /run is root's and 0755.
	dir, err := os.MkdirTemp("/run", "dbfw-tools-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", 0o755)
	groupWritable := write("group-writable", 0o775)
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	inOpen := filepath.Join(open, "tool")
	if err := os.WriteFile(inOpen, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link-to-open")
	if err := os.Symlink(inOpen, link); err != nil {
		t.Fatal(err)
	}
	linkGood := filepath.Join(dir, "link-to-good")
	if err := os.Symlink("good", linkGood); err != nil {
		t.Fatal(err)
	}
	notMine := write("not-root", 0o755)
	if err := os.Chown(notMine, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, want string // want "" means trusted
	}{
		{good, ""},
		{linkGood, ""},
		{real, ""},
		{groupWritable, "writable by its group or by others"},
		{inOpen, "writable by its group or by others"},
		{link, "writable by its group or by others"},
		{notMine, "owned by uid 1000"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		err := checkRootOwned(tt.path)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkRootOwned(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
}

func TestResetEnvironment(t *testing.T) {
	t.Setenv("XTABLES_LIBDIR", "/nonexistent")
	t.Setenv("PATH", "/tmp/planted:"+os.Getenv("PATH"))
	env := os.Environ()
	t.Cleanup(func() {
		os.Clearenv()
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	})
	ResetEnvironment()
	if got := os.Environ(); len(got) != 1 || got[0] != "PATH="+SafePATH {
		t.Errorf("environment after ResetEnvironment: %q", got)
	}
}
