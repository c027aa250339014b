// Package gitsafe reads what a box hands back to the host as git data, a
// bundle, its ref names, the paths it changes and the text it prints, as
// hostile input: the agent in the box controls every byte of it. It parses
// and checks; it runs nothing. Package lifecycle runs git.
package gitsafe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// HostArgs prefixes the arguments of a git command run on the host over
// data that came from a box: no hook (a ref update runs
// reference-transaction), no fsmonitor, no ext:: transport, no pager, no
// colour. The host's own configuration is otherwise kept: it is the
// user's.
func HostArgs(args ...string) []string {
	return append([]string{
		"-c", "core.hooksPath=" + nullDevice,
		"-c", "core.fsmonitor=false",
		"-c", "protocol.ext.allow=never",
		"-c", "color.ui=false",
		"--no-pager",
	}, args...)
}

// nullDevice is where hooks are looked for: nowhere. Git for Windows maps
// /dev/null to NUL itself.
const nullDevice = "/dev/null"

// Ref is one ref of a bundle: its full name and object id, as the bundle
// spells them.
type Ref struct {
	Name string
	OID  string
}

// Bundle is a git bundle's header.
type Bundle struct {
	Version       int    // 2 or 3
	ObjectFormat  string // sha1 or sha256
	Prerequisites []string
	Refs          []Ref
	// PackOffset is where the pack data starts.
	PackOffset int64
}

// MaxHeader bounds a bundle's header (its ref list); a bundle whose
// header is longer is refused.
const MaxHeader = 4 << 20

// ReadBundleHeader parses a bundle's header from r, which it reads up to
// the pack. Anything that is not a well-formed v2 or v3 header, refs
// included, is an error; ref names are returned as they are, to be
// checked with CheckRefName.
func ReadBundleHeader(r io.Reader) (*Bundle, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxHeader+1), 64<<10)
	b := &Bundle{ObjectFormat: "sha1"}
	var offset int64
	line := func() (string, error) {
		s, err := br.ReadString('\n')
		offset += int64(len(s))
		if err != nil {
			if offset > MaxHeader {
				return "", fmt.Errorf("the header is longer than %d bytes", MaxHeader)
			}
			return "", errors.New("the header ends before the pack")
		}
		return strings.TrimSuffix(s, "\n"), nil
	}
	first, err := line()
	if err != nil {
		return nil, fmt.Errorf("not a git bundle: %w", err)
	}
	switch first {
	case "# v2 git bundle":
		b.Version = 2
	case "# v3 git bundle":
		b.Version = 3
	default:
		return nil, fmt.Errorf("not a git bundle: it starts with %q", Sanitize([]byte(truncate(first, 40))))
	}
	for {
		l, err := line()
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if l == "" {
			break
		}
		switch {
		case strings.HasPrefix(l, "@"):
			if b.Version != 3 || len(b.Refs)+len(b.Prerequisites) > 0 {
				return nil, fmt.Errorf("bundle: capability %q out of place", Sanitize([]byte(truncate(l, 60))))
			}
			key, value, _ := strings.Cut(l[1:], "=")
			switch {
			case key == "object-format" && (value == "sha1" || value == "sha256"):
				b.ObjectFormat = value
			case key == "filter":
				return nil, errors.New("bundle: a partial (filtered) bundle is not accepted")
			default:
				return nil, fmt.Errorf("bundle: unknown capability %q", Sanitize([]byte(truncate(l, 60))))
			}
		case strings.HasPrefix(l, "-"):
			oid, _, _ := strings.Cut(l[1:], " ")
			if !b.validOID(oid) {
				return nil, fmt.Errorf("bundle: malformed prerequisite %q", Sanitize([]byte(truncate(l, 80))))
			}
			b.Prerequisites = append(b.Prerequisites, oid)
		default:
			oid, name, ok := strings.Cut(l, " ")
			if !ok || !b.validOID(oid) || name == "" {
				return nil, fmt.Errorf("bundle: malformed ref line %q", Sanitize([]byte(truncate(l, 80))))
			}
			b.Refs = append(b.Refs, Ref{Name: name, OID: oid})
		}
	}
	b.PackOffset = offset
	magic := make([]byte, 4)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "PACK" {
		return nil, errors.New("bundle: no pack after the header")
	}
	return b, nil
}

// validOID reports whether s is a full lower-case hex object id of the
// bundle's object format.
func (b *Bundle) validOID(s string) bool {
	n := 40
	if b.ObjectFormat == "sha256" {
		n = 64
	}
	return len(s) == n && strings.Trim(s, "0123456789abcdef") == ""
}

// ValidOID reports whether s is a full lower-case hex object id (SHA-1 or
// SHA-256).
func ValidOID(s string) bool {
	return (len(s) == 40 || len(s) == 64) && strings.Trim(s, "0123456789abcdef") == ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// CheckRefName checks a full ref name (refs/heads/main) by git's rules
// (git check-ref-format) and stricter ones: printable ASCII only, at most
// 255 bytes, no component starting with '-'. A name that passes is safe on
// a git command line and in a terminal.
func CheckRefName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("ref name %q: %s", Sanitize([]byte(truncate(name, 80))), why)
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > 255:
		return bad("longer than 255 bytes")
	case !strings.HasPrefix(name, "refs/"):
		return bad("not under refs/")
	case strings.HasSuffix(name, "/"), strings.HasSuffix(name, "."):
		return bad("ends with '/' or '.'")
	case strings.Contains(name, ".."):
		return bad("contains '..'")
	case strings.Contains(name, "@{"):
		return bad("contains '@{'")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("~^:?*[\\", c) >= 0 {
			return bad(fmt.Sprintf("character %q not allowed", c))
		}
	}
	for _, part := range strings.Split(name, "/") {
		switch {
		case part == "":
			return bad("empty component ('//')")
		case strings.HasPrefix(part, "."), strings.HasPrefix(part, "-"):
			return bad("a component starts with '.' or '-'")
		case strings.HasSuffix(part, ".lock"):
			return bad("a component ends with .lock")
		}
	}
	return nil
}

// Sanitize makes text from a box safe to show in a terminal: control
// characters (but newline and tab), DEL, C1 controls, bidirectional
// overrides and invalid UTF-8 are shown escaped (\x1b, \u202e), so an
// escape sequence cannot move the cursor, rewrite what was printed, or
// set the window title (CVE-2024-52005).
func Sanitize(b []byte) string {
	var out strings.Builder
	out.Grow(len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&out, `\x%02x`, b[0])
		case r == '\n' || r == '\t':
			out.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&out, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.Write(b[:size])
		}
		b = b[size:]
	}
	return out.String()
}

// hostRunPaths are paths the host runs or obeys, not just stores: a change
// to them deserves a look before it reaches a checkout. Directories end
// with '/'; both match at any depth.
var hostRunPaths = []struct{ Name, Why string }{
	{".devcontainer/", "dev container configuration: VS Code and devbox build and run it"},
	{".vscode/", "VS Code settings and tasks: run on the host when the folder is opened"},
	{".idea/", "IDE settings: run configurations"},
	{".gitmodules", "submodules: URLs git clones and paths it checks out"},
	{".gitattributes", "git attributes: filters and diff drivers git runs"},
	{".envrc", "direnv: run by your shell on cd"},
	{".env", "environment loaded by direnv, compose and tools"},
	{".husky/", "git hooks (husky)"},
	{".githooks/", "git hooks"},
	{".git-hooks/", "git hooks"},
	{".hooks/", "git hooks"},
	{"lefthook.yml", "git hooks (lefthook)"},
	{".lefthook.yml", "git hooks (lefthook)"},
	{"lefthook-local.yml", "git hooks (lefthook)"},
	{"lefthook.yaml", "git hooks (lefthook)"},
	{".pre-commit-config.yaml", "git hooks (pre-commit)"},
	{".tool-versions", "version manager: installs and runs what it names"},
	{"mise.toml", "mise: tasks and env it runs"},
	{".mise.toml", "mise: tasks and env it runs"},
}

// Git tree modes that say more than "a file".
const (
	ModeSymlink = "120000"
	ModeGitlink = "160000"
)

// FlagPath says why a changed path deserves a look before the host checks
// it out, or "" when it does not: a path the host runs (FlagPath's list),
// a symlink (it points wherever the box chose), or a submodule commit.
// mode is the path's new git mode ("" when deleted).
func FlagPath(path, mode string) string {
	switch mode {
	case ModeSymlink:
		return "a symlink: it points wherever the box chose"
	case ModeGitlink:
		return "a submodule commit"
	}
	parts := strings.Split(path, "/")
	for i, part := range parts {
		last := i == len(parts)-1
		for _, p := range hostRunPaths {
			// A directory matches a component before the last, a file
			// the last one.
			name, dir := strings.CutSuffix(p.Name, "/")
			if dir != last && strings.EqualFold(part, name) {
				return p.Why
			}
		}
	}
	return ""
}

// SplitZ splits git's -z output into its fields.
func SplitZ(out []byte) []string {
	out = bytes.TrimSuffix(out, []byte{0})
	if len(out) == 0 {
		return nil
	}
	return strings.Split(string(out), "\x00")
}
