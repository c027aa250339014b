package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devbox-sandbox/devbox/internal/contract"
	"github.com/devbox-sandbox/devbox/lifecycle"
)

// TestErrorPrintedOnce checks that an error reaches the user exactly once,
// on stderr, with its exit status, and that a status passed through from
// `devbox exec` prints nothing.
func TestErrorPrintedOnce(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
		cmd   func(Env, *lifecycle.Manager) *cli.Command
		args  []string // $WS is the workspace
		code  int
		want  string // the error's message; "" means stderr stays empty
	}{
		{name: "usage error", cmd: execCmd, args: []string{"exec", "-w", "$WS"}, code: 2,
			want: "devbox: exec needs a command"},
		{name: "mistyped flag", cmd: upCmd, args: []string{"up", "-w", "$WS", "--bogus"}, code: 2,
			want: "devbox: up: flag provided but not defined: -bogus"},
		{name: "firewall refusal on up", cmd: upCmd, args: []string{"up", "-w", "$WS"}, code: 3, setup: func(w *world) {
			delete(w.markers, contract.ReadyMarker)
			w.markers[contract.FailedMarker] = started.Add(2 * time.Second)
			w.failReason = "resolve api.anthropic.com: no such host"
		}, want: "devbox: refusing to run in container c0ffee123456"},
		{name: "exec setup failure", cmd: execCmd, args: []string{"exec", "-w", "$WS", "--", "true"}, code: 125,
			setup: func(w *world) { w.boxes = nil }, want: "devbox: $WS has no box"},
		{name: "exec status passed through", cmd: execCmd, args: []string{"exec", "-w", "$WS", "--", "false"}, code: 9,
			setup: func(w *world) { w.execCode = 9 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, true)
			if tt.setup != nil {
				tt.setup(w)
			}
			var args []string
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "$WS", w.ws))
			}
			code := w.run(tt.cmd, args...)
			stderr := strings.ReplaceAll(w.err.String(), w.ws, "$WS")
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if tt.want == "" {
				if stderr != "" {
					t.Errorf("stderr %q, want nothing", stderr)
				}
				return
			}
			if n := strings.Count(stderr, tt.want); n != 1 {
				t.Errorf("%q printed %d times on stderr:\n%s", tt.want, n, stderr)
			}
			if n := strings.Count("\n"+stderr, "\ndevbox: "); n != 1 {
				t.Errorf("%d lines from devbox on stderr, want the error alone:\n%s", n, stderr)
			}
			if strings.Contains(w.out.String(), strings.TrimPrefix(tt.want, "devbox: ")) || strings.Contains(w.out.String(), "Usage") {
				t.Errorf("the error reached stdout too:\n%s", w.out.String())
			}
		})
	}
}

// TestUnknownCommandIsAUsageError: a mistyped command exits 2 with one line.
func TestUnknownCommandIsAUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	env := Env{Streams: Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, Getenv: func(string) string { return "" }}
	code := report(&errOut, Run(context.Background(), env, []string{"devbox", "uq"}))
	if want := "devbox: unknown command \"uq\" (see `devbox --help`)\n"; code != 2 || errOut.String() != want || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, out.String(), errOut.String(), want)
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		err  error
		code int
		want string
	}{
		{nil, 0, ""},
		{errors.New("boom"), 1, "devbox: boom\n"},
		{Usagef("bad %s", "flag"), 2, "devbox: bad flag\n"},
		{fmt.Errorf("up: %w", &ExitError{Code: 3, Err: errors.New("refused")}), 3, "devbox: up: refused\n"},
		{&ExitError{Code: 7}, 7, ""},
	}
	for _, tt := range tests {
		var w bytes.Buffer
		if code := report(&w, tt.err); code != tt.code || w.String() != tt.want {
			t.Errorf("report(%v) = %d, %q; want %d, %q", tt.err, code, w.String(), tt.code, tt.want)
		}
	}
}
