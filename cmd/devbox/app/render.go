package app

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

// This file turns what lifecycle returns into what a user reads: tables,
// JSON and messages. Results go to stdout; warnings and what was removed
// on the way to a result (reset) go to stderr. Errors are not printed
// here: report does that, once.

// renderJSON prints v as one line of JSON.
func renderJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// renderStatus prints the boxes as a table, or as JSON.
func renderStatus(w io.Writer, boxes []lifecycle.BoxStatus, asJSON bool) error {
	if asJSON {
		if boxes == nil {
			boxes = []lifecycle.BoxStatus{} // [], not null
		}
		return renderJSON(w, boxes)
	}
	if len(boxes) == 0 {
		_, err := fmt.Fprintln(w, "no devbox environments on this engine")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKSPACE\tSTATE\tCONTAINER\tGATEWAY\tIMAGE\tUPTIME\tFIREWALL\tBLOCKED\tVOLUMES")
	for _, s := range boxes {
		gateway, firewall, blocked := "-", s.Firewall, "-"
		if s.Gateway != nil {
			gateway = s.Gateway.State
			blocked = blockedCounts(s.Gateway.Audit)
		}
		if s.DevStranded {
			firewall = "stranded" // applied in the gateway, which dev is no longer in
		}
		if s.AuditUntil != "" {
			firewall = "AUDIT" // everything but the host and local networks let through
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Workspace, s.State, s.Container, gateway, s.Image,
			dash(s.Uptime), firewall, blocked, dash(strings.Join(s.Volumes, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range boxes {
		renderStatusNotes(w, s)
	}
	return nil
}

// renderStatusNotes explains, under the table, a box whose dev container
// runs without its firewall or without a network.
func renderStatusNotes(w io.Writer, s lifecycle.BoxStatus) {
	if s.FirewallReason != "" {
		fmt.Fprintf(w, "\n%s: firewall %s: %s\n", s.Workspace, s.Firewall, s.FirewallReason)
		if s.Gateway != nil && len(s.Gateway.Log) > 0 {
			fmt.Fprintf(w, "  last lines of the log of gateway %s:\n", s.Gateway.Container)
			for _, l := range s.Gateway.Log {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	if s.DevStranded {
		fmt.Fprintf(w, "\n%s: container %s has no network since its gateway %s restarted; `devbox start -w %s` restarts it\n",
			s.Workspace, s.Container, s.Gateway.Container, s.Workspace)
	}
	if until, err := time.Parse(time.RFC3339, s.AuditUntil); err == nil {
		fmt.Fprintf(w, "\n%s: %s\n", s.Workspace, lifecycle.AuditWarning(until, time.Now()))
	}
}

// blockedCounts is the BLOCKED cell: the names and packets the gateway
// refused since it started ("-" without counts).
func blockedCounts(c *audit.Counts) string {
	if c == nil {
		return "-"
	}
	cell := fmt.Sprintf("%d names, %d packets", c.DNSRefused, c.ConnRefused)
	if c.Lost > 0 {
		cell += fmt.Sprintf(" (%d records lost)", c.Lost)
	}
	return cell
}

// dash stands for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// renderDoctor prints one line per check, and the fix under each failed
// one or warning.
func renderDoctor(w io.Writer, r lifecycle.DoctorReport) {
	for _, c := range r.Checks {
		mark := "ok  "
		switch {
		case !c.OK:
			mark = "FAIL"
		case c.Warning:
			mark = "warn"
		}
		fmt.Fprintf(w, "%s %-9s %s\n", mark, c.Name, c.Detail)
		if (!c.OK || c.Warning) && c.Fix != "" {
			fmt.Fprintf(w, "     fix: %s\n", strings.ReplaceAll(c.Fix, "\n", "\n     "))
		}
	}
}

// named is how the user knows a resource: a container by its name and
// short ID, "quirky_box (c0ffee123456)".
func named(r lifecycle.Resource) string {
	switch {
	case r.ID == "":
		return r.Name
	case r.Name == "":
		return r.ID
	}
	return fmt.Sprintf("%s (%s)", r.Name, r.ID)
}

// renderRemoved prints one "removed KIND NAME" line per resource.
func renderRemoved(w io.Writer, removed []lifecycle.Resource) {
	for _, r := range removed {
		fmt.Fprintf(w, "removed %s %s\n", r.Kind, named(r))
	}
}

// renderDown says what down removed and kept; res may be partial (or nil)
// when down failed.
func renderDown(w io.Writer, res *lifecycle.DownResult) {
	if res == nil {
		return
	}
	renderRemoved(w, res.Removed)
	if len(res.KeptVolumes) > 0 {
		fmt.Fprintf(w, "kept volumes %s (remove them with `devbox down --volumes -w %s`)\n",
			strings.Join(res.KeptVolumes, ", "), res.Workspace)
	}
	if len(res.Removed) == 0 {
		fmt.Fprintf(w, "no box for %s: nothing to remove\n", res.Workspace)
	}
}

// renderReset says what reset removed, and which built images it had to
// keep; res may be partial (or nil) when reset failed.
func renderReset(w io.Writer, res *lifecycle.ResetResult) {
	if res == nil {
		return
	}
	renderRemoved(w, res.Removed)
	for _, k := range res.KeptImages {
		fmt.Fprintf(w, "devbox: warning: keep image %s: %v\n", k.Image, k.Err)
	}
}

// renderUp prints the box up brought up on out, as a summary or as JSON,
// after warning on errOut when it runs an older configuration.
func renderUp(out, errOut io.Writer, res *lifecycle.UpResult, asJSON bool) error {
	short := res.ContainerID
	if len(short) > 12 {
		short = short[:12]
	}
	if res.ConfigChanged {
		fmt.Fprintf(errOut, "devbox: .devcontainer/ changed since container %s was made; it still runs the old configuration.\n"+
			"  apply the change with `devbox up --rebuild -w %s`\n", short, res.Workspace)
	}
	if asJSON {
		return renderJSON(out, res)
	}
	how := "up"
	switch {
	case res.DevRestarted:
		how = "restarted into its gateway's network"
	case res.Reused:
		how = "already running"
	}
	_, err := fmt.Fprintf(out, "container  %s (%s)\nuser       %s\nworkspace  %s\nfirewall   applied\n",
		short, how, res.RemoteUser, res.RemoteWorkspaceFolder)
	return err
}

// renderStop prints one line per stopped container; res may be partial
// (or nil) when stop failed.
func renderStop(w io.Writer, res *lifecycle.StopResult) {
	if res == nil {
		return
	}
	for _, r := range res.Stopped {
		fmt.Fprintf(w, "stopped %s\n", named(r))
	}
}

// renderStart says the box runs behind its firewall.
func renderStart(w io.Writer, res *lifecycle.StartResult) error {
	how := "started"
	if res.DevRestarted {
		how = "restarted" // it ran without a network since its gateway restarted
	}
	if res.Gateway == nil {
		_, err := fmt.Fprintf(w, "%s %s; firewall applied\n", how, named(res.Container))
		return err
	}
	_, err := fmt.Fprintf(w, "%s %s behind gateway %s; firewall applied\n", how, named(res.Container), named(*res.Gateway))
	return err
}
