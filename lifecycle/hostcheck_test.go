package lifecycle

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

func TestProtectedPaths(t *testing.T) {
	bind := func(src, dst string, rw bool) container.MountPoint {
		return container.MountPoint{Type: mount.TypeBind, Source: src, Destination: dst, RW: rw}
	}
	for _, tt := range []struct {
		name   string
		dir    string
		mounts []container.MountPoint
		want   []string
	}{
		{"host paths as given", "/home/u/ws", []container.MountPoint{
			bind("/home/u/ws", "/workspaces/ws", true),
			bind("/home/u/ws/.git", "/workspaces/ws/.git", true),
			bind("/home/u/ws/.git/config", "/workspaces/ws/.git/config", false),
			bind("/home/u/ws/.devcontainer", "/workspaces/ws/.devcontainer", false),
			bind("/home/u/.ssh", "/workspaces/ws/.ssh", false), // not the workspace's, but mounted read-only at its place
			{Type: mount.TypeVolume, Name: "devbox-history", Destination: "/home/dev/.devbox-history", RW: true},
			bind("/etc/x", "/etc/x", false),
		}, []string{".git/config", ".devcontainer", ".ssh"}},
		{"Docker Desktop's host paths", "/Users/u/ws", []container.MountPoint{
			bind("/data", "/data", true),
			bind("/host_mnt/Users/u/ws", "/workspaces/ws", true),
			bind("/host_mnt/Users/u/ws/.git", "/workspaces/ws/.git", true),
			bind("/host_mnt/Users/u/ws/.git/hooks", "/workspaces/ws/.git/hooks", false),
			bind("/host_mnt/Users/u/ws/.vscode", "/workspaces/ws/.vscode", false),
		}, []string{".git/hooks", ".vscode"}},
		{"the workspace mounted writable a second time", "/home/u/ws", []container.MountPoint{
			bind("/home/u/ws", "/workspaces/ws", true),
			bind("/home/u/ws/.git/config", "/workspaces/ws/.git/config", false),
			bind("/home/u/ws", "/src", true),
		}, []string{}},
		{"a folder around it mounted writable", "/home/u/ws", []container.MountPoint{
			bind("/home/u/ws", "/workspaces/ws", true),
			bind("/home/u/ws/.git/config", "/workspaces/ws/.git/config", false),
			bind("/home/u", "/home/u", true),
		}, []string{}},
		{".git mounted writable elsewhere", "/home/u/ws", []container.MountPoint{
			bind("/home/u/ws", "/workspaces/ws", true),
			bind("/home/u/ws/.git/config", "/workspaces/ws/.git/config", false),
			bind("/home/u/ws/.devcontainer", "/workspaces/ws/.devcontainer", false),
			bind("/home/u/ws/.git", "/gitdir", true),
		}, []string{".devcontainer"}},
		{"a folder above a read-only mount is not a mount point", "/home/u/ws", []container.MountPoint{
			bind("/home/u/ws", "/workspaces/ws", true),
			bind("/home/u/ws/.git", "/workspaces/ws/.git", true),
			bind("/home/u/ws/.git/objects/info", "/workspaces/ws/.git/objects/info", false), // .git/objects can be renamed
			bind("/home/u/ws/third_party", "/workspaces/ws/third_party", true),
			bind("/home/u/ws/third_party/x", "/workspaces/ws/third_party/x", true),
			bind("/home/u/ws/third_party/x/.git", "/workspaces/ws/third_party/x/.git", false),
		}, []string{"third_party/x/.git"}},
		{"read-only workspace mount itself", "/home/u/ws", []container.MountPoint{
			bind("/home/u/ws", "/workspaces/ws", false),
		}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := []string(protectedPaths(tt.dir, tt.mounts))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCheckHostVolumeBox: a box with no writable bind mount (a volume
// workspace) cannot have planted anything in the host's folder, so what
// the host repository holds of its own (a commondir here) is not
// refused there; a bind box with the same repository is refused.
func TestCheckHostVolumeBox(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{".git/HEAD", ".git/commondir"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &Manager{Getenv: func(k string) string {
		if k == "HOME" || k == "XDG_STATE_HOME" {
			return t.TempDir()
		}
		return ""
	}}
	volume := []container.MountPoint{
		{Type: mount.TypeVolume, Name: "p_" + contract.WorkspaceVolume, Destination: "/workspaces/ws", RW: true},
		{Type: mount.TypeBind, Source: filepath.Join(dir, ".git"), Destination: "/var/lib/devbox-source/git", RW: false},
		{Type: mount.TypeBind, Source: filepath.Join(dir, ".devcontainer"), Destination: "/workspaces/ws/.devcontainer", RW: false},
	}
	if err := m.checkHost(dir, volume); err != nil {
		t.Errorf("volume box: %v", err)
	}
	bind := []container.MountPoint{
		{Type: mount.TypeBind, Source: dir, Destination: "/workspaces/ws", RW: true},
		{Type: mount.TypeBind, Source: filepath.Join(dir, ".git"), Destination: "/workspaces/ws/.git", RW: true},
	}
	if err := m.checkHost(dir, bind); err == nil {
		t.Error("bind box whose .git holds a commondir: not refused")
	}
}
