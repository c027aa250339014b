package lifecycle

import (
	"strings"
	"testing"
)

func TestLineDiff(t *testing.T) {
	old := "a\nb\nc\nd\ne\nf\ng\n"
	now := "a\nb\nc\nD\ne\nf\ng\nh\n"
	var got []string
	for _, l := range lineDiff(old, now) {
		got = append(got, string(l.Op)+l.Text)
	}
	want := " b| c|-d|+D| e| f| g|+h"
	if strings.Join(got, "|") != want {
		t.Errorf("diff %q, want %q", strings.Join(got, "|"), want)
	}
	if d := lineDiff("", "x\ny\n"); len(d) != 2 || d[0].Op != '+' {
		t.Errorf("new file diff %v", d)
	}
}

func TestLineDiffLarge(t *testing.T) {
	a := strings.Repeat("a\n", 3000)
	b := strings.Repeat("b\n", 3000)
	if d := lineDiff(a, b); len(d) != 6000 {
		t.Errorf("%d lines, want every line removed and added", len(d))
	}
}
