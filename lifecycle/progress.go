package lifecycle

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/term"
)

// progress shows the devcontainer CLI's log as it comes: on a terminal one
// line that is rewritten with the current step, otherwise plain lines. All
// of it goes to the log file, and the last lines are kept for errors.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	log   io.Writer
	tty   bool
	width int
	part  []byte
	tail  []string
	step  string // the current step, shown before other lines
	shown bool
}

func newProgress(out io.Writer, log io.Writer) *progress {
	p := &progress{out: out, log: log, width: 80}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 10 {
			p.width = w
		}
	}
	return p
}

// Write implements io.Writer.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log.Write(b)
	p.part = append(p.part, b...)
	for {
		i := bytes.IndexByte(p.part, '\n')
		if i < 0 {
			break
		}
		p.line(string(p.part[:i]))
		p.part = p.part[i+1:]
	}
	return len(b), nil
}

// timestamp is the prefix the CLI puts on its own log lines.
var timestamp = regexp.MustCompile(`^\[\d{4}-\d\d-\d\dT[^\]]*\]\s*`)

func (p *progress) line(l string) {
	l = strings.TrimRight(l, "\r")
	p.tail = append(p.tail, l)
	if len(p.tail) > 20 {
		p.tail = p.tail[1:]
	}
	if !p.tty {
		fmt.Fprintln(p.out, l)
		return
	}
	text := strings.TrimSpace(timestamp.ReplaceAllString(l, ""))
	if text == "" {
		return
	}
	show := text
	if stepLine.MatchString(text) {
		p.step = text
	} else if p.step != "" {
		show = p.step + " | " + text
	}
	if r := []rune(show); len(r) > p.width-3 {
		show = string(r[:p.width-4]) + "…"
	}
	fmt.Fprintf(p.out, "\r\033[K%s", show)
	p.shown = true
}

// stepLine matches the lines that name a step (the CLI's own, the classic
// builder's, BuildKit's); other lines show after the current step.
var stepLine = regexp.MustCompile(`^(Start: |Step \d+/\d+ : |#\d+ \[|Running the |Container started)`)

// done clears the live line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.part) > 0 {
		p.line(string(p.part))
		p.part = nil
	}
	if p.shown {
		fmt.Fprint(p.out, "\r\033[K")
		p.shown = false
	}
}

// lastLines returns up to n of the last lines seen.
func (p *progress) lastLines(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) > n {
		return append([]string(nil), p.tail[len(p.tail)-n:]...)
	}
	return append([]string(nil), p.tail...)
}
