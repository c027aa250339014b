// Package termsafe makes text that another party chose safe to print on
// the user's terminal: a container's log lines, the names the agent asked
// the gateway's resolver for. Such text could otherwise move the cursor,
// rewrite what is on screen, set the window title (escape sequences), or
// show one name while being another (bidirectional overrides, invisible
// characters).
package termsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every character that could act on a terminal or
// hide what s is written as a visible escape: control characters (C0,
// DEL, C1) as \xNN, invalid UTF-8 bytes as \xNN, and format characters
// (bidirectional controls, zero-width characters, separators, the BOM) as
// \u{NNNN}. A backslash is doubled, so an escape in the output is always
// one Escape made. Tabs are kept.
func Escape(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0:
			fmt.Fprintf(&b, `\x%02x`, r)
		case invisible(r):
			fmt.Fprintf(&b, `\u{%04x}`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// safe reports whether Escape would leave s as it is.
func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return false // decoded by the slow path
		}
		if c == '\\' || c == 0x7f || c < 0x20 && c != '\t' {
			return false
		}
	}
	return true
}

// invisible reports whether r is a format or separator character that
// changes how the text around it is shown without being seen itself.
func invisible(r rune) bool {
	switch {
	case r == 0x00ad, // soft hyphen
		r == 0x061c,                  // Arabic letter mark
		r == 0x180e,                  // Mongolian vowel separator
		0x200b <= r && r <= 0x200f,   // zero-width space/joiners, LRM, RLM
		0x2028 <= r && r <= 0x202e,   // line and paragraph separators, LRE..RLO
		0x2060 <= r && r <= 0x206f,   // word joiner, invisible operators, LRI..PDI
		r == 0xfeff,                  // BOM, zero-width no-break space
		0xfff9 <= r && r <= 0xfffb,   // interlinear annotations
		0xe0000 <= r && r <= 0xe007f: // tags
		return true
	}
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) // any other format character or separator
}

// Truncate shortens an escaped s to at most n runes, keeping its start and
// end and saying how much was left out between them: "abc…(+120)…xyz".
// n below 20 is taken as 20.
func Truncate(s string, n int) string {
	n = max(n, 20)
	count := utf8.RuneCountInString(s)
	if count <= n {
		return s
	}
	runes := []rune(s)
	keep := n - 12 // room for the marker
	head, tail := keep*2/3, keep-keep*2/3
	return string(runes[:head]) + fmt.Sprintf("…(+%d)…", count-head-tail) + string(runes[count-tail:])
}
