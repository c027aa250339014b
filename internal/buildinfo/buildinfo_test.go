package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	const rev = "0cc731e1f2a3b4c5d6e7f8091a2b3c4d5e6f7081"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-11-29T01:00:00Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	tests := []struct {
		name  string
		stamp Stamp
		bi    *debug.BuildInfo
		want  Info
	}{
		{
			name:  "release build: the stamp wins over the toolchain's record",
			stamp: Stamp{Version: "v0.3.0", Commit: rev, Date: "2026-11-29T01:00:00Z"},
			bi:    &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.1-0.20261130000000-aaaaaaaaaaaa+dirty"}, Settings: vcs("true")},
			want:  Info{Version: "v0.3.0", Commit: rev, Date: "2026-11-29T01:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"},
		},
		{
			name: "go build in a clean checkout",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261129010000-0cc731e1f2a3"}, Settings: vcs("false")},
			want: Info{Version: "v0.0.0-20261129010000-0cc731e1f2a3", Commit: rev, Date: "2026-11-29T01:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"},
		},
		{
			name: "go build with uncommitted changes",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261129010000-0cc731e1f2a3+dirty"}, Settings: vcs("true")},
			want: Info{Version: "v0.0.0-20261129010000-0cc731e1f2a3+dirty", Commit: rev + "-dirty", Date: "2026-11-29T01:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"},
		},
		{
			name: "go install of a tagged module: no VCS stamp",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"}},
			want: Info{Version: "v0.3.0", Commit: Unknown, Date: Unknown, GoVersion: "go1.26.8", Platform: "linux/amd64"},
		},
		{
			name: "go build -buildvcs=false",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: "(devel)", Commit: Unknown, Date: Unknown, GoVersion: "go1.26.8", Platform: "linux/amd64"},
		},
		{
			name:  "a partial stamp is completed from the toolchain's record",
			stamp: Stamp{Version: "v0.3.0"},
			bi:    &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")},
			want:  Info{Version: "v0.3.0", Commit: rev, Date: "2026-11-29T01:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"},
		},
		{
			name: "no build info at all",
			want: Info{Version: "(devel)", Commit: Unknown, Date: Unknown, GoVersion: Unknown, Platform: "linux/amd64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Resolve(tt.stamp, tt.bi, "linux/amd64"); got != tt.want {
				t.Errorf("Resolve:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

// TestCurrent checks what the test binary itself reports: the platform and
// toolchain it runs on, and never an empty field.
func TestCurrent(t *testing.T) {
	got := Current()
	if got.Platform != runtime.GOOS+"/"+runtime.GOARCH || got.GoVersion != runtime.Version() {
		t.Errorf("Current() = %+v, want platform %s/%s and Go %s", got, runtime.GOOS, runtime.GOARCH, runtime.Version())
	}
	for name, v := range map[string]string{"version": got.Version, "commit": got.Commit, "date": got.Date} {
		if v == "" {
			t.Errorf("Current().%s is empty", name)
		}
	}
}
