package generator

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/atomicfile"
)

// AllowlistEdit is one entry `devbox allow` or `devbox deny` writes into
// firewall.jsonc.
type AllowlistEdit struct {
	// Deny adds to deny instead of allowing.
	Deny bool
	// Entry is PATTERN[:PORTS] or CIDR[:PORTS] (no ports for deny).
	Entry string
	// Comment is written above the entry ("devbox allow, alice,
	// 2026-12-02"); its lines get "// " before them.
	Comment string
}

// AllowlistEditResult says what an edit did.
type AllowlistEditResult struct {
	// Changed is false when the file already had the entry: nothing was
	// written.
	Changed bool
	// Added is where the entry went ("domains", "cidrs", "deny").
	Added string
	// Removed are the entries taken out, as written ("deny[0] \"x\""):
	// an allow takes out a deny of the same pattern or prefix, and a deny
	// takes out the allow entries of the same pattern or prefix (any
	// ports), so that the file says one thing about it.
	Removed []string
	// Message says what happened, for the user.
	Message string
}

// EditAllowlist adds e to the firewall.jsonc at path with a HuJSON patch
// that keeps every comment and key, and writes it atomically. The entry is
// checked first, and the whole file after the edit (as init-firewall reads
// it): a bad entry or a file that does not load is refused, naming the
// entry or file:line:col, and nothing is written.
func EditAllowlist(path string, e AllowlistEdit) (AllowlistEditResult, error) {
	var res AllowlistEditResult
	key, canon, err := classify(e)
	if err != nil {
		return res, &InputError{Err: err}
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("no allowlist at %s: write one with `devbox init`", path)
	}
	if err != nil {
		return res, fmt.Errorf("read the allowlist: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return res, fmt.Errorf("read the allowlist: %w", err)
	}
	if _, err := allowlist.ParseConfig(path, data); err != nil {
		return res, &InputError{Err: fmt.Errorf("fix the allowlist first: %w", err)}
	}
	v, err := hujson.Parse(data)
	if err != nil {
		return res, positionError(path, err)
	}
	obj, ok := v.Value.(*hujson.Object)
	if !ok {
		return res, &InputError{Err: fmt.Errorf("%s:1:1: firewall.jsonc must hold a JSON object", path)}
	}
	var p patch
	// Removals first, from the last index down, so earlier ones stay put.
	var removals []string
	for _, k := range conflictKeys(e, key) {
		i := memberIndex(obj, k)
		if i < 0 {
			continue
		}
		arr, ok := obj.Members[i].Value.Value.(*hujson.Array)
		if !ok {
			continue
		}
		for j := len(arr.Elements) - 1; j >= 0; j-- {
			s := literalString(arr.Elements[j])
			switch sameAs(e, k, key, s, canon) {
			case duplicate:
				res.Message = fmt.Sprintf("%s[%d] %q is there already: nothing to do", k, j, s)
				return res, nil
			case conflicting:
				p.op("remove", pointer("/"+k, strconv.Itoa(j)), nil)
				removals = append(removals, fmt.Sprintf("%s[%d] %q", k, j, s))
				// The removed entry's own comments move to the new one.
				replaced := fmt.Sprintf("replaces %s %q", k, s)
				if c := commentText(arr.Elements[j].BeforeExtra); c != "" {
					replaced += " (" + c + ")"
				}
				e.Comment = strings.TrimPrefix(e.Comment+"\n"+replaced, "\n")
			}
		}
	}
	value := &hujson.Value{Value: hujson.String(e.Entry)}
	if e.Comment != "" {
		var b strings.Builder
		for line := range strings.SplitSeq(e.Comment, "\n") {
			b.WriteString("\n// " + strings.TrimSpace(line))
		}
		b.WriteString("\n")
		value.BeforeExtra = hujson.Extra(b.String())
	}
	addPath := pointer("", key) + "/-"
	if i := memberIndex(obj, key); i < 0 {
		value = &hujson.Value{BeforeExtra: value.BeforeExtra, Value: &hujson.Array{Elements: []hujson.Value{{Value: hujson.String(e.Entry)}}}}
		addPath = pointer("", key)
	} else if _, isArr := obj.Members[i].Value.Value.(*hujson.Array); !isArr {
		return res, &InputError{Err: fmt.Errorf("%s: %q is not a list", path, key)}
	}
	p.op("add", addPath, value)
	if err := v.Patch([]byte("[" + strings.Join(p.ops, ",\n") + "]")); err != nil {
		return res, fmt.Errorf("edit %s: %w", path, err)
	}
	added := addPath
	if strings.HasSuffix(added, "/-") {
		arr := v.Find(pointer("", key)).Value.(*hujson.Array)
		added = pointer("", key) + "/" + strconv.Itoa(len(arr.Elements)-1)
	}
	indentAdded(&v, added)
	out := v.Pack()
	if _, err := allowlist.ParseConfig(path, out); err != nil {
		return res, &InputError{Err: fmt.Errorf("the edit would not load, nothing written: %w", err)}
	}
	if err := atomicfile.Write(path, out, fi.Mode().Perm()); err != nil {
		return res, fmt.Errorf("write the allowlist: %w", err)
	}
	res.Changed, res.Added, res.Removed = true, key, removals
	res.Message = fmt.Sprintf("added %q to %s", e.Entry, key)
	if len(removals) > 0 {
		res.Message += ", removed " + strings.Join(removals, ", ")
	}
	return res, nil
}

// classify checks the entry and returns the key it goes to and its
// canonical form (a pattern or prefix with its ports).
func classify(e AllowlistEdit) (key, canon string, err error) {
	what := "devbox allow"
	if e.Deny {
		what = "devbox deny"
	}
	if e.Entry == "" || strings.TrimSpace(e.Entry) != e.Entry {
		return "", "", fmt.Errorf("%s %q: not an entry", what, e.Entry)
	}
	if e.Deny {
		// Checked as init-firewall checks deny entries (a public suffix
		// may be denied; no ports).
		c := &allowlist.Config{Deny: []string{e.Entry}}
		if err := c.Validate(); err != nil {
			return "", "", fmt.Errorf("%s %q: %w", what, e.Entry, err)
		}
		if allowlist.IsCIDREntry(e.Entry) {
			r, _ := allowlist.ParseCIDREntry(e.Entry)
			return "deny", r.String(), nil
		}
		p, _ := allowlist.ParsePattern(e.Entry)
		if p.String() == "" {
			return "deny", strings.ToLower(strings.TrimSuffix(e.Entry, ".")), nil
		}
		return "deny", p.String(), nil
	}
	if allowlist.IsCIDREntry(e.Entry) {
		r, err := allowlist.ParseCIDREntry(e.Entry)
		if err != nil {
			return "", "", fmt.Errorf("%s %q: %w", what, e.Entry, err)
		}
		if err := allowlist.CheckPrefix(r.Prefix); err != nil {
			return "", "", fmt.Errorf("%s %q: %w", what, e.Entry, err)
		}
		return "cidrs", r.String(), nil
	}
	r, err := allowlist.ParseNameEntry(e.Entry)
	if err != nil {
		return "", "", fmt.Errorf("%s %q: %w", what, e.Entry, err)
	}
	return "domains", r.String(), nil
}

// conflictKeys are the lists an edit looks through for a duplicate or a
// conflicting entry.
func conflictKeys(e AllowlistEdit, key string) []string {
	switch {
	case e.Deny:
		return []string{"deny", "domains", "optionalDomains", "cidrs"}
	case key == "cidrs":
		return []string{"cidrs", "deny"}
	}
	return []string{"domains", "optionalDomains", "deny"}
}

type relation int

const (
	unrelated relation = iota
	duplicate
	conflicting
)

// sameAs relates the entry s of list k to the edit (canonical canon, for
// key): the same entry is a duplicate; the same pattern or prefix on the
// other side (allow against deny) conflicts.
func sameAs(e AllowlistEdit, k, key, s, canon string) relation {
	base := func(entry string, cidr bool) string {
		if cidr {
			if r, err := allowlist.ParseCIDREntry(entry); err == nil {
				return r.Prefix.String()
			}
			return ""
		}
		if r, err := allowlist.ParseNameEntry(entry); err == nil {
			return r.Pattern.String()
		}
		if p, err := allowlist.ParsePattern(entry); err == nil {
			return p.String()
		}
		return strings.ToLower(strings.TrimSuffix(entry, "."))
	}
	cidr := allowlist.IsCIDREntry(e.Entry)
	if allowlist.IsCIDREntry(s) != cidr {
		return unrelated
	}
	switch {
	case (k == key || k == "optionalDomains" && key == "domains") && !e.Deny:
		if r, err := allowlist.ParseNameEntry(s); err == nil && !cidr && r.String() == canon {
			return duplicate
		}
		if r, err := allowlist.ParseCIDREntry(s); err == nil && cidr && r.String() == canon {
			return duplicate
		}
	case k == key && e.Deny:
		if base(s, cidr) == base(e.Entry, cidr) {
			return duplicate
		}
	case slices.Contains([]string{k, key}, "deny") && base(s, cidr) == base(e.Entry, cidr):
		return conflicting
	}
	return unrelated
}

// commentText is the text of the comments in extra, on one line.
func commentText(extra hujson.Extra) string {
	var parts []string
	// What stands before the first line break trails the entry before.
	text := string(extra)
	if i := strings.IndexByte(text, '\n'); i >= 0 && strings.Contains(text[:i], "//") {
		text = text[i+1:]
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(line, "//")
		line = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "/*"), "*/")
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, " ")
}
