// Package buildinfo says which devbox this is: its version, the commit and
// commit date it was built from, the Go toolchain and the platform.
//
// A release build (`task release`, `task build`) stamps the version, commit
// and date with -ldflags -X; a plain `go build` or `go install` leaves them
// empty and they are read from what the Go toolchain records in the binary
// (the module version and the VCS stamp). It renders nothing: commands do.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker: -X github.com/devbox-sandbox/devbox/internal/buildinfo.version=v0.3.0
// (and .commit, .date). Unexported so that nothing but the linker sets them.
var (
	version string
	commit  string
	date    string
)

// Unknown stands for a field neither stamped nor recorded by the toolchain.
const Unknown = "unknown"

// Stamp is what the linker set with -X; an empty field was not stamped.
type Stamp struct {
	Version string
	Commit  string
	Date    string
}

// Info describes one devbox binary.
type Info struct {
	// Version is the release version (v0.3.0), a `git describe` of the
	// commit, the module version `go install` recorded, or "(devel)".
	Version string `json:"version"`
	// Commit is the full commit hash, with "-dirty" when the work tree had
	// uncommitted changes.
	Commit string `json:"commit"`
	// Date is the commit's date (RFC 3339), so the same commit always
	// builds the same binary.
	Date string `json:"date"`
	// GoVersion is the toolchain that built the binary (go1.26.0).
	GoVersion string `json:"goVersion"`
	// Platform is the binary's GOOS/GOARCH (linux/amd64).
	Platform string `json:"platform"`
}

// Current returns this binary's Info.
func Current() Info {
	bi, _ := debug.ReadBuildInfo() // nil outside module mode; Resolve copes
	info := Resolve(Stamp{Version: version, Commit: commit, Date: date}, bi, runtime.GOOS+"/"+runtime.GOARCH)
	if info.GoVersion == Unknown {
		info.GoVersion = runtime.Version()
	}
	return info
}

// Resolve combines what was stamped with what the toolchain recorded in bi
// (which may be nil): a stamped field wins; otherwise the version is the
// main module's, the commit is vcs.revision (with "-dirty" when
// vcs.modified), the date is vcs.time.
func Resolve(s Stamp, bi *debug.BuildInfo, platform string) Info {
	info := Info{Version: s.Version, Commit: s.Commit, Date: s.Date, GoVersion: Unknown, Platform: platform}
	settings := map[string]string{}
	if bi != nil {
		info.GoVersion = bi.GoVersion
		for _, kv := range bi.Settings {
			settings[kv.Key] = kv.Value
		}
		if info.Version == "" {
			info.Version = bi.Main.Version
		}
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	if info.Commit == "" {
		info.Commit = settings["vcs.revision"]
		if info.Commit != "" && settings["vcs.modified"] == "true" {
			info.Commit += "-dirty"
		}
	}
	if info.Date == "" {
		info.Date = settings["vcs.time"]
	}
	for _, f := range []*string{&info.Commit, &info.Date, &info.GoVersion} {
		if *f == "" {
			*f = Unknown
		}
	}
	return info
}
