package lifecycle

import "strings"

// DiffLine is one line of a file's diff: Op is ' ' (unchanged, shown
// around a change), '-' (removed) or '+' (added).
type DiffLine struct {
	Op   byte
	Text string
}

// Lines is the line diff of the change, from the recorded text (none when
// the file is new, or its text was not kept) to the text now.
func (c FileChange) Lines() []DiffLine {
	return lineDiff(textOf(c.Old), textOf(c.New))
}

func textOf(f *TrustedFile) string {
	if f == nil || f.Text == nil {
		return ""
	}
	return *f.Text
}

// lineDiff is a line diff of a and b (longest common subsequence), with
// unchanged lines left out except two around each change. Files are small
// (a record keeps text up to 64 KiB); when the table would pass 4M cells
// (16 MB), everything is shown as removed and added.
func lineDiff(a, b string) []DiffLine {
	x, y := splitLines(a), splitLines(b)
	if (len(x)+1)*(len(y)+1) > 4<<20 {
		var out []DiffLine
		for _, l := range x {
			out = append(out, DiffLine{'-', l})
		}
		for _, l := range y {
			out = append(out, DiffLine{'+', l})
		}
		return out
	}
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var all []DiffLine
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			all = append(all, DiffLine{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			all = append(all, DiffLine{'-', x[i]})
			i++
		default:
			all = append(all, DiffLine{'+', y[j]})
			j++
		}
	}
	const context = 2
	var out []DiffLine
	for k, l := range all {
		if l.Op != ' ' || nearChange(all, k, context) {
			out = append(out, l)
		}
	}
	return out
}

func nearChange(all []DiffLine, k, n int) bool {
	for d := -n; d <= n; d++ {
		if k+d >= 0 && k+d < len(all) && all[k+d].Op != ' ' {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
