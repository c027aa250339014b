// Package runner is the one seam through which devbox runs external programs
// (devcontainer, docker compose, iptables-restore, ...). Errors carry the
// command line and its output so the top level can show the user what failed.
package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Cmd describes one invocation of an external program.
type Cmd struct {
	Name  string
	Args  []string
	Dir   string
	Env   []string // appended to the current environment when non-nil
	Stdin io.Reader
	// Stdout and Stderr, when set, receive the output as it is produced in
	// addition to it being captured for RunError.
	Stdout io.Writer
	Stderr io.Writer
}

// String returns the command line as a user could retype it.
func (c Cmd) String() string {
	parts := make([]string, 0, len(c.Args)+1)
	for _, p := range append([]string{c.Name}, c.Args...) {
		if p == "" || strings.ContainsAny(p, " \t\"'$\\") {
			p = fmt.Sprintf("%q", p)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// Result is what a finished command printed.
type Result struct {
	Stdout []byte
	Stderr []byte
}

// Runner runs external programs. Tests substitute a fake.
type Runner interface {
	Run(ctx context.Context, cmd Cmd) (Result, error)
}

// RunError is returned when a command cannot start or exits non-zero.
type RunError struct {
	Command  string
	ExitCode int // -1 when the program could not be started
	Stdout   []byte
	Stderr   []byte
	Err      error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Command, e.Err)
	if out := strings.TrimSpace(string(e.Stderr)); out != "" {
		msg += ": " + lastLines(out, 10)
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

// Output returns the combined output of the failed command.
func (e *RunError) Output() string {
	return string(e.Stdout) + string(e.Stderr)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// Local runs programs on this machine.
type Local struct{}

// Run implements Runner.
func (Local) Run(ctx context.Context, c Cmd) (Result, error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir = c.Dir
	if c.Env != nil {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	cmd.Stdin = c.Stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = tee(&stdout, c.Stdout)
	cmd.Stderr = tee(&stderr, c.Stderr)
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err != nil {
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return res, &RunError{Command: c.String(), ExitCode: code, Stdout: res.Stdout, Stderr: res.Stderr, Err: err}
	}
	return res, nil
}

func tee(buf *bytes.Buffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}
