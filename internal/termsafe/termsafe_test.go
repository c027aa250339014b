package termsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "api.github.com", "api.github.com"},
		{"tab kept", "a\tb", "a\tb"},
		{"CSI", "\x1b[2J\x1b[31mred", `\x1b[2J\x1b[31mred`},
		{"OSC title", "\x1b]0;owned\x07", `\x1b]0;owned\x07`},
		{"newline and CR", "a\nb\rc", `a\x0ab\x0dc`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 CSI", "a\u009b31mb", `a\x9b31mb`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"RLO", "evil\u202egpj.exe", `evil\u{202e}gpj.exe`},
		{"isolates", "\u2066x\u2069", `\u{2066}x\u{2069}`},
		{"zero width", "git\u200bhub.com", `git\u{200b}hub.com`},
		{"line separator", "a\u2028b", `a\u{2028}b`},
		{"BOM", "\ufeffa", `\u{feff}a`},
		{"tag character", "a\U000e0041", `a\u{e0041}`},
		{"other format character", "a\u0600b", `a\u{0600}b`},
		{"backslash doubled", `a\x1b`, `a\\x1b`},
		{"printable unicode kept", "bücher.example", "bücher.example"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Escape(c.in)
			if got != c.want {
				t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
			}
			for _, r := range got {
				if r < 0x20 && r != '\t' || r == 0x7f || 0x80 <= r && r < 0xa0 || invisible(r) {
					t.Errorf("Escape(%q) left %U", c.in, r)
				}
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("short", 40); got != "short" {
		t.Errorf("short: %q", got)
	}
	long := strings.Repeat("a", 200) + strings.Repeat("z", 10)
	got := Truncate(long, 40)
	if n := utf8.RuneCountInString(got); n > 45 {
		t.Errorf("truncated to %d runes: %q", n, got)
	}
	if !strings.HasPrefix(got, "aaaa") || !strings.HasSuffix(got, "zzzz") || !strings.Contains(got, "…(+") {
		t.Errorf("Truncate: %q", got)
	}
}
