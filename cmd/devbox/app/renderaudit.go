package app

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/internal/termsafe"
)

// maxName is how much of a name a line of `devbox log` shows.
const maxName = 80

// logRecordRenderer returns what prints each record of `devbox log`: one
// JSON line (ASCII, as the gateway writes it), or a line for people with
// every string the agent may have chosen escaped and long names cut.
func logRecordRenderer(w io.Writer, asJSON bool) func(audit.Record) error {
	if asJSON {
		return func(r audit.Record) error {
			line, err := audit.Marshal(r)
			if err != nil {
				return err
			}
			_, err = w.Write(line)
			return err
		}
	}
	return func(r audit.Record) error {
		_, err := fmt.Fprintln(w, logLine(r))
		return err
	}
}

// safe escapes and cuts a string of a record.
func safe(s string) string { return termsafe.Truncate(termsafe.Escape(s), maxName) }

// logLine renders one record: time (UTC), kind, verdict, what.
func logLine(r audit.Record) string {
	verdict := "allowed"
	switch {
	case r.Audit:
		verdict = "AUDIT"
	case r.Kind == audit.KindLost:
		verdict = "LOST"
	case r.Blocked():
		verdict = "REFUSED"
	case r.Kind == audit.KindPolicy || r.Kind == audit.KindAudit:
		verdict = safe(r.Action)
	}
	var what []string
	switch r.Kind {
	case audit.KindDNS:
		what = append(what, safe(r.Name), safe(r.Type))
		if len(r.Answer) > 0 {
			addrs := make([]string, len(r.Answer))
			for i, a := range r.Answer {
				addrs[i] = a.String()
			}
			what = append(what, "-> "+strings.Join(addrs, " "))
		} else if r.Rcode != "" && r.Rcode != "NOERROR" {
			what = append(what, safe(r.Rcode))
		}
		if r.Rule != "" {
			what = append(what, "("+safe(r.Rule)+")")
		}
		if r.Cached {
			what = append(what, "cached")
		}
	case audit.KindConn:
		dst := r.Dst.String()
		if r.Port != 0 {
			dst += " " + safe(r.Proto) + "/" + strconv.Itoa(int(r.Port))
		} else {
			dst += " " + safe(r.Proto)
		}
		if r.Inbound {
			what = append(what, "in from "+r.Src.String()+" to "+dst)
		} else {
			name := "(no name)"
			if r.Name != "" {
				name = safe(r.Name)
			}
			what = append(what, name, dst)
		}
		if r.Count > 0 {
			what = append(what, fmt.Sprintf("x%d more", r.Count))
		}
	case audit.KindPolicy, audit.KindAudit:
		what = append(what, safe(r.Pattern))
		if !r.Until.IsZero() {
			what = append(what, "until "+r.Until.UTC().Format("15:04:05"))
		}
	}
	if r.Err != "" {
		what = append(what, safe(r.Err))
	}
	return fmt.Sprintf("%s  %-6s %-8s %s", r.Time.UTC().Format("2006-01-02 15:04:05"), safe(string(r.Kind)), verdict, strings.Join(what, " "))
}

// renderSuggestion prints what `devbox policy suggest` found: a snippet
// of "domains" to paste into firewall.jsonc, the notes as comments; or
// the suggestion as JSON.
func renderSuggestion(w io.Writer, s audit.Suggestion, asJSON bool) error {
	if asJSON {
		data, err := audit.MarshalASCII(s)
		if err != nil {
			return err
		}
		_, err = w.Write(append(data, '\n'))
		return err
	}
	b := bufio.NewWriter(w)
	if s.From.IsZero() {
		fmt.Fprintln(b, "// devbox policy suggest: the audit log holds no records (yet)")
	} else {
		fmt.Fprintf(b, "// devbox policy suggest: from the audit log, %s to %s.\n", s.From.UTC().Format("2006-01-02 15:04:05Z"), s.To.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if len(s.Domains) == 0 {
		fmt.Fprintln(b, "// Nothing to add: no name was refused.")
	} else {
		fmt.Fprintln(b, "// Add these entries to \"domains\" in .devcontainer/firewall.jsonc:")
		fmt.Fprintln(b, `"domains": [`)
		for _, e := range s.Domains {
			// Entries and comments are checked names (allowlist.ParseNameEntry)
			// and numbers; escaped all the same.
			fmt.Fprintf(b, "  // %s\n  %q,\n", termsafe.Escape(e.Comment), termsafe.Escape(e.Entry))
		}
		fmt.Fprintln(b, "],")
	}
	if len(s.Notes) > 0 {
		fmt.Fprintln(b, "// Not suggested:")
		for _, n := range s.Notes {
			fmt.Fprintf(b, "//   %s\n", termsafe.Escape(n))
		}
	}
	return b.Flush()
}
