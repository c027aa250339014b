//go:build linux

package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/internal/atomicfile"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

// DefaultRunDir holds the status markers when Options and StatusOptions
// name no other directory (tests do): the box's contract.RunDir.
const DefaultRunDir = contract.RunDir

// Summary describes one run of init-firewall. It is the one-line summary,
// the --json output and the content of the status markers.
type Summary struct {
	// OK is true only when the rules were applied and verified.
	OK bool `json:"ok"`
	// Error says what failed (empty when OK).
	Error string `json:"error,omitempty"`
	// Config is the file the allowlist was read from.
	Config string `json:"config,omitempty"`
	// PrefixesV4 and PrefixesV6 count the entries of the allowlist sets.
	PrefixesV4 int `json:"prefixesV4"`
	PrefixesV6 int `json:"prefixesV6"`
	// DomainsResolved of Domains (required and optional) resolved.
	DomainsResolved int `json:"domainsResolved"`
	Domains         int `json:"domains"`
	// Sources lists the sources used: "dns", "cidrs", "github", "aws",
	// with "(cache)" when a cached answer stood in for a failed fetch.
	Sources []string `json:"sources,omitempty"`
	// IPv6 is "filtered", "disabled" (it could not be filtered, so it was
	// turned off) or "absent" (the kernel has none).
	IPv6 string `json:"ipv6,omitempty"`
	// Warnings are problems that did not fail the run (a dead optional
	// domain, a cached source, IPv6 turned off).
	Warnings []string `json:"warnings,omitempty"`
	// ConntrackFlushed counts the connections to removed destinations that
	// were cut.
	ConntrackFlushed uint `json:"conntrackFlushed,omitempty"`
	// DNSUpstreams are the upstreams of Docker's embedded resolver the
	// gateway learned at its start (DNS to them is allowed).
	DNSUpstreams []string `json:"dnsUpstreams,omitempty"`
	// Resolver names the addresses the gateway's filtering resolver
	// listens on (empty without one).
	Resolver string `json:"resolver,omitempty"`
	// UpstreamsFrom says where the resolver's upstreams (DNSUpstreams)
	// came from: "config", "learned" (where Docker's resolver forwards)
	// or "docker" (Docker's resolver itself, forwarding from the host).
	UpstreamsFrom string `json:"upstreamsFrom,omitempty"`
	// Verified counts the verify targets that behaved as configured.
	Verified int `json:"verified"`
	// DurationMS is the wall time of the run.
	DurationMS int64 `json:"durationMs"`
	// StepsMS is the wall time of each step ("close", "gather", "sets",
	// "rules", "conntrack", "verify"), for tuning.
	StepsMS map[string]int64 `json:"stepsMs,omitempty"`
	// Pid1Start is field 22 of /proc/1/stat when the marker was written:
	// it changes at every container start, so a stale marker is recognised
	// (contract.Fresh).
	Pid1Start uint64 `json:"pid1Start"`
	// Time the run ended.
	Time time.Time `json:"time"`
	// DryRun is set for --dry-run output (never in a marker).
	DryRun bool `json:"dryRun,omitempty"`
	// Audit are the gateway's audit totals (names allowed and refused,
	// packets refused) as Status reads them; never in a marker.
	Audit *audit.Counts `json:"audit,omitempty"`
}

// step records the time since *mark under name and moves the mark.
func (s *Summary) step(name string, mark *time.Time) {
	if s.StepsMS == nil {
		s.StepsMS = map[string]int64{}
	}
	now := time.Now()
	s.StepsMS[name] += now.Sub(*mark).Milliseconds()
	*mark = now
}

// Line renders the one-line human summary.
func (s *Summary) Line() string {
	state := "firewall ready"
	switch {
	case s.DryRun:
		state = "dry run"
	case !s.OK:
		state = "firewall FAILED (closed)"
	}
	src := strings.Join(s.Sources, ",")
	if src == "" {
		src = "none"
	}
	line := fmt.Sprintf("%s: %d IPv4 + %d IPv6 prefixes, %d/%d domains resolved, sources %s, IPv6 %s, %dms",
		state, s.PrefixesV4, s.PrefixesV6, s.DomainsResolved, s.Domains, src, s.IPv6, s.DurationMS)
	if len(s.Warnings) > 0 {
		line += fmt.Sprintf(", %d warnings", len(s.Warnings))
	}
	if s.Error != "" {
		line += ": " + s.Error
	}
	return line
}

// Pid1Start returns the start time of PID 1 in clock ticks (field 22 of
// /proc/1/stat), which differs at every container start.
func Pid1Start() (uint64, error) {
	data, err := os.ReadFile("/proc/1/stat")
	if err != nil {
		return 0, fmt.Errorf("read start time of pid 1: %w", err)
	}
	return parsePid1Start(string(data))
}

func parsePid1Start(stat string) (uint64, error) {
	// The command name (field 2) may hold spaces and parentheses: count
	// from the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("parse /proc/1/stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 20 {
		return 0, errors.New("parse /proc/1/stat: too few fields")
	}
	v, err := strconv.ParseUint(f[19], 10, 64) // field 22 = 3rd + 19
	if err != nil {
		return 0, fmt.Errorf("parse /proc/1/stat field 22: %w", err)
	}
	return v, nil
}

// clearMarkers removes both markers; the first thing a run does, so that
// nothing reads the state of an earlier run as this one's.
func clearMarkers(dir string) error {
	for _, name := range []string{contract.ReadyMarkerName, contract.FailedMarkerName} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove status marker: %w", err)
		}
	}
	return nil
}

// writeMarker writes s as the ready marker (s.OK) or the failed one,
// atomically: a temporary file in the same directory renamed into place.
func writeMarker(dir string, s *Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write status marker: %w", err)
	}
	name := contract.FailedMarkerName
	if s.OK {
		name = contract.ReadyMarkerName
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("write status marker: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, name), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write status marker: %w", err)
	}
	return nil
}

// StatusOptions configures Status.
type StatusOptions struct {
	// Dir holds the markers; DefaultRunDir when empty.
	Dir string
	// Wait is how long to wait for a fresh marker; 0 looks once.
	Wait time.Duration
	// Poll is the interval between looks; 100ms when zero.
	Poll time.Duration
}

// ErrNotReady is returned by Status when no fresh marker appeared in time.
var ErrNotReady = errors.New("firewall not ready")

// Status reads the status markers, waiting up to opts.Wait for a fresh one
// (contract.Fresh: its pid1Start equal to the live one). It returns the summary of a ready
// firewall, or an error: the failed marker's reason, or ErrNotReady. It
// needs no privilege.
func Status(ctx context.Context, opts StatusOptions) (*Summary, error) {
	dir := opts.Dir
	if dir == "" {
		dir = DefaultRunDir
	}
	poll := opts.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	deadline := time.Now().Add(opts.Wait)
	for {
		s, err := readMarkers(dir)
		if s != nil {
			s.Audit = readCounts(dir)
		}
		if s != nil || err != nil {
			return s, err
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w: no fresh marker in %s after %s", ErrNotReady, dir, opts.Wait)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
		case <-time.After(min(poll, time.Until(deadline))):
		}
	}
}

// readCounts returns the gateway's audit totals in dir, nil when there
// are none (no gateway, or a gateway older than the audit log).
func readCounts(dir string) *audit.Counts {
	data, err := os.ReadFile(filepath.Join(dir, contract.AuditCountsName))
	if err != nil {
		return nil
	}
	return audit.ParseCounts(data)
}

// readMarkers returns the fresh ready summary, an error for a fresh failed
// marker, or nil, nil when neither is there (or only stale ones are).
func readMarkers(dir string) (*Summary, error) {
	live, err := Pid1Start()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{contract.FailedMarkerName, contract.ReadyMarkerName} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		var s Summary
		if err := json.Unmarshal(data, &s); err != nil ||
			!contract.Fresh(contract.Start{Pid1Start: s.Pid1Start, Time: s.Time}, contract.Start{Pid1Start: live}) {
			continue // torn or from an earlier container start
		}
		if name == contract.FailedMarkerName || !s.OK {
			return &s, fmt.Errorf("firewall failed: %s", s.Error)
		}
		return &s, nil
	}
	return nil, nil
}
